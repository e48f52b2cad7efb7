"""Every way out of the program is one line and a documented exit code, whatever the streams and files are.

Standard streams closed, full or endless; devices and oversized input; a bug (an exception that is
not a GradcliError) and Ctrl-C while the program is still importing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import clean_env, gradcli_program, one_line_error

ROOT = Path(__file__).resolve().parents[2]
DATA = str(ROOT / "samples" / "data.csv")
NOTE = ["b+w1*x1+w2*x2", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]


def run_shell(command: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """A command line as a user types it (redirections included), with gradcli on the PATH."""
    env = clean_env(PATH=f"{Path(gradcli_program()).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, timeout=timeout, env=env, text=True)


def single_line(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("gradcli: error: "), stderr
    for needle in needles:
        assert needle in stderr, (needle, stderr)


class TestStandardStreams:
    @pytest.mark.parametrize("args", [["--help"], ["grad", *NOTE], ["losses"]], ids=["help", "grad", "losses"])
    def test_stdout_on_a_full_disk_is_said_and_not_exit_0(self, tmp_path, args):
        quoted = " ".join(f"'{a}'" for a in args)
        proc = run_shell(f"gradcli {quoted} > /dev/full", tmp_path)
        assert proc.returncode == 74, proc
        single_line(proc.stderr, "cannot write the output", "No space left")

    def test_closed_stdout_is_refused_before_anything_is_written(self, tmp_path):
        proc = run_shell(f"gradcli train '{DATA}' --save s.json >&-", tmp_path)
        assert proc.returncode == 2, proc
        single_line(proc.stderr, "stdout is closed")
        assert not (tmp_path / "s.json").exists()

    def test_closed_stdin_with_data_from_stdin(self, tmp_path):
        proc = run_shell("gradcli grad 'b+w*x1' --data - <&-", tmp_path)
        assert proc.returncode == 2
        single_line(proc.stderr, "stdin is closed")

    @pytest.mark.parametrize("command, needle", [
        ("yes 1,2 | gradcli train -", "larger than 1,073,741,824 bytes"),
        ("yes | gradcli grad 'b+w*x1' --params -", "--params stdin is larger than"),
        ("gradcli grad 'b+w*x1' --data - < /dev/zero", "larger than"),
    ], ids=["csv", "params", "zeros"])
    def test_endless_stdin_ends_in_one_line(self, tmp_path, command, needle):
        started = time.monotonic()
        proc = run_shell(command, tmp_path, timeout=60)
        assert proc.returncode == 2, proc
        single_line(proc.stderr, needle)
        assert time.monotonic() - started < 30


class TestDevicesAndSizes:
    @pytest.mark.parametrize("args, needle", [
        (["grad", "b+w*x1", "--data", "/dev/zero"], "--data file '/dev/zero' is a device"),
        (["grad", "b+w*x1", "--params", "/dev/urandom"], "--params file '/dev/urandom' is a device"),
        (["train", "/dev/zero"], "data file '/dev/zero' is a device"),
        (["train", DATA, "--init", "/dev/zero"], "is a device"),
        (["predict", "/dev/zero", DATA], "saved model file '/dev/zero' is a device"),
        (["grad", "--model-file", "/dev/zero", "--data", "x1=1,y=0"], "is a device"),
    ])
    def test_a_device_is_refused_at_once(self, gradcli, args, needle):
        one_line_error(gradcli(*args), needle)

    def test_a_params_file_larger_than_the_bound(self, gradcli, tmp_path):
        with open(tmp_path / "big.json", "wb") as handle:
            handle.truncate(17 << 20)
        one_line_error(gradcli("grad", "b+w*x1", "--params", "big.json"), "larger than 16,777,216 bytes")


class TestSeedsAndSteps:
    def test_negative_seed(self, gradcli):
        one_line_error(gradcli("train", DATA, "--seed", "-1"), "--seed must be a whole number >= 0")

    def test_a_huge_learning_rate_diverges_without_numpy_warnings(self, gradcli):
        result = gradcli("train", DATA, "--optimizer", "adam", "--lr", "1e308", "-q")
        assert result.code == 1
        assert "RuntimeWarning" not in result.err and result.err.count("\n") == 1
        assert "centred and scaled" in result.err


BUG = """
import sys
import gradcli.tasks.gradients
def broken(*args, **kwargs):
    raise ValueError("a deliberate bug")
