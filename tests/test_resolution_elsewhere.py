"""Roundoff is not disagreement wherever the engines are compared, not only for grad's parameters: the
per-row gradients of inputs and the target (`grad --wrt x1`), train's final check (in memory and read part
by part) and `check`'s claim agree "within float64's resolution" where terms cancel or a value is badly
conditioned, with the same bound (engines/resolution.py). A wrong local derivative still disagrees, and
where nothing cancels the tolerance is exactly rtol and atol."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from expression_cases import POSITIVE, positive_sums_and_products
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.compare.verdicts import ATOL, RTOL
from gradcli.compare.witnesses import row_resolution
from gradcli.language.ops import OPS
from gradcli.setup import prepare

# x3 cancels: d loss / d x3 is exactly 0 in every row; w3's gradient beside it is -1.6e10
CANCELLING_INPUT = "(w3 - tanh(sin(7)) + (-(alpha+x3) + log(exp(x3)/0.25)))**-2"
CANCELLING_DATA = {"x3": [0.3, 1.0, 0.5, 0.7], "y": [0.0, 0.0, 0.0, 0.0]}
CANCELLING_PARAMS = {"w3": 0.202, "alpha": 1.0}
CONDITIONED = "w*x1*(((1.0000001^1000)^1000)^1000)"  # 1.0000001's rounding times 1e9
CANCELLING = "(w3 - tanh(sin(7)) + (-(x3+alpha) + log(exp(alpha)/0.25)))**-2"  # alpha cancels


def rows_plainly_agree(row) -> bool:
    return all(abs(s - b) <= ATOL + RTOL * abs(s) for s, b in zip(row.symbolic_values, row.backprop_values))


class TestRowGradients:
    def test_an_input_that_cancels(self):
        report = gradcli.gradients(CANCELLING_INPUT, data=CANCELLING_DATA, params=CANCELLING_PARAMS,
                                   wrt=["x3", "w3"], readable=False)
        x3 = report.row_gradients["x3"]
        assert x3.symbolic_values == [0.0] * 4 and any(x3.backprop_values)  # rounding of 1.9e-6 in two rows
        assert not rows_plainly_agree(x3)  # rtol and atol alone said "disagree", exit 1
        assert x3.agree is True and report.agree is True
        assert x3.condition is None  # an exact 0 from terms that cancel
        assert x3.max_abs_diff <= x3.resolution < RTOL * abs(report.gradients["w3"].backprop_value) / 100
        assert any("within float64's resolution: x3 (an exact 0 from terms that cancel" in w for w in report.warnings)

    def test_an_input_conditioned_1e9_on_the_cli(self, gradcli):
        table = gradcli("grad", CONDITIONED, "--data", "x1=1,y=0", "--params", "w=0.5", "--wrt", "x1")
        assert table.code == 0, table.err
        assert ("the gradient agrees (rtol 1e-09, atol 1e-12; "
                "x1 within float64's resolution (condition ~1e9))") in table.out
        document = gradcli("grad", CONDITIONED, "--data", "x1=1,y=0", "--params", "w=0.5", "--wrt", "x1",
                           "--format", "json").json()
        [x1] = document["row_gradients"]
        assert document["agree"] is True and x1["agree"] is True
        assert x1["resolution"] >= x1["max_abs_diff"] > 0 and 1e8 < x1["condition"] < 1e10
        rows = gradcli("grad", CONDITIONED, "--data", "x1=1,y=0", "--params", "w=0.5", "--wrt", "x1", "--format", "csv")
        assert rows.code == 0 and rows.csv()[1][5] == "true"  # the row's own verdict says the same

    def test_nothing_widens_where_the_rows_agree(self):
        report = gradcli.gradients("w*x1 + b", data={"x1": [1.5, -2.0], "y": [1.0, 0.0]}, params={"w": 0.3, "b": 0.1},
                                   wrt=["x1", "y"], readable=False)
        assert all(r.agree is True and r.resolution is None and r.condition is None
                   for r in report.row_gradients.values())

    def test_a_wrong_local_derivative_still_disagrees(self, monkeypatch):
        wrong = dataclasses.replace(OPS["sin"], local=lambda i, a, out: np.cos(a[0]) * (1 + 1e-6))
        monkeypatch.setitem(OPS, "sin", wrong)
        report = gradcli.gradients("b + sin(w1*x1)", data={"x1": [0.3, 1.2], "y": [1.0, 0.5]},
                                   params={"b": 0.1, "w1": 0.7}, wrt=["x1"], readable=False)
        x1 = report.row_gradients["x1"]
        assert x1.agree is False and x1.resolution is None and report.agree is False

    def test_a_wrong_derivative_of_a_cancelling_input_still_disagrees(self, monkeypatch):
        wrong = dataclasses.replace(OPS["exp"], local=lambda i, a, out: out * (1 + 1e-6))
        monkeypatch.setitem(OPS, "exp", wrong)
        report = gradcli.gradients(CANCELLING_INPUT, data=CANCELLING_DATA, params=CANCELLING_PARAMS, wrt=["x3"],
                                   readable=False)
        assert report.row_gradients["x3"].agree is False and report.agree is False


def conditioned_rows(path, rows: int) -> None:
    """y = 3 x1 + 0.5 (and a little noise): the conditioned model fits it with w near 3/2.7e43."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, rows)
    y = 3 * x + 0.5 + rng.normal(0, 0.1, rows)
    path.write_text("x1,y\n" + "".join(f"{a:.6f},{b:.6f}\n" for a, b in zip(x, y)))


