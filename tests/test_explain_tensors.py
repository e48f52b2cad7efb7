"""explain and graph on vectors and matrices (issue 11, items 5 and 6), in process.

The matrix form explain derives from the tensor graph is checked against a forward and backward
pass written here by hand in NumPy for the README's 3x2 network, at the point and over a batch;
the path sums over the written-out (neuron by neuron) graph against the matrix gradient's entries;
graph's DOT through Graphviz, its Mermaid and JSON for shapes and VJP formulas; the limits of
--neurons and the errors, each one line and exit 2.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

import gradcli
from gradcli.errors import GradcliError
from gradcli.views.explain import explanation_json, explanation_text
from gradcli.views.graph import graph_dot, graph_mermaid, graph_tree

LAYER = "W2 @ tanh(W1 @ x + b1) + b2"
POINT = "x1=1,x2=2,y=0.5"  # the README's point
ROWS = {"x1": [1.0, -0.5, 2.0, 0.3], "x2": [2.0, 1.5, -1.0, 0.0], "y": [0.5, -1.0, 0.25, 2.0]}


def rendered(render, value) -> str:
    out = io.StringIO()
    render(value, out)
    return out.getvalue()


def by_hand(params: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """The network's forward and backward pass over rows x (N x 2), for the mean of (yhat - y)**2."""
    W1, b1 = np.array(params["W1"]), np.array(params["b1"])
    W2, b2 = np.array(params["W2"]), float(params["b2"])
    z1 = x @ W1.T + b1  # N x 3
    h1 = np.tanh(z1)
    yhat = h1 @ W2 + b2  # N
    n = len(y)
    d2 = 2 * (yhat - y) / n  # δ2 = ∂loss/∂yhat, row by row
    d1 = np.outer(d2, W2) * (1 - h1**2)  # δ1 = (W2ᵀ δ2) ⊙ (1 - h1²), N x 3
    return {"z1": z1, "h1": h1, "yhat": yhat, "loss": np.mean((yhat - y) ** 2), "d2": d2, "d1": d1,
            "W2": h1.T @ d2, "b2": d2.sum(), "W1": d1.T @ x, "b1": d1.sum(axis=0)}


@pytest.fixture(scope="module")
def point():
    """explain --wrt W1 at the README point (every parameter's default: the seeded draw)."""
    return gradcli.explain(LAYER, data=POINT, shapes=["W1=3x2"], wrt="W1")


@pytest.fixture(scope="module")
def every():
    """explain with every parameter, at row 2 of four rows (the batch step over all four)."""
    return gradcli.explain(LAYER, data=ROWS, shapes=["W1=3x2"], row=2)


def step(ex, label):
    return next(s for s in ex.backward if s.label == label)


def forward(ex, name):
    return next(s for s in ex.forward if s.name == name)


# ---------------------------------------------------------------- the matrix form, against NumPy


