"""The public API, one function per command: each takes what the CLI takes (text, paths, '-',
dicts, lists, NumPy arrays), returns the plain data the views render, and raises GradcliError.

The numbers are the worked example's, by hand, and the CLI's own JSON for the same call.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_runner import clean_env, run_program

import gradcli
from gradcli import DataError, GradcliError

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NOTE_MODEL = "b+w1*x1+w2*x2"
NOTE_GRADIENTS = {"b": 1.0, "w1": 1.5, "w2": 2.0}


def backprop(report) -> dict[str, float]:
    return {name: g.backprop_value for name, g in report.gradients.items()}


def cli_json(*args: str, cwd: Path = SAMPLES.parent) -> dict:
    """The CLI's JSON document, from the program run as cli_runner runs it (a fork of this process into
    gradcli's entry point). Called before the API call it is compared with, so that the API's work in this
    process is none of the program's state."""
    result = run_program([*args, "--format", "json"], cwd, timeout=120)
    assert result.code == 0, result
    return result.json()


class TestGradients:
    @pytest.mark.parametrize("data, params", [
        ("x1=1.5,x2=2,y=1", "b=0.5,w1=2,w2=-1"),
        (str(SAMPLES / "note.csv"), str(SAMPLES / "note-params.json")),
        (SAMPLES / "note.csv", SAMPLES / "note-params.json"),
        ({"x1": [1.5], "x2": np.array([2.0]), "y": 1}, {"b": 0.5, "w1": 2, "w2": -1}),
    ], ids=["inline text", "paths", "Path objects", "Python values"])
    def test_the_worked_example_from_every_form_of_input(self, data, params):
        report = gradcli.gradients(NOTE_MODEL, "mse", data, params)
        assert report.agree is True and report.loss_value == 0.25
        assert backprop(report) == NOTE_GRADIENTS

    def test_model_file_and_wrt_as_text(self, tmp_path):
        (tmp_path / "model.txt").write_text("b + w1*x1\n  + w2*x2\n")
        report = gradcli.gradients(model_file=tmp_path / "model.txt", data="x1=1.5,x2=2,y=1",
                                   params="b=0.5,w1=2,w2=-1", wrt="w2, b")
        assert list(report.gradients) == ["w2", "b"] and backprop(report) == {"w2": 2.0, "b": 1.0}

    def test_a_csv_columns_unused_is_a_warning_in_the_report(self):
        report = gradcli.gradients("b + w*x1", data=SAMPLES / "points.csv")
        assert report.rows == 20
        assert any("column 'x2'" in w for w in report.warnings)

    def test_same_document_as_the_cli(self, monkeypatch):
        monkeypatch.chdir(SAMPLES.parent)  # the same relative path in messages
        cli = cli_json("grad", "b + w*x1", "--data", "samples/points.csv", "--params", "w=0.3,b=1")
        report = gradcli.gradients("b + w*x1", data="samples/points.csv", params={"w": 0.3, "b": 1})
        assert report.to_dict() == cli

    @pytest.mark.parametrize("kwargs, message", [
        ({"data": "nope.csv"}, "does not exist"),
        ({"params": "nope.json"}, "neither NAME=VALUE"),
        ({"model_file": "-", "data": "-"}, "only one of --model-file, --data and --params can read stdin"),
        ({"model_file": "m.txt"}, "not both"),
    ])
    def test_bad_input_is_a_gradcli_error(self, kwargs, message):
        with pytest.raises(GradcliError, match=message):
            gradcli.gradients(NOTE_MODEL, **kwargs)

    def test_a_model_that_is_not_text(self):
        with pytest.raises(GradcliError, match="must be text"):
            gradcli.gradients(42)


