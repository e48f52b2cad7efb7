"""grad and predict over a glob or directory of CSV and Parquet files, in memory and part by part.

The data is samples/data.csv cut into a.csv, b.parquet (row groups of 25 rows) and c.csv, with a
text column `id` (int64 in the Parquet file). `small_parts` lets a few kilobytes count as more than
--memory and cuts the files into parts of about 2 kB, so that the streamed paths run on it in
milliseconds; the answers must be those of the same rows read whole.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import one_line_error

import gradcli
from gradcli import DataError, UndefinedError, gradients, predict
from gradcli.views.predict import predictions_csv

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MODEL = "b + w1*x1 + w2*x2"
PARAMS = "b=1,w1=0.3,w2=-0.2"
SAVED = {"model": MODEL, "inputs": ["x1", "x2"], "params": {"b": 1.0, "w1": 0.3, "w2": -0.2}}


def write_part(path: Path, rows: list[list[str]], ids: range) -> None:
    if path.suffix == ".parquet":
        values = np.array(rows, dtype=float)
        table = pa.table({"id": pa.array(list(ids), pa.int64()), "x1": values[:, 0], "x2": values[:, 1],
                          "y": values[:, 2]})
        pq.write_table(table, path, row_group_size=25)
    else:
        path.write_text("id,x1,x2,y\n" + "".join(f"{i:03d},{','.join(row)}\n" for i, row in zip(ids, rows)))


@pytest.fixture
def parts(tmp_path) -> Path:
    with open(SAMPLES / "data.csv") as sample:
        rows = list(csv.reader(sample))[1:]
    folder = tmp_path / "data"
    folder.mkdir()
    for k, name in enumerate(["a.csv", "b.parquet", "c.csv"]):
        write_part(folder / name, rows[100 * k:100 * (k + 1)], range(100 * k, 100 * (k + 1)))
    return folder


@pytest.fixture
def small_parts(monkeypatch):
    import gradcli.io.arguments
    import gradcli.io.dataset

    monkeypatch.setattr(gradcli.io.arguments, "MIN_MEMORY", 1)
    monkeypatch.setattr(gradcli.io.dataset, "part_bytes", lambda budget: 2000)
    return 1000  # the memory budget: every file here is larger


def values(report) -> dict:
    return {name: (g.symbolic_value, g.backprop_value, g.fd_value) for name, g in report.gradients.items()}


# ---------------------------------------------------------------- grad


def test_grad_over_a_directory_streamed_equals_in_memory_and_the_whole_file(parts, small_parts):
    whole = gradcli.gradients(MODEL, data=str(SAMPLES / "data.csv"), params=PARAMS, check_fd=True)
    in_memory = gradcli.gradients(MODEL, data=str(parts), params=PARAMS, check_fd=True)
    streamed = gradcli.gradients(MODEL, data=str(parts), params=PARAMS, check_fd=True, memory=small_parts)
    assert (in_memory.engine, in_memory.files, streamed.engine, streamed.files) == ("memory", 3, "stream", 3)
    assert whole.rows == in_memory.rows == streamed.rows == 300 and streamed.agree is True
    for report in (in_memory, streamed):
        assert report.loss_value == pytest.approx(whole.loss_value, rel=1e-12)
        for name, found in values(report).items():
            assert found == pytest.approx(values(whole)[name], rel=1e-9, abs=1e-12)
    assert [g.symbolic for g in streamed.gradients.values()] == [g.symbolic for g in whole.gradients.values()]
    assert streamed.warnings == ["column 'id' of " + str(parts) + " is not used by the model"]


def test_grad_streamed_refuses_per_row_gradients_and_names_the_file_and_row(parts, small_parts):
    with pytest.raises(DataError, match="one value per row needs the data in memory"):
        gradcli.gradients(MODEL, data=str(parts), params=PARAMS, wrt="x1", memory=small_parts)
    with open(SAMPLES / "data.csv") as sample:
        x1 = np.array([float(row[0]) for row in list(csv.reader(sample))[1:101]])
    first = int(np.argmax(x1 <= 0)) + 1
    for memory in (None, small_parts):  # in memory, the row is placed in its file too
        where = f"undefined at {parts / 'a.csv'} line {first + 1} (row {first}):"
        with pytest.raises(UndefinedError, match=re.escape(where)):
            gradcli.gradients("b + log(x1)", data=str(parts), memory=memory)
    table = pq.read_table(parts / "b.parquet")
    x1 = table.column("x1").to_pylist()
    x1[59] = float("nan")  # row 60, in the third row group
    pq.write_table(table.set_column(1, "x1", pa.array(x1)), parts / "b.parquet", row_group_size=25)
    with pytest.raises(DataError, match=r"b\.parquet: column 'x1' is nan at row 60"):
        gradcli.gradients(MODEL, data=str(parts), memory=small_parts)


def test_grad_streamed_names_kinks_in_their_files_and_falls_back_to_finite_differences(tmp_path, small_parts):
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "k1.csv").write_text("x1,y\n" + "".join(f"{1 + i % 5}.5,1\n" for i in range(90)))
    (folder / "k2.csv").write_text("x1,y\n" + "".join(f"{i % 3},1\n" for i in range(90)))  # x1 = 0 in rows 1, 4, ...
    report = gradcli.gradients("relu(w*x1) + b", data=str(folder), params="w=1,b=0", memory=small_parts // 2)
    assert report.engine == "stream" and report.agree is True
    k2 = folder / "k2.csv"
    assert any(f"in {k2} line 2 (row 1), {k2} line 5 (row 4)," in w for w in report.warnings), report.warnings
    in_memory = gradcli.gradients("relu(w*x1) + b", data=str(folder), params="w=1,b=0")
    for name, found in values(report).items():
        assert found[:2] == pytest.approx(values(in_memory)[name][:2], rel=1e-12)
    odd = gradcli.gradients("1/relu(w) + 0*x1", data=str(folder), params="w=0.5", memory=small_parts // 2)
    assert odd.witness == "symbolic" and odd.agree is True  # SymPy evaluates relu in a denominator, part by part


def test_grad_streamed_falls_back_to_finite_differences_where_sympy_cannot_evaluate(tmp_path, small_parts):
    from unittest import mock

    from gradcli.engines import symbolic

    def sympy_cannot(*args, **kwargs):
        raise TypeError("a limit of SymPy's")  # raised outside gradcli's code, as SymPy's own are

    folder = tmp_path / "k"
    folder.mkdir()
    for name in ("k1.csv", "k2.csv"):
        (folder / name).write_text("x1,y\n" + "".join(f"{1 + i % 5}.5,1\n" for i in range(90)))
    with mock.patch.object(symbolic.SymbolicLoss, "values", sympy_cannot):
        odd = gradcli.gradients("1/w + 0*x1", data=str(folder), params="w=0.5", memory=small_parts // 2)
    assert odd.engine == "stream" and odd.witness == "finite differences" and odd.agree is True
    assert odd.gradients["w"].backprop_value == pytest.approx(-2 * (2 - 1) / 0.25)  # d (1/w - 1)^2 / dw


def test_grad_with_memory_on_the_command_line_streams_a_larger_file(gradcli, tmp_path):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "big.csv", rng.normal(size=(45_000, 3)), delimiter=",", header="x1,x2,y", comments="",
               fmt="%.6f")
    result = gradcli("grad", MODEL, "--data", "big.csv", "--params", PARAMS, "--memory", "1MiB", "-f", "json")
    assert result.code == 0, result
    doc = result.json()
    assert (doc["engine"], doc["files"], doc["rows"]) == ("stream", 1, 45_000)
    whole = gradients(MODEL, data=str(tmp_path / "big.csv"), params=PARAMS)
    assert [g["backprop_value"] for g in doc["gradients"]] == pytest.approx(
        [g.backprop_value for g in whole.gradients.values()], rel=1e-12)


# ---------------------------------------------------------------- predict


def test_predict_to_a_directory_writes_one_file_per_input_in_its_format(parts, tmp_path, small_parts):
    result = gradcli.predict(SAVED, str(parts), output=str(tmp_path / "out") + "/", memory=small_parts)
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == ["a.csv", "b.parquet", "c.csv"]
    assert result.rows == 300 and result.files == 3
    assert result.outputs == [str(out / n) for n in sorted(os.listdir(out))]
    for name in ("a.csv", "c.csv"):  # as the file alone gives, byte for byte
        gradcli.predict(SAVED, str(parts / name), output=tmp_path / name)
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes()
    written = pq.read_table(out / "b.parquet")
    assert written.schema.names == ["id", "x1", "x2", "y", "yhat"] and written.schema.field("id").type == pa.int64()
    alone = gradcli.predict(SAVED, str(parts / "b.parquet"))
    assert written.column("yhat").to_pylist() == alone.yhat.tolist()
    gradcli.predict(SAVED, str(parts), output=out)  # an existing directory: the files are replaced
    assert sorted(os.listdir(out)) == ["a.csv", "b.parquet", "c.csv"]


def test_predict_part_by_part_to_stdout_or_one_file_equals_in_memory(parts, tmp_path, small_parts):
    whole = gradcli.predict(SAVED, str(parts))
    expected = io.StringIO()
    predictions_csv(whole, expected)
    streamed = gradcli.predict(SAVED, str(parts), memory=small_parts)
    assert isinstance(streamed, gradcli.PartPredictions) and streamed.rows == 300
    printed = io.StringIO()
    predictions_csv(streamed, printed)
    assert printed.getvalue() == expected.getvalue()
    assert expected.getvalue().splitlines()[1].startswith("000,")  # the id as written, in file order
    gradcli.predict(SAVED, str(parts), output=tmp_path / "all.csv", memory=small_parts)
    assert (tmp_path / "all.csv").read_text() == expected.getvalue()
    gradcli.predict(SAVED, str(parts), output=tmp_path / "all.parquet", memory=small_parts)
    assert pq.read_table(tmp_path / "all.parquet").column("yhat").to_pylist() == whole.yhat.tolist()


def test_predict_refuses_to_write_over_an_input_or_two_files_under_one_name(parts, tmp_path):
    with pytest.raises(DataError, match="is the input file; refusing to write over it"):
        gradcli.predict(SAVED, str(parts), output=parts)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.csv").write_bytes((parts / "a.csv").read_bytes())
    with pytest.raises(DataError, match="would both be written as 'a.csv'"):
        gradcli.predict(SAVED, str(tmp_path / "*" / "a.csv"), output=f"{tmp_path / 'out'}/")
    with pytest.raises(DataError, match="one file per input file"):
        gradcli.predict(SAVED, {"x1": [1.0], "x2": [2.0]}, output=f"{tmp_path / 'out'}/")
    assert not (tmp_path / "out").exists()


def test_predict_with_a_bad_row_in_any_file_leaves_no_file_behind(gradcli, parts, tmp_path):
    lines = (parts / "c.csv").read_text().splitlines(keepends=True)
    lines[40] = "239,1.0,oops,2.0\n"
    (parts / "c.csv").write_text("".join(lines))
    (tmp_path / "m.json").write_text(json.dumps(SAVED))
    one_line_error(gradcli("predict", "m.json", "data", "--output", "out/"), "c.csv", "line 41 (row 40)", "'x2'")
    assert sorted(os.listdir(tmp_path)) == ["data", "m.json"]
    with pytest.raises(DataError, match="line 41"):
        predict(SAVED, str(parts), output=tmp_path / "one.parquet")
    assert sorted(os.listdir(tmp_path)) == ["data", "m.json"]


def test_grad_streamed_never_judges_a_difference_across_a_kink(tmp_path, small_parts):
    # relu(w*x1 - 1) at w = 1 sits at its kink in every row with x1 = 1 (in the second file only):
    # the stencil w ± h crosses it there, so w is not compared by differences; b is, in every part
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "k1.csv").write_text("x1,y\n" + "".join(f"{2 + i % 5}.5,1\n" for i in range(90)))
    (folder / "k2.csv").write_text("x1,y\n" + "".join(f"{i % 3},1\n" for i in range(90)))
    report = gradcli.gradients("relu(w*x1 - 1) + b", data=str(folder), params="w=1,b=0", check_fd=True,
                               engines=("backprop",), memory=small_parts // 2)
    assert report.engine == "stream"
    w, b = report.gradients["w"], report.gradients["b"]
    assert (w.fd_verdict, w.fd_value, w.fd_agree) == ("not compared at a kink", None, None)
    assert b.fd_verdict == "agree" and report.agree is True
    assert any("w: not compared at a kink: relu(w*x1 - 1)" in line for line in report.warnings), report.warnings