gradcli.tasks.gradients.gradients = broken
sys.argv = ["gradcli", "grad", "b + w*x1"]
from gradcli.cli import main
main()
"""


class TestBugsAndInterrupts:
    def test_a_bug_is_one_line_and_never_exit_1(self, tmp_path):
        proc = subprocess.run([sys.executable, "-c", BUG], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, env=clean_env())
        assert proc.returncode == 70, proc
        assert proc.stderr == ("gradcli: internal error (a bug in gradcli): ValueError: a deliberate bug "
                               "(GRADCLI_DEBUG=1 shows the traceback)\n")

    def test_gradcli_debug_shows_the_traceback(self, tmp_path):
        proc = subprocess.run([sys.executable, "-c", BUG], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60, env=clean_env(GRADCLI_DEBUG="1"))
        assert proc.returncode == 70
        assert "Traceback" in proc.stderr and "a deliberate bug" in proc.stderr

    @pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.2])
    def test_ctrl_c_while_gradcli_starts_up(self, tmp_path, delay):
        """From the first line of the entry point on (Python's own start-up is Python's), Ctrl-C is said."""
        start = ("import sys; sys.argv = ['gradcli', *sys.argv[1:]]; from gradcli.__main__ import main; "
                 "print('ready', file=sys.stderr, flush=True); main()")
        proc = subprocess.Popen([sys.executable, "-c", start, "grad", *NOTE], cwd=tmp_path, env=clean_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr.readline() == "ready\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        if proc.returncode == 0:  # it finished first: nothing to see
            return
        assert proc.returncode == 130, err
        assert err == "gradcli: interrupted\n", err

    def test_ctrl_c_inside_a_class_being_made_is_still_an_interrupt(self, tmp_path):
        """A Ctrl-C that lands in a descriptor's __set_name__ while the CLI is imported (platform's
        uname_result, inside `import typer`) arrives as a RuntimeError caused by KeyboardInterrupt."""
        proc = subprocess.run([sys.executable, "-c", WRAPPED_INTERRUPT, "grad", *NOTE], cwd=tmp_path, env=clean_env(),
                              capture_output=True, text=True, timeout=60)
        assert (proc.returncode, proc.stderr) == (130, "gradcli: interrupted\n")


WRAPPED_INTERRUPT = """
import builtins, sys
sys.argv = ["gradcli", *sys.argv[1:]]
real = builtins.__import__
def wrapped(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 1 and name == "cli":
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as err:
            raise RuntimeError("Error calling __set_name__ on 'cached_property' instance") from err
    return real(name, globals, locals, fromlist, level)
builtins.__import__ = wrapped
from gradcli.__main__ import main
main()
"""

CLEAN_UPS = """
import atexit, gc, json, sys, tempfile, weakref
from pathlib import Path
sys.argv = ["gradcli", *json.loads(sys.argv[1])]
marks = Path(sys.argv.pop())
class Held:  # a reference cycle, alive to the end, with a finaliser registered the documented way
    pass
held = Held(); held.me = held
weakref.finalize(held, lambda: (marks / "finalised").write_text("yes"))
atexit.register(lambda: (marks / "atexit").write_text(f"frozen {gc.get_freeze_count() > 0}"))
folder = tempfile.TemporaryDirectory(dir=marks)
from gradcli.__main__ import main  # as the console script starts
main()
"""


class TestTheEnd:
    """gradcli skips Python's teardown (gc.freeze: a quarter of a second a run); clean-ups still run."""

    @pytest.mark.parametrize("args", [["grad", *NOTE], ["grad", "b+"]], ids=["ok", "bad input"])
    def test_atexit_finalisers_and_temporary_folders_still_end(self, tmp_path, args):
        import json

        proc = subprocess.run([sys.executable, "-c", CLEAN_UPS, json.dumps([*args, str(tmp_path)])], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, env=clean_env())
        assert proc.returncode == (0 if args[1] != "b+" else 2), proc
        assert (tmp_path / "atexit").read_text() == "frozen True"  # the handler ran after the freeze
        assert (tmp_path / "finalised").read_text() == "yes"
        assert [p.name for p in tmp_path.iterdir()] and not [p for p in tmp_path.iterdir() if p.is_dir()]

    def test_every_line_reaches_a_pipe(self, tmp_path):
        """The table of a 200-parameter gradient, read through a pipe: nothing lost at the end."""
        terms = " + ".join(f"w{i}*x{i}" for i in range(1, 201))
        data = ",".join(f"x{i}=1" for i in range(1, 201)) + ",y=1"
        proc = run_shell(f"gradcli grad 'b + {terms}' --data {data} --format csv | cat", tmp_path, timeout=120)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == 1 + 201 and lines[-1].startswith("w200,"), lines[-3:]