class TestExplainAndGraph:
    def test_explain_at_the_note_point(self):
        ex = gradcli.explain(NOTE_MODEL, data=SAMPLES / "note.csv", params=SAMPLES / "note-params.json", wrt="w1")
        assert isinstance(ex, gradcli.Explanation) and ex.agree is True
        (step,) = ex.steps
        assert [path.product for path in step.paths] == [1.5] and step.path_sum == 1.5
        assert step.paths[0].nodes == ["loss", "a3", "yhat", "a1", "w1"]

    def test_graph_edges_multiply_to_the_gradients(self):
        view = gradcli.graph(NOTE_MODEL, data="x1=1.5,x2=2,y=1", params="b=0.5,w1=2,w2=-1", highlight="w2")
        assert isinstance(view, gradcli.GraphView)
        adjoint = {node.name: node.adjoint for node in view.nodes}
        assert {name: adjoint[name] for name in NOTE_GRADIENTS} == NOTE_GRADIENTS
        assert view.highlight == "w2" and view.highlight_edges

    def test_a_row_of_a_csv_file(self):
        view = gradcli.graph("b + w*x1", data=SAMPLES / "points.csv", row=2, params={"w": 1, "b": 0})
        assert view.point["x1"] == 1.38 and view.point["y"] == -0.706

    def test_several_rows_without_row(self):
        with pytest.raises(GradcliError, match="choose one with --row"):
            gradcli.explain("b + w*x1", data=SAMPLES / "points.csv")


class TestTrainAndPredict:
    def test_train_a_csv_file_reaches_least_squares(self):
        report = gradcli.train(SAMPLES / "data.csv")
        assert isinstance(report, gradcli.TrainReport) and not report.failed
        table = np.loadtxt(SAMPLES / "data.csv", delimiter=",", skiprows=1)
        design = np.column_stack([np.ones(len(table)), table[:, 0], table[:, 1]])
        best = np.linalg.lstsq(design, table[:, 2], rcond=None)[0]
        assert [report.params[n] for n in ("b", "w1", "w2")] == pytest.approx(best, rel=1e-6)
        assert report.loss == report.history[-1] and report.history[0] > report.loss
        assert report.closed_form is not None and report.closed_form.relative_distance < 1e-6
        assert report.check.agree is True

    def test_python_columns_train_as_the_file_does(self):
        table = np.loadtxt(SAMPLES / "data.csv", delimiter=",", skiprows=1)
        columns = {"x1": table[:, 0], "x2": table[:, 1].tolist(), "y": table[:, 2], "note": ["a"] * len(table)}
        from_arrays = gradcli.train(columns, "b + w1*x1 + w2*x2")
        from_file = gradcli.train(str(SAMPLES / "data.csv"))
        assert from_arrays.params == pytest.approx(from_file.params, rel=1e-12)
        assert any("column 'note'" in w for w in from_arrays.warnings)

    def test_same_document_as_the_cli(self, monkeypatch):
        monkeypatch.chdir(SAMPLES.parent)
        cli = cli_json("train", "samples/points.csv", "--model", "b + w1*x1", "--optimizer", "adam", "--lr", "0.05",
                       "--epochs", "50")
        report = gradcli.train("samples/points.csv", "b + w1*x1", optimizer="adam", lr=0.05, epochs=50)
        document = report.to_dict()
        for volatile in ("seconds",):
            document.pop(volatile), cli.pop(volatile)
        assert document == cli

    def test_save_then_predict_from_the_file_the_document_and_the_report(self, tmp_path):
        report = gradcli.train(SAMPLES / "data.csv", save=tmp_path / "model.json", history=tmp_path / "h.csv")
        assert (tmp_path / "h.csv").read_text().startswith("epoch,loss\n0,")
        new = {"x1": [0.0, 1.0], "x2": [0.0, 2.0]}
        expected = [report.params["b"], report.params["b"] + report.params["w1"] + 2 * report.params["w2"]]
        for saved in (tmp_path / "model.json", json.loads((tmp_path / "model.json").read_text()), report):
            result = gradcli.predict(saved, new)
            assert isinstance(result, gradcli.Predictions)
            assert result.yhat.tolist() == pytest.approx(expected, rel=1e-12)
            assert result.header == ["x1", "x2", "yhat"]

    def test_predict_writes_its_output_file(self, tmp_path):
        saved = {"model": "b + w1*x1", "inputs": ["x1"], "params": {"b": 1.0, "w1": 2.0}}
        result = gradcli.predict(saved, SAMPLES / "labels.csv", output=tmp_path / "out.csv")
        lines = (tmp_path / "out.csv").read_text().splitlines()
        assert lines[0] == "x1,y,yhat" and len(lines) == result.rows + 1 == 21
        assert lines[1] == f"2.51,1,{1 + 2 * 2.51!r}"

    @pytest.mark.parametrize("kwargs, message", [
        ({"optimizer": "newton"}, "--optimizer 'newton'"),
        ({"epochs": 0}, "--epochs must be a whole number >= 1"),
        ({"lr": -1.0, "optimizer": "gd"}, "--lr must be a finite number > 0"),
        ({"tol": -1.0}, "--tol must be a finite number >= 0"),
        ({"save": "missing-dir/s.json"}, "does not exist"),
    ])
    def test_bad_options_are_gradcli_errors(self, kwargs, message):
        with pytest.raises(GradcliError, match=message):
            gradcli.train(SAMPLES / "data.csv", **kwargs)

    @pytest.mark.parametrize("data", [42, b"x1,y\n1,2\n", None])
    def test_data_of_the_wrong_kind(self, data):
        with pytest.raises(DataError, match="CSV file's path"):
            gradcli.train(data)

    def test_a_saved_model_of_the_wrong_kind(self):
        with pytest.raises(GradcliError, match="saved must be"):
            gradcli.predict(3.5, {"x1": [1.0]})

    def test_a_bad_row_in_python_data_is_named(self):
        saved = {"model": "log(w*x1)", "inputs": ["x1"], "params": {"w": 1.0}}
        with pytest.raises(GradcliError, match="row 2"):
            gradcli.predict(saved, {"x1": [1.0, -1.0]})


