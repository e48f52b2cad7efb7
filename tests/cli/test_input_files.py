"""Files that cannot be read as given: each is exit 2, one line naming the file, nothing written.

A FIFO (it would block forever waiting for a writer), a file in a directory the user may not enter,
a name longer than the system allows, and an output through a symbolic link that points nowhere,
for every option that reads or writes a file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cli_runner import one_line_error, run_program

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
MODEL = "b+w1*x1+w2*x2"
NOBODY = 65534

# Every option that reads a file, as (arguments, with {f} for the file under test).
READERS = {
    "train data": ["train", "{f}"],
    "train --init": ["train", "data.csv", "--init", "{f}"],
    "train --model-file": ["train", "data.csv", "--model-file", "{f}"],
    "grad --data": ["grad", MODEL, "--data", "{f}", "--params", "b=0,w1=0,w2=0"],
    "grad --params": ["grad", MODEL, "--data", "data.csv", "--params", "{f}"],
    "grad --model-file": ["grad", "--model-file", "{f}", "--data", "data.csv"],
    "hessian --data": ["hessian", MODEL, "--data", "{f}", "--params", "b=0,w1=0,w2=0"],
    "explain --params": ["explain", MODEL, "--data", "x1=1,x2=2,y=1", "--params", "{f}"],
    "predict model": ["predict", "{f}", "data.csv"],
    "predict data": ["predict", "params.json", "{f}"],
}


def _args(template: list[str], name: str) -> list[str]:
    return [arg.replace("{f}", name) for arg in template]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> bytes:
    """A model saved by `gradcli train --save`, as predict reads it."""
    where = tmp_path_factory.mktemp("saved")
    result = run_program(["train", str(SAMPLES / "data.csv"), "--quiet", "--save", "params.json"], where)
    assert result.code == 0, result
    return (where / "params.json").read_bytes()


@pytest.fixture
def folder(tmp_path: Path, saved_model: bytes) -> Path:
    """A folder with the samples' data and a saved model, as a user has it before the bad file."""
    shutil.copy(SAMPLES / "data.csv", tmp_path / "data.csv")
    (tmp_path / "params.json").write_bytes(saved_model)
    return tmp_path


def listing(path: Path) -> dict[str, bytes | str]:
    """Every entry under path (links as their targets' names), to see that nothing was written."""
    found: dict[str, bytes | str] = {}
    for entry in sorted(path.rglob("*")):
        key = str(entry.relative_to(path))
        if entry.is_symlink():
            found[key] = "-> " + os.readlink(entry)
        elif entry.is_file():
            found[key] = entry.read_bytes()
        elif entry.is_dir():
            found[key] = "dir"
        else:
            found[key] = "special"
    return found


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("case", list(READERS))
def test_a_fifo_is_refused_not_waited_on(gradcli, folder, case):
    """Nothing writes to the FIFO: a reader that opens it would wait forever (the runner's timeout)."""
    os.mkfifo(folder / "f")
    before = listing(folder)
    one_line_error(gradcli(*_args(READERS[case], "f")), "'f' is a FIFO, not a regular file", "give -")
    assert listing(folder) == before


@pytest.mark.parametrize("case", list(READERS))
def test_a_name_too_long_for_the_system(gradcli, folder, case):
    """300 characters: no file system takes such a name (NAME_MAX is 255); it is not an internal error."""
    before = listing(folder)
    message = one_line_error(gradcli(*_args(READERS[case], "p" * 300)), "name is too long")
    assert "ppp...ppp" in message  # the name, shortened in the middle
    assert listing(folder) == before


def test_a_long_params_value_that_is_not_a_name(gradcli, folder):
    message = one_line_error(gradcli("grad", MODEL, "--data", "data.csv", "--params", "/" + "q" * 300 + "/p.json"),
                             "--params file", "name is too long")
    assert "qqq...qqq" in message  # the name, shortened in the middle


@pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(os, "setuid"), reason="needs fork and setuid")
@pytest.mark.parametrize("case", [c for c in READERS if c not in ("train data", "grad --data", "hessian --data",
                                                                   "predict data")] + ["train data"])
def test_a_file_in_a_directory_the_user_cannot_enter(folder, case):
    """Run as an unprivileged user (root drops to nobody in the forked run: root passes permission bits)."""
    user = NOBODY if os.geteuid() == 0 else None
    locked = folder / "locked"
    locked.mkdir()
    content = "x1,x2,y\n1,2,3\n" if case == "train data" else ('b + w1*x1 + w2*x2' if "model-file" in case
                                                                else json.dumps({"b": 0, "w1": 0, "w2": 0}))
    (locked / "in").write_text(content)
    locked.chmod(0o000)
    folder.chmod(0o777)  # the run's own folder stays usable: writable for an output it must not make
    for name in ("data.csv", "params.json"):
        (folder / name).chmod(0o644)
    before = listing(folder) if os.geteuid() == 0 else None
    try:
        result = run_program(_args(READERS[case], "locked/in"), folder, user=user)
    finally:
        locked.chmod(0o700)
    one_line_error(result, "'locked/in'", "permission denied")
    if before is not None:
        assert listing(folder) == before