class TestMatrixForm:
    def test_the_numbers_are_a_forward_and_backward_pass_by_hand(self, point):
        hand = by_hand(point.view.params, np.array([[1.0, 2.0]]), np.array([0.5]))
        assert point.view.loss_value == pytest.approx(hand["loss"], abs=1e-14)
        assert forward(point, "a1").value.values == pytest.approx(hand["z1"][0])
        assert forward(point, "a3").value.values == pytest.approx(hand["h1"][0])
        assert forward(point, "yhat").value.values == pytest.approx(hand["yhat"][0])
        assert step(point, "δyhat").value.values == pytest.approx(hand["d2"][0])  # δ2 = ∂loss/∂z2
        assert step(point, "δa2").value.values == pytest.approx(hand["d1"][0])  # δ1, before tanh
        assert np.allclose(step(point, "∂loss/∂W1").value.values, hand["W1"], rtol=1e-12, atol=1e-15)
        assert point.agree is True

    def test_each_step_is_a_matrix_product_with_its_shape(self, point):
        rows = {s.label: (s.formula, s.shape) for s in point.backward}
        assert rows["δa3"] == ("W2ᵀ @ δa4", [3])
        assert rows["δa2"] == ("δa3 ⊙ (1 - a3**2)", [3])
        assert rows["∂loss/∂W1"] == ("δa1 @ xᵀ", [3, 2])
        assert [s.label for s in point.backward][0] == "δloss" and point.backward[-1].label == "∂loss/∂W1"
        assert "∂loss/∂W2" not in rows  # --wrt W1: the sweep walks only what W1 needs
        assert (forward(point, "a1").formula, forward(point, "a1").shape) == ("W1 @ x", [3])

    def test_every_parameter_without_wrt(self, every):
        rows = {s.label: s.formula for s in every.backward}
        assert rows["∂loss/∂W2"] == "δa4 @ a3ᵀ" and rows["∂loss/∂b1"] == "δa2" and rows["∂loss/∂b2"] == "δyhat"
        assert [g.param for g in every.gradients] == ["W2", "W1", "b1", "b2"]
        assert all(g.agree for g in every.gradients)

    def test_the_batch_step_has_n_and_the_numbers_over_the_rows(self, every):
        assert every.rows == 4
        x, y = np.column_stack([ROWS["x1"], ROWS["x2"]]), np.array(ROWS["y"])
        hand = by_hand(every.view.params, x, y)
        W1 = step(every, "∂loss/∂W1")
        assert (W1.batch_formula, W1.batch_shape) == ("Δa1ᵀ @ X", "3x2")
        assert np.allclose(W1.batch_value.values, hand["W1"], rtol=1e-12, atol=1e-15)  # the mean loss's gradient
        assert np.allclose(step(every, "∂loss/∂W2").batch_value.values, hand["W2"], rtol=1e-12, atol=1e-15)
        assert step(every, "∂loss/∂b1").batch_formula == "Σₙ Δa2"
        assert step(every, "δa2").batch_shape == "N x 3" and step(every, "δa2").batch_formula == "Δa3 ⊙ (1 - A3**2)"
        assert np.allclose(step(every, "δa2").batch_value.values, hand["d1"], rtol=1e-12, atol=1e-15)
        assert step(every, "δa3").batch_formula == "Δa4 ⊗ W2"
        assert forward(every, "a1").batch_formula == "X @ W1ᵀ" and every.batch_leaves["X"] == "N x 2"
        # the point is row 2 alone
        at_row = by_hand(every.view.params, x[1:2], y[1:2])
        assert np.allclose(step(every, "∂loss/∂W1").value.values, at_row["W1"], rtol=1e-12, atol=1e-15)

    def test_the_counts_set_the_matrix_sweep_against_the_scalar_graph_and_sympy(self, point):
        c = point.op_counts
        # W1 @ x: 3x2 multiply-adds forward and 3x2 back (δa1 xᵀ); W2 @ a3 3 forward, 3 back (W2ᵀ δa4)
        assert c.multiply_adds == 6 + 6 + 3 + 3
        assert c.total == sum(c.forward.values()) + sum(c.local.values()) + sum(c.reverse.values())
        assert c.scalar.backprop_total == c.total  # the same arithmetic, organised as matrix products
        assert c.symbolic and c.scalar.symbolic_total > 3 * c.total
        assert set(c.scalar.symbolic_per_param) == set(point.chosen) == {f"W1[{i},{j}]" for i in (1, 2, 3)
                                                                          for j in (1, 2)}


# ---------------------------------------------------------------- one entry through the scalar graph


class TestEntry:
    def test_the_first_entry_path_sum_equals_the_matrix_entry(self, point):
        entry = point.entry
        assert entry.param == "W1[1,1]" and entry.of == "W1"
        W1 = step(point, "∂loss/∂W1").value.values
        assert entry.matrix_value == W1[0][0]
        assert entry.steps.paths_total == 1 and entry.steps.path_sum == pytest.approx(W1[0][0], rel=1e-12)
        assert entry.agree is True and entry.symbolic_agree is True
        assert entry.steps.paths[0].nodes[-1] == "W1[1,1]" and entry.steps.paths[0].locals[-1] == "x1"

    def test_entry_chooses_and_unknown_entries_are_refused(self):
        ex = gradcli.explain(LAYER, data=POINT, shapes=["W1=2x2"], wrt="W1", entry="W1[2,1]")
        W1 = step(ex, "∂loss/∂W1").value.values
        assert ex.entry.param == "W1[2,1]" and ex.entry.steps.path_sum == pytest.approx(W1[1][0], rel=1e-12)
        with pytest.raises(GradcliError, match=r"--entry 'W1\[3,1\]' is not an entry of a parameter"):
            gradcli.explain(LAYER, data=POINT, shapes=["W1=2x2"], wrt="W1", entry="W1[3,1]")
        with pytest.raises(GradcliError, match=r"not among the parameters --wrt asks for \(W1\)"):
            gradcli.explain(LAYER, data=POINT, shapes=["W1=2x2"], wrt="W1", entry="W2[1]")
        with pytest.raises(GradcliError, match="this model has none"):
            gradcli.explain("b + w*x1", entry="w")

    def test_the_neurons_path_sums_are_the_matrix_gradient(self):
        """Σ over paths of Π local_value in graph --neurons' JSON, walked here, for every entry."""
        tensors = gradcli.graph(LAYER, data=POINT, shapes=["W1=2x2"]).to_dict()
        neurons = gradcli.graph(LAYER, data=POINT, shapes=["W1=2x2"], neurons=True).to_dict()
        adjoints = {n["name"]: n["adjoint"]["values"] for n in tensors["nodes"] if n["role"] == "parameter"}
        sums = path_sums(neurons)
        names = {n["id"]: n["name"] for n in neurons["nodes"]}
        found = {names[i]: total for i, total in sums.items()}
        for name, values in adjoints.items():
            flat = np.ravel(values)
            entries = [n for n in found if n == name or n.startswith(name + "[")]
            assert len(entries) == flat.size
            for entry, value in zip(entries, flat):
                assert found[entry] == pytest.approx(value, rel=1e-12, abs=1e-15), entry


