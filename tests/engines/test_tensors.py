"""Vectors and matrices: the tensor engine against hand-written NumPy, against the same model written
out entry by entry (scalar graph and SymPy), and against finite differences; shapes and their errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from cli_runner import one_line_error
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.engines.graph import backprop, build_graph
from gradcli.engines.sweep import compile_plan, run
from gradcli.errors import DataError, GradcliError, ParseError
from gradcli.language.expansion import expand
from gradcli.language.problem import build_problem

NETWORK = "W2 @ tanh(W1 @ x + b1) + b2"


def network_by_hand(X, y, W1, b1, W2, b2):
    """The 2-layer network's mean squared error and its gradient, worked out by hand."""
    Z = X @ W1.T + b1
    H = np.tanh(Z)
    out = H @ W2 + b2
    r = out - y
    g = 2 * r / len(y)
    dZ = np.outer(g, W2) * (1 - H * H)
    return float(np.mean(r * r)), {"W1": dZ.T @ X, "b1": dZ.sum(0), "W2": H.T @ g, "b2": float(g.sum())}


def network_point(rows=5, d=2, h=2, seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(rows, d)), rng.normal(size=rows)
    params = {"W1": rng.normal(size=(h, d)), "b1": rng.normal(size=h), "W2": rng.normal(size=h), "b2": 0.3}
    return X, y, params


