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
        assert ("12.5 ms" in lines[2] and "hand NumPy 10.0 ms" in lines[2] and "1.25" in lines[2]
                and "MISSED" in lines[2])
        assert "98 MB" in lines[3] and "holds" in lines[3]
        assert lines[4].endswith("skipped (not installed)")


def test_interleaved_runs_every_contender_in_turn():
    calls: list[str] = []
    times = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeat=3, warmup=1)
    assert calls == ["a", "b"] * 4 and set(times) == {"a", "b"}


def test_the_runner_refuses_unknown_targets():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "99"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 2 and "--only takes target numbers" in done.stderr


def test_every_target_has_its_runner():
    from benchmarks.__main__ import TARGETS, runners

    found = runners()
    assert set(found) == set(TARGETS) and all(found[target] for target in TARGETS)
    assert TARGETS["8"] == "Hessian" and TARGETS["10"] == "layers"


@pytest.mark.parametrize("which", [0, 1], ids=["linear mse", "logistic bce"])
def test_the_hessian_benchmark_checks_every_contender_before_timing(which):
    # Tiny data: the rows' figures mean nothing, but H v against the matrix and PyTorch's and JAX's
    # matrices (where installed) against gradcli's are all checked, or the benchmark exits.
    from benchmarks.hessian import cases, compare

    for case in cases()[which:which + 1]:
        rows = compare(case, 200, 1)
        assert [row.target for row in rows] == ["8"] * 6
        assert rows[0].limit == 4.0 and rows[2].limit == 1.5 and rows[0].verdict in ("holds", "MISSED")
        assert all(row.verdict == "skipped" for row in rows[2:5] if row.reference_value is None)


LAYER_LIMITS = {"numpy": 1.2, "torch": 1.0, "jax": 1.5, "forward": 2.5}


def test_the_layers_benchmark_checks_every_contender_before_timing():
    # Tiny data: PyTorch's and JAX's loss and gradients (where installed) are checked against the
    # hand-written NumPy ones, or the benchmark exits; gradcli's rows say why where it refuses the call.
    from benchmarks.layers import compare, make_data

    rows = compare(make_data(200, 3, 4), 1, LAYER_LIMITS)
    assert [row.target for row in rows] == ["10"] * 5
    assert [row.limit for row in rows] == [1.2, 1.0, 1.5, None, 2.5]
    assert rows[3].verdict == "report" and rows[3].reference == "forward alone"  # hand NumPy's own ratio
    assert all(row.note for row in rows if row.verdict == "skipped")


def test_the_layers_benchmark_times_gradcli_and_stops_on_a_wrong_gradient(monkeypatch):
    # one matrix product's VJP off by 1e-8 stops the benchmark before anything is timed
    import gradcli.language.tensors as tensors
    from benchmarks.layers import compare, make_data

    rows = compare(make_data(200, 3, 4), 1, LAYER_LIMITS)
    assert rows[0].verdict in ("holds", "MISSED") and rows[4].verdict in ("holds", "MISSED")
    real = tensors.matmul_vjp
    monkeypatch.setattr(tensors, "matmul_vjp", lambda i, g, a, b: (1 + 1e-8) * real(i, g, a, b))
    with pytest.raises(SystemExit, match="gradcli's loss or gradient differs"):
        compare(make_data(200, 3, 4), 1, LAYER_LIMITS)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak memory is read from /proc")
def test_the_layers_memory_rows_measure_a_fresh_process():
    from benchmarks.layers import memory_rows

    gradcli_row, numpy_row = memory_rows(2000, 3, 4)
    assert gradcli_row.limit == 2.0 and numpy_row.limit is None
    assert numpy_row.reference_value == pytest.approx(2000 * 4 * 8 / 1e6) and numpy_row.verdict == "report"
    assert gradcli_row.verdict != "skipped" or gradcli_row.note.startswith("gradcli: ")


def test_every_gradcli_name_the_benchmarks_import_exists():
    """The benchmarks run some contenders from source text in child processes, where a name moved inside
    gradcli shows up only as a 'skipped' row: each `from gradcli... import ...` anywhere in benchmarks/
    (module code and child scripts alike) must resolve."""
    import importlib
    import re
    from pathlib import Path

    found = 0
    for path in sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")):
        for module, names in re.findall(r"from (gradcli[\w.]*) import ([\w, ]+)", path.read_text()):
            imported = importlib.import_module(module)
            for name in (n.strip() for n in names.split(",")):
                assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}"), \
                    (path.name, module, name)
                found += 1
    assert found > 10
