"""The finite-difference witness of `hessian` and `diff` at and near kinks (relu, abs, max, min).

The same rule as grad's (test_kink_witness.py), through the same helper (engines/differences.py's
kink_free): a stencil that crosses a kink may give no verdict; the step is cut, and where no step is
clean the verdict is "not compared at a kink". The engines' values are checked against hand-written
derivatives, independent of both engines, so that a "disagree" can be judged false.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.engines.differences import NOT_AT_KINK, STEP_CUTS, kink_free, usable_cuts

ACTS = ["relu", "abs", "max", "min"]
# distances from the kink: exactly at it, inside every stencil, inside some, outside all
NEAR = [0.0, 1e-9, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.25]


def activation(act: str, u: str) -> str:
    return {"relu": f"relu({u})", "abs": f"abs({u})", "max": f"max({u}, 0)", "min": f"min({u}, 0)"}[act]


def slope(act: str, u: np.ndarray) -> np.ndarray:
    """d act / du, taken as 0 at the kink as the operations table says."""
    return {"relu": (u > 0) * 1.0, "abs": np.sign(u), "max": (u > 0) * 1.0, "min": (u < 0) * 1.0}[act]


def hand_hessian(act: str, x: np.ndarray, w: float, b: float) -> np.ndarray:
    """mse of act(w*x1 + b): act'' is 0 off the kink and u is linear in (w, b), so H = mean 2 act'(u)^2 J J'."""
    d = slope(act, w * x + b) ** 2
    return np.array([[np.mean(2 * d * x * x), np.mean(2 * d * x)], [np.mean(2 * d * x), np.mean(2 * d)]])


def hand_derivative(act: str, w: float, a: float, order: int) -> float:
    """The order-th derivative of act(w - a) * w (max and min as max(w, a) * w and min(w, a) * w)."""
    side = {"relu": w > a, "abs": True, "max": w > a, "min": w < a}[act]
    sign = np.sign(w - a) if act == "abs" else 1.0
    if side:  # sign * (w**2 - c*w): c is a for relu and abs, 0 for max and min
        c = a if act in ("relu", "abs") else 0.0
        return float(sign * [2 * w - c, 2.0, 0.0][order - 1])
    return float([a if act in ("max", "min") else 0.0, 0.0, 0.0][order - 1])


def expression(act: str) -> str:
    return {"relu": "relu(w - a)*w", "abs": "abs(w - a)*w", "max": "max(w, a)*w", "min": "min(w, a)*w"}[act]


quarter = st.integers(-8, 8).map(lambda k: k / 4)
side = st.sampled_from([-1.0, 1.0])


@settings(max_examples=60, deadline=None)
@given(act=st.sampled_from(ACTS), w=quarter.filter(bool), rows=st.lists(quarter.filter(bool), min_size=1, max_size=4),
       near=st.sampled_from(NEAR), sign=side)
def test_hessian_never_disagrees_falsely_near_a_kink(act, w, rows, near, sign):
    x = np.array(rows)
    b = -w * x[0] + sign * near  # row 1's argument is `near` from its kink (exactly at it for 0)
    report = gradcli.hessian(activation(act, "w*x1 + b"), "mse", data={"x1": x, "y": np.ones_like(x)},
                             params={"w": w, "b": b})
    np.testing.assert_allclose(report.hessian, hand_hessian(act, x, w, b), rtol=1e-9, atol=1e-12)
    assert report.fd_verdict in ("agree", NOT_AT_KINK), (report.fd, report.hessian)
    assert report.fd_agree is not False and report.agree is not False
    assert (report.fd_agree is None) == (report.fd_verdict == NOT_AT_KINK)
    if near == 0.0:  # both rows of the witness move row 1's argument off 0: no stencil is clean
        assert report.fd_verdict == NOT_AT_KINK and report.fd == [[None, None], [None, None]]


@settings(max_examples=60, deadline=None)
@given(act=st.sampled_from(ACTS), a=quarter, near=st.sampled_from(NEAR), sign=side, order=st.integers(1, 3))
def test_diff_never_disagrees_falsely_near_a_kink(act, a, near, sign, order):
    w = a + sign * near
    report = gradcli.diff(expression(act), wrt="w", order=order, at={"w": w, "a": a})
    (d,) = report.derivatives
    if near == 0.0:  # no derivative of this order exists here: nothing is compared, nothing fails
        assert report.at_kink and d.fd_verdict == NOT_AT_KINK and report.agree is None
        return
    assert d.graph_value == hand_derivative(act, w, a, order) or np.isclose(
        d.graph_value, hand_derivative(act, w, a, order), rtol=1e-12, atol=1e-12)
    assert d.fd_verdict in ("agree", NOT_AT_KINK), (d.fd_value, d.graph_value)
    assert d.fd_agree is not False and report.agree is not False
    assert (d.fd_value is None) == (d.fd_verdict == NOT_AT_KINK)


@settings(max_examples=30, deadline=None)
@given(act=st.sampled_from(ACTS), b=quarter, near=st.sampled_from(NEAR[1:]), sign=side)
def test_diff_hessian_of_several_names_never_disagrees_falsely(act, b, near, sign):
    w = 1.0
    report = gradcli.diff(activation(act, "w + b") + "*w", wrt="w,b", order=2, at={"w": w, "b": -w + sign * near})
    for d in report.derivatives:
        assert d.fd_verdict in ("agree", NOT_AT_KINK) and d.fd_agree is not False, (d.wrt, d.fd_value, d.graph_value)
    assert report.agree is not False


def test_a_clean_step_near_a_kink_is_judged():
    """Not everything near a kink goes uncompared: outside the cut stencil the witness gives a verdict."""
    report = gradcli.diff("relu(w)*w", wrt="w", order=2, at={"w": 1e-5})
    assert report.derivatives[0].fd_verdict == "agree"
    assert any("cut to 1/16" in line for line in report.warnings)
    hessian = gradcli.hessian("relu(w*x1) + b", "mse", data={"x1": [0.5], "y": [1.0]}, params={"w": 1e-7, "b": 0.0})
    assert hessian.fd_verdict == "agree" and hessian.fd_agree is True


def test_hessian_and_diff_at_a_kink_say_so_and_exit_0(gradcli):
    run = gradcli("hessian", "relu(w*x1) + b", "--data", "x1=0.5,y=1", "--params", "w=0,b=0", "-f", "json")
    assert run.code == 0, run.err
    assert run.json()["fd_verdict"] == NOT_AT_KINK and run.json()["fd_agree"] is None
    assert "not compared for the row of w" in run.err
    run = gradcli("hessian", "relu(w*x1) + b", "--data", "x1=0.5,y=1", "--params", "w=0,b=0", "--hvp", "w=1")
    assert run.code == 0, run.err
    assert "not compared at a kink" in run.out
    assert [line.split()[:2] for line in run.out.splitlines() if line.split()[:1] in (["w"], ["b"])] == [
        ["w", "1"], ["b", "0"]]  # H v's rows are shown though the witness has none
    for order in ("2", "3"):
        run = gradcli("diff", "relu(w)*w", "--wrt", "w", "--order", order, "--at", "w=1e-7", "-f", "json")
        assert run.code == 0, run.err
        assert run.json()["derivatives"][0]["fd_verdict"] == NOT_AT_KINK
        assert run.json()["derivatives"][0]["fd_agree"] is None


def test_a_step_is_cut_only_while_rounding_leaves_a_witness():
    """Rounding in an order-k difference grows as cut**-k: order 1 takes every cut, order 3 none."""
    assert usable_cuts(1) == STEP_CUTS
    assert usable_cuts(2) == (1.0, 1 / 16)
    assert usable_cuts(3) == (1.0,)
    tried = []
    assert kink_free(lambda h: (tried.append(h) or h, ["relu(w)"] if h > 1e-3 else []), 1.0) == (1 / 4096, 1 / 4096, [])
    assert tried == [1.0, 1 / 16, 1 / 256, 1 / 4096]
    assert kink_free(lambda h: (h, ["abs(w)"]), 1.0) == (None, 1 / 4096, ["abs(w)"])
