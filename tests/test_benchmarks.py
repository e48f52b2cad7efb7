"""The benchmark runner's bookkeeping (its timings are for people to read, never asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import Row, interleaved, table  # noqa: E402


class TestRow:
    def test_ratio_and_verdict(self):
        assert Row("1", "x", "ms", 0.012, "numpy", 0.010, 1.2).verdict == "holds"
        assert Row("1", "x", "ms", 0.013, "numpy", 0.010, 1.2).verdict == "MISSED"
        assert Row("1", "x", "ms", 0.013, "numpy", 0.010).verdict == "report"
        assert Row("1", "x", "ms", 0.013, "torch", None, 1.0, "not installed").verdict == "skipped"
        assert Row("1", "x", "ms", 0.012, "numpy", 0.010).ratio == pytest.approx(1.2)

    def test_table_shows_every_row_with_units(self):
        text = table([Row("1", "gradient", "ms", 0.0125, "hand NumPy", 0.0100, 1.2),
                      Row("5", "memory", "MB", 98.0, "the data", 88.0, 2.0),
                      Row("1", "vs torch", "ms", 0.0125, "PyTorch eager", None, 1.0, "not installed")])
        lines = text.splitlines()
        assert lines[0].split()[:3] == ["#", "target", "gradcli"] and set(lines[1]) == {"-"}
        assert "12.5 ms" in lines[2] and "hand NumPy 10.0 ms" in lines[2] and "1.25" in lines[2] and "MISSED" in lines[2]
        assert "98 MB" in lines[3] and "holds" in lines[3]
        assert lines[4].endswith("skipped (not installed)")


def test_interleaved_runs_every_contender_in_turn():
    calls: list[str] = []
    times = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeat=3, warmup=1)
    assert calls == ["a", "b"] * 4 and set(times) == {"a", "b"}


def test_the_runner_refuses_unknown_targets():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "9"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "--only takes target numbers" in done.stderr
