"""Training networks: layers given by --shape, a validation split, accuracy and R², saved networks and predict.

The README's commands on samples/moons.csv (bce, a tanh layer) and samples/spiral.csv (ce, three
classes, a relu layer) are trained once each with the default options (L-BFGS) and shared by the
tests; each takes well under a second. Bad input is checked in process (typer's runner) but for
two runs of the installed program.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from cli_runner import one_line_error
from typer.testing import CliRunner

import gradcli
from gradcli.cli import app
from gradcli.errors import DataError, GradcliError
from gradcli.language.initial import initial_values
from gradcli.training.reading import split_rows

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MOONS, SPIRAL, NEW = SAMPLES / "moons.csv", SAMPLES / "spiral.csv", SAMPLES / "new.csv"
MOONS_MODEL = "sigmoid(W2 @ tanh(W1 @ x + b1) + b2)"
SPIRAL_MODEL = "W2 @ relu(W1 @ x + b1) + b2"
FD_WITNESS = "finite differences along 3 random directions"


def table(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as handle:
        records = list(csv.reader(handle))
    return {name: np.array([float(r[i]) for r in records[1:]]) for i, name in enumerate(records[0])}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("networks")


@pytest.fixture(scope="module")
def moons(saved):
    """The README's moons command, as the API takes it, saved with its history."""
    return gradcli.train(MOONS, MOONS_MODEL, shapes=["W1=16x2"], loss="bce", validation=0.2,
                         save=saved / "moons.json", history=saved / "moons-history.csv")


@pytest.fixture(scope="module")
def spiral(saved):
    """The README's spiral command (shapes given as a mapping), with a validation split."""
    return gradcli.train(SPIRAL, SPIRAL_MODEL, shapes={"W1": "32x2"}, loss="ce", target="class", validation=0.2,
                         save=saved / "spiral.json")


class TestTheSamples:
    def test_a_tanh_layer_separates_the_moons_on_held_out_rows(self, moons):
        assert (moons.rows, moons.validation_rows, moons.problem.inputs) == (480, 120, ("x",))
        assert moons.problem.gathered == {"x": ("x1", "x2")}  # x in W1 @ x gathers x1, x2
        assert moons.metrics["validation"]["accuracy"] >= 0.95
        assert moons.metrics["train"]["accuracy"] >= 0.95
        assert not moons.failed and moons.check.agree is True

    def test_a_relu_layer_beats_the_constant_predictor_on_the_spiral(self, spiral):
        held = split_rows(900, 0.2, 0)[1]
        classes = table(SPIRAL)["class"][held]
        constant = np.bincount(classes.astype(int)).max() / len(classes)  # always the commonest class
        accuracy = spiral.metrics["validation"]["accuracy"]
        assert accuracy >= 0.8 and accuracy >= constant + 0.4, (accuracy, constant)
        assert spiral.to_dict()["classes"] == 3 and spiral.problem.tensors["W2"] == (3, 32)
        assert not spiral.failed

    def test_networks_claim_no_closed_form_and_are_not_preconditioned(self, moons, spiral):
        for report in (moons, spiral):
            assert not report.linear and report.closed_form is None and report.at_optimum is None
            assert report.options.precondition and not report.result.preconditioned

    def test_weights_start_from_glorot_or_he_and_biases_at_zero(self, moons, spiral):
        for report, scheme in ((moons, "Glorot"), (spiral, "He")):
            start, drawn = initial_values(report.problem, {}, 0)
            assert report.result.initial == start
            assert drawn == {"W2": f"{scheme} normal, seed 0", "W1": f"{scheme} normal, seed 0", "b1": "0", "b2": "0"}
            assert report.drawn == drawn