class TestTrainsFinalCheck:
    def test_read_part_by_part(self, gradcli, tmp_path):
        conditioned_rows(tmp_path / "d.csv", 60_000)  # 1.1 MB, past --memory 1MiB
        result = gradcli("train", "d.csv", "--model", f"{CONDITIONED} + b", "--memory", "1MiB", "--format", "json")
        assert result.code == 0, result.err  # exit 1 before: "engines disagree on the final gradient"
        document = result.json()
        assert document["engine"] == "stream"
        check = document["gradient_check"]
        w = check["gradients"]["w"]
        assert check["agree"] is True and w["agree"] is True
        assert abs(w["symbolic_value"] - w["backprop_value"]) > check["atol"] + check["rtol"] * abs(w["symbolic_value"])
        assert w["resolution"] >= w["abs_diff"] and w["condition"] > 1e9
        assert check["gradients"]["b"]["resolution"] is None  # b passed rtol and atol: nothing widened
        assert "agree within float64's resolution: w (condition ~1e" in result.err

    def test_in_memory_the_json_says_so_too(self, tmp_path):
        conditioned_rows(tmp_path / "d.csv", 50)
        report = gradcli.train(str(tmp_path / "d.csv"), f"{CONDITIONED} + b")
        w = report.check.gradients["w"]
        assert report.check.agree is True and not report.failed
        assert w["resolution"] >= w["abs_diff"] > report.check.atol + report.check.rtol * abs(w["symbolic_value"])
        assert report.check.gradients["b"]["resolution"] is None and report.check.gradients["b"]["condition"] is None

    def test_a_wrong_local_derivative_still_disagrees_part_by_part(self, tmp_path, monkeypatch):
        # off by 1e-5 (not by a factor: a factor of the whole gradient vanishes where training stops)
        wrong = dataclasses.replace(OPS["sin"], local=lambda i, a, out: np.cos(a[0]) + 1e-5)
        monkeypatch.setitem(OPS, "sin", wrong)
        conditioned_rows(tmp_path / "d.csv", 60_000)
        report = gradcli.train(str(tmp_path / "d.csv"), "b + sin(w*x1)", memory="1MiB", init={"w": 1.0, "b": 0.0})
        assert report.check.agree is False and report.failed
        assert any(g["agree"] is False and g["resolution"] is None for g in report.check.gradients.values())


