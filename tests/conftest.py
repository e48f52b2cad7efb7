"""Fixtures shared by every test package; helpers live in cli_runner.py and expression_cases.py."""

from __future__ import annotations

import os

import pytest
from cli_runner import Result, run_program
from hypothesis import settings

# The same examples on every machine and every run: a property test that is green here and red on
# the next machine (a fresh random draw) is a defect of the suite, not news. To explore new examples,
# run with HYPOTHESIS_PROFILE=explore (random draws, more of them).
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=500, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture
def gradcli(tmp_path):
    """Run the program with cwd=tmp_path: gradcli("grad", ..., stdin=b"...", env={...})."""

    def run(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> Result:
        return run_program(list(args), tmp_path, stdin, env)

    return run