LINEAR_SAVED = {"model": "b + w1*x1", "loss": "mse", "inputs": ["x1"], "params": {"b": 0.0, "w1": 2.0}}
# yhat = 0.25 + 0.5*x1 is exactly 0.25, 0.5, 0.75 and 1 at these rows: a probability, as bce trains it
BCE_SAVED = {"model": "b + w1*x1", "loss": "bce", "inputs": ["x1"], "params": {"b": 0.25, "w1": 0.5}}


def predicted_csv(saved, data, **kwargs) -> str:
    import io

    from gradcli.views.predict import predictions_csv

    out = io.StringIO()
    predictions_csv(gradcli.predict(saved, data, **kwargs), out)
    return out.getvalue()


class TestPredictOutput:
    def test_every_number_is_the_shortest_decimal_that_reads_back(self, tmp_path):
        # The model's inputs and yhat, however the file wrote them: repr of the float64 (1 -> 1.0,
        # 1e-3 -> 0.001, exponents below 1e-4 and from 1e16); other columns as they are written.
        (tmp_path / "new.csv").write_text("id,x1,zip\nA,1,007\nB,1e-3,10\nC,0.00001,2.50\nD,123456789,x\n"
                                          "E,2e20,1e3\nF,-0.5,-0\nG,\"3\",\n")
        assert predicted_csv(LINEAR_SAVED, tmp_path / "new.csv") == (
            "id,x1,zip,yhat\n"
            "A,1.0,007,2.0\n"
            "B,0.001,10,0.002\n"
            "C,1e-05,2.50,2e-05\n"
            "D,123456789.0,x,246913578.0\n"
            "E,2e+20,1e3,4e+20\n"
            "F,-0.5,-0,-1.0\n"
            "G,3.0,,6.0\n")

    def test_python_data_is_written_by_the_same_rule(self):
        data = {"id": ["A", "B"], "x1": [1, 1e-5], "zip": ["007", 3]}
        assert predicted_csv(LINEAR_SAVED, data) == "id,x1,zip,yhat\nA,1.0,007,2.0\nB,1e-05,3,2e-05\n"
        assert predicted_csv(LINEAR_SAVED, {"x1": np.array([1, 2], dtype=np.int64)}) == "x1,yhat\n1.0,2.0\n2.0,4.0\n"

    def test_threshold_adds_a_class_column(self, tmp_path):
        data = {"x1": [0.0, 0.5, 1.0, 1.5]}
        assert predicted_csv(BCE_SAVED, data, threshold=0.5) == (
            "x1,yhat,class\n0.0,0.25,0\n0.5,0.5,1\n1.0,0.75,1\n1.5,1.0,1\n")  # yhat >= 0.5: 0.5 is class 1
        result = gradcli.predict(BCE_SAVED, data, threshold=0.75, output=tmp_path / "out.csv")
        assert result.classes.tolist() == [0, 0, 1, 1] and result.classes.dtype == np.int64
        assert result.threshold == 0.75 and result.header == ["x1", "yhat", "class"]
        assert (tmp_path / "out.csv").read_text() == "x1,yhat,class\n0.0,0.25,0\n0.5,0.5,0\n1.0,0.75,1\n1.5,1.0,1\n"
        plain = gradcli.predict(BCE_SAVED, data)
        assert plain.classes is None and plain.header == ["x1", "yhat"]

    @pytest.mark.parametrize("threshold", [0, 1, 0.0, 1.0, -0.5, 2, float("nan"), float("inf"), "0.5", True,
                                           [0.5]])
    def test_a_threshold_outside_0_1_is_refused(self, threshold):
        with pytest.raises(GradcliError, match="--threshold must be a number strictly between 0 and 1"):
            gradcli.predict(BCE_SAVED, {"x1": [0.0]}, threshold=threshold)

    def test_a_threshold_needs_a_model_trained_with_bce(self):
        with pytest.raises(GradcliError, match="--threshold .* trained with the loss 'mse': only a model trained "
                                               "with --loss bce"):
            gradcli.predict(LINEAR_SAVED, {"x1": [0.0]}, threshold=0.5)
        assert gradcli.predict(BCE_SAVED, {"x1": [0.0]}, threshold=np.float64(0.2)).classes.tolist() == [1]

    def test_data_with_a_class_column_is_refused_only_with_a_threshold(self):
        data = {"x1": [0.0], "class": ["a"]}
        with pytest.raises(GradcliError, match="already has a column 'class', which predict adds with --threshold"):
            gradcli.predict(BCE_SAVED, data, threshold=0.5)
        assert gradcli.predict(BCE_SAVED, data).header == ["x1", "class", "yhat"]


