"""The compiled, chunked sweep (gradcli/engines/sweep.py) against graph.backprop, the node-by-node reference.

Rows are independent, so the loss and the gradient must not depend on how the rows are cut
into chunks, nor on parameter x input products being folded into one matrix-vector product,
beyond float rounding.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from expression_cases import EXPRESSIONS, INPUTS, PARAM_VALUES
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import gradcli
from gradcli.engines.finite import all_finite
from gradcli.engines.graph import backprop, build_graph
from gradcli.engines.kinks import kinks
from gradcli.engines.sweep import CHUNK_ROWS, chunk_rows, compile_plan, run
from gradcli.errors import DataError, GradcliError, UndefinedError
from gradcli.setup import prepare


def setup_for(model: str, rows: int, loss: str = "mse", seed: int = 0, params: dict | None = None):
    rng = np.random.default_rng(seed)
    data = {name: rng.normal(size=rows) for name in ("x1", "x2", "x3")}
    data["y"] = rng.uniform(size=rows)
    setup = prepare(model, loss, {k: v for k, v in data.items() if re.search(rf"\b{k}\b", model) or k == "y"},
                    params)
    return setup, build_graph(setup.problem)


def reference(setup, graph):
    whole = backprop(graph, setup.values, setup.columns, setup.rows, setup.chosen)
    return whole.loss_value, [whole.gradients[name] for name in setup.chosen]


LINEAR = "b + w1*x1 + x2*w2 + w3*x3"
MIXED = "tanh(a + u1*x1 + u2*x2) * v + w1*x1*x2 + sigmoid(c + x3*w3 + w1*x1) + w2"


class TestCompile:
    def test_parameter_times_input_products_under_a_sum_become_one_matrix_vector_product(self):
        setup, graph = setup_for(LINEAR, 5)
        plan = compile_plan(graph, setup.chosen)
        [linear] = [step.linear for step in plan.steps if step.linear]
        assert linear.params == ("w1", "w2", "w3") and linear.inputs == ("x1", "x2", "x3")
        assert not any(step.op == "mul" for step in plan.steps)  # the products are folded away

    def test_other_products_stay_nodes(self):
        # param*param, input*input, param*constant and a lone product are not parameter x input pairs
        setup, graph = setup_for("w1*w2 + x1*x2 + 2*w3 + w4*x3", 5)
        plan = compile_plan(graph, setup.chosen)
        assert not any(step.linear for step in plan.steps)
        assert sum(step.op == "mul" for step in plan.steps) == 4

    def test_the_same_parameter_in_several_products(self):
        setup, graph = setup_for("w1*x1 + w1*x2 + w1 + x3*w1", 37)
        plan = compile_plan(graph, setup.chosen)
        [linear] = [step.linear for step in plan.steps if step.linear]
        assert linear.params == ("w1", "w1", "w1")
        loss, gradient = reference(setup, graph)
        result = run(plan, setup.values, setup.columns, setup.rows, chunk=5)
        assert result.loss == pytest.approx(loss, rel=1e-13)
        assert result.gradient == pytest.approx(gradient, rel=1e-12)

    def test_wide_inputs_get_shorter_chunks(self):
        model = "b + " + " + ".join(f"w{i}*x{i}" for i in range(1, 301))
        data = {f"x{i}": np.ones(3) for i in range(1, 301)} | {"y": np.zeros(3)}
        setup = prepare(model, "mse", data)
        plan = compile_plan(build_graph(setup.problem), setup.chosen)
        assert chunk_rows(plan) * 300 * 8 <= 4 << 20 and chunk_rows(plan) < CHUNK_ROWS


class TestChunkBoundaries:
    @pytest.mark.parametrize("model", [LINEAR, MIXED])
    @pytest.mark.parametrize("rows, chunk", [(1, 4), (10, 3), (10, 10), (11, 10), (64, 1), (100, 7),
                                             (CHUNK_ROWS + 1, None), (2 * CHUNK_ROWS - 1, None)])
    def test_same_numbers_as_one_sweep_over_all_rows(self, model, rows, chunk):
        setup, graph = setup_for(model, rows, seed=rows)
        loss, gradient = reference(setup, graph)
        result = run(compile_plan(graph, setup.chosen), setup.values, setup.columns, setup.rows, chunk=chunk)
        assert result.loss == pytest.approx(loss, rel=1e-12)
        assert result.gradient == pytest.approx(gradient, rel=1e-11, abs=1e-15)

    def test_a_single_row(self):
        report = gradcli.gradients("b + w1*x1 + w2*x2", "mse", {"x1": [1.5], "x2": [2.0], "y": [1.0]},
                                   {"b": 0.5, "w1": 2.0, "w2": -1.0}, engines=("backprop",))
        # the worked example: yhat = 0.5 + 3 - 2 = 1.5, residual 0.5, loss 0.25, gradients 2*0.5*(1, x1, x2)
        assert report.loss_value == 0.25
        assert [g.backprop_value for g in report.gradients.values()] == [1.0, 1.5, 2.0]

    def test_no_rows_is_an_error(self):
        setup, graph = setup_for(LINEAR, 3)
        with pytest.raises(DataError, match="no rows"):
            run(compile_plan(graph, setup.chosen), setup.values, setup.columns, 0)
        with pytest.raises(DataError, match="no rows"):
            gradcli.gradients(LINEAR, "mse", {"x1": [], "x2": [], "x3": [], "y": []})

    def test_a_chunk_size_below_one_is_refused(self):
        setup, graph = setup_for(LINEAR, 3)
        with pytest.raises(ValueError):
            run(compile_plan(graph, setup.chosen), setup.values, setup.columns, 3, chunk=-1)

    def test_the_loss_alone(self):
        setup, graph = setup_for(MIXED, 50)
        loss, _ = reference(setup, graph)
        result = run(compile_plan(graph, []), setup.values, setup.columns, 50, chunk=8)
        assert result.gradient == [] and result.loss == pytest.approx(loss, rel=1e-13)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inner=EXPRESSIONS, params=PARAM_VALUES, rows=st.integers(1, 40), chunk=st.integers(1, 45),
       seed=st.integers(0, 2**16), loss=st.sampled_from(["mse", "huber", "(yhat-y)**4"]))
def test_results_do_not_depend_on_the_chunk_size(inner, params, rows, chunk, seed, loss):
    """A random expression beside a folded linear part, swept in chunks of every size."""
    model = f"b + w1*x1 + x2*w2 + ({inner})"
    rng = np.random.default_rng(seed)
    data = {name: rng.uniform(-2, 2, rows) for name in [*INPUTS, "y"]}
    note(f"model={model!r} rows={rows} chunk={chunk}")
    try:
        setup = prepare(model, loss, data, {**params, "b": 0.3})
        graph = build_graph(setup.problem)
        loss_value, gradient = reference(setup, graph)
    except GradcliError:
        assume(False)
        return
    assume(np.isfinite(loss_value) and np.isfinite(gradient).all())
    plan = compile_plan(graph, setup.chosen)
    assert any(step.linear for step in plan.steps)
    for size in (chunk, rows, None):
        result = run(plan, setup.values, setup.columns, rows, chunk=size)
        assert result.loss == pytest.approx(loss_value, rel=1e-12, abs=1e-300)
        scale = max(1.0, *map(abs, gradient))
        assert result.gradient == pytest.approx(gradient, rel=1e-10, abs=1e-12 * scale)


class TestDiagnosis:
    def test_an_undefined_row_in_a_later_chunk_is_named_by_its_row_in_the_data(self):
        x = np.linspace(1, 2, 30)
        x[24] = -1.0  # row 25, in the fourth chunk of 8
        setup = prepare("log(w*x1)", "mse", {"x1": x, "y": np.zeros(30)}, {"w": 1.0})
        plan = compile_plan(build_graph(setup.problem), setup.chosen)
        with pytest.raises(UndefinedError, match=r"log is undefined at row 25\b"):
            run(plan, setup.values, setup.columns, 30, chunk=8, diagnose=True)
        assert not run(plan, setup.values, setup.columns, 30, chunk=8).finite()  # training sees a nan

    def test_kinks_are_found_in_every_chunk_with_their_rows(self):
        x = np.linspace(1, 2, 20)
        x[[2, 19]] = 0.0
        setup = prepare("relu(w*x1) + b", "mse", {"x1": x, "y": np.zeros(20)}, {"w": 1.0, "b": 0.0})
        graph = build_graph(setup.problem)
        result = run(compile_plan(graph, setup.chosen), setup.values, setup.columns, 20, chunk=8, find_kinks=True)
        whole = kinks(graph, backprop(graph, setup.values, setup.columns, 20, setup.chosen).values, 20)
        assert [k.rows for k in result.kinks] == [k.rows for k in whole] == [(3, 20)]

    def test_absolute_terms_are_the_sum_of_the_per_row_terms_sizes(self):
        x1, y = np.array([1.0, -2.0, 3.0]), np.array([0.0, 1.0, -1.0])
        setup = prepare("w1*x1 + w2*x1", "mse", {"x1": x1, "y": y}, {"w1": 0.5, "w2": 0.25})
        result = run(compile_plan(build_graph(setup.problem), setup.chosen), setup.values, setup.columns, 3,
                     chunk=2, abs_terms=True)
        per_row = 2 * (0.75 * x1 - y) * x1 / 3  # d loss/d w1 = d loss/d w2 per row
        assert result.gradient == pytest.approx([per_row.sum()] * 2, rel=1e-14)
        assert result.abs_terms == pytest.approx([np.abs(per_row).sum()] * 2, rel=1e-14)


class TestAllFinite:
    @pytest.mark.parametrize("size", [1, 100, 5000, 100_000])
    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_one_bad_value_anywhere(self, size, bad):
        for where in {0, size // 2, size - 1}:
            values = np.ones(size)
            values[where] = bad
            assert not all_finite(values)

    def test_huge_finite_values_whose_squares_overflow(self):
        assert all_finite(np.full(10_000, 1e300))
        assert all_finite(np.zeros(0))

    @pytest.mark.parametrize("column", ["x1", "x2", "y"])
    @pytest.mark.parametrize("w1", [0.0, 2.0])  # a zero coefficient hides a column from the product
    @pytest.mark.parametrize("bad", [np.nan, np.inf])
    def test_the_sweep_names_a_bad_value_in_a_folded_column_or_the_target(self, column, w1, bad):
        rows = 70_000  # three chunks
        data = {name: np.ones(rows) for name in ("x1", "x2", "y")}
        data[column][rows - 5] = bad
        with pytest.raises(DataError, match=rf"data '{column}': row {rows - 4} is {bad}"):
            gradcli.gradients("b + w1*x1 + w2*x2", "mse", data, {"b": 0.0, "w1": w1, "w2": 1.0},
                              engines=("backprop",))

    def test_a_bad_value_in_a_column_the_model_does_not_use_is_still_an_error(self):
        data = {"x1": np.ones(70_000), "x3": np.ones(70_000), "y": np.zeros(70_000)}
        data["x3"][65_536] = np.nan
        with pytest.raises(DataError, match=r"data 'x3': row 65537 is nan"):
            gradcli.gradients("w*x1", "mse", data, {"w": 0.5})

    def test_the_api_names_the_column_and_row(self):
        x = np.ones(10_000)
        x[6_789] = np.inf
        with pytest.raises(DataError, match=r"data 'x1': row 6790 is inf"):
            gradcli.gradients("w*x1", "mse", {"x1": x, "y": np.zeros(10_000)})


# ---------------------------------------------------------------- the symbolic engine at scale

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inner=EXPRESSIONS, loss=st.sampled_from(["mse", "huber", "(yhat-y)**4", "mae"]),
       point=st.lists(st.integers(-9, 9), min_size=6, max_size=6))
def test_derivatives_of_large_losses_with_constant_parts_frozen_agree_with_sympy_diff(inner, loss, point):
    """Above FREEZE_ABOVE_NODES the parts of a sum or product without the parameter are frozen into
    a stand-in before differentiating; the result must be sympy.diff's, at any point."""
    import sympy as sp

    from gradcli.engines import symbolic
    from gradcli.language.problem import build_problem

    problem = build_problem(f"b + w1*x1 + x2*w2 + w3*x1*x2 + ({inner})", loss, data_names=INPUTS)
    plain = symbolic.SymbolicLoss(problem)
    frozen = symbolic.SymbolicLoss(problem)
    frozen._nodes = symbolic.FREEZE_ABOVE_NODES + 1  # as if the loss were large
    at = {symbol: sp.Rational(value, 4) for symbol, value in zip(plain.symbols.values(), point * 2)}
    for name in problem.params:
        expected, got = plain.derivative(name), frozen.derivative(name)
        note(f"{name}: {expected} vs {got}")
        if got == expected:
            continue
        a, b = _number(expected.xreplace(at)), _number(got.xreplace(at))
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12) or not (np.isfinite(a) and np.isfinite(b)), name


def _number(expression) -> complex:
    try:
        return complex(expression.evalf(30))
    except (TypeError, ValueError, ZeroDivisionError):  # zoo, nan, an unevaluated form
        return complex("nan")
