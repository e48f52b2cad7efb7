"""Fixtures shared by every test package; helpers live in cli_runner.py and expression_cases.py."""

from __future__ import annotations

import subprocess

import pytest
from cli_runner import Result, clean_env, gradcli_program


@pytest.fixture
def gradcli(tmp_path):
    """Run the program with cwd=tmp_path: gradcli("grad", ..., stdin=b"...", env={...})."""

    def run(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run(
            [gradcli_program(), *args], cwd=tmp_path, input=stdin, capture_output=True, timeout=60,
            env=clean_env(**(env or {})),
        )
        return Result(proc)

    return run