OUTPUTS = {
    "--save": (["train", "data.csv", "--quiet"], "--save", "model.json"),
    "--history": (["train", "data.csv", "--quiet"], "--history", "history.csv"),
    "--output": (["predict", "params.json", "data.csv"], "--output", "predictions.csv"),
}


@pytest.mark.parametrize("option", list(OUTPUTS))
def test_a_dangling_link_to_a_missing_directory_is_refused(gradcli, folder, option):
    args, flag, name = OUTPUTS[option]
    os.symlink(f"missing/{name}", folder / "link")
    before = listing(folder)
    one_line_error(gradcli(*args, flag, "link"), f"{flag} 'link' is a symbolic link to 'missing/{name}'",
                   "does not exist")
    assert listing(folder) == before


@pytest.mark.parametrize("option", list(OUTPUTS))
def test_a_dangling_link_writes_its_target(gradcli, folder, option):
    """The link is followed as for a file that exists: the target is made, the link stays a link."""
    args, flag, name = OUTPUTS[option]
    (folder / "out").mkdir()
    os.symlink(f"out/{name}", folder / "link")
    result = gradcli(*args, flag, "link")
    assert result.code == 0, result
    assert (folder / "link").is_symlink() and os.readlink(folder / "link") == f"out/{name}"
    written = (folder / "out" / name).read_text()
    assert written.startswith({"--save": "{", "--history": "epoch,loss", "--output": "x1,x2,y,yhat"}[option])
    assert sorted(os.listdir(folder / "out")) == [name]  # no temporary file left


# Outputs that a directory's permissions forbid: refused before the work (which here would fail on its own:
# log(w) at w = -1, a model file that is not there), so the one line names the output, not the work's error.
WORK_THAT_FAILS = {
    "graph --output": ["graph", "log(w)", "--data", "x1=1,y=1", "--params", "w=-1", "--format", "svg"],
    "explain --output": ["explain", "log(w)", "--data", "x1=1,y=1", "--params", "w=-1", "--format", "html"],
    "train --save": ["train", "data.csv", "--model-file", "absent.txt", "--quiet"],
    "predict --output": ["predict", "params.json", "absent.csv"],
}


@pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(os, "setuid"), reason="needs fork and setuid")
@pytest.mark.parametrize("case", list(WORK_THAT_FAILS))
def test_an_output_in_a_directory_the_user_cannot_write_is_refused_before_the_work(folder, case):
    """Run as an unprivileged user (root passes permission bits, so the forked run drops to nobody)."""
    user = NOBODY if os.geteuid() == 0 else None
    (folder / "shut").mkdir()
    (folder / "shut").chmod(0o555)
    folder.chmod(0o755)  # the user reads the folder's files and cannot write in it either
    for name in ("data.csv", "params.json"):
        (folder / name).chmod(0o644)
    flag = "--save" if case.startswith("train") else "--output"
    before = listing(folder)
    result = run_program([*WORK_THAT_FAILS[case], flag, "shut/out.txt"], folder, user=user)
    one_line_error(result, f"{flag} 'shut/out.txt'", "no permission to write in the directory 'shut'")
    assert listing(folder) == before


def test_a_directory_that_takes_no_file_even_from_root_is_refused_before_the_work(gradcli):
    """/sys lets root past its permission bits but makes no file: the up-front check makes (and removes) a
    temporary file where the output's will go, as the atomic write will."""
    if not os.path.isdir("/sys/kernel") or os.access("/sys", os.W_OK) is False:
        pytest.skip("needs Linux's /sys, seen by root (as non-root os.access refuses it first)")
    result = gradcli(*WORK_THAT_FAILS["explain --output"], "--output", "/sys/e.html")
    one_line_error(result, "--output '/sys/e.html'", "cannot write in the directory '/sys'")


@pytest.mark.parametrize("args", [["graph", MODEL, "--format", "svg"], ["predict", "params.json", "data.csv"]],
                         ids=["graph", "predict"])
def test_output_dash_is_stdout(folder, args):
    """'-' names stdout for --output, as it names stdin for the data: no file called '-'."""
    before = listing(folder)
    result = run_program([*args, "--output", "-"], folder)
    assert result.code == 0, result
    assert result.out.startswith("<svg" if args[0] == "graph" else "x1,x2,y,yhat")
    assert listing(folder) == before
