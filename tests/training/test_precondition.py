"""Training says what it reached: preconditioned optimisers reach the optimum on unscaled data,
`converged` means first-order optimality, and `at_optimum` compares with the closed form.

References are independent of gradcli: numpy.linalg.lstsq on standardized columns for mse, and
Newton's method on standardized columns for bce.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import gradcli
from gradcli.training.precondition import whitening

RNG_SEED = 20261201
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def lstsq_loss(X: np.ndarray, y: np.ndarray) -> float:
    Z = np.column_stack([np.ones(len(y)), (X - X.mean(0)) / X.std(0)])
    solution, *_ = np.linalg.lstsq(Z, y, rcond=None)
    return float(np.mean((Z @ solution - y) ** 2))


def logistic_loss(X: np.ndarray, y: np.ndarray) -> float:
    Z = np.column_stack([np.ones(len(y)), (X - X.mean(0)) / X.std(0)])
    w = np.zeros(Z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(Z @ w)))
        w -= np.linalg.solve((Z * (p * (1 - p))[:, None]).T @ Z, Z.T @ (p - y))
    z = Z @ w
    return float(np.mean(np.logaddexp(0, z) - y * z))


def columns(X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    return {**{f"x{i + 1}": X[:, i] for i in range(X.shape[1])}, "y": y}


def thousands() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    X = np.column_stack([rng.uniform(1000, 5000, 400), rng.uniform(2000, 9000, 400), rng.uniform(100, 3000, 400)])
    return X, 3 + X @ [0.5, -0.2, 1.3] + rng.normal(0, 50, 400)


def timestamp() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(RNG_SEED)
    t = 1.6e9 + rng.uniform(0, 3e7, 400)
    return t[:, None], 2 + 1e-6 * (t - 1.6e9) + rng.normal(0, 1, 400)


def unscaled_features() -> tuple[np.ndarray, np.ndarray]:
    """Ten features on scales from 0.01 to 3000, far from 0, with a logistic target."""
    rng = np.random.default_rng(RNG_SEED)
    scales = np.array([0.01, 0.1, 1, 10, 100, 1000, 3000, 0.05, 20, 500])
    means = scales * rng.uniform(1, 5, 10)
    X = means + scales * rng.normal(0, 1, (400, 10))
    p = 1 / (1 + np.exp(-0.8 * ((X - means) / scales) @ rng.normal(0, 1, 10)))
    return X, (rng.uniform(0, 1, 400) < p).astype(float)


class TestTheDefaultReachesTheOptimum:
    @pytest.mark.parametrize("data", [thousands, timestamp], ids=["columns in the thousands", "1.6e9 timestamp"])
    def test_mse_within_1e_6_of_least_squares(self, data):
        X, y = data()
        report = gradcli.train(columns(X, y))
        best = lstsq_loss(X, y)
        assert (report.loss - best) / best <= 1e-6
        assert report.result.converged and report.at_optimum is True
        assert report.to_dict()["at_optimum"] is True and report.excess_loss <= 1e-6

    def test_bce_on_unscaled_features_within_1e_6_of_newton(self):
        X, y = unscaled_features()
        model = "sigmoid(b + " + " + ".join(f"w{i + 1}*x{i + 1}" for i in range(10)) + ")"
        report = gradcli.train(columns(X, y), model, loss="bce")
        best = logistic_loss(X, y)
        assert (report.loss - best) / best <= 1e-6
        assert report.result.converged
        assert report.at_optimum is None  # no closed form for bce: JSON says null, not true

    def test_without_preconditioning_the_timestamp_stalls_and_says_so(self):
        X, y = timestamp()
        report = gradcli.train(columns(X, y), precondition=False)
        assert (report.loss - lstsq_loss(X, y)) / lstsq_loss(X, y) > 1e-3
        assert not report.result.converged and report.at_optimum is False
        assert any("short of the optimum" in w for w in report.warnings)

    @pytest.mark.parametrize("optimizer", ["gd", "momentum"])
    def test_first_order_optimisers_need_no_lr_tuning_for_scale(self, optimizer):
        X, y = thousands()
        report = gradcli.train(columns(X, y), optimizer=optimizer, epochs=2000)
        assert not report.result.diverged
        assert report.excess_loss <= 1e-6
        plain = gradcli.train(columns(X, y), optimizer=optimizer, epochs=50, precondition=False)
        assert plain.result.diverged  # the textbook update at the same rate blows up on these columns

    def test_preconditioning_moves_the_path_not_the_minimum(self):
        X, y = thousands()
        on = gradcli.train(columns(X, y)).params
        off = gradcli.train(columns(X, y), tol=0, epochs=5000, precondition=False).params
        for name in on:
            assert on[name] == pytest.approx(off[name], rel=1e-6)


class TestConvergedMeansFirstOrderOptimality:
    def test_a_loose_plateau_is_not_converged(self):
        X, y = thousands()
        report = gradcli.train(columns(X, y), optimizer="gd", tol=1e-2, patience=1)
        assert "less than 0.01" in report.result.stop_reason
        assert not report.result.converged and report.result.optimality > 1e-6

    def test_optimality_is_the_gradient_against_its_row_terms(self):
        # b + w*x on two rows with hand numbers: at b=0, w=0 with x=(1, 2), y=(1, 3) the per-row
        # terms of d/db are 2*(yhat - y) = (-2, -6): gradient mean -4, mean |term| 4, ratio 1;
        # d/dw: (-2, -12): mean -7, mean |term| 7, ratio 1.
        report = gradcli.train({"x1": [1.0, 2.0], "y": [1.0, 3.0]}, "b + w1*x1", epochs=1, optimizer="gd", lr=1e-12,
                               precondition=False)
        assert report.result.optimality == pytest.approx(1.0)
        assert not report.result.converged

    def test_an_exact_fit_is_converged_and_at_the_optimum(self):
        report = gradcli.train({"x1": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 3.0, 5.0, 7.0]})
        assert report.result.converged and report.at_optimum is True
        assert report.params["b"] == pytest.approx(1.0) and report.params["w1"] == pytest.approx(2.0)


class TestWhitening:
    def test_the_gram_matrix_becomes_the_identity(self):
        rng = np.random.default_rng(RNG_SEED)
        J = np.column_stack([np.ones(300), 1.6e9 + rng.uniform(0, 3e7, 300), rng.normal(5e3, 10, 300),
                             rng.normal(0, 1e-3, 300)])
        P = whitening(J)
        whitened = J @ P
        np.testing.assert_allclose(whitened.T @ whitened / 300, np.eye(4), atol=1e-6)

    def test_a_repeated_column_keeps_the_change_invertible(self):
        rng = np.random.default_rng(RNG_SEED)
        x = rng.normal(0, 1, 50)
        P = whitening(np.column_stack([np.ones(50), x, x]))  # b + w1*x1 + w2*x1: w1 and w2 move alike
        assert np.isfinite(P).all() and abs(np.linalg.det(P)) > 0

    def test_no_response_at_all_is_no_change(self):
        assert whitening(np.zeros((10, 3))) is None


class TestTheCommandLineSaysEachVerdict:
    def test_three_marks_for_three_questions(self, gradcli):
        result = gradcli("train", str(SAMPLES / "data.csv"))
        assert result.code == 0, result
        lines = result.out.splitlines()
        assert any(line.startswith("✓ converged: the largest gradient is") for line in lines), result.out
        assert any(line.startswith("✓ at the optimum: the loss is") for line in lines), result.out
        assert any(line.startswith("✓ engines agree on the final gradient") for line in lines), result.out

    def test_short_of_the_optimum_is_marked_apart_from_the_engines(self, gradcli):
        result = gradcli("train", str(SAMPLES / "houses.csv"), "--target", "price", "--optimizer", "gd", "--lr", "1e-8",
                         "--epochs", "20", "--no-precondition", "-q")
        assert result.code == 0, result  # the engines agree: nothing failed, but it says what it reached
        lines = result.out.splitlines()
        assert any(line.startswith("✗ not converged") for line in lines), result.out
        assert any(line.startswith("✗ short of the optimum") for line in lines), result.out
        assert any(line.startswith("✓ engines agree") for line in lines), result.out

    def test_json_keys(self, gradcli):
        doc = gradcli("train", str(SAMPLES / "data.csv"), "--format", "json").json()
        assert doc["converged"] is True and doc["at_optimum"] is True and doc["precondition"] is True
        assert 0 <= doc["optimality"] <= 1e-6 and doc["excess_loss"] <= 1e-6