def test_losses_lists_the_builtin_losses():
    assert [loss.name for loss in gradcli.losses()] == ["mse", "mae", "huber", "bce", "ce"]
    assert gradcli.losses()[0].formula == "(yhat - y)**2"


def test_the_api_names_are_the_functions_not_their_modules():
    from gradcli.tasks import explain as explanation
    from gradcli.tasks import gradients as comparison
    from gradcli.tasks import graph as graphing
    from gradcli.tasks import predict as prediction
    from gradcli.tasks import train as fit

    assert gradcli.gradients is comparison.gradients and gradcli.explain is explanation.explain
    assert gradcli.graph is graphing.graph_view and gradcli.train is fit.train
    assert gradcli.predict is prediction.predict


NOTE_DATA = {"x1": [1.5], "x2": [2.0], "y": [1.0]}
TRAIN_DATA = {"x1": [1.0, 2.0, 3.0], "y": [2.0, 4.1, 5.9]}


@pytest.mark.parametrize("call, kwargs", [
    ("gradients", {"loss": None}), ("gradients", {"loss": 3}), ("gradients", {"target": None}),
    ("gradients", {"target": 3}), ("gradients", {"model_file": 3}), ("gradients", {"model_file": b"m.txt"}),
    ("gradients", {"rtol": None}), ("gradients", {"rtol": "x"}), ("gradients", {"atol": "1e-9"}),
    ("gradients", {"delta": None}), ("gradients", {"delta": "x"}), ("gradients", {"wrt": 3}),
    ("gradients", {"wrt": b"w1"}), ("gradients", {"engines": None}), ("gradients", {"engines": [1]}),
    ("gradients", {"data": [1, 2]}), ("gradients", {"data": 3}), ("gradients", {"data": b"x1=1"}),
    ("gradients", {"params": [1]}), ("gradients", {"params": 3.0}), ("gradients", {"params": {3: 1.0}}),
    ("gradients", {"check_fd": "yes"}),
    ("explain", {"row": "2"}), ("explain", {"row": 2.0}), ("explain", {"max_paths": None}),
    ("explain", {"max_paths": "3"}), ("explain", {"max_paths": 2.5}), ("explain", {"row": True}),
    ("graph", {"highlight": 3}), ("graph", {"highlight": ["w1"]}),
], ids=lambda value: value if isinstance(value, str) else "-".join(f"{k}={v!r}" for k, v in value.items()))
def test_a_point_call_with_a_wrong_argument_raises_a_gradcli_error(call, kwargs):
    base = {"data": NOTE_DATA, "params": {"b": 0.5, "w1": 2.0, "w2": -1.0}}
    with pytest.raises(GradcliError):
        getattr(gradcli, call)(NOTE_MODEL, **{**base, **kwargs})