def path_sums(doc: dict) -> dict[int, float]:
    into: dict[int, list[dict]] = {}
    for edge in doc["edges"]:
        into.setdefault(edge["to"], []).append(edge)
    total = {n["id"]: 0.0 for n in doc["nodes"]}
    total[doc["output"]] = 1.0
    for node_id in sorted(total, reverse=True):  # ids are topological
        for edge in into.get(node_id, []):
            if edge["local_value"] is not None:
                total[edge["from"]] += total[node_id] * edge["local_value"]
    return {n["id"]: total[n["id"]] for n in doc["nodes"] if n["role"] == "parameter"}


# ---------------------------------------------------------------- the graph with shapes


@pytest.fixture(scope="module")
def view():
    return gradcli.graph(LAYER, shapes=["W1=3x2"], highlight="W1")  # no data: x is a vector of 2 ones


class TestGraph:
    def test_one_node_per_tensor_operation_with_its_shape(self, view):
        doc = view.to_dict()
        nodes = {n["name"]: n for n in doc["nodes"]}
        assert doc["tensor"] is True and doc["shapes"]["x"] == [2] and doc["shapes"]["W2"] == [3]
        assert nodes["a1"]["op"] == "matmul" and nodes["a1"]["shape"] == [3] and nodes["a1"]["batched"]
        assert nodes["W1"]["shape"] == [3, 2] and np.shape(nodes["W1"]["value"]["values"]) == (3, 2)
        assert len(doc["nodes"]) == 14  # not one node per neuron
        assert doc["params"]["W1"] == nodes["W1"]["value"]["values"]

    def test_every_edge_carries_its_vjp_as_formula_and_numbers(self, view):
        doc = view.to_dict()
        name = {n["id"]: n["name"] for n in doc["nodes"]}
        edges = {(name[e["from"]], name[e["to"]]): e for e in doc["edges"]}
        w1 = edges[("W1", "a1")]
        assert w1["vjp"] == "G @ xᵀ" and w1["local"] is None
        assert w1["vjp_value"]["values"] == doc["nodes"][w1["from"]]["adjoint"]["values"]  # one path into W1
        tanh = edges[("a2", "a3")]
        assert tanh["vjp"] == "G ⊙ (1 - a3**2)" and tanh["local"] == "1 - a3**2"
        assert edges[("a3", "a4")]["vjp"] == "W2ᵀ @ G"
        assert edges[("2", "loss")]["vjp"] is None  # from a constant: bare
        assert doc["highlight"]["param"] == "W1" and name[doc["output"]] == "loss"

    def test_mermaid_and_the_tree_show_shapes_and_vjps(self, view):
        mermaid = rendered(graph_mermaid, view)
        assert mermaid.startswith("flowchart BT\n")
        assert re.search(r'n1\["W1<br/>parameter, 3x2, value \[\[', mermaid)
        assert '-->|"VJP G @ xᵀ = [[' in mermaid
        assert len(re.findall(r"^  n\d+\[", mermaid, re.M)) == len(view.nodes)
        tree = rendered(graph_tree, view)
        assert "a1 = W1 @ x  matmul, 3, value [" in tree and "◂ VJP W2ᵀ @ G = [" in tree
        assert "» marks the paths from the loss to W1" in tree

    def test_dot_through_graphviz(self, view):
        dot = shutil.which("dot")
        if dot is None:
            pytest.skip("Graphviz's `dot` is not installed (apt-get install graphviz; .ci/run installs it)")
        neurons = gradcli.graph(LAYER, shapes=["W1=2x2"], neurons=True, highlight="W1[2,1]")
        for drawn in (view, neurons):
            text = rendered(graph_dot, drawn)
            proc = subprocess.run([dot, "-Tsvg"], input=text.encode(), capture_output=True, timeout=60)
            assert proc.returncode == 0 and b"<svg" in proc.stdout, proc.stderr.decode()
        assert 'label="VJP G @ xᵀ = [[' in rendered(graph_dot, view)

    def test_large_tensors_are_summarised(self):
        doc = gradcli.graph("W2 @ tanh(W1 @ x + b1) + b2", shapes=["W1=5x4"]).to_dict()
        w1 = next(n for n in doc["nodes"] if n["name"] == "W1")
        assert w1["value"]["values"] is None and w1["value"]["shape"] == [5, 4]
        assert w1["value"]["min"] <= w1["value"]["max"] and w1["value"]["norm"] > 0
        assert "5x4: min " in rendered(graph_tree, gradcli.graph("W2 @ tanh(W1 @ x + b1) + b2", shapes=["W1=5x4"]))

    def test_neurons_draws_the_scalar_graph_with_the_scalar_views(self):
        neurons = gradcli.graph(LAYER, data=POINT, shapes=["W1=2x2"], neurons=True, highlight="W1")
        doc = neurons.to_dict()
        names = {n["name"] for n in doc["nodes"]}
        assert {"W1[1,1]", "W1[2,2]", "x1", "x2", "W2[2]", "b1[1]"} <= names and "W1" not in names
        assert "neuron by neuron" in doc["notes"][0]
        marked = {n["name"] for n in doc["nodes"] if n["id"] in doc["highlight"]["nodes"]}
        assert {"W1[1,1]", "W1[1,2]", "W1[2,1]", "W1[2,2]"} <= marked and "b1[1]" not in marked

    def test_neurons_over_its_limit_and_unknown_names(self):
        with pytest.raises(GradcliError, match="at most 64 parameter entries, and this one has 81"):
            gradcli.graph(LAYER, shapes=["W1=8x8"], neurons=True)
        with pytest.raises(GradcliError, match=r"--highlight 'W3' is not a parameter .*\(parameters: W2, W1, b1, b2\)"):
            gradcli.graph(LAYER, shapes=["W1=3x2"], highlight="W3")