class TestAgainstHandWrittenNumPy:
    def test_values_and_every_gradient_of_a_two_layer_network(self):
        X, y, params = network_point()
        loss, expected = network_by_hand(X, y, **params)
        report = gradcli.gradients(NETWORK, data={"x": X, "y": y}, params=params)
        assert report.agree is True and report.witness == "symbolic"
        assert report.loss_value == pytest.approx(loss, rel=1e-14)
        for name, want in expected.items():
            got = report.tensors[name]
            assert got.shape == list(np.shape(want))
            np.testing.assert_allclose(got.backprop_value, want, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(got.symbolic_value, want, rtol=1e-12, atol=1e-15)

    @pytest.mark.parametrize("chunk", [1, 2, 7])
    def test_the_chunked_sweep_gives_the_same_numbers_at_any_chunk_size(self, chunk):
        X, y, params = network_point(rows=7)
        problem = build_problem(NETWORK, data_names=["x", "y"], data_shapes={"x": (2,)}, shapes={"W1": (2, 2)})
        graph = build_graph(problem)
        whole = backprop(graph, params, {"x": X, "y": y}, 7, list(problem.params))
        swept = run(compile_plan(graph, list(problem.params)), params, {"x": X, "y": y}, 7, chunk=chunk)
        np.testing.assert_allclose(swept.gradient, [whole.gradients[e] for e in problem.params], rtol=1e-13, atol=1e-15)
        assert swept.loss == pytest.approx(whole.loss_value, rel=1e-14)

    def test_columns_gathered_from_a_csv_like_mapping(self):
        X, y, params = network_point()
        data = {"x1": X[:, 0], "x2": X[:, 1], "y": y}
        gathered = gradcli.gradients(NETWORK, data=data, params=params, inputs={"x": "x1,x2"})
        by_default = gradcli.gradients(NETWORK, data=data, params=params)  # x gathers x1, x2 by name
        _, expected = network_by_hand(X, y, **params)
        for report in (gathered, by_default):
            np.testing.assert_allclose(report.tensors["W1"].backprop_value, expected["W1"], rtol=1e-12)


# ---------------------------------------------------------------- generated tensor expressions

D, H = 3, 2  # x has D entries, the layer H units

VECTOR_H = ["W @ x", "b", "v"]
SCALAR = ["c", "x1"]


@st.composite
def vectors(draw, depth=0):
    """An expression whose value is a vector of H entries."""
    if depth > 2 or draw(st.booleans()) and depth:
        return draw(st.sampled_from(VECTOR_H))
    kind = draw(st.sampled_from(["fn", "add", "mul", "scale", "max", "softmax", "matmul"]))
    a = draw(vectors(depth + 1))
    if kind == "fn":
        return f"{draw(st.sampled_from(['tanh', 'sigmoid', 'sin', 'softplus', 'exp']))}({a})"
    if kind == "softmax":
        return f"softmax({a})"
    if kind == "matmul":
        return f"U @ ({a})"  # U is H x H; parenthesised, since @ binds no tighter than *
    b = draw(vectors(depth + 1))
    if kind == "scale":
        return f"{draw(scalars(depth + 1))}*({a})"
    if kind == "max":
        return f"max({a}, {b})"
    return f"({a}) {'+' if kind == 'add' else '*'} ({b})"


@st.composite
def scalars(draw, depth=0):
    if depth > 2:
        return draw(st.sampled_from(SCALAR))
    kind = draw(st.sampled_from(["leaf", "sum", "dot", "lse", "mean", "vdot", "transpose"]))
    if kind == "leaf":
        return draw(st.sampled_from(SCALAR))
    a = draw(vectors(depth + 1))
    if kind == "sum":
        return f"sum({a})"
    if kind == "dot":
        return f"dot({a}, {draw(vectors(depth + 1))})"
    if kind == "lse":
        return f"logsumexp({a})"
    if kind == "mean":
        return f"mean({a})"
    if kind == "transpose":
        return f"sum(transpose(W) @ ({a}))"
    return f"v @ ({a})"


SHAPES = {"W": (H, D), "U": (H, H), "b": (H,), "v": (H,)}


@settings(max_examples=40, deadline=None)
@given(model=scalars(), seed=st.integers(0, 2**16), rows=st.integers(1, 4))
def test_the_tensor_engine_agrees_with_the_same_model_written_out_entry_by_entry(model, seed, rows):
    """Both engines on generated expressions with vectors and matrices: the tensor engine's VJPs and
    broadcasting against the scalar graph of the entrywise expansion (each entry its own parameter)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, D))
    x1, y = rng.normal(size=rows), rng.normal(size=rows)
    used = {name: shape for name, shape in SHAPES.items() if re.search(rf"\b{name}\b", model)}
    problem = build_problem(model, data_names=["x", "x1", "y"], data_shapes={"x": (D,)}, shapes=used)
    values = {e: float(v) for e, v in zip(problem.params, rng.normal(scale=0.7, size=len(problem.params)))}
    tensor = run(compile_plan(build_graph(problem), list(problem.params)), values,
                 {"x": X, "x1": x1, "y": y}, rows, chunk=int(rng.integers(1, 4)))
    scalar = expand(problem)
    columns = {"x1": x1, "y": y, **{f"x[{j + 1}]": X[:, j] for j in range(D)}}
    reference = backprop(build_graph(scalar), values, columns, rows, list(scalar.params), diagnose=False)
    assert tensor.loss == pytest.approx(reference.loss_value, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(tensor.gradient, [reference.gradients[e] for e in problem.params], rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------- the second witness

class TestWitness:
    def test_above_the_size_bound_finite_differences_along_random_directions_stand_in(self):
        X, y, params = network_point(rows=4, d=2, h=40)
        report = gradcli.gradients(NETWORK, data={"x": X, "y": y}, params=params)
        assert report.witness == "finite differences along 3 random directions"
        assert report.agree is True
        assert all(len(t.fd_directions) == (3 if t.shape else 1) for t in report.tensors.values())
        assert any("over SymPy's 64" in w and "finite differences" in w for w in report.warnings)

    def test_a_wrong_gradient_is_caught_by_the_directional_witness(self, monkeypatch):
        import gradcli.language.tensors as tensors

        real = tensors.matmul_vjp
        monkeypatch.setattr(tensors, "matmul_vjp", lambda i, g, a, b: 1.01 * real(i, g, a, b))
        X, y, params = network_point(rows=4, d=2, h=40)
        report = gradcli.gradients(NETWORK, data={"x": X, "y": y}, params=params)
        assert report.agree is False
        assert report.tensors["W1"].fd_agree is False

    def test_a_wrong_vjp_is_caught_by_sympy_entry_by_entry(self, monkeypatch):
        import gradcli.language.tensors as tensors

        real = tensors.matmul_vjp
        monkeypatch.setattr(tensors, "matmul_vjp", lambda i, g, a, b: 1.01 * real(i, g, a, b))
        X, y, params = network_point()
        report = gradcli.gradients(NETWORK, data={"x": X, "y": y}, params=params)
        assert report.witness == "symbolic" and report.agree is False


# ---------------------------------------------------------------- shapes

class TestShapes:
    def test_biases_and_the_output_layer_are_inferred(self):
        problem = build_problem(NETWORK, data_names=["x1", "x2", "y"], gathered={"x": ("x1", "x2")},
                                shapes={"W1": (4, 2)})
        assert problem.tensors == {"W2": (4,), "W1": (4, 2), "b1": (4,)}
        assert problem.shapes.names["b2"] == ()
        assert problem.params[:2] == ("W2[1]", "W2[2]") and "W1[4,2]" in problem.params

    def test_ce_asks_the_output_for_one_score_per_class(self):
        problem = build_problem(NETWORK, "ce", target="class", data_names=["x1", "x2", "class"],
                                gathered={"x": ("x1", "x2")}, shapes={"W1": (4, 2)}, classes=3)
        assert problem.tensors["W2"] == (3, 4) and problem.tensors["b2"] == (3,)

    def test_named_sizes(self):
        report = gradcli.gradients(NETWORK, data={"x1": [1.0], "x2": [2.0], "y": [0.5]},
                                   shapes=["W1=h,d"], dims=["h=3", "d=2"])
        assert report.tensors["W1"].shape == [3, 2] and report.agree is True

    def test_a_shape_that_does_not_fit_names_both_shapes_and_the_column(self):
        with pytest.raises(ParseError) as info:
            gradcli.gradients(NETWORK, data={"x1": [1.0], "x2": [2.0], "y": [0.5]}, shapes={"W1": "4x3"})
        message = str(info.value)
        assert "4x3" in message and "W1" in message and "x is 2" in message and "column 11" in message

    def test_elementwise_operands_that_do_not_broadcast(self):
        with pytest.raises(ParseError, match=r"3 and 2 do not broadcast.*column"):
            gradcli.gradients("sum(a + b)", shapes={"a": "3", "b": "2"})

    def test_a_matrix_whose_shape_nothing_fixes_is_asked_for(self):
        with pytest.raises(ParseError, match=r"shape of 'W1'.*--shape W1="):
            gradcli.gradients(NETWORK, data={"x1": [1.0], "x2": [2.0], "y": [0.5]})

    @pytest.mark.parametrize("shape, match", [
        ({"W1": "4y2"}, "not a shape"), ({"W1": "0x2"}, "size of 0"), ({"W1": "2x2x2"}, "3 axes"),
        ({"W1": "h,2"}, "--dim h="), ({"Q": "2"}, "does not use"), ({"W1": "100000x100000"}, "entries"),
    ])
    def test_bad_shapes(self, shape, match):
        with pytest.raises(GradcliError, match=match):
            gradcli.gradients(NETWORK, data={"x1": [1.0], "x2": [2.0], "y": [0.5]}, shapes=shape)

    def test_a_given_value_of_the_wrong_shape(self):
        with pytest.raises(GradcliError, match="W1"):
            gradcli.gradients(NETWORK, data={"x1": [1.0], "x2": [2.0], "y": [0.5]}, shapes={"W1": "3x2"},
                              params={"W1": np.ones((2, 2))})

    def test_ce_needs_class_indices(self):
        with pytest.raises(DataError, match=r"'class' is 1.5 at row 2"):
            gradcli.gradients(NETWORK, "ce", target="class", shapes={"W1": "3x2"},
                              data={"x1": [1.0, 2.0], "x2": [0.0, 1.0], "class": [0.0, 1.5]})

    def test_input_names_a_missing_column(self):
        with pytest.raises(DataError, match=r"--input x= names the column 'x3'"):
            gradcli.gradients(NETWORK, data={"x1": [1.0], "x2": [2.0], "y": [0.5]}, shapes={"W1": "3x2"},
                              inputs={"x": "x1,x3"})


class TestLanguage:
    def test_ce_is_softmax_cross_entropy_from_the_logits(self):
        z = np.array([[1.0, 2.0, 3.0]])
        report = gradcli.gradients("z0 + W @ x", "ce", target="k", data={"x": np.eye(3)[:1], "k": [2.0]},
                                   params={"W": np.zeros((3, 3)), "z0": z[0]})
        p = np.exp(z[0]) / np.exp(z[0]).sum()
        assert report.loss_value == pytest.approx(-np.log(p[2]), rel=1e-14)
        np.testing.assert_allclose(report.tensors["z0"].backprop_value, p - [0, 0, 1], rtol=1e-13)
        assert report.agree is True

    def test_ce_stays_finite_for_huge_scores(self):
        report = gradcli.gradients("z0", "ce", target="k", data={"k": [0.0]}, params={"z0": [1000.0, 0.0, -1000.0]},
                                   engines=("backprop",))
        assert report.loss_value == 0.0

    def test_mse_sums_over_a_vector_output(self):
        report = gradcli.gradients("W @ x", data={"x": [[1.0, 2.0]], "y": [1.0]},
                                   params={"W": [[1.0, 0.0], [0.0, 1.0]]})
        assert report.loss_value == pytest.approx((1 - 1) ** 2 + (2 - 1) ** 2)

    def test_bce_on_a_vector_of_independent_outputs_with_a_gathered_target(self):
        data = {"x1": [1.0, 0.5, -1.0], "x2": [2.0, -1.0, 0.3], "y1": [0.0, 1.0, 0.0], "y2": [1.0, 1.0, 0.0]}
        W, b = np.array([[0.3, -0.2], [0.1, 0.4]]), np.array([0.1, -0.1])
        report = gradcli.gradients("sigmoid(W @ x + b)", "bce", data=data, params={"W": W, "b": b},
                                   inputs={"x": "x1,x2", "y": "y1,y2"})
        X, Y = np.column_stack([data["x1"], data["x2"]]), np.column_stack([data["y1"], data["y2"]])
        p = 1 / (1 + np.exp(-(X @ W.T + b)))
        assert report.loss_value == pytest.approx(np.mean(np.sum(-(Y * np.log(p) + (1 - Y) * np.log(1 - p)), 1)))
        np.testing.assert_allclose(report.tensors["W"].backprop_value, (p - Y).T @ X / 3, rtol=1e-12)
        assert report.agree is True

    def test_attribute_transpose_stays_refused(self):
        with pytest.raises(ParseError, match="attribute"):
            gradcli.gradients("W.T @ x")

    def test_limits_count_the_expression_as_written(self):
        with pytest.raises(ParseError, match="nested deeper"):
            gradcli.gradients("sum(" * 101 + "x" + ")" * 101)


class TestReductionsInACustomLoss:
    """sum() and mean() in --loss: over a vector output they mean something; over a scalar they are refused."""

    POINT = {"data": {"x": np.array([[1.0, 1.0]]), "y": np.array([[3.0, 7.0]])},
             "params": {"W": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([0.5, -0.5])}}

    @pytest.mark.parametrize("loss, scale", [("sum((yhat - y)**2)", 1.0), ("mean((yhat - y)**2)", 0.5)])
    def test_over_a_vector_output_by_hand(self, loss, scale):
        # yhat = W @ [1, 1] + b = [3.5, 6.5]; r = yhat - y = [0.5, -0.5]; sum(r**2) = 0.5
        report = gradcli.gradients("W @ x + b", loss, **self.POINT)
        assert report.agree is True and report.witness == "symbolic"
        assert report.loss_value == 0.5 * scale
        assert report.tensors["b"].backprop_value == [1.0 * scale, -1.0 * scale]  # 2r
        assert report.tensors["W"].backprop_value == [[scale, scale], [-scale, -scale]]  # 2 r xᵀ
        assert report.tensors["W"].symbolic_value == report.tensors["W"].backprop_value

    def test_sum_is_what_the_default_vector_loss_is(self, gradcli, tmp_path):
        rows = "\n".join(f"{a},{b},{a + 2 * b + 0.1},{3 * a - b}" for a, b in [(1, 0), (0, 1), (2, 1), (1, 3)])
        (tmp_path / "v.csv").write_text("x1,x2,y1,y2\n" + rows + "\n")
        common = ("train", "v.csv", "--model", "W @ x + b", "--input", "y=y1,y2", "--format", "json", "--loss")
        summed = gradcli(*common, "sum((yhat - y)**2)")
        plain = gradcli(*common, "(yhat - y)**2")  # a vector loss is summed over its entries
        assert summed.code == 0 and plain.code == 0, summed.err
        assert summed.json()["loss"] == plain.json()["loss"]

    @pytest.mark.parametrize("args, needle", [
        (("train", "DATA", "--loss", "sum((yhat - y)**2)"), "sum() adds up the entries of a vector or a matrix"),
        (("train", "DATA", "--loss", "mean((yhat - y)**2)"), "mean() averages the entries"),
        (("grad", "w*x1 + b", "--data", "DATA", "--params", "w=1,b=0", "--loss", "sum((yhat - y)**2)"),
         "leave sum out"),
        (("grad", "sum(w*x1)", "--data", "DATA", "--params", "w=1"), "got a scalar"),
        (("grad", "transpose(w)*x1", "--data", "DATA", "--params", "w=1"), "transpose() takes a vector or a matrix"),
        (("hessian", "w*x1 + b", "--data", "DATA", "--params", "w=1,b=0", "--loss", "sum(yhat - y)**2"),
         "got a scalar"),
    ])
    def test_over_a_scalar_refused_in_one_line(self, gradcli, args, needle):
        data = str(Path(__file__).resolve().parents[2] / "samples" / "data.csv")
        one_line_error(gradcli(*(data if a == "DATA" else a for a in args)), needle)