@pytest.mark.parametrize("kwargs", [
    {"optimizer": ["adam"]}, {"epochs": None}, {"epochs": 2.5}, {"lr": "0.1", "optimizer": "gd"},
    {"lr": True, "optimizer": "gd"}, {"tol": None}, {"seed": "a"}, {"seed": -1}, {"progress": 3},
    {"init": {"b": "1"}}, {"init": {"b": True}}, {"init": {"b": None}}, {"init": {"b": 10**400}},
    {"init": {"b": float("nan")}}, {"init": [1]}, {"init": b"b=1"}, {"loss": None}, {"target": 3},
    {"delta": "x"}, {"batch_size": 0},
], ids=lambda kwargs: "-".join(f"{k}={v!r}" for k, v in kwargs.items()))
def test_train_with_a_wrong_argument_raises_a_gradcli_error(kwargs):
    with pytest.raises(GradcliError):
        gradcli.train(TRAIN_DATA, **kwargs)


def test_numpy_numbers_are_numbers():
    report = gradcli.train(TRAIN_DATA, epochs=np.int64(5), seed=np.int64(1), tol=np.float64(0.0))
    assert report.result.epochs <= 5
    saved = {"model": "b + w1*x1", "inputs": ["x1"], "params": {"b": np.float32(1.0), "w1": np.int64(2)}}
    assert gradcli.predict(saved, {"x1": [1.0]}).yhat.tolist() == [3.0]


def test_a_path_is_a_file_even_when_its_name_holds_an_equals_sign(tmp_path):
    folder = tmp_path / "lr=0.1"
    folder.mkdir()
    (folder / "data.csv").write_text("x1,x2,y\n1.5,2,1\n")
    (folder / "p.json").write_text('{"b": 0.5, "w1": 2, "w2": -1}')
    report = gradcli.gradients(NOTE_MODEL, data=folder / "data.csv", params=folder / "p.json")
    assert backprop(report) == NOTE_GRADIENTS