# ---------------------------------------------------------------- explain's text and JSON, --wrt


class TestExplainOutput:
    def test_text(self, point):
        text = rendered(explanation_text, point)
        for part in ("1. The layers, forward", "2. The backward pass, layer by layer as matrix products",
                     "∂loss/∂W1  = δa1 @ xᵀ           3x2", "3. The same sweep over the batch",
                     "∂loss/∂W1  = Δa1ᵀ @ X", "4. One entry, W1[1,1], by the sum over paths",
                     "loss → a16 → yhat → a5 → a4 → a3 → a1 → W1[1,1]", "= the matrix form's ∂loss/∂W1[1,1]",
                     "Calculate once, use many times", "every check passes"):
            assert part in text, part

    def test_json(self, point):
        doc = json.loads(rendered(explanation_json, point))
        assert doc["tensor"] is True and doc["rows"] == 1 and doc["shapes"]["W1"] == [3, 2]
        last = doc["backward"][-1]
        assert (last["label"], last["formula"], last["batch_formula"], last["shape"]) == (
            "∂loss/∂W1", "δa1 @ xᵀ", "Δa1ᵀ @ X", [3, 2])
        assert doc["entry"]["param"] == "W1[1,1]" and doc["entry"]["agree"] is True
        assert doc["entry"]["path_sum"] == pytest.approx(doc["entry"]["matrix_value"], rel=1e-12)
        assert doc["gradients"][0]["param"] == "W1" and len(doc["gradients"][0]["entries"]) == 6
        assert doc["op_counts"]["matrix"]["multiply_adds"] == 18
        assert doc["op_counts"]["scalar_graph"]["backprop_total"] == doc["op_counts"]["matrix"]["total"]
        assert doc["agree"] is True

    def test_wrt_unknown_names_and_latex(self):
        with pytest.raises(GradcliError, match=r"--wrt 'W3' is not a parameter of this model "
                                               r"\(parameters: W2, W1, b1, b2\)"):
            gradcli.explain(LAYER, data=POINT, shapes=["W1=3x2"], wrt="W3")
        with pytest.raises(GradcliError, match="text or json"):
            gradcli.explain(LAYER, data=POINT, shapes=["W1=3x2"], sympy_forms=True)

    def test_the_cli_refuses_in_one_line(self):
        from gradcli.cli import app

        for args, needle in (
            (["graph", LAYER, "--shape", "W1=8x8", "--neurons"], "at most 64 parameter entries"),
            (["explain", LAYER, "--shape", "W1=3x2", "--wrt", "W3"], "--wrt 'W3' is not a parameter"),
        ):
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 2, result.output
            assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
            assert result.stderr.startswith("gradcli: error: ") and needle in result.stderr
