"""The finite-difference witness at and near kinks (relu, abs, max, min).

A difference stencil whose points lie on different sides of a kink measures a slope the loss does
not have there, so such a stencil may never give a verdict: the witness cuts the step, draws other
directions, and where none is clean says "not compared at a kink" (neither agree nor disagree).
Backprop is checked here against a hand-written NumPy forward and backward pass, independent of
both gradcli engines, so that a "disagree" can be judged false.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.engines.differences import NOT_AT_KINK
from gradcli.engines.graph import build_graph
from gradcli.engines.sweep import compile_plan, stencil
from gradcli.language.problem import build_problem


def hand_gradient(act: str, X, y, P) -> dict[str, np.ndarray]:
    """mse of W2 @ act(W1 @ x + b1) + b2 by hand; the kink's derivative taken as 0, as documented."""
    a = X @ P["W1"].T + P["b1"]
    h = np.maximum(a, 0) if act == "relu" else np.abs(a)
    r = h @ P["W2"] + P["b2"] - y
    g = 2 * r / len(y)
    da = np.outer(g, P["W2"]) * ((a > 0) * 1.0 if act == "relu" else np.sign(a))
    return {"W2": h.T @ g, "b2": np.array(g.sum()), "W1": da.T @ X, "b1": da.sum(0)}


def network(seed: int, nudge: bool):
    """A small network on a coarse grid (arguments exactly at 0), or nudged within a stencil of it."""
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(6, 2)) * 4) / 4
    y = rng.normal(size=6)
    P = {"W1": np.round(rng.normal(size=(4, 2)) * 4) / 4, "b1": np.round(rng.normal(size=4) * 4) / 4,
         "W2": rng.normal(size=4), "b2": 0.1}
    if nudge:
        P["b1"] = P["b1"] + rng.choice([-1, 1], size=4) * 10.0 ** rng.integers(-9, -5, size=4)
    return X, y, P


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 10**6), act=st.sampled_from(["relu", "abs"]), nudge=st.booleans())
def test_relu_and_abs_networks_never_disagree_falsely(seed, act, nudge):
    X, y, P = network(seed, nudge)
    report = gradcli.gradients(f"W2 @ {act}(W1 @ x + b1) + b2", "mse", data={"x": X, "y": y}, params=P,
                               engines=("backprop",), check_fd=True)
    hand = hand_gradient(act, X, y, P)
    for name, want in hand.items():
        np.testing.assert_allclose(report.tensors[name].backprop_value, want, rtol=1e-9, atol=1e-12)
    for name, t in report.tensors.items():  # backprop is right: the witness may not say otherwise
        assert t.fd_verdict in ("agree", NOT_AT_KINK), (name, t.fd_directions)
        assert (t.fd_agree is None) == (t.fd_verdict == NOT_AT_KINK)
    assert report.agree is not False


def test_a_network_away_from_its_kinks_is_compared():
    X, y, P = network(3, nudge=False)
    P["b1"] = P["b1"] + 0.3  # every argument now at least ~0.05 from 0 on this grid
    a = X @ P["W1"].T + P["b1"]
    assert np.abs(a).min() > 1e-3
    report = gradcli.gradients("W2 @ relu(W1 @ x + b1) + b2", "mse", data={"x": X, "y": y}, params=P,
                               engines=("backprop",), check_fd=True)
    assert [t.fd_verdict for t in report.tensors.values()] == ["agree"] * 4
    assert report.agree is True


def test_one_sided_difference_at_the_kink_is_not_compared():
    # relu(w) with bce at w = 0: the stencil (-h, 0, h) gives (h - 0) / 2h = 0.5 against backprop's 0
    report = gradcli.gradients("relu(w)", "bce", data={"y": [0.0]}, params={"w": 0.0}, check_fd=True)
    w = report.gradients["w"]
    assert w.backprop_value == 0.0
    assert (w.fd_verdict, w.fd_value, w.fd_agree) == (NOT_AT_KINK, None, None)
    assert report.agree is not False
    assert any(NOT_AT_KINK in line and "relu(w)" in line for line in report.warnings)


