"""Parquet files wherever a CSV file is taken: the same results, and the same one-line errors naming
the file, the column and the row."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import one_line_error

import gradcli

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def sample_as_parquet(tmp_path: Path, name: str = "data") -> Path:
    with open(SAMPLES / f"{name}.csv") as sample:
        rows = list(csv.reader(sample))
    values = np.array(rows[1:], dtype=float)
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.table({column: values[:, i] for i, column in enumerate(rows[0])}), path)
    return path


def test_train_on_parquet_equals_train_on_the_csv(tmp_path):
    from_parquet = gradcli.train(str(sample_as_parquet(tmp_path)))
    from_csv = gradcli.train(str(SAMPLES / "data.csv"))
    assert from_parquet.params == from_csv.params and from_parquet.rows == 300


def test_grad_over_parquet_equals_grad_over_the_csv(tmp_path):
    kwargs = dict(params="b=1,w1=0.3,w2=-0.2")
    a = gradcli.gradients("b + w1*x1 + w2*x2", data=str(sample_as_parquet(tmp_path)), **kwargs)
    b = gradcli.gradients("b + w1*x1 + w2*x2", data=str(SAMPLES / "data.csv"), **kwargs)
    assert ({n: g.backprop_value for n, g in a.gradients.items()}
            == {n: g.backprop_value for n, g in b.gradients.items()})


def test_a_parquet_file_is_known_by_its_bytes_whatever_its_name(tmp_path):
    path = sample_as_parquet(tmp_path)
    renamed = path.rename(tmp_path / "data.bin")
    assert gradcli.train(str(renamed)).rows == 300


def test_only_the_columns_the_model_uses_are_read(tmp_path, monkeypatch):
    path = sample_as_parquet(tmp_path)
    asked = []
    original = pq.read_table
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: asked.append(k.get("columns")) or original(*a, **k))
    gradcli.train(str(path), "b + w*x1")
    assert asked == [["x1", "y"]]


@pytest.fixture
def bad(tmp_path) -> Path:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"x1": pa.array([1.0, None, 2.0]), "x2": [1.0, float("inf"), 3.0],
                             "x3": [1, 2, 3], "y": [0.5, 1.0, 2.0], "city": ["a", "b", "c"]}), path)
    return path


@pytest.mark.parametrize("model, needles", [
    ("b + w*x1", ["bad.parquet", "'x1'", "null", "row 2"]),
    ("b + w*x2", ["bad.parquet", "'x2'", "inf", "row 2"]),
    ("b + w*city", ["bad.parquet", "'city'", "not numeric"]),
    ("b + w*x9", ["bad.parquet", "no column 'x9'"]),
])
def test_bad_columns_are_one_line(gradcli, bad, model, needles):
    one_line_error(gradcli("train", str(bad), "--model", model), *needles)


def test_integer_columns_are_numbers(bad):
    assert gradcli.train(str(bad), "b + w*x3").rows == 3


def test_predict_reads_parquet(gradcli, tmp_path):
    path = sample_as_parquet(tmp_path)
    assert gradcli("train", str(path), "--save", "model.json", "-q").code == 0
    result = gradcli("predict", "model.json", str(path))
    assert result.code == 0, result
    lines = result.csv()
    assert lines[0] == ["x1", "x2", "y", "yhat"] and len(lines) == 301


def test_not_a_parquet_file_after_all_is_one_line(gradcli, tmp_path):
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    one_line_error(gradcli("train", "broken.parquet"), "broken.parquet", "not a readable Parquet file")
