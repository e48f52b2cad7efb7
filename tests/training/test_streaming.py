"""train over data larger than --memory: streamed part by part, one pass per evaluation, with the same
results as in memory (to 1e-9 for full-batch optimisers, identical mini-batches given the same parts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import one_line_error

import gradcli
from gradcli.errors import DataError, GradcliError
from gradcli.io.arguments import memory_budget
from gradcli.io.dataset import open_dataset
from gradcli.language.problem import build_problem
from gradcli.training.closed_form import least_squares
from gradcli.training.loop import Trainer
from gradcli.training.options import TrainOptions
from gradcli.training.partwise import tsqr_least_squares
from gradcli.training.passes import MemoryRows, StreamedRows

ROWS = 40_000  # about 1.5 MB of CSV: more than the smallest budget, 1MiB, so it streams in two parts


@pytest.fixture(scope="module")
def columns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(size=ROWS), 1.6e9 + rng.uniform(0, 3e7, size=ROWS)  # a timestamp: badly scaled
    y = 0.5 + 2 * x1 + 3e-8 * (x2 - 1.6e9) + rng.normal(size=ROWS) * 0.1
    return {"x1": x1, "x2": x2, "y": y}


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory, columns) -> Path:
    path = tmp_path_factory.mktemp("stream") / "big.csv"
    lines = ["x1,x2,y", *(f"{a!r},{b!r},{c!r}" for a, b, c in zip(*(columns[n].tolist() for n in ("x1", "x2", "y"))))]
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > memory_budget("1MiB")
    return path


def relative(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] - b[k]) / max(abs(b[k]), 1e-300) for k in b)


def test_lbfgs_streamed_equals_lbfgs_in_memory(big_csv):
    memory = gradcli.train(str(big_csv))
    streamed = gradcli.train(str(big_csv), memory="1MiB")
    assert (memory.engine, streamed.engine, streamed.rows, streamed.files) == ("memory", "stream", ROWS, 1)
    assert relative(streamed.params, memory.params) <= 1e-9
    assert streamed.result.converged and streamed.at_optimum and streamed.check.agree
    # the closed form came from TSQR over the parts, the final check from SymPy on every part
    assert relative(streamed.closed_form.params, memory.closed_form.params) <= 1e-9


def test_tsqr_over_parts_equals_lstsq_over_all_rows(columns):
    problem = build_problem("b + w1*x1 + w2*x2", "mse", data_names=["x1", "x2"])
    trainer = Trainer(problem, columns, ROWS)
    pieces = [slice(0, 1000), slice(1000, 25_000), slice(25_000, ROWS)]
    parts = [{name: column[piece] for name, column in columns.items()} for piece in pieces]
    streamed = StreamedRows(lambda i: (parts[i], len(parts[i]["y"])), len(parts), 1)
    trained = {"b": 0.0, "w1": 0.0, "w2": 0.0}
    whole = least_squares(problem, trainer.graph, columns, ROWS, trained)
    split = tsqr_least_squares(problem, trainer.graph, streamed, trained)
    assert relative(split.params, whole.params) <= 1e-9
    assert split.loss == pytest.approx(whole.loss, rel=1e-9)


def test_minibatches_are_the_same_given_the_same_parts(columns):
    """One part streamed draws exactly the in-memory mini-batches; several parts are deterministic."""
    problem = build_problem("b + w1*x1", "mse", data_names=["x1"])
    small = {name: column[:3000] for name, column in columns.items() if name != "x2"}
    options = TrainOptions("sgd", epochs=3, batch_size=64, seed=5, precondition=False)
    start = {"b": 0.0, "w1": 0.0}

    def streamed(pieces: list[slice]) -> dict[str, float]:
        parts = [{name: column[piece] for name, column in small.items()} for piece in pieces]
        rows = StreamedRows(lambda i: (parts[i], len(parts[i]["y"])), len(parts), 1)
        return Trainer(problem, rows).run(start, options).params

    in_memory = Trainer(problem, MemoryRows(small, 3000)).run(start, options).params
    assert streamed([slice(0, 3000)]) == in_memory
    three = [slice(0, 1000), slice(1000, 2000), slice(2000, 3000)]
    assert streamed(three) == streamed(three) != in_memory


def test_a_bad_row_in_a_later_part_names_the_file_line_and_row(tmp_path, big_csv):
    lines = big_csv.read_text().splitlines()
    lines[30_001] = "1.0,nan,2.0"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        gradcli.train(str(bad), memory="1MiB")
    assert f"{bad}: line 30002 (row 30001), column 'x2'" in str(err.value)


def test_parquet_row_groups_stream_and_the_cli_reports_the_engine(gradcli, tmp_path, columns):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({**columns, "pad": np.zeros(ROWS), "pad2": np.ones(ROWS)}), path, row_group_size=5000,
                   compression="none")
    result = gradcli("train", str(path), "-m", "b + w1*x1 + w2*x2", "--memory", "1MiB", "--format", "json")
    report = json.loads(result.out)
    assert result.code == 0, result
    assert (report["engine"], report["rows"], report["files"], report["converged"]) == ("stream", ROWS, 1, True)
    assert "pad" in result.err  # unused columns are still told


@pytest.mark.parametrize("text, expected", [("2GB", 2 * 10**9), ("512MiB", 512 << 20), ("1.5G", int(1.5 * 2**30)),
                                            ("3000000", 3_000_000), (5_000_000, 5_000_000)])
def test_memory_sizes(text, expected):
    assert memory_budget(text) == expected


@pytest.mark.parametrize("text", ["lots", "2XB", "-1GB", "1KB", True, 2.5])
def test_bad_memory_sizes_are_errors_naming_the_option(text):
    with pytest.raises(GradcliError, match="--memory"):
        memory_budget(text)


def test_bad_memory_on_the_command_line(gradcli):
    one_line_error(gradcli("train", "x.csv", "--memory", "lots"), "--memory", "2GB")


def test_open_dataset_reports_its_files_and_size(big_csv):
    dataset = open_dataset(str(big_csv.parent / "*.csv"))
    assert [file.path for file in dataset.files] == [str(big_csv)] and dataset.size == big_csv.stat().st_size


def test_undefined_at_the_start_in_a_later_part_names_the_line_and_row_in_the_file(tmp_path):
    lines = ["x1,y", *(f"{i + 1}.000001,{i}.5" for i in range(100_000))]
    lines[90_001] = "-1,3"
    path = tmp_path / "logs.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(gradcli.UndefinedError, match=rf"at {path} line 90002 \(row 90001\): log of a non-positive"):
        gradcli.train(str(path), "b + w*log(x1)", memory="1MiB")


def spill_folders() -> set[str]:
    import tempfile

    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith(f"gradcli-spill-{os.getpid()}-")}


def test_streamed_csv_parts_are_kept_as_binary_and_the_folder_goes_whatever_ends_the_run(big_csv, tmp_path):
    from gradcli.training.reading import streamed_rows

    dataset = open_dataset(str(big_csv))
    problem = build_problem("b + w1*x1 + w2*x2", "mse", data_names=["x1", "x2"])
    before = spill_folders()
    with streamed_rows(dataset, problem, memory_budget("1MiB")) as kept, \
            streamed_rows(dataset, problem, memory_budget("1MiB"), spill=False) as parsed:
        assert len(spill_folders() - before) == 1
        params = {"b": 0.1, "w1": 0.2, "w2": 1e-9}
        plan = Trainer(problem, kept).plan
        assert kept.sweep(plan, params).gradient == parsed.sweep(plan, params).gradient
    assert spill_folders() == before
    lines = big_csv.read_text().splitlines()
    lines[-3] = "1,2,x"
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError):
        gradcli.train(str(tmp_path / "bad.csv"), memory="1MiB")
    assert spill_folders() == before


def test_a_spill_folder_left_by_a_killed_run_is_removed_by_the_next(tmp_path, monkeypatch):
    import tempfile

    from gradcli.io.spill import Spill

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"gradcli-spill-{dead.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "part-0.npy").write_bytes(b"x")
    mine = Spill(["x1"])
    assert not stale.exists() and os.path.isdir(mine.folder)
    mine.close()
    assert not os.path.exists(mine.folder)
