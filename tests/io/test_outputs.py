"""Output files: refused up front when they cannot be written, all new or all old whatever happens, and no
temporary file left behind, not even by a run that was killed."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from cli_runner import clean_env, gradcli_program, wait_until_working

from gradcli.errors import DataError
from gradcli.io import outputs
from gradcli.io.outputs import atomic_write_all, check_output, check_outputs

DATA = str(Path(__file__).resolve().parents[2] / "samples" / "data.csv")


def text_writer(path: Path, content: str):
    return path, lambda f: f.write(content), False


def temporaries(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


class TestRefusedUpFront:
    @pytest.mark.parametrize("name, needle", [
        ("", "the file name is empty"),
        ("out/", "ends in '/'"),
        ("a" * 300 + ".json", "(File name too long|longer than this file system allows)"),
    ])
    def test_names_that_cannot_be_files(self, tmp_path, monkeypatch, name, needle):
        monkeypatch.chdir(tmp_path)
        with pytest.raises(DataError, match=needle):
            check_output(name, "--save", [])

    def test_a_loop_of_symbolic_links(self, tmp_path):
        (tmp_path / "a").symlink_to(tmp_path / "b")
        (tmp_path / "b").symlink_to(tmp_path / "a")
        with pytest.raises(DataError, match="a loop of symbolic links"):
            check_output(tmp_path / "a", "--save", [])

    def test_path_objects_are_named_in_messages(self, tmp_path):
        with pytest.raises(DataError, match="is a directory"):
            check_output(tmp_path, "--save", [])

    def test_an_empty_name_is_not_taken_for_no_option(self, tmp_path):
        with pytest.raises(DataError, match="empty"):
            check_outputs({"--save": "", "--plot": None}, [])

    def test_a_file_it_may_not_write_is_refused_and_the_check_leaves_nothing(self, tmp_path, monkeypatch):
        """os.access speaks for an ordinary user (root passes it: the CLI tests run as nobody for that)."""
        (tmp_path / "kept.json").write_text("old")
        assert check_output(tmp_path / "kept.json", "--save", []) == tmp_path / "kept.json"
        assert sorted(os.listdir(tmp_path)) == ["kept.json"]  # the probe file made and removed
        real_access = os.access
        monkeypatch.setattr(outputs.os, "access", lambda path, mode: Path(path).name != "kept.json"
                            and real_access(path, mode))
        with pytest.raises(DataError, match="kept.json': the file is not writable"):
            check_output(tmp_path / "kept.json", "--save", [])
        monkeypatch.setattr(outputs.os, "access", lambda path, mode: False)
        with pytest.raises(DataError, match="no permission to write in the directory"):
            check_output(tmp_path / "new.json", "--save", [])
        assert (tmp_path / "kept.json").read_text() == "old"

    def test_the_file_stdin_reads_is_never_written_over(self, tmp_path):
        (tmp_path / "d.csv").write_bytes(Path(DATA).read_bytes())
        with open(tmp_path / "d.csv", "rb") as stdin:
            proc = subprocess.run([gradcli_program(), "train", "-", "--save", "d.csv"], cwd=tmp_path, stdin=stdin,
                                  capture_output=True, text=True, timeout=60, env=clean_env())
        assert proc.returncode == 2 and "is the file stdin reads" in proc.stderr
        assert (tmp_path / "d.csv").read_bytes() == Path(DATA).read_bytes()


class TestAllOrNone:
    def test_an_interrupt_while_writing_leaves_the_old_files_and_no_temporary(self, tmp_path):
        (tmp_path / "a.txt").write_text("old a")

        def interrupted(f):
            f.write("half")
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            atomic_write_all([text_writer(tmp_path / "a.txt", "new a"), (tmp_path / "b.txt", interrupted, False)])
        assert (tmp_path / "a.txt").read_text() == "old a" and not (tmp_path / "b.txt").exists()
        assert temporaries(tmp_path) == []

    def test_a_signal_during_the_renames_waits_until_every_file_is_in_place(self, tmp_path, monkeypatch):
        real_replace = os.replace
        calls = []

        def replace_and_interrupt(source, target):
            if not calls:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the first and the second rename
            calls.append(target)
            real_replace(source, target)

        monkeypatch.setattr(outputs.os, "replace", replace_and_interrupt)
        with outputs.recording_writes() as written, pytest.raises(KeyboardInterrupt):
            atomic_write_all([text_writer(tmp_path / "a.txt", "new a"), text_writer(tmp_path / "b.txt", "new b")])
        assert written == [tmp_path / "a.txt", tmp_path / "b.txt"]  # what the CLI names as written
        assert len(calls) == 2
        assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.txt").read_text() == "new b"
        assert temporaries(tmp_path) == []

    def test_a_killed_runs_temporary_is_removed_by_the_next_write(self, tmp_path):
        dead = subprocess.Popen(["true"])
        dead.wait()
        (tmp_path / f".s.json.{dead.pid}.0123abcd.tmp").write_text("half")
        alive = tmp_path / f".s.json.{os.getppid()}.0123abcd.tmp"  # another live process's: left alone
        alive.write_text("busy")
        atomic_write_all([text_writer(tmp_path / "s.json", "{}")])
        assert (tmp_path / "s.json").read_text() == "{}"
        assert temporaries(tmp_path) == [alive.name]

    @pytest.mark.parametrize("sig, code, said", [(signal.SIGTERM, 143, "terminated by SIGTERM"),
                                                 (signal.SIGHUP, 129, "terminated by SIGHUP"),
                                                 (signal.SIGINT, 130, "interrupted")])
    def test_a_signal_during_training_writes_nothing_and_leaves_nothing(self, tmp_path, sig, code, said):
        proc = subprocess.Popen([gradcli_program(), "train", DATA, "--optimizer", "sgd", "--tol", "0", "--epochs",
                                 "1000000", "--save", "p.json", "--history", "h.csv"], cwd=tmp_path,
                                env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until_working(proc)  # well into training
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == code, err
        assert err.endswith(f"gradcli: {said}\n") and "Traceback" not in err
        assert os.listdir(tmp_path) == []


# A run of `gradcli train ... --save p.json --history h.csv` in a child process whose os.replace (the
# renames of atomic_write_all) does `ACTION` just before the second rename.
_BETWEEN_RENAMES = """
import os, signal, sys
from gradcli.io import outputs
real = os.replace
calls = []
def replace(source, target):
    calls.append(target)
    if len(calls) == 2:
        ACTION
    real(source, target)