@pytest.mark.parametrize("model, w", [("relu(w - 1e-7)", 0.0), ("abs(w + 3e-6)", 0.0), ("max(w, 2e-6)", 0.0)])
def test_a_kink_inside_the_stencil_is_stepped_over(model, w):
    # the kink lies inside the first stencil (h = 1e-5) but outside a cut one: compared, and agreeing
    report = gradcli.gradients(model, "mse", data={"y": [0.0]}, params={"w": w}, engines=("backprop",),
                               check_fd=True)
    g = report.gradients["w"]
    assert g.fd_verdict == "agree", report.warnings
    assert g.fd_value == pytest.approx(g.backprop_value, rel=1e-6, abs=1e-9)


def test_a_kink_crossed_by_every_step_is_not_compared_in_the_cli(gradcli):
    result = gradcli("grad", "relu(w)", "--loss", "bce", "--data", "y=0", "--params", "w=0", "--check-fd",
                     "--format", "json")
    assert result.code == 0, result
    [w] = result.json()["gradients"]
    assert w["fd_verdict"] == NOT_AT_KINK and w["fd_agree"] is None


def test_stencil_reports_the_kinks_it_crosses():
    problem = build_problem("relu(w*x1) + abs(w - 2)", "mse", data_names=["x1", "y"])
    plan = compile_plan(build_graph(problem), [])
    columns = {"x1": np.array([1.0, -1.0, 3.0]), "y": np.zeros(3)}
    points = lambda w, h: [{"w": w}, {"w": w + h}, {"w": w - h}]  # noqa: E731
    assert stencil(plan, points(1.0, 0.1), columns, 3).crossed == []
    assert stencil(plan, points(0.0, 0.1), columns, 3).crossed == ["relu(w*x1)"]  # 0 at the centre, ± either side
    assert stencil(plan, points(2.05, 0.1), columns, 3).crossed == ["abs(w - 2)"]
    at = stencil(plan, points(1.0, 0.5), columns, 3)
    for loss, w in zip(at.losses, (1.0, 1.5, 0.5)):  # the mean loss at each point, by hand
        yhat = np.maximum(w * columns["x1"], 0) + abs(w - 2)
        assert loss == pytest.approx(np.mean(yhat**2), rel=1e-15)


@pytest.mark.parametrize("seed", [0, 3, 10])
def test_a_trained_relu_network_passes_its_final_check(seed):
    # README's spiral network trained from seeds where the check said "disagree" (0 under another BLAS
    # kernel: a relu argument inside b1's stencil; 3 and 10 here: a sharply curved loss, one Richardson
    # step short); backprop is right, so the witness must agree or say it could not compare
    report = gradcli.train(str(Path(__file__).parents[2] / "samples" / "spiral.csv"),
                           model="W2 @ relu(W1 @ x + b1) + b2", shapes=["W1=32x2"], loss="ce", target="class",
                           seed=seed)
    assert report.check.agree is not False, report.check.tensors
    assert all(t["fd_verdict"] in ("agree", NOT_AT_KINK) for t in report.check.tensors.values())


def test_an_entry_at_its_kink_is_left_out_and_the_rest_compared():
    # the row x = (0, 0) puts unit 2's relu argument at b1[2] = 0 exactly: any direction that moves b1[2]
    # crosses the kink, so b1[2] is left out and b1's other entries are compared without it
    X = np.array([[0.0, 0.0], [1.0, 0.5], [-0.5, 2.0], [1.5, -1.0]])
    y = np.array([0.3, -0.2, 1.0, 0.5])
    P = {"W1": np.array([[1.0, 0.5], [0.8, -0.6], [-1.2, 0.7]]), "b1": np.array([0.4, 0.0, 0.9]),
         "W2": np.array([0.5, -1.0, 0.7]), "b2": 0.1}
    report = gradcli.gradients("W2 @ relu(W1 @ x + b1) + b2", "mse", data={"x": X, "y": y}, params=P,
                               engines=("backprop",), check_fd=True)
    b1 = report.tensors["b1"]
    assert (b1.fd_verdict, b1.fd_left_out) == ("agree", ["b1[2]"])
    assert all(abs(d["gv"]) > 0 for d in b1.fd_directions)
    assert report.tensors["W2"].fd_left_out is None and report.agree is True
    assert any("b1[2] left out" in line for line in report.warnings)
    np.testing.assert_allclose(b1.backprop_value, hand_gradient("relu", X, y, P)["b1"], rtol=1e-12)
