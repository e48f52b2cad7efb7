"""Running the installed `gradcli` program as a user does, and reading what it printed.

Shared by the CLI tests of every command (the `gradcli` fixture itself is in conftest.py).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[")
ANSI_COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
# Environment variables that would change Rich's idea of the terminal.
COLOUR_VARS = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE", "COLUMNS")


def gradcli_program() -> str:
    beside = Path(sys.executable).parent / "gradcli"
    if beside.exists():
        return str(beside)
    found = shutil.which("gradcli")
    if found is None:
        pytest.skip("the gradcli console script is not installed")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in COLOUR_VARS}
    env.update(extra)
    return env


class Result:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.code = proc.returncode
        self.out = proc.stdout.decode("utf-8")
        self.err = proc.stderr.decode("utf-8", "replace")


    def json(self):
        return json.loads(self.out)

    def csv(self) -> list[list[str]]:
        return list(csv.reader(io.StringIO(self.out)))

    def __repr__(self) -> str:
        return f"<exit {self.code}\nstdout: {self.out!r}\nstderr: {self.err!r}>"


def run_program(args: list[str], cwd: Path, stdin: bytes = b"", env: dict[str, str] | None = None,
                umask: int | None = None, timeout: float = 60, user: int | None = None) -> Result:
    """The program run as a user runs it: its own process, argv, cwd, environment and standard streams,
    its exit code.

    Most runs are a fork of this test process with gradcli already imported (a zygote: the child
    enters `gradcli.__main__.main` exactly as the console script does), so that the suite does not pay
    an interpreter's start-up and the imports of NumPy, SymPy and Typer ~400 times. A run whose
    environment sets PYTHON* variables (they act when an interpreter starts), or where fork is not
    there, or that starts a Dask cluster, starts the installed program instead, as the tests of start-up
    itself do.

    `user`: the uid (and gid) the run drops to, run as root, so that permission bits hold for it
    (root passes them); always a fork, since the interpreter may live where that user cannot read.
    """
    environment = clean_env(**(env or {}))
    starting = [k for k, v in (env or {}).items() if k.startswith("PYTHON") and os.environ.get(k) != v]
    # Dask's cluster, started in a fork of a process whose own Dask threads hold their locks, deadlocks
    if user is not None or (hasattr(os, "fork") and not starting and len(stdin) < 1 << 16 and "--dask" not in args):
        return _forked(args, cwd, stdin, environment, umask, timeout, user)
    proc = subprocess.run([gradcli_program(), *args], cwd=cwd, input=stdin, capture_output=True, timeout=timeout,
                          env=environment, preexec_fn=None if umask is None else lambda: os.umask(umask))
    return Result(proc)


def _preload() -> None:
    """What every run would import, imported once in the parent: what the fork saves."""
    if "gradcli.tasks.train" in sys.modules:
        return
    import sympy  # noqa: F401

    import gradcli.cli  # noqa: F401
    import gradcli.engines.symbolic  # noqa: F401
    import gradcli.tasks.gradients  # noqa: F401
    import gradcli.tasks.train  # noqa: F401


def _without_polars_after_fork() -> None:
    """In a forked child, CSV is read by pyarrow, not polars, once the parent has used polars: polars'
    thread pool does not survive fork (its locks are held by threads the child does not have), and the
    child hung for good. The two readers give the same columns (tests/io/test_csv.py checks it)."""
    if "polars" in sys.modules:
        from gradcli.io import csv as table

        table.FAST_READERS = tuple(read for read in table.FAST_READERS if read is not table._read_polars)


def _forked(args: list[str], cwd: Path, stdin: bytes, environment: dict[str, str], umask: int | None,
            timeout: float, user: int | None = None) -> Result:
    import atexit
    import tempfile
    import time

    _preload()

    with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        given.write(stdin)
        given.seek(0)
        pid = os.fork()
        if pid == 0:  # the child: become the program, then leave without running the parent's clean-ups
            code = 70
            try:
                os.dup2(given.fileno(), 0)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.chdir(cwd)
                if user is not None:
                    os.setgroups([])
                    os.setgid(user)
                    os.setuid(user)
                if umask is not None:
                    os.umask(umask)
                os.environ.clear()
                os.environ.update(environment)
                encoding = sys.__stdout__.encoding if sys.__stdout__ else "utf-8"
                sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding=encoding)
                sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=encoding)
                sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=encoding,
                                              errors="backslashreplace", line_buffering=True)
                sys.argv = [gradcli_program(), *args]
                atexit._clear()
                _without_polars_after_fork()
                from gradcli.__main__ import main

                try:
                    main()
                    code = 0
                except SystemExit as exit:
                    code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
                atexit._run_exitfuncs()
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(OSError, ValueError):
                        stream.flush()
            except BaseException:  # noqa: BLE001 - a failure of the runner itself: say it on stderr
                import traceback

                os.write(2, traceback.format_exc().encode())
            finally:
                os._exit(code)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise subprocess.TimeoutExpired(args, timeout)
            time.sleep(0.002)
        out.seek(0)
        err.seek(0)
        code = os.waitstatus_to_exitcode(status)
        return Result(subprocess.CompletedProcess(args, code, out.read(), err.read()))


def one_line_error(result: Result, *needles: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr starting 'gradcli: error:', no traceback."""
    assert result.code == 2, result
    assert result.out == "", result
    assert "Traceback" not in result.err, result
    assert result.err.startswith("gradcli: error: "), result
    assert result.err.endswith("\n") and result.err.count("\n") == 1, result
    for needle in needles:
        assert needle in result.err, (needle, result)
    return result.err


PROBE = """
import io, json, sys
from contextlib import redirect_stdout
sys.argv = ["gradcli", *json.loads(sys.argv[1])]
from gradcli.cli import main
code = None
with redirect_stdout(io.StringIO()) as out:
    try:
        main()
    except SystemExit as exit:
        code = exit.code
print(json.dumps({"code": code, "out": out.getvalue(),
                  "sympy": "sympy" in sys.modules, "numpy": "numpy" in sys.modules,
                  "pyarrow": "pyarrow" in sys.modules, "pydantic": "pydantic" in sys.modules}))
"""


def probe(argv: list[str], cwd: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], cwd=cwd, capture_output=True,
                          timeout=60, env=clean_env())
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout.decode().splitlines()[-1])


def wait_until_working(proc: subprocess.Popen, cpu_seconds: float = 0.3, timeout: float = 60) -> None:
    """Wait until the program started in `proc` has put its SIGTERM handler in place (gradcli.cli installs
    it once the CLI is imported, just before the command runs) and has then spent `cpu_seconds` of CPU time
    on the command: well into a long training, whose data is read and model made in ~0.04 s.

    Events, not a fixed sleep: a sleep long enough for a loaded machine's start-up (4 s) was idle time on
    every other machine, and a short one let the signal land in the imports there. Linux's /proc only.
    """
    import signal
    import time

    deadline = time.monotonic() + timeout
    started_at = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the program ended before it was signalled: {proc.communicate()}")
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            status = Path(f"/proc/{proc.pid}/status").read_text()
            caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
            if caught & (1 << (signal.SIGTERM - 1)):
                started_at = used if started_at is None else started_at
                if used - started_at >= cpu_seconds:
                    return
        time.sleep(0.01)
    raise subprocess.TimeoutExpired(proc.args, timeout)