outputs.os.replace = replace
sys.argv = ["gradcli", "train", DATA, "--save", "p.json", "--history", "h.csv", "-q"]
from gradcli.cli import main
main()
"""


def _run_between_renames(folder: Path, action: str) -> subprocess.CompletedProcess:
    import sys

    code = _BETWEEN_RENAMES.replace("ACTION", action).replace("DATA", repr(DATA))
    return subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120,
                          env=clean_env())


class TestBetweenTheRenames:
    """What a signal between the renames of --save and --history leaves, as README documents it."""

    def test_ctrl_c_waits_for_both_and_names_them(self, tmp_path):
        (tmp_path / "p.json").write_text("old")
        (tmp_path / "h.csv").write_text("old")
        proc = _run_between_renames(tmp_path, "os.kill(os.getpid(), signal.SIGINT)")
        assert proc.returncode == 130
        assert proc.stderr == "gradcli: interrupted after writing 'p.json' and 'h.csv'\n"
        assert (tmp_path / "p.json").read_text().startswith("{")
        assert (tmp_path / "h.csv").read_text().startswith("epoch,loss\n")
        assert temporaries(tmp_path) == []

    def test_sigterm_waits_for_both_and_names_them(self, tmp_path):
        proc = _run_between_renames(tmp_path, "os.kill(os.getpid(), signal.SIGTERM)")
        assert proc.returncode == 143
        assert proc.stderr == "gradcli: terminated by SIGTERM after writing 'p.json' and 'h.csv'\n"
        assert sorted(os.listdir(tmp_path)) == ["h.csv", "p.json"]

    def test_ctrl_c_before_any_rename_writes_nothing_and_says_interrupted(self, tmp_path):
        code = _BETWEEN_RENAMES.replace("    if len(calls) == 2:\n        ACTION\n", "").replace("DATA", repr(DATA))
        code = code.replace("outputs.os.replace = replace",
                            "real_stage = outputs._stage\n"
                            "def stage(*a):\n    os.kill(os.getpid(), signal.SIGINT)\n    return real_stage(*a)\n"
                            "outputs._stage = stage")
        import sys

        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env=clean_env())
        assert proc.returncode == 130 and proc.stderr == "gradcli: interrupted\n"
        assert os.listdir(tmp_path) == []

    def test_a_rename_that_fails_names_the_files_already_written(self, tmp_path):
        proc = _run_between_renames(tmp_path, "raise PermissionError(13, 'Permission denied')")
        assert proc.returncode == 2
        assert proc.stderr == "gradcli: error: cannot write 'h.csv': Permission denied ('p.json' was written)\n"
        assert sorted(os.listdir(tmp_path)) == ["p.json"]

    def test_kill_9_leaves_the_first_new_and_a_recognisable_temporary_that_the_next_run_removes(self, tmp_path):
        (tmp_path / "h.csv").write_text("old")
        proc = _run_between_renames(tmp_path, "os.kill(os.getpid(), signal.SIGKILL)")
        assert proc.returncode == -signal.SIGKILL
        assert (tmp_path / "p.json").read_text().startswith("{") and (tmp_path / "h.csv").read_text() == "old"
        left = temporaries(tmp_path)
        assert len(left) == 1 and left[0].startswith(".h.csv.") and left[0].split(".")[3].isdigit()
        again = subprocess.run([gradcli_program(), "train", DATA, "--save", "p.json", "--history", "h.csv", "-q"],
                               cwd=tmp_path, capture_output=True, text=True, timeout=120, env=clean_env())
        assert again.returncode == 0, again.stderr
        assert temporaries(tmp_path) == [] and (tmp_path / "h.csv").read_text().startswith("epoch,loss\n")