class TestCheck:
    def test_a_claim_of_0_where_terms_cancel(self, gradcli):
        result = gradcli("check", CANCELLING, "--claim", "0", "--wrt", "alpha", "--data", "x3=1,y=0",
                         "--params", "w3=0.202,alpha=0.7", "--format", "json")
        assert result.code == 0, result.err  # exit 1 before: "the claim is wrong" at the data's point
        document = result.json()
        assert document["correct"] is True and document["symbolic"] == "equivalent"
        assert document["data"]["within_resolution"] == 1 and document["data"]["condition"] is None
        assert document["random"]["differ"] == 0 and document["random"]["within_resolution"] > 0
        table = gradcli("check", CANCELLING, "--claim", "0", "--wrt", "alpha", "--data", "x3=1,y=0",
                        "--params", "w3=0.202,alpha=0.7")
        assert table.code == 0
        assert ("numbers  equal at the one data point compared (within float64's resolution (an exact 0 from terms "
                "that cancel))") in table.out

    def test_a_wrong_claim_still_differs(self):
        # 1e-3 for an exact 0: float64 cannot tell it from 0 only where the terms reach 1e15 or so
        report = gradcli.check(CANCELLING, "1e-3", "alpha")
        assert report.correct is False and report.random.differ > 190

    def test_a_wrong_local_derivative_still_differs(self, monkeypatch):
        wrong = dataclasses.replace(OPS["exp"], local=lambda i, a, out: out * (1 + 1e-6))
        monkeypatch.setitem(OPS, "exp", wrong)
        report = gradcli.check(CANCELLING, "0", "alpha", data="x3=1,y=0", params="w3=0.202,alpha=0.7")
        assert report.correct is False and report.data.differ == 1 and report.data.within_resolution == 0

    def test_a_right_claim_that_plainly_agrees_says_nothing_of_resolution(self):
        report = gradcli.check("b + w1*x1", "2*(yhat - y)*x1", "w1")
        assert report.correct and report.random.within_resolution == 0 and report.random.condition is None
        assert not any("resolution" in w for w in report.warnings)


POSITIVE_SUMS_AND_PRODUCTS = positive_sums_and_products(["w1", "w2"])


class TestNoCancellation:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(model=POSITIVE_SUMS_AND_PRODUCTS,
           params=st.fixed_dictionaries({name: POSITIVE for name in ("w1", "w2")}),
           rows=st.lists(st.tuples(POSITIVE, POSITIVE, POSITIVE), min_size=1, max_size=4))
    def test_a_rows_tolerance_is_the_plain_one(self, model, params, rows):
        """Sums and products of positive terms, with a loss that adds positive terms: what float64 resolves
        of each row's derivative by an input or the target is inside rtol and atol of it."""
        data = {name: [r[i] for r in rows] for i, name in enumerate(("x1", "x2", "y"))}
        used = [name for name in ("x1", "x2") if name in model] + ["y"]
        setup = prepare(model, "yhat*y + yhat", data, params, wrt=used, rows_allowed=True)
        from gradcli.engines.graph import backprop, build_graph

        graph = build_graph(setup.problem)
        swept = backprop(graph, setup.values, setup.columns, setup.rows, setup.row_wrt)
        bounds = row_resolution(setup, graph, setup.row_wrt)
        for name in setup.row_wrt:
            exact = np.broadcast_to(swept.adjoints[graph.leaf(name).id] * setup.rows, (setup.rows,))
            assert np.all(np.isfinite(bounds[name]))
            assert np.all(bounds[name] <= ATOL + RTOL * np.abs(exact)), (model, name, bounds[name], exact)
            assert np.all(bounds[name] <= 1e-12 * np.abs(exact) + 1e-300)  # a few hundred eps at most

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(model=POSITIVE_SUMS_AND_PRODUCTS.filter(lambda m: "w1" in m))
    def test_checks_tolerance_is_the_plain_one(self, model):
        """check at 50 random points of a right claim (backprop's own derivative, written as `2*...`
        would be): wherever the claim and the derivative are positive sums and products, no point needs
        float64's resolution, and the bound is inside rtol and atol."""
        from gradcli.engines.graph import build_graph
        from gradcli.language import expr
        from gradcli.tasks.check import _every_name_a_column, _Points

        setup = prepare(model, "yhat*y + yhat", {"x1": [1.0], "x2": [1.0], "y": [1.0]}, {"w1": 1.0, "w2": 1.0},
                        wrt=["w1"])
        claimed = expr.parse("2*w1*y", what="claim")  # any claim: the bound's claim part is of its own rounding
        points = _Points(setup.problem, build_graph(_every_name_a_column(setup.problem)), claimed, "w1")
        rng = np.random.default_rng(0)
        columns = {name: rng.uniform(0.05, 4.0, 50) for name in ("w1", "w2", "x1", "x2", "y")}
        found = points(columns, 50)
        bound = found.resolution()
        assert np.all(np.isfinite(bound))
        scale = np.maximum(np.abs(found.claim), np.abs(found.derivative))
        assert np.all(bound <= 1e-10 + 1e-7 * scale)  # check's own rtol and atol
        assert np.all(bound <= 1e-12 * scale)
        assert math.isfinite(float(np.max(bound)))


