"""The test runner's fork of a test process must not hang on a library's thread pool that the parent
started: polars' pool deadlocked a forked child that read CSV (a 60 s time-out, on one test order only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli_runner import clean_env

SCRIPT = r'''
import sys
from pathlib import Path

import numpy as np
from cli_runner import run_program

import gradcli  # noqa: F401

folder = Path(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, 60_000)
y = 3 * x + 0.5 + rng.normal(0, 0.1, 60_000)
(folder / "d.csv").write_text("x1,y\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(x, y)))  # 1.1 MB
import polars as pl

pl.read_csv(str(folder / "d.csv")).sum()  # polars' thread pool now runs in this process
result = run_program(["train", "d.csv", "--model", "b + w*x1", "--memory", "1MiB", "--format", "json"], folder,
                     b"", None, timeout=20)
assert result.code == 0, result.err
params = result.json()["params"]
assert abs(params["w"] - 3) < 0.01 and abs(params["b"] - 0.5) < 0.01, params
'''


def test_a_forked_run_reads_csv_after_the_parent_used_polars(tmp_path):
    tests = Path(__file__).resolve().parent
    env = clean_env(PYTHONPATH=str(tests))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
