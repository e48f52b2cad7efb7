"""Training as a library: optimisers, stopping, the closed-form check, the default model."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from gradcli.engines.graph import build_graph
from gradcli.errors import DataError
from gradcli.language.problem import build_problem
from gradcli.training.closed_form import is_linear_in_params, least_squares
from gradcli.training.fitting import fit
from gradcli.training.loop import starting_point
from gradcli.training.models import ChosenModel, default_model, problem_for
from gradcli.training.options import OPTIMIZERS, TrainOptions
from gradcli.views.train import loss_curve

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def load(name: str) -> tuple[list[str], dict[str, np.ndarray], int]:
    with open(SAMPLES / name, newline="") as handle:
        records = list(csv.reader(handle))
    header = records[0]
    columns = {name: np.array([float(r[i]) for r in records[1:]]) for i, name in enumerate(header)}
    return header, columns, len(records) - 1


def sample_fit(name: str, target: str = "y", model: str | None = None, loss: str = "mse",
               **options) -> object:
    header, columns, rows = load(name)
    chosen = ChosenModel(model, False) if model else default_model(header, target, name)
    problem = problem_for(chosen.text, loss, target, header, name)
    return fit(chosen, problem, columns, rows, TrainOptions(**options))


class TestDefaultOptimiser:
    def test_recovers_the_sample_parameters_within_the_noise(self):
        report = sample_fit("data.csv")
        assert report.model.text == "b + w1*x1 + w2*x2"
        assert report.result.converged and not report.result.diverged
        # make_data.py: y = 1.5 + 3*x1 - 2*x2 + N(0, 0.5), 300 rows: standard errors are about 0.03.
        assert report.result.params == pytest.approx({"b": 1.5, "w1": 3.0, "w2": -2.0}, abs=0.15)
        assert report.result.loss == pytest.approx(0.25, rel=0.2)  # the noise variance

    @pytest.mark.parametrize("name, target", [("data.csv", "y"), ("houses.csv", "price")])
    def test_agrees_with_least_squares(self, name, target):
        report = sample_fit(name, target)
        assert report.closed_form is not None
        assert report.closed_form.relative_distance < 1e-6
        for param, value in report.result.params.items():
            assert value == pytest.approx(report.closed_form.params[param], rel=1e-6, abs=1e-9)
        assert report.check.agree is True

    def test_unscaled_features_need_no_learning_rate(self):
        report = sample_fit("houses.csv", "price")
        assert report.model.text == "b + w_size*size + w_age*age"
        assert report.result.converged
        assert report.result.params["w_size"] == pytest.approx(120, abs=10)

    def test_bce_beats_the_constant_predictor(self):
        header, columns, rows = load("clicks.csv")
        report = sample_fit("clicks.csv", model="sigmoid(b + w1*x1 + w2*x2)", loss="bce")
        p = columns["y"].mean()
        constant = -(p * math.log(p) + (1 - p) * math.log(1 - p))
        assert report.result.loss < 0.9 * constant
        assert report.closed_form is None  # not linear in its parameters
        assert report.check.agree is True
        assert report.result.params["w1"] == pytest.approx(1.2, abs=0.3)


class TestEveryOptimiser:
    @pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
    def test_lowers_the_loss(self, optimizer):
        report = sample_fit("data.csv", optimizer=optimizer, epochs=60, tol=0)
        history = report.result.history
        assert not report.result.diverged
        assert report.result.epochs == 60 or report.result.converged  # lbfgs may reach the minimum first
        assert history[-1] < 0.8 * history[0]

    def test_sgd_is_deterministic_for_a_seed(self):
        first = sample_fit("data.csv", optimizer="sgd", epochs=5, seed=7).result
        again = sample_fit("data.csv", optimizer="sgd", epochs=5, seed=7).result
        other = sample_fit("data.csv", optimizer="sgd", epochs=5, seed=8).result
        assert first.history == again.history and first.params == again.params
        assert first.history != other.history

    def test_mini_batches_cover_every_row(self):
        # batch 7 over 300 rows: 43 batches, the last of 6 rows; gd on one batch of all rows is the control
        report = sample_fit("data.csv", optimizer="sgd", batch_size=7, epochs=3, lr=0.01)
        assert report.options.batch(300) == 7
        assert report.result.history[-1] < report.result.history[0]


class TestStopping:
    def test_divergence_is_reported_with_advice(self):
        report = sample_fit("houses.csv", "price", optimizer="gd", lr=1.0, precondition=False)
        assert report.result.diverged and not report.result.converged
        assert "--lr 0.1" in report.result.stop_reason and "--no-precondition" in report.result.stop_reason
        assert report.failed and report.check is None and report.closed_form is None
        assert math.isnan(report.result.loss)
        assert report.to_dict()["loss"] is None  # JSON has no NaN

    def test_epochs_bound_the_run(self):
        report = sample_fit("data.csv", optimizer="gd", lr=0.001, epochs=4)
        assert report.result.epochs == 4 and len(report.result.history) == 5
        assert not report.result.converged and "--epochs 4" in report.result.stop_reason

    def test_a_plateau_stops_after_patience_epochs(self):
        report = sample_fit("data.csv", optimizer="gd", tol=1e-3, patience=3)
        history = report.result.history
        assert "less than 0.001 (relative) for 3 epochs" in report.result.stop_reason
        assert not report.result.converged  # a loose plateau is no minimum: the gradient says so
        changes = [abs(a - b) / a for a, b in zip(history, history[1:])]
        assert all(change < 1e-3 for change in changes[-3:])
        assert not all(change < 1e-3 for change in changes[-4:])

    def test_a_rising_loss_is_not_a_plateau(self):
        # momentum at a large rate overshoots: the loss rises for a while; that must not read as converged
        report = sample_fit("data.csv", optimizer="momentum", lr=0.3, epochs=40)
        assert not (report.result.converged and report.result.loss > 1.0)


class TestConvergedMeansWhatTheDocsSay:
    """README (Stopping): converged is first-order optimality (the largest |gradient| / mean |per-row
    term| at most OPTIMAL), or a built-in loss fell to rounding of 0 (an exact fit), whatever stopped
    the run. On a separable set bce has no minimum at finite weights, so only the exact fit can
    make a run converged, and then the run stops there and says so. L-BFGS once ran on to
    --epochs 1000 and reported converged beside "reached --epochs 1000"."""

    @staticmethod
    def separable() -> dict[str, list[float]]:
        x = np.random.default_rng(7).normal(size=40)
        return {"x1": x.tolist(), "y": (x > 0).astype(float).tolist()}

    @pytest.mark.parametrize("optimizer", OPTIMIZERS)
    def test_every_optimiser_on_a_separable_set(self, optimizer):
        import gradcli
        from gradcli.training.loop import EXACT_FIT, EXACT_FIT_REASON, OPTIMAL

        result = gradcli.train(self.separable(), "sigmoid(w*x1 + b)", loss="bce", optimizer=optimizer).result
        exact_fit = result.loss <= EXACT_FIT * result.history[0]
        assert result.converged == (result.optimality <= OPTIMAL or exact_fit)
        assert exact_fit == (result.stop_reason == EXACT_FIT_REASON)  # an exact fit ends the run at once
        if result.stop_reason.startswith("reached --epochs"):
            assert result.converged == (result.optimality <= OPTIMAL)
        if optimizer == "lbfgs":  # fast enough to reach it, in far fewer than 1000 epochs
            assert result.converged and result.stop_reason == EXACT_FIT_REASON and result.epochs < 1000
        else:  # these crawl: the loss still well above 0, the gradient not small against its terms
            assert not result.converged and result.optimality > OPTIMAL


class TestLinearity:
    @pytest.mark.parametrize("model, linear", [
        ("b + w1*x1 + w2*x2", True), ("w*exp(x1) + c*x1**2", True), ("b", True),
        ("w1*w2*x1", False), ("sigmoid(b + w*x1)", False), ("w**2*x1", False), ("exp(w)*x1", False),
    ])
    def test_linear_in_params(self, model, linear):
        problem = build_problem(model, "mse", data_names=["x1", "x2"])
        assert is_linear_in_params(problem) is linear

    def test_least_squares_of_a_nonlinear_feature_model(self):
        rng = np.random.default_rng(3)
        x1 = rng.uniform(0, 2, 50)
        y = 2.0 * np.exp(x1) - 0.5 * x1**2
        columns, rows = {"x1": x1, "y": y}, 50
        problem = build_problem("a*exp(x1) + c*x1**2", "mse", data_names=["x1"])
        closed = least_squares(problem, build_graph(problem), columns, rows, {"a": 0.0, "c": 0.0})
        assert closed.params == pytest.approx({"a": 2.0, "c": -0.5}, rel=1e-10)
        assert closed.loss == pytest.approx(0.0, abs=1e-20)


class TestDefaultModel:
    def test_names(self):
        assert default_model(["x1", "x2", "y"], "y", "f").text == "b + w1*x1 + w2*x2"
        assert default_model(["size", "age", "price"], "price", "f").text == "b + w_size*size + w_age*age"
        assert default_model(["y", "b", "x"], "y", "f").text == "b_ + w_b*b + w_x*x"

    @pytest.mark.parametrize("header, needle", [
        (["sq ft", "y"], "'sq ft'"), (["exp", "y"], "'exp'"), (["y"], "nothing to learn"),
    ])
    def test_bad_columns(self, header, needle):
        with pytest.raises(DataError, match=needle):
            default_model(header, "y", "f.csv")


class TestStart:
    def test_zero_for_linear_and_seeded_random_otherwise(self):
        problem = build_problem("w2*tanh(w1*x1)", "mse", data_names=["x1"])
        assert starting_point(problem, {}, True, 0) == {"w2": 0.0, "w1": 0.0}
        random = starting_point(problem, {"w2": 1.0}, False, 5)
        assert random["w2"] == 1.0 and random["w1"] != 0.0
        assert random == starting_point(problem, {"w2": 1.0}, False, 5)


class TestLossCurve:
    def test_falling_curve(self):
        curve = loss_curve([10.0 / (i + 1) for i in range(200)], width=40, height=5)
        lines = curve.lines
        assert len(lines) == 5 and all(len(line) == 40 for line in lines)
        assert lines[0][0] == "█" and lines[0][-1] == " "  # high at the start only
        assert lines[-1][-1] != " "  # every column has at least one eighth
        assert curve.log and 0.05 <= curve.bottom < curve.top <= 10.0  # 200x apart; labels: the columns' means

    def test_a_wide_span_is_drawn_on_a_log_scale(self):
        history = [10.0 ** -k for k in range(7)]
        curve = loss_curve(history, width=7, height=4)
        assert curve.log and curve.top == pytest.approx(1.0) and curve.bottom == pytest.approx(1e-6)

    def test_too_short(self):
        assert loss_curve([1.0]) is None