class TestSecondDerivatives:
    """diff and hessian: the graph engine's last step is one backprop sweep of a derivative graph, so the
    same bound applies to their second derivatives."""

    def test_diff_first_and_second_order(self, gradcli):
        result = gradcli("diff", "x1*(((1.0000001^1000)^1000)^1000)", "--wrt", "x1", "--at", "x1=1", "--format", "json")
        assert result.code == 0, result.err  # exit 1 before: "the engines disagree"
        [d] = result.json()["derivatives"]
        assert d["agree"] is True and d["resolution"] >= d["abs_diff"] > 1e-9 * abs(d["symbolic_value"])
        assert 1e8 < d["condition"] < 1e10
        report = gradcli_module().diff("x1*y*(((1.0000001^1000)^1000)^1000)", wrt=["x1", "y"], order=2,
                                       at={"x1": 1.0, "y": 2.0})
        assert report.agree is True
        mixed = [d for d in report.derivatives if len(set(d.wrt)) == 2]
        assert mixed and all(d.resolution is not None and 1e8 < d.condition < 1e10 for d in mixed)
        assert all(d.resolution is None for d in report.derivatives if len(set(d.wrt)) == 1)  # exact 0s

    def test_diff_wrong_local_derivative_still_disagrees(self, monkeypatch):
        wrong = dataclasses.replace(OPS["sin"], local=lambda i, a, out: np.cos(a[0]) * (1 + 1e-6))
        monkeypatch.setitem(OPS, "sin", wrong)
        report = gradcli_module().diff("x*sin(x)", wrt=["x"], at={"x": 1.3})
        assert report.agree is False and report.derivatives[0].resolution is None

    def test_hessian_and_its_product(self, gradcli):
        args = ("hessian", f"{CONDITIONED} + b", "--data", "x1=1,y=0", "--params", "w=0.5,b=0.1", "--format", "json")
        for extra in ((), ("--hvp", "w=1,b=1")):
            result = gradcli(*args, *extra)
            assert result.code == 0, result.err  # exit 1 before: "symbolic and graph engine disagree"
            document = result.json()
            assert document["agree"] is True and document["resolution"] >= document["max_abs_diff"]
            assert 1e8 < document["resolution_condition"] < 1e10
            if not extra:
                assert document["condition"] > 1e100  # the Hessian's own condition number, unchanged

    def test_hessian_wrong_local_derivative_still_disagrees(self, monkeypatch):
        wrong = dataclasses.replace(OPS["sin"], local=lambda i, a, out: np.cos(a[0]) * (1 + 1e-6))
        monkeypatch.setitem(OPS, "sin", wrong)
        report = gradcli_module().hessian("b + sin(w*x1)", data={"x1": [0.3, 1.2], "y": [1.0, 0.5]},
                                          params={"w": 0.7, "b": 0.1})
        assert report.agree is False and report.resolution is None

    def test_nothing_widens_where_the_hessian_agrees(self):
        report = gradcli_module().hessian("b + w*x1", data={"x1": [0.3, 1.2], "y": [1.0, 0.5]},
                                          params={"w": 0.7, "b": 0.1})
        assert report.agree is True and report.resolution is None and report.resolution_condition is None


def gradcli_module():
    return gradcli