def test_output_paths_may_be_path_objects(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        gradcli.train(TRAIN_DATA, save=tmp_path)
    report = gradcli.train(TRAIN_DATA, save=tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text())["params"] == report.params


def test_stdin_replaced_by_a_text_stream(monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("x1,x2,y\n1.5,2,1\n"))
    assert backprop(gradcli.gradients(NOTE_MODEL, data="-", params="b=0.5,w1=2,w2=-1")) == NOTE_GRADIENTS


def test_a_saved_model_is_accepted_as_parameters_and_as_a_start(tmp_path):
    report = gradcli.train(SAMPLES / "data.csv", save=tmp_path / "s.json")
    again = gradcli.gradients("b + w1*x1 + w2*x2", data=SAMPLES / "data.csv", params=tmp_path / "s.json")
    assert again.params == report.params
    warm = gradcli.train(SAMPLES / "data.csv", init=tmp_path / "s.json")
    assert warm.result.initial == report.params and warm.params == pytest.approx(report.params, rel=1e-9)


@pytest.mark.parametrize("delimiter, given", [(";", ";"), ("\t", "tab"), ("\t", "\\t"), ("\t", "\t")],
                         ids=["semicolon", "tab-word", "tab-escape", "tab"])
def test_a_file_with_another_delimiter_reads_as_the_comma_file(tmp_path, delimiter, given):
    NOTE_PARAMS = {"b": 0.5, "w1": 2.0, "w2": -1.0}
    other = tmp_path / "other.csv"
    other.write_text((SAMPLES / "data.csv").read_text().replace(",", delimiter))
    trained, comma = gradcli.train(other, delimiter=given), gradcli.train(SAMPLES / "data.csv")
    assert (trained.model.text, trained.params, trained.history) == (comma.model.text, comma.params, comma.history)
    (tmp_path / "note.csv").write_text((SAMPLES / "note.csv").read_text().replace(",", delimiter))
    assert backprop(gradcli.gradients(NOTE_MODEL, data=tmp_path / "note.csv", params=NOTE_PARAMS,
                                      delimiter=given)) == NOTE_GRADIENTS
    assert gradcli.explain(NOTE_MODEL, data=tmp_path / "note.csv", params=NOTE_PARAMS, delimiter=given).agree
    assert gradcli.graph(NOTE_MODEL, data=tmp_path / "note.csv", params=NOTE_PARAMS, delimiter=given).nodes
    saved = {"model": "b + w1*x1", "inputs": ["x1"], "params": {"b": 1.0, "w1": 2.0}}
    assert gradcli.predict(saved, other, delimiter=given).yhat.tolist() == \
        gradcli.predict(saved, SAMPLES / "data.csv").yhat.tolist()


@pytest.mark.parametrize("delimiter, needle", [
    ("", "one character"), (";;", "one character"), ('"', "quote"), ("\n", "line break"), ("\r", "line break"),
    (".", "part of a number"), (" ", "visible"), (None, "must be text"),
])
def test_a_bad_delimiter_is_a_gradcli_error(delimiter, needle):
    for call in (lambda: gradcli.gradients(NOTE_MODEL, data=SAMPLES / "note.csv", delimiter=delimiter),
                 lambda: gradcli.train(TRAIN_DATA, delimiter=delimiter),
                 lambda: gradcli.predict({"model": "b", "inputs": [], "params": {"b": 1}}, TRAIN_DATA,
                                         delimiter=delimiter)):
        with pytest.raises(GradcliError, match="--delimiter") as info:
            call()
        assert needle in str(info.value)


class TestDataValuesThatAreNotNumbers:
    """True/False and a masked array's hidden entries are refused as data, naming the column, as
    parameters refuse True/False: NumPy would read True as 1.0 and drop the mask unseen."""

    @pytest.mark.parametrize("column", [
        [True, False], [1.0, True], np.array([True, False]), np.array([1.0, True], dtype=object),
        [[1.0, True], [2.0, 3.0]],
    ], ids=["bools", "a bool among floats", "bool array", "object array", "a bool in a vector input"])
    @pytest.mark.parametrize("call", ["gradients", "train", "hessian"])
    def test_booleans(self, call, column):
        data = {"x1": column, "y": [1.0, 2.0]}
        kwargs = {"params": {"w": 1.0}} if call != "train" else {}
        model = "w*x1" if not isinstance(column, list) or not isinstance(column[0], list) else "dot(w, x1)"
        with pytest.raises(DataError, match=r"data 'x1': True/False is not a number"):
            if call == "train":
                gradcli.train(data, model=model)
            else:
                getattr(gradcli, call)(model, data=data, **kwargs)

    @pytest.mark.parametrize("call", ["gradients", "train", "explain"])
    def test_a_masked_array_with_hidden_values(self, call):
        data = {"x1": np.ma.masked_array([1.0, 1e9, 3.0], mask=[False, True, False]), "y": [1.0, 2.0, 3.0]}
        with pytest.raises(DataError, match=r"data 'x1': a masked array with 1 masked value\(s\), the first at row 2"):
            if call == "train":
                gradcli.train(data, model="w*x1")
            else:
                getattr(gradcli, call)("w*x1", data=data, params={"w": 1.0})

    def test_a_masked_array_with_nothing_hidden_is_its_values(self):
        data = {"x1": np.ma.masked_array([1.0, 2.0], mask=[False, False]), "y": [1.0, 2.0]}
        plain = {"x1": [1.0, 2.0], "y": [1.0, 2.0]}
        assert backprop(gradcli.gradients("w*x1", data=data, params={"w": 2.0})) == backprop(
            gradcli.gradients("w*x1", data=plain, params={"w": 2.0}))


# Inputs whose answer once depended on what the process had done before: nested models (the parser's
# limits, SymPy's recursion), and models whose derivatives SymPy had cached from an earlier call.
LONG_LIVED_CASES = [
    "sin(" * 30 + "w*x1" + ")" * 30,  # SymPy recurses: refused to it under a lower recursion limit
    "-(" * 99 + "w*x1" + ")" * 99,
    "(" * 101 + "w*x1" + ")" * 101,  # refused by the parser
    "-" * 101 + "w*x1",
    "1/(" * 60 + "w*x1 + 3" + ")" * 60,
    "sum(" * 101 + "x1" + ")" * 101,
    "relu(" * 40 + "w*x1 + b" + ")" * 40,
]
LONG_LIVED_SCRIPT = """
import json, sys
import numpy as np
import gradcli

def answer(model):
    try:
        r = gradcli.gradients(model, data={"x1": [0.5, 1.5], "y": [1.0, 2.0]}, params={"w": 0.7, "b": 0.2})
    except gradcli.GradcliError as err:
        return [type(err).__name__, str(err)]
    return [r.witness, r.agree, {n: [g.symbolic_value, g.backprop_value] for n, g in r.gradients.items()}]

print(json.dumps(answer(sys.argv[1])))
"""


def test_a_long_lived_process_gives_a_fresh_processs_answers(tmp_path):
    """After 80 other calls (these inputs among them, so that SymPy's cache holds their parts), from a
    deep stack and under a recursion limit someone else lowered, every answer is a fresh process's."""
    import sys

    script = tmp_path / "answer.py"
    script.write_text(LONG_LIVED_SCRIPT)
    fresh = [json.loads(subprocess.run([sys.executable, str(script), model], capture_output=True, text=True,
                                       timeout=120, env=clean_env(), check=True).stdout)
             for model in LONG_LIVED_CASES]
    namespace: dict = {}
    exec(compile(LONG_LIVED_SCRIPT.replace("print(json.dumps(answer(sys.argv[1])))", ""), "answer", "exec"),
         namespace)
    answer = namespace["answer"]
    for i in range(80):
        model = LONG_LIVED_CASES[i % len(LONG_LIVED_CASES)] if i % 4 == 0 else f"w*x1**{i % 5 + 1} + b*x1"
        answer(model)

    def deep(depth: int, model: str):
        return deep(depth - 1, model) if depth else answer(model)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        later = [json.loads(json.dumps(deep(60, model))) for model in LONG_LIVED_CASES]
    finally:
        sys.setrecursionlimit(limit)
    assert sys.getrecursionlimit() == limit
    assert later == fresh


def test_a_time_limit_whose_exit_was_cut_short_does_not_starve_later_calls(monkeypatch):
    """A budget left in force (Ctrl-C while it disarmed, as in a notebook) ran every later symbolic step out
    of time at once: symbolic_value null for everything, in that process only."""
    import signal
    import time

    from gradcli.engines import symbolic

    fresh = gradcli.gradients("sin(w*x1)", data={"x1": [0.5], "y": [1.0]}, params={"w": 0.3})
    assert fresh.witness == "symbolic"
    real = signal.setitimer
    interrupted = []

    def setitimer(which, seconds, interval=0.0):
        real(which, seconds, interval)
        if seconds == 0 and not interrupted:  # Ctrl-C lands just after the timer is disarmed
            interrupted.append(True)
            raise KeyboardInterrupt

    monkeypatch.setattr(symbolic.signal, "setitimer", setitimer)
    with pytest.raises(KeyboardInterrupt), symbolic.time_limit(0.001):
        pass
    monkeypatch.setattr(symbolic.signal, "setitimer", real)
    time.sleep(0.01)  # the deadline left on the list passes
    later = gradcli.gradients("sin(w*x1)", data={"x1": [0.5], "y": [1.0]}, params={"w": 0.3})
    assert later.witness == "symbolic" and later.to_dict() == fresh.to_dict()
