"""`diff` and `hessian` as a user relies on them: hand-derived values, the two engines on generated
expressions, JSON keys, and bad input as one line."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from cli_runner import one_line_error
from expression_cases import EXPRESSIONS, PARAMS
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.errors import GradcliError

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.fixture(autouse=True)
def generous_symbolic_budget(monkeypatch):
    """In-process calls get SymPy time enough on a loaded machine: these tests check values, not the
    budget (tests/engines check that)."""
    from gradcli.engines import symbolic

    monkeypatch.setattr(symbolic, "SYMBOLIC_SECONDS", 60.0)


def load(name: str) -> dict[str, np.ndarray]:
    rows = np.loadtxt(SAMPLES / name, delimiter=",", skiprows=1)
    header = (SAMPLES / name).read_text().splitlines()[0].split(",")
    return {column: rows[:, i] for i, column in enumerate(header)}


class TestDiff:
    def test_x_squared_sin_x_by_hand_at_every_order(self):
        x = 1.3
        by_hand = {1: 2 * x * math.sin(x) + x * x * math.cos(x),
                   2: 2 * math.sin(x) + 4 * x * math.cos(x) - x * x * math.sin(x),
                   3: 6 * math.cos(x) - 6 * x * math.sin(x) - x * x * math.cos(x)}
        for order, value in by_hand.items():
            report = gradcli.diff("x**2*sin(x)", "x", order, "x=1.3")
            (d,) = report.derivatives
            assert d.graph_value == pytest.approx(value, rel=1e-13)
            assert d.symbolic_value == pytest.approx(value, rel=1e-13)
            assert d.agree and d.fd_agree and report.agree

    def test_several_names_give_the_gradient_and_the_hessian(self):
        # f = x*y**2: grad (y**2, 2xy) = (4, 2); Hessian [[0, 2y], [2y, 2x]] = [[0, 4], [4, 1]]
        grad = gradcli.diff("x*y**2", at="x=0.5,y=2")
        assert grad.kind == "gradient" and grad.to_dict()["gradient"] == {"x": 4.0, "y": 2.0}
        hess = gradcli.diff("x*y**2", order=2, at={"x": 0.5, "y": 2})
        assert hess.kind == "hessian" and hess.to_dict()["hessian"] == [[0.0, 4.0], [4.0, 1.0]]

    def test_names_not_differentiated_are_held_at_their_values(self):
        report = gradcli.diff("a*x**3", "x", 2, "a=2,x=3")  # 6*a*x = 36
        assert report.derivatives[0].graph_value == 36.0

    # filter_too_much: the parameter drawn is not always in the expression drawn (assume below)
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(EXPRESSIONS, st.sampled_from(PARAMS), st.integers(1, 3),
           st.fixed_dictionaries({n: st.floats(-1.0, 1.0, allow_nan=False) for n in ["w1", "w2", "w3", "x1", "x2"]}))
    def test_generated_expressions_agree_at_every_order(self, text, name, order, point):
        from gradcli.language.expr import parse, symbols

        assume(name in symbols(parse(text)))
        try:
            report = gradcli.diff(text, name, order, point, readable=False)
        except GradcliError as err:  # an undefined point (log of 0, ...) is a clean error, never a crash
            assume("undefined" not in str(err))
            raise
        assert report.agree is not False, report.to_dict()

    def test_json_keys(self, gradcli):
        result = gradcli("diff", "x**2*sin(x)", "--wrt", "x", "--order", "2", "--at", "x=1.3", "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert {"expression", "kind", "order", "wrt", "point", "value", "derivatives", "agree", "rtol", "atol",
                "fd_rtol", "witness", "graph_nodes"} <= doc.keys()
        (d,) = doc["derivatives"]
        assert d["wrt"] == ["x", "x"] and d["agree"] is True and d["fd_agree"] is True
        assert d["symbolic"] is not None

    def test_csv_and_latex(self, gradcli):
        csv = gradcli("diff", "x*y**2", "--order", "2", "--at", "x=0.5,y=2", "--format", "csv").csv()
        assert csv[0] == ["wrt", "symbolic_value", "graph_value", "fd_value", "abs_diff", "agree"]
        assert [row[0] for row in csv[1:]] == ["x x", "x y", "y x", "y y"]
        latex = gradcli("diff", "x**2", "--wrt", "x", "--at", "x=3", "--format", "latex")
        assert latex.code == 0 and "\\begin{align*}" in latex.out and "= 6" in latex.out

    @pytest.mark.parametrize("args, needle", [
        (["x**2", "--wrt", "z", "--at", "x=1"], "'z' is not in the expression"),
        (["x**2"], "no value for x"),
        (["x*y", "--order", "3", "--at", "x=1,y=1"], "tensor"),
        (["x**2", "--at", "x=1", "--order", "9"], "highest order"),
        (["x**2", "--at", "x=1", "--order", "0"], "--order"),
        (["2**3", "--at", "x=1"], "no name"),
        (["log(x)", "--at", "x=-1"], "log"),
        (["x +* 2", "--at", "x=1"], "column"),
    ])
    def test_bad_input_is_one_line(self, gradcli, args, needle):
        one_line_error(gradcli("diff", *args), needle)


class TestHessian:
    def test_a_linear_model_with_mse_is_2_xtx_over_n(self):
        data = load("data.csv")
        report = gradcli.hessian("b + w1*x1 + w2*x2", data=data, params="b=0.3,w1=-1,w2=2")
        X = np.column_stack([np.ones(len(data["y"])), data["x1"], data["x2"]])
        np.testing.assert_allclose(report.hessian, 2 * X.T @ X / len(X), rtol=1e-12)
        np.testing.assert_allclose(report.symbolic, 2 * X.T @ X / len(X), rtol=1e-12)
        assert report.agree and report.fd_agree and report.convex
        assert report.eigenvalues == pytest.approx(sorted(np.linalg.eigvalsh(2 * X.T @ X / len(X))))

    def test_the_newton_step_of_a_quadratic_lands_on_least_squares(self):
        data = load("data.csv")
        report = gradcli.hessian("b + w1*x1 + w2*x2", data=data, params="b=0,w1=0,w2=0")
        X = np.column_stack([np.ones(len(data["y"])), data["x1"], data["x2"]])
        solution, *_ = np.linalg.lstsq(X, data["y"], rcond=None)
        np.testing.assert_allclose(report.newton_step, solution, rtol=1e-10)

    def test_the_sigmoid_model_with_bce_is_xtsx_over_n(self):
        data = load("clicks.csv")
        b, w1, w2 = 0.2, 0.5, -0.3
        report = gradcli.hessian("sigmoid(b + w1*x1 + w2*x2)", "bce", data, {"b": b, "w1": w1, "w2": w2})
        X = np.column_stack([np.ones(len(data["y"])), data["x1"], data["x2"]])
        p = 1 / (1 + np.exp(-(X @ [b, w1, w2])))
        expected = X.T @ (X * (p * (1 - p))[:, None]) / len(X)
        np.testing.assert_allclose(report.hessian, expected, rtol=1e-12)
        assert report.agree and report.convex

    def test_a_saddle_is_not_convex(self):
        report = gradcli.hessian("w2*tanh(w1*x1)", data={"x1": [1.0, -0.5], "y": [0.3, 0.1]}, params="w1=0,w2=0")
        assert report.convex is False and min(report.eigenvalues) < 0

    def test_one_hessian_vector_product_without_the_matrix(self):
        data = load("data.csv")
        full = gradcli.hessian("b + w1*x1 + w2*x2", data=data, params="b=0,w1=0,w2=0")
        product = gradcli.hessian("b + w1*x1 + w2*x2", data=data, params="b=0,w1=0,w2=0", hvp="w1=1,w2=-2")
        np.testing.assert_allclose(product.product, np.array(full.hessian) @ [0, 1, -2], rtol=1e-12)
        assert product.hessian is None and product.agree

    def test_json_keys(self, gradcli):
        result = gradcli("hessian", "sigmoid(b+w*x1)", "--loss", "bce", "--data", str(SAMPLES / "clicks.csv"),
                         "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert {"hessian", "eigenvalues", "condition", "agree", "convex", "newton_step", "gradient"} <= doc.keys()
        assert len(doc["eigenvalues"]) == 2 and doc["agree"] is True

    def test_bad_hvp_name_is_one_line(self, gradcli):
        one_line_error(gradcli("hessian", "b + w*x1", "--data", "x1=1,y=2", "--hvp", "z=1"), "'z'")


class TestWrtInputsAndTarget:
    """--wrt takes inputs and the target: d loss_r / d x in each row, by both engines."""

    NOTE = dict(data="x1=1.5,x2=2,y=1", params="b=0.5,w1=2,w2=-1")

    def test_at_the_note_point_by_hand(self):
        # loss = (b + w1*x1 + w2*x2 - y)**2, residual 0.5: d/dx1 = 2*0.5*w1 = 2, d/dy = -2*0.5 = -1
        report = gradcli.gradients("b+w1*x1+w2*x2", **self.NOTE, wrt="x1,w1,y")
        assert report.gradients["w1"].backprop_value == 1.5
        assert report.row_gradients["x1"].backprop_values == [2.0] and report.row_gradients["x1"].agree
        assert report.row_gradients["y"].symbolic_values == [-1.0] and report.row_gradients["y"].role == "target"
        assert report.agree is True

    def test_over_a_data_set_each_row_has_its_value(self):
        data = load("data.csv")
        report = gradcli.gradients("b+w1*x1+w2*x2", data=data, params="b=0.5,w1=2,w2=-1", wrt=["x2"])
        residual = 0.5 + 2 * data["x1"] - data["x2"] - data["y"]
        np.testing.assert_allclose(report.row_gradients["x2"].backprop_values, 2 * residual * -1, rtol=1e-12)
        np.testing.assert_allclose(report.row_gradients["x2"].symbolic_values, 2 * residual * -1, rtol=1e-12)
        assert report.gradients == {} and report.agree is True

    def test_the_default_stays_every_parameter(self):
        report = gradcli.gradients("b+w1*x1+w2*x2", **self.NOTE)
        assert list(report.gradients) == ["b", "w1", "w2"] and report.row_gradients == {}

    def test_json_and_csv_carry_every_row(self, gradcli):
        args = ["grad", "b+w1*x1", "--data", str(SAMPLES / "data.csv"), "--params", "b=0,w1=1", "--wrt", "x1,w1"]
        doc = gradcli(*args, "--format", "json").json()
        (row,) = doc["row_gradients"]
        assert row["name"] == "x1" and len(row["backprop_values"]) == 300 and row["agree"] is True
        lines = gradcli(*args, "--format", "csv").csv()
        assert lines[0][-1] == "row" and lines[1][0] == "w1" and lines[1][-1] == ""
        assert [line[-1] for line in lines[2:5]] == ["1", "2", "3"] and len(lines) == 2 + 300

    def test_a_name_that_is_nothing_lists_parameters_inputs_and_target(self, gradcli):
        one_line_error(gradcli("grad", "b+w1*x1", "--wrt", "zz"), "'zz'", "parameters: b, w1",
                       "inputs and target: x1, y")


def test_a_hessian_too_large_to_give_whole_says_to_use_hvp():
    from gradcli.tasks.hessian import MAX_MATRIX

    names = [f"w{i}" for i in range(MAX_MATRIX + 1)]
    model = " + ".join(f"{name}*x1" for name in names)
    with pytest.raises(GradcliError, match="--hvp"):
        gradcli.hessian(model, data={"x1": [1.0], "y": [0.0]})


def test_a_kinked_second_derivative_is_symbolic_and_zero_off_the_kink():
    # d2/dx2 abs(relu(x)) was DiracDelta(x) to SymPy, which lambdify cannot evaluate, so SymPy fell
    # silent. A step's derivative is 0 (the operations table's), so SymPy answers: abs(relu(x)) = x here.
    report = gradcli.diff("abs(relu(x))", "x", 2, "x=0.5")
    (second,) = report.derivatives
    assert report.witness == "symbolic" and second.symbolic_value == 0.0 and second.graph_value == 0.0


@pytest.mark.parametrize("expression, at, expected", [
    ("max(w, 2*w - 1)**2", "w=2", 8.0),  # (2w - 1)**2 wins: 8
    ("max(w, 2*w - 1)**2", "w=0", 2.0),  # w**2 wins: 2
    ("min(w, 2*w - 1)**2", "w=0", 8.0),
    ("min(w**3, 1)", "w=0.5", 3.0),  # w**3 wins: 6w
])
def test_second_derivatives_through_max_and_min(expression, at, expected):
    # max and min had no derivative rule in the table: the derivative graph failed (an internal error)
    report = gradcli.diff(expression, "w", 2, at)
    (second,) = report.derivatives
    assert second.graph_value == pytest.approx(expected, rel=1e-14)
    assert second.symbolic_value == pytest.approx(expected, rel=1e-14) and report.agree is True


def test_at_a_kink_nothing_is_compared_and_nothing_fails(gradcli):
    # relu(x) at x = 0: no derivative exists; finite differences straddle the kink (0.5), and at
    # order 2 they see a spike. Never a false "disagree": exit 0, the kink named.
    for order in ("1", "2"):
        result = gradcli("diff", "abs(relu(x))", "--at", "x=0", "--order", order, "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert doc["at_kink"] is True and doc["agree"] is None and "kink" in result.err


class TestExplainSecondOrder:
    NOTE = {"data": "x1=1.5,x2=2,y=1", "params": "b=0.5,w1=2,w2=-1"}

    def test_the_mixed_partial_as_backprop_through_the_backward_pass(self):
        # d2loss/dw1dw2 = 2*x1*x2 = 6: one path from g = dloss/dw1 back to w2, through the forward nodes
        ex = gradcli.explain("b+w1*x1+w2*x2", **self.NOTE, wrt="w1,w2", order=2)
        (step,) = ex.steps
        assert ex.order == 2 and ex.first == "w1" and step.param == "w2"
        assert step.symbolic_value == 6.0 and step.path_sum == 6.0 and step.agree
        (path,) = step.paths
        assert path.nodes == ["g", "a4", "a3", "yhat", "a2", "w2"] and path.local_values == [1.5, 2.0, 1.0, 1.0, 2.0]

    def test_one_name_gives_its_second_derivative(self):
        ex = gradcli.explain("w*x1 + w**2", data="x1=2,y=1", params="w=0.7", wrt="w", order=2)
        (step,) = ex.steps  # loss (w*x1 + w**2 - y)**2: d2/dw2 = 2*(x1 + 2w)**2 + 2*(yhat - y)*2
        yhat = 0.7 * 2 + 0.49
        assert step.path_sum == pytest.approx(2 * (2 + 1.4) ** 2 + 4 * (yhat - 1), rel=1e-12) and step.agree

    def test_the_program_says_so(self, gradcli):
        result = gradcli("explain", "b+w1*x1+w2*x2", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1",
                         "--wrt", "w1,w2", "--order", "2")
        assert result.code == 0, result
        assert "∂²loss/∂w1∂w2  = 2*x1*x2  = 6" in result.out and "g → a4 → a3 → yhat → a2 → w2" in result.out
        one_line_error(gradcli("explain", "b+w1*x1", "--order", "3"), "--order 1 or 2")
        one_line_error(gradcli("explain", "b+w1*x1", "--order", "2", "--format", "latex"), "text or json")


class TestHessianOfSomeParameters:
    """--wrt names some parameters: the others are held at their values. loss = (b w1 x1 + w1² - y)² at
    b = 0.5, w1 = 1, x1 = 1, y = 2: r = -0.5, d²loss/dw1² = 2 (b x1 + 2 w1)² + 4 r = 12.5 - 2 = 10.5.
    (It was an internal error: the derivative graph read b as a column it did not have.)"""

    MODEL, DATA, PARAMS = "b*w1*x1 + w1**2", {"x1": [1.0], "y": [2.0]}, {"b": 0.5, "w1": 1.0}

    def test_the_matrix(self):
        report = gradcli.hessian(self.MODEL, data=self.DATA, params=self.PARAMS, wrt="w1")
        assert report.hessian == [[pytest.approx(10.5, rel=1e-12)]] and report.agree

    def test_a_product(self):
        report = gradcli.hessian(self.MODEL, data=self.DATA, params=self.PARAMS, wrt="w1", hvp="w1=2")
        assert report.product == [pytest.approx(21.0, rel=1e-12)] and report.agree

    def test_the_program(self, gradcli):
        result = gradcli("hessian", "b + w1*x1", "--data", "x1=1,y=2", "--params", "b=0,w1=1", "--wrt", "w1")
        assert result.code == 0, result.err
        assert "eigenvalues: 2" in result.out
