"""Roundoff is not disagreement: where terms cancel or a value is badly conditioned, symbolic and backprop
may differ by more than rtol and atol, and then they agree "within float64's resolution" (a running error
bound of backprop, engines/resolution.py). Where nothing cancels the tolerance is exactly rtol and atol,
and a wrong local derivative still disagrees."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
from expression_cases import POSITIVE, positive_sums_and_products
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.compare.verdicts import ATOL, RTOL
from gradcli.compare.witnesses import resolution
from gradcli.language.ops import OPS
from gradcli.setup import prepare

CANCELLING = "(w3 - tanh(sin(7)) + (-(x3+alpha) + log(exp(alpha)/0.25)))**-2"  # alpha cancels: d/dalpha is 0
CANCELLING_DATA = {"x3": [1.0], "y": [0.0]}
CANCELLING_PARAMS = {"w3": 0.202, "alpha": 0.7}  # the base is 0.0088: d/dw3 is -1.6e10
CONDITIONED = "w*x1*(((1.0000001^1000)^1000)^1000)"  # 1.0000001's rounding times 1e9


def plain(gradient) -> bool:
    """The verdict by rtol and atol alone."""
    return abs(gradient.symbolic_value - gradient.backprop_value) <= ATOL + RTOL * abs(gradient.symbolic_value)


class TestTheTwoExamples:
    def test_terms_that_cancel_to_an_exact_zero(self):
        report = gradcli.gradients(CANCELLING, data=CANCELLING_DATA, params=CANCELLING_PARAMS, readable=False)
        assert report.witness == "symbolic"
        alpha = report.gradients["alpha"]
        assert alpha.symbolic_value == 0.0 and alpha.backprop_value != 0.0  # 1.9e-6 of rounding
        assert not plain(alpha)  # rtol and atol alone said "disagree", exit 1
        assert alpha.agree is True and report.agree is True
        assert alpha.abs_diff <= alpha.resolution
        # what float64 resolves next to terms of 1.6e10 (d/dw3 is one of them): far inside rtol of them
        assert alpha.resolution < RTOL * abs(report.gradients["w3"].backprop_value) / 100
        assert alpha.condition is None  # an exact 0: relative to it, no condition number
        assert report.gradients["w3"].resolution is None  # it passed rtol: nothing widened
        assert any("within float64's resolution: alpha (an exact 0 from terms that cancel" in w
                   for w in report.warnings)

    def test_a_value_conditioned_1e9(self):
        report = gradcli.gradients(CONDITIONED, data={"x1": [1.0], "y": [0.0]}, params={"w": 0.5})
        w = report.gradients["w"]
        assert abs(w.abs_diff / w.symbolic_value - 1.17e-7) < 0.01e-7  # 1e9 x eps/2, as float64 gives it
        assert not plain(w)
        assert w.agree is True and report.agree is True
        assert 1e8 < w.condition < 1e10  # the bound over eps x |gradient|: ~1e9
        assert w.abs_diff <= w.resolution <= 1e-6 * abs(w.symbolic_value)

    def test_the_cli_says_so_and_exits_0(self, gradcli):
        table = gradcli("grad", CONDITIONED, "--data", "x1=1,y=0", "--params", "w=0.5")
        assert table.code == 0, table.err
        last = "the gradient agrees (rtol 1e-09, atol 1e-12; w within float64's resolution (condition ~1e9))"
        assert last in table.out
        assert "agree within float64's resolution: w (condition ~1e9" in table.err
        result = gradcli("grad", CONDITIONED, "--data", "x1=1,y=0", "--params", "w=0.5", "--format", "json")
        assert result.code == 0, result.err
        document = json.loads(result.out)
        assert document["agree"] is True
        [w] = document["gradients"]
        assert w["agree"] is True and w["resolution"] > w["abs_diff"] > 0 and 1e8 < w["condition"] < 1e10

    def test_data_read_part_by_part(self, tmp_path):
        path = tmp_path / "cancel.csv"
        path.write_text("x3,y\n" + "1,0\n" * 300_000)  # 1.2 MB, past --memory 1MiB
        report = gradcli.gradients(CANCELLING, data=str(path), params=CANCELLING_PARAMS, memory="1MiB", readable=False)
        assert report.engine == "stream" and report.rows == 300_000
        assert report.witness == "symbolic"
        alpha = report.gradients["alpha"]
        assert alpha.backprop_value != 0.0 and not plain(alpha)  # 7.1e-6 of rounding over the parts
        assert alpha.agree is True and alpha.abs_diff <= alpha.resolution
        assert report.agree is True


class TestVectorsAndMatrices:
    def test_bounded_entry_by_entry_and_reported_per_parameter(self):
        # with no tolerance at all, a layer's rounding (a few 1e-16) is all that separates the engines
        report = gradcli.gradients("W2 @ tanh(W1 @ x + b1) + b2", data={"x1": [1.5], "x2": [2.0], "y": [1.0]},
                                   shapes=["W1=4x2"], rtol=0.0, atol=0.0, readable=False)
        assert report.witness == "symbolic" and report.agree is True
        differing = [t for t in report.tensors.values() if t.max_abs_diff]
        assert differing
        for t in differing:
            assert t.agree is True and 0 < t.max_abs_diff <= t.resolution < 1e-12 and t.condition < 1e4


class TestNeverWiderWhereNothingCancels:
    def test_a_wrong_local_derivative_still_disagrees(self, monkeypatch):
        # sin's local derivative off by one part in a million (sin(w1*x1): on w1's path): far beyond rtol,
        # and beyond what float64 can resolve of a well-conditioned gradient
        wrong = dataclasses.replace(OPS["sin"], local=lambda i, a, out: np.cos(a[0]) * (1 + 1e-6))
        monkeypatch.setitem(OPS, "sin", wrong)
        model, params = "b + sin(w1*x1) + w2*x2", {"b": 0.1, "w1": 0.7, "w2": -0.4}
        data = {"x1": [0.3, 1.2], "x2": [2.0, -1.0], "y": [1.0, 0.5]}
        report = gradcli.gradients(model, data=data, params=params, readable=False)
        w1 = report.gradients["w1"]
        assert report.witness == "symbolic"
        assert report.agree is False and w1.agree is False and w1.resolution is None
        # what float64 resolves there was asked for, and is rounding of the gradient, far below the error
        arrays = {name: np.array(column) for name, column in data.items()}
        bounds = resolution(prepare(model, "mse", data, params), ["w1"], [(arrays, 2)])
        assert bounds["w1"] < 1e-3 * w1.abs_diff

    def test_a_wrong_derivative_of_a_cancelling_gradient_still_disagrees(self, monkeypatch):
        # exp's local derivative off by 1e-6 in the cancelling example: alpha's exact 0 becomes 1.6e4
        wrong = dataclasses.replace(OPS["exp"], local=lambda i, a, out: out * (1 + 1e-6))
        monkeypatch.setitem(OPS, "exp", wrong)
        report = gradcli.gradients(CANCELLING, data=CANCELLING_DATA, params=CANCELLING_PARAMS, readable=False)
        assert report.witness == "symbolic" and report.gradients["alpha"].agree is False and report.agree is False


POSITIVE_SUMS_AND_PRODUCTS = positive_sums_and_products(["w1", "w2", "w3"])


class TestNoCancellation:
    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(model=POSITIVE_SUMS_AND_PRODUCTS,
           params=st.fixed_dictionaries({name: POSITIVE for name in ("w1", "w2", "w3")}),
           rows=st.lists(st.tuples(POSITIVE, POSITIVE, POSITIVE), min_size=1, max_size=4))
    def test_the_tolerance_is_the_plain_one(self, model, params, rows):
        """Sums of positive terms and products of them, with a loss that adds positive terms too: what
        float64 resolves is inside rtol and atol, so the condition-scaled tolerance is the plain one."""
        data = {name: np.array([r[i] for r in rows]) for i, name in enumerate(("x1", "x2", "y"))}
        setup = prepare(model, "yhat*y + yhat", {k: v.tolist() for k, v in data.items()}, params)
        if not setup.chosen:
            return
        from gradcli.engines.graph import backprop, build_graph

        gradient = backprop(build_graph(setup.problem), setup.values, data, len(rows), setup.chosen).gradients
        bounds = resolution(setup, setup.chosen, [(data, len(rows))])
        for name in setup.chosen:
            assert math.isfinite(bounds[name])
            assert bounds[name] <= ATOL + RTOL * abs(gradient[name]), (model, name, bounds[name], gradient[name])
            assert bounds[name] <= 1e-12 * abs(gradient[name]) + 1e-300  # a few hundred eps at most
