"""The derivative graph: every operation's declared derivative expression against its numeric local
derivative, and generated expressions whose derivatives up to order 3 agree with SymPy's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from expression_cases import EXPRESSIONS, INPUTS, PARAMS
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from language.test_ops import ALL_OPS, points_for

from gradcli.engines.derivative import Evaluator, derivative, gradient
from gradcli.engines.symbolic import to_sympy
from gradcli.errors import GradcliError
from gradcli.language import build
from gradcli.language.expr import Call, Sym, parse, to_text
from gradcli.language.ops import OPS


def evaluate(expr, columns: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """The expression's value in every row, through the graph engine's forward pass."""
    from gradcli.engines.graph import build_graph, forward

    evaluator = Evaluator.of(expr, [], list(columns))
    graph = build_graph(evaluator.problem)
    values = forward(graph, {}, {**columns, "_target": 0.0}, rows)
    return np.broadcast_to(np.asarray(values[graph.output], dtype=np.float64), (rows,))


@pytest.mark.parametrize("name", [n for n in ALL_OPS if OPS[n].derivative is not None])
def test_every_declared_derivative_expression_is_the_numeric_local_derivative(name):
    op = OPS[name]
    args = points_for(op)
    count = len(args)
    symbols = [Sym(f"a{i}") for i in range(count)]
    node = Call(name, tuple(symbols)) if op.user or name not in ("add", "sub", "mul", "div", "pow", "neg",
                                                                  "identity") else None
    if node is None:  # operators are Binary/Unary nodes; build them through the parser's forms
        text = {"add": "a0 + a1 + a2", "sub": "a0 - a1", "mul": "a0*a1", "div": "a0/a1", "pow": "a0**a1",
                "neg": "-a0", "identity": "a0"}[name]
        node = parse(text) if name != "identity" else Call("identity", (Sym("a0"),))
        if name == "add":  # the table's add is n-ary; the parser makes it binary: check d/da0 and d/da1
            args = args[:2]
            count = 2
            node = parse("a0 + a1")
    kids = (node.args if isinstance(node, Call)
            else (node.operand,) if hasattr(node, "operand") else (node.left, node.right))
    columns = {f"a{i}": args[i] for i in range(count)}
    out = op.forward(*args)
    for position in range(count):
        expected = np.broadcast_to(np.asarray(op.local(position, args, out), dtype=np.float64), args[0].shape)
        expression = op.derivative(position, kids, node)
        got = evaluate(expression, columns, len(args[0]))
        finite = np.isfinite(expected)
        np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-9, atol=1e-12,
                                   err_msg=f"{name}, argument {position}: {to_text(expression)}")


def test_the_worked_example_derivatives_by_hand():
    # d/dx x**2*sin(x) = 2x sin x + x**2 cos x; d2 = 2 sin x + 4x cos x - x**2 sin x;
    # d3 = 6 cos x - 6x sin x - x**2 cos x
    x = 1.3
    expected = [2 * x * math.sin(x) + x * x * math.cos(x),
                2 * math.sin(x) + 4 * x * math.cos(x) - x * x * math.sin(x),
                6 * math.cos(x) - 6 * x * math.sin(x) - x * x * math.cos(x)]
    for order, value in enumerate(expected, start=1):
        d = derivative(parse("x**2*sin(x)"), "x", order)
        assert evaluate(d, {"x": np.array([x])}, 1)[0] == pytest.approx(value, rel=1e-13)


def test_backprop_through_the_derivative_graph_is_the_next_order():
    # The evaluator's sweep over d/dx gives d2/dx2 as its gradient (reverse over reverse).
    first = derivative(parse("x**2*sin(x)"), "x")
    value, (second,) = Evaluator.of(first, ["x"], []).run({"x": 1.3}, {}, 1)
    assert second == pytest.approx(2 * math.sin(1.3) + 4 * 1.3 * math.cos(1.3) - 1.69 * math.sin(1.3), rel=1e-13)


def test_the_gradient_shares_one_sweep_and_follows_only_paths_to_the_names():
    g = gradient(parse("sigmoid(b + w*x1) + exp(x2)"), ["b", "w"])
    assert to_text(g["b"]) == "sigmoid_slope(b + w*x1)"
    assert to_text(g["w"]) == "sigmoid_slope(b + w*x1)*x1"  # nothing of exp(x2): not on a path to w


def test_a_name_not_in_the_expression_has_derivative_zero():
    assert gradient(parse("x**2"), ["y"])["y"] == build.ZERO


def test_the_derivative_graph_has_a_size_budget():
    deep = Sym("x")
    for _ in range(12):  # sin(e)*cos(e), twelve deep: each order about triples the graph
        deep = build.mul(build.call("sin", deep), build.call("cos", deep))
    with pytest.raises(GradcliError, match="derivative graph grew past"):
        derivative(deep, "x", 8)


def test_the_budget_counts_shared_parts_once():
    # 2**40 paths, a few hundred distinct nodes: the DAG walk must not follow every path.
    expr = parse("x")
    for _ in range(40):
        expr = build.mul(expr, expr)
    from gradcli.engines.derivative import check_size

    assert check_size(gradient(expr, ["x"])["x"]) < 1000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(EXPRESSIONS, st.sampled_from(PARAMS), st.integers(1, 3),
       st.fixed_dictionaries({n: st.floats(-1.2, 1.2, allow_nan=False) for n in PARAMS + INPUTS}))
def test_every_order_up_to_3_agrees_with_sympy(text, name, order, point):
    expr = parse(text)
    symbols = {n: sp.Symbol(n, real=True) for n in PARAMS + INPUTS}
    reference = sp.diff(to_sympy(expr, symbols), symbols[name], order)
    with np.errstate(all="ignore"):
        expected = complex(reference.evalf(30, subs={symbols[n]: sp.Rational(repr(v)) for n, v in point.items()}))
    assume(abs(expected.imag) == 0 and math.isfinite(expected.real) and abs(expected.real) < 1e8)
    got = evaluate(derivative(expr, name, order), {n: np.array([v]) for n, v in point.items()}, 1)[0]
    assert got == pytest.approx(expected.real, rel=1e-7, abs=1e-9), (text, name, order, point)


class TestKeptPlans:
    """hessian_rows and hessian_vector_product keep each expression's compiled derivative graphs:
    the results are exactly those of building everything anew, at any point and over any rows."""

    @staticmethod
    def problem(rows: int = 300):
        from gradcli.setup import prepare

        rng = np.random.default_rng(5)
        data = {"x1": rng.normal(size=rows), "x2": rng.normal(size=rows), "y": rng.uniform(size=rows)}
        return prepare("sigmoid(b + w1*x1 + w2*x2*x1)", "bce", data, {"b": 0.1, "w1": -0.4, "w2": 0.7})

    @staticmethod
    def built_anew(expr, names, values, columns, rows, vector=None):
        derivatives = gradient(expr, names)
        if vector is not None:
            directional = build.add(*(build.mul(build.number(v), derivatives[n]) for n, v in zip(names, vector)))
            return Evaluator.of(directional, names, list(columns)).run(values, columns, rows)[1]
        runs = [Evaluator.of(derivatives[n], names, list(columns)).run(values, columns, rows) for n in names]
        return [mean for mean, _ in runs], [row for _, row in runs]

    def test_repeated_calls_give_exactly_the_results_built_anew(self):
        from gradcli.engines.derivative import hessian_rows, hessian_vector_product

        setup = self.problem()
        expr, names, columns, rows = setup.problem.loss, setup.chosen, setup.columns, setup.rows
        elsewhere = {"b": -0.3, "w1": 0.2, "w2": 1.1}
        for values in (setup.values, elsewhere, setup.values):
            anew = self.built_anew(expr, names, values, columns, rows)
            assert hessian_rows(expr, names, values, columns, rows) == anew
            for vector in ([1.0, 0.0, -2.5], [0.3, 0.3, 0.3]):
                assert hessian_vector_product(expr, names, vector, values, columns, rows) == \
                    self.built_anew(expr, names, values, columns, rows, vector)
        fewer = {name: column[:17] for name, column in columns.items()}  # other rows, same names
        anew = self.built_anew(expr, names, setup.values, fewer, 17)
        assert hessian_rows(expr, names, setup.values, fewer, 17) == anew

    def test_a_second_call_builds_nothing_and_another_expression_its_own(self, monkeypatch):
        from gradcli.engines import derivative
        from gradcli.engines.derivative import hessian_rows, hessian_vector_product

        setup = self.problem()
        expr, names, values, columns, rows = (setup.problem.loss, setup.chosen, setup.values, setup.columns,
                                              setup.rows)
        hessian_rows(expr, names, values, columns, rows)
        hessian_vector_product(expr, names, [1.0, 2.0, 3.0], values, columns, rows)
        built = []
        original = derivative.build_graph  # where the derivative engine looks it up
        monkeypatch.setattr(derivative, "build_graph", lambda problem: built.append(problem) or original(problem))
        hessian_rows(expr, names, {**values, "b": 2.0}, columns, rows)
        hessian_vector_product(expr, names, [1.0, 2.0, 3.0], values, columns, rows)
        assert built == []
        hessian_vector_product(expr, names, [1.0, 2.0, 4.0], values, columns, rows)  # v is in the graph
        assert len(built) == 1
        other = self.problem().problem.loss  # the same text, another expression: never served a stale plan
        _, matrix = hessian_rows(other, names, values, columns, rows)
        assert len(built) == 1 + len(names) and matrix == self.built_anew(other, names, values, columns, rows)[1]


def test_a_sum_read_by_a_sum_and_by_another_operation_stays_a_node():
    # In a derivative graph parts are shared: s = x + 1 sits in the sum s + log(s) and under the log.
    # The graph folded s into the n-ary sum and then had no node for the log to read (a KeyError).
    s = build.add(Sym("x"), build.ONE)
    expr = build.add(s, build.call("log", s))
    value, (slope,) = Evaluator.of(expr, ["x"], []).run({"x": 1.0}, {}, 1)
    assert value == pytest.approx(2 + math.log(2)) and slope == pytest.approx(1.5)


def test_the_case_hypothesis_found():
    expr = parse("log((2 + sin((w1 + log((1 + (w1)**2))))))")
    second = derivative(expr, "w1", 2)
    value = evaluate(second, {"w1": np.array([0.0])}, 1)[0]
    w1 = sp.Symbol("w1")
    expected = sp.diff(sp.log(2 + sp.sin(w1 + sp.log(1 + w1**2))), w1, 2).subs(w1, 0)
    assert value == pytest.approx(float(expected), rel=1e-12)
