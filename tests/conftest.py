"""Fixtures shared by every test package; helpers live in cli_runner.py and expression_cases.py."""

from __future__ import annotations

import pytest
from cli_runner import Result, run_program


@pytest.fixture
def gradcli(tmp_path):
    """Run the program with cwd=tmp_path: gradcli("grad", ..., stdin=b"...", env={...})."""

    def run(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> Result:
        return run_program(list(args), tmp_path, stdin, env)

    return run