class TestValidation:
    def test_the_split_is_drawn_by_the_seed(self):
        kept, held = split_rows(600, 0.2, 7)
        again_kept, again_held = split_rows(600, 0.2, 7)
        assert len(held) == 120 and len(kept) == 480
        assert np.array_equal(held, again_held) and np.array_equal(kept, again_kept)
        assert sorted([*kept, *held]) == list(range(600)) and list(held) == sorted(held)  # each in file order
        assert not np.array_equal(split_rows(600, 0.2, 8)[1], held)

    def test_a_run_is_the_same_for_the_same_seed_and_holds_out_other_rows_for_another(self):
        runs = [gradcli.train(SAMPLES / "clicks.csv", "sigmoid(b + w1*x1 + w2*x2)", loss="bce", validation=0.25,
                              seed=seed) for seed in (3, 3, 4)]
        first, again, other = (run.to_dict() for run in runs)
        for doc in (first, again, other):
            doc.pop("seconds")
        assert first == again
        assert first["validation_history"] != other["validation_history"]
        assert first["validation_rows"] == 100 and first["rows"] == 300

    def test_history_and_json_carry_both_losses(self, moons, saved):
        doc = moons.to_dict()
        assert len(doc["history"]) == len(doc["validation_history"]) == doc["epochs"] + 1
        assert doc["validation"] == 0.2 and doc["validation_loss"] == doc["validation_history"][-1]
        assert set(doc["metrics"]) == {"train", "validation"}
        lines = (saved / "moons-history.csv").read_text().splitlines()
        assert lines[0] == "epoch,loss,validation_loss" and len(lines) == doc["epochs"] + 2
        assert float(lines[-1].split(",")[2]) == doc["validation_loss"]

    def test_r2_for_mse_on_training_and_validation_rows(self):
        report = gradcli.train(SAMPLES / "data.csv", validation=0.3, seed=1)
        data = table(SAMPLES / "data.csv")
        kept, held = split_rows(len(data["y"]), 0.3, 1)
        p = report.params
        for rows, key in ((kept, "train"), (held, "validation")):
            y = data["y"][rows]
            residual = p["b"] + p["w1"] * data["x1"][rows] + p["w2"] * data["x2"][rows] - y
            expected = 1 - np.sum(residual**2) / np.sum((y - y.mean()) ** 2)
            assert report.metrics[key]["r2"] == pytest.approx(expected, rel=1e-12)
        assert report.closed_form is not None and report.at_optimum  # least squares on the training rows

    def test_streamed_data_is_refused_with_validation(self, tmp_path):
        big = tmp_path / "big.csv"
        big.write_text("x1,y\n" + "1.25,0.5\n" * 150_000)  # 1.35 MB: more than --memory 1MiB
        with pytest.raises(DataError, match="--validation keeps rows out of training in memory"):
            gradcli.train(big, validation=0.2, memory="1MiB")


