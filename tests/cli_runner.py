"""Running the installed `gradcli` program as a user does, and reading what it printed.

Shared by the CLI tests of every command (the `gradcli` fixture itself is in conftest.py).
"""

from __future__ import annotations

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