class TestTheFinalCheck:
    def test_finite_differences_past_sympys_size_say_so(self, moons, spiral):
        for report in (moons, spiral):
            assert report.check.witness == FD_WITNESS and report.check.agree is True
            assert any("over SymPy's 64: checked by finite differences" in w for w in report.warnings)
            assert set(report.check.tensors) == {"W2", "W1", "b1", "b2"}
            assert all(t["fd_agree"] for t in report.check.tensors.values())

    def test_sympy_checks_a_small_network_entry_by_entry(self):
        data = {name: column[:60] for name, column in table(MOONS).items()}
        report = gradcli.train(data, MOONS_MODEL, shapes=["W1=2x2"], loss="bce", epochs=20)
        assert len(report.problem.params) == 9 and report.check.witness == "symbolic"
        assert report.check.agree is True
        assert all(g["symbolic_value"] is not None for g in report.check.gradients.values())

    def test_a_network_streamed_part_by_part_trains_as_in_memory(self, tmp_path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        rng = np.random.default_rng(11)
        x = rng.normal(size=(10_000, 2))
        path = tmp_path / "xor.parquet"  # columns the model does not read make it larger than --memory 1MiB
        pads = {f"pad{i}": rng.normal(size=10_000) for i in range(16)}
        pq.write_table(pa.table({"x1": x[:, 0], "x2": x[:, 1], "y": (x[:, 0] * x[:, 1] > 0) * 1.0, **pads}), path,
                       row_group_size=2_000, compression="none", use_dictionary=False)
        assert path.stat().st_size > 1 << 20
        options = dict(shapes=["W1=16x2"], loss="bce", epochs=3)
        memory = gradcli.train(path, MOONS_MODEL, **options)
        streamed = gradcli.train(path, MOONS_MODEL, memory="1MiB", **options)
        assert (memory.engine, streamed.engine) == ("memory", "stream")
        assert max(abs(streamed.params[k] - v) / max(abs(v), 1e-12) for k, v in memory.params.items()) <= 1e-9
        assert streamed.check.witness == FD_WITNESS and streamed.check.agree is True
        assert streamed.metrics["train"] == pytest.approx(memory.metrics["train"])


class TestSavedNetworks:
    def test_the_file_carries_shapes_gathered_columns_classes_and_nested_params(self, spiral, saved):
        document = json.loads((saved / "spiral.json").read_text())
        assert document["shapes"] == {"W2": [3, 32], "W1": [32, 2], "b1": [32], "b2": [3], "x": [2], "class": []}
        assert document["gathered"] == {"x": ["x1", "x2"]} and document["columns"] == ["x1", "x2"]
        assert document["classes"] == 3 and document["inputs"] == ["x"]
        assert np.shape(document["params"]["W1"]) == (32, 2) and np.shape(document["params"]["b2"]) == (3,)
        assert document["params"]["W1"][0][1] == spiral.params["W1[1,2]"]

    def test_predict_gives_one_column_per_class_score_and_the_class(self, spiral, saved):
        result = gradcli.predict(saved / "spiral.json", NEW)
        assert result.header == ["x1", "x2", "yhat_0", "yhat_1", "yhat_2", "class"]
        p = {name: np.array(value) for name, value in json.loads((saved / "spiral.json").read_text())["params"].items()}
        x = np.column_stack([result.columns["x1"], result.columns["x2"]])
        scores = np.maximum(x @ p["W1"].T + p["b1"], 0) @ p["W2"].T + p["b2"]
        np.testing.assert_allclose(result.yhat, scores, rtol=1e-12)
        assert result.classes.tolist() == np.argmax(scores, axis=1).tolist()

    def test_predict_on_a_bce_network_keeps_yhat_and_the_threshold(self, moons, saved):
        result = gradcli.predict(saved / "moons.json", NEW, threshold=0.5)
        assert result.header == ["x1", "x2", "yhat", "class"]
        p = {name: np.array(value) for name, value in json.loads((saved / "moons.json").read_text())["params"].items()}
        x = np.column_stack([result.columns["x1"], result.columns["x2"]])
        yhat = 1 / (1 + np.exp(-(np.tanh(x @ p["W1"].T + p["b1"]) @ p["W2"] + p["b2"])))
        np.testing.assert_allclose(result.yhat, yhat, rtol=1e-12)
        assert result.classes.tolist() == (yhat >= 0.5).astype(int).tolist()

    def test_the_saved_file_starts_training_again_and_gives_grad_its_params(self, moons, saved):
        again = gradcli.train(MOONS, MOONS_MODEL, loss="bce", init=saved / "moons.json", epochs=1)  # no --shape
        assert again.result.initial == moons.params and again.drawn == {}
        report = gradcli.gradients(MOONS_MODEL, "bce", {"x1": [0.5], "x2": [-0.2], "y": [1.0]}, saved / "moons.json")
        assert report.tensors["W1"].shape == [16, 2] and report.agree is True

    def test_independent_outputs_predict_a_column_each_and_a_class_each(self, tmp_path):
        rng = np.random.default_rng(5)
        x = rng.normal(size=(200, 2))
        data = {"x1": x[:, 0], "x2": x[:, 1], "y1": (x[:, 0] > 0) * 1.0, "y2": (x[:, 1] > 0) * 1.0}
        report = gradcli.train(data, "sigmoid(W @ x + b)", inputs={"y": "y1,y2"}, shapes=["W=2x2"], loss="bce",
                               epochs=30, save=tmp_path / "two.json")
        assert report.problem.gathered == {"y": ("y1", "y2"), "x": ("x1", "x2")}
        assert report.metrics["train"]["accuracy"] >= 0.95  # over both outputs of every row
        document = json.loads((tmp_path / "two.json").read_text())
        assert document["columns"] == ["x1", "x2"]  # predict reads the inputs only
        result = gradcli.predict(tmp_path / "two.json", {"x1": [2.0, -2.0], "x2": [-2.0, 2.0]}, threshold=0.5)
        assert result.header == ["x1", "x2", "yhat_1", "yhat_2", "class_1", "class_2"]
        assert result.columns["class_1"].tolist() == [1, 0] and result.columns["class_2"].tolist() == [0, 1]

    def test_predict_refuses_data_that_has_the_class_column(self, spiral, saved):
        with pytest.raises(GradcliError, match="already has a column 'class'"):
            gradcli.predict(saved / "spiral.json", SPIRAL)


def run(*args: str) -> tuple[int, str]:
    """The CLI in this process: (exit code, stderr)."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stderr


class TestBadInput:
    @pytest.mark.parametrize("fraction", ["1.5", "0", "1", "nan"])
    def test_validation_must_lie_strictly_between_0_and_1(self, fraction):
        code, err = run("train", str(MOONS), "--validation", fraction)
        assert code == 2 and err.count("\n") == 1
        assert err.startswith("gradcli: error: --validation must be a number strictly between 0 and 1")

    def test_too_few_rows_to_split(self):
        with pytest.raises(DataError, match="each needs at least one row"):
            gradcli.train({"x1": [1.0, 2.0], "y": [0.0, 1.0]}, validation=0.1)

    def test_a_ce_target_that_is_no_class_index_names_its_column_and_line(self, tmp_path):
        (tmp_path / "bad.csv").write_text("x1,x2,class\n0.1,0.2,0\n0.3,0.4,1.5\n0.5,0.6,2\n")
        code, err = run("train", str(tmp_path / "bad.csv"), "--model", SPIRAL_MODEL, "--shape", "W1=4x2",
                        "--loss", "ce", "--target", "class")
        assert code == 2 and err.count("\n") == 1
        assert "column 'class' is 1.5 at line 3 (row 2)" in err and "class indices" in err

    def test_the_program_says_one_line_for_validation_on_streamed_data(self, gradcli, tmp_path):
        (tmp_path / "big.csv").write_text("x1,y\n" + "1.25,0.5\n" * 150_000)
        one_line_error(gradcli("train", "big.csv", "--memory", "1MiB", "--validation", "0.2"),
                       "--validation keeps rows out of training in memory", "--memory")


class TestTheProgram:
    def test_train_save_and_predict_a_network_as_the_readme_shows(self, gradcli):
        result = gradcli("train", str(MOONS), "--model", MOONS_MODEL, "--shape", "W1=16x2", "--loss", "bce",
                         "--validation", "0.2", "--save", "net.json", "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert doc["metrics"]["validation"]["accuracy"] >= 0.95 and doc["gradient_check"]["witness"] == FD_WITNESS
        assert np.shape(doc["params"]["W1"]) == (16, 2) and doc["shapes"]["x"] == [2]
        predicted = gradcli("predict", "net.json", str(NEW))
        assert predicted.code == 0, predicted
        rows = list(csv.reader(io.StringIO(predicted.out)))
        assert rows[0] == ["x1", "x2", "yhat"] and len(rows) == 4
