"""`gradcli graph`: the computational graph with values, adjoints and local derivatives on its edges.

JSON's promise (multiply local_value along every path from `output` to a
parameter, add the paths: that is the gradient) checked by walking the edges
here, independently of graph.paths; DOT accepted by Graphviz's own `dot`;
Mermaid with one node per graph node; the terminal tree; --highlight; errors.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess

import pytest
from cli_runner import ANSI, one_line_error, probe
from expression_cases import EXPRESSIONS, PARAM_VALUES, plain_formulas
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

import gradcli as package
from gradcli.errors import GradcliError
from gradcli.explaining.scalars import JSON_ROLES
from gradcli.tasks.graph import graph_view
from gradcli.views.graph import graph_dot, graph_json, graph_mermaid, graph_tree

NOTE_CLI = ["b+w1*x1+w2*x2", "--loss", "mse", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]
NODE_KEYS = {"id", "name", "op", "value", "adjoint", "role"}
EDGE_KEYS = {"from", "to", "local", "local_value"}
MODELS = [
    ("b+w1*x1+w2*x2", "mse"),
    ("w*x1 + w**2", "mse"),
    ("w*w", "mse"),
    ("tanh(w*x1 + b)", "mse"),
    ("2**w / (1 + x1**2) - pi*b", "huber"),
    ("sigmoid(w*x1 + b)", "bce"),
    ("w", "yhat"),
    ('w*x1 + b', "(yhat - y)**2 + yhat"),
]


def path_sums(doc: dict) -> dict[int, float]:
    """Σ over paths from `output` of Π local_value, for every node, by walking JSON edges (memoised, top down)."""
    into: dict[int, list[dict]] = {}
    for edge in doc["edges"]:
        into.setdefault(edge["to"], []).append(edge)
    order = sorted({n["id"] for n in doc["nodes"]}, reverse=True)  # ids are topological: consumers after inputs
    total = {i: 0.0 for i in order}
    total[doc["output"]] = 1.0
    for node_id in order:
        for edge in into.get(node_id, []):
            if total[node_id] and edge["local_value"] is not None:
                total[edge["from"]] += total[node_id] * edge["local_value"]
    return total


def view_doc(model: str, loss: str = "mse", **kwargs) -> dict:
    return graph_view(model, loss, **kwargs).to_dict()


def rendered(render, view) -> str:
    out = io.StringIO()
    render(view, out)
    return out.getvalue()


# ---------------------------------------------------------------- JSON


class TestJson:
    def test_the_note(self):
        doc = view_doc("b+w1*x1+w2*x2", data={"x1": [1.5], "x2": [2.0], "y": [1.0]},
                       params={"b": 0.5, "w1": 2.0, "w2": -1.0})
        nodes = {n["name"]: n for n in doc["nodes"]}
        assert doc["output"] == nodes["loss"]["id"]
        assert nodes["loss"]["value"] == pytest.approx(0.25) and nodes["loss"]["adjoint"] == 1.0
        assert nodes["yhat"]["value"] == pytest.approx(1.5) and nodes["yhat"]["role"] == "intermediate"
        assert nodes["yhat"]["adjoint"] == pytest.approx(1.0)  # 2*(yhat - y)
        assert {n: nodes[n]["adjoint"] for n in ("b", "w1", "w2")} == pytest.approx({"b": 1.0, "w1": 1.5, "w2": 2.0})
        assert [nodes[n]["role"] for n in ("b", "x1", "y", "2", "a1", "loss")] == [
            "parameter", "input", "target", "constant", "intermediate", "loss"]
        (w1_edge,) = [e for e in doc["edges"] if e["from"] == nodes["w1"]["id"]]
        assert w1_edge["to"] == nodes["a1"]["id"]
        assert (w1_edge["local"], w1_edge["local_value"]) == ("x1", 1.5)
        (loss_edge,) = [e for e in doc["edges"] if e["from"] == nodes["a3"]["id"]]
        assert (loss_edge["local"], loss_edge["local_value"]) == ("2*a3", 1.0)
        sums = path_sums(doc)
        assert {n: sums[nodes[n]["id"]] for n in ("b", "w1", "w2")} == pytest.approx({"b": 1.0, "w1": 1.5, "w2": 2.0})

    @pytest.mark.parametrize("model, loss", MODELS)
    def test_keys_roles_and_the_path_promise(self, model, loss):
        doc = view_doc(model, loss, data={"x1": [0.7], "y": [0.4]}, params={})
        assert {n["id"] for n in doc["nodes"]} == set(range(len(doc["nodes"])))
        for n in doc["nodes"]:
            assert set(n) >= NODE_KEYS and n["role"] in JSON_ROLES
        for e in doc["edges"]:
            assert set(e) >= EDGE_KEYS
        assert [n["role"] for n in doc["nodes"]].count("loss") == 1
        with plain_formulas():  # numbers only: no time-bounded prettifying
            report = package.gradients(model, loss, data={"x1": [0.7], "y": [0.4]})
        sums = path_sums(doc)
        for n in doc["nodes"]:
            if n["role"] == "parameter":
                assert sums[n["id"]] == pytest.approx(report.gradients[n["name"]].symbolic_value, rel=1e-9, abs=1e-12)
                assert n["adjoint"] == pytest.approx(sums[n["id"]], rel=1e-9, abs=1e-12)

    def test_two_paths_of_w(self):
        doc = view_doc("w*x1 + w**2", data={"x1": [2.0], "y": [1.0]}, params={"w": 0.7})
        w = next(n["id"] for n in doc["nodes"] if n["name"] == "w")
        out_of_w = sorted((e["local"], e["local_value"]) for e in doc["edges"] if e["from"] == w)
        assert [local for local, _ in out_of_w] == ["2*w", "x1"]
        assert [value for _, value in out_of_w] == pytest.approx([1.4, 2.0])
        assert path_sums(doc)[w] == pytest.approx(6.052, abs=1e-12)

    def test_undefined_local_value_is_null_not_nan(self):
        # ∂(w**x1)/∂x1 = yhat*log(w) is undefined for w < 0; the sweep never needs it (x1 is an input).
        doc = view_doc("w**x1", data={"x1": [2.0], "y": [1.0]}, params={"w": -0.5})
        x1 = next(n["id"] for n in doc["nodes"] if n["name"] == "x1")
        (edge,) = [e for e in doc["edges"] if e["from"] == x1]
        assert edge["local"] == "yhat*log(w)" and edge["local_value"] is None
        assert doc["nodes"][x1]["adjoint"] is None

    def test_an_edge_from_a_constant_carries_no_derivative(self):
        # The exponent 2 of x1**2 and of the loss's square: never needed, so never shown (it was
        # ∂a1/∂2 = a1*log(x1), undefined for x1 < 0). The edge stays: 2 is an input of the power.
        doc = view_doc("w*x1**2", data={"x1": [-1.5], "y": [1.0]}, params={"w": 0.5})
        constants = {n["id"] for n in doc["nodes"] if n["role"] == "constant"}
        from_constants = [e for e in doc["edges"] if e["from"] in constants]
        assert len(from_constants) == 2  # x1**2 and the loss's (yhat - y)**2
        for edge in from_constants:
            assert (edge["partial"], edge["local"], edge["local_value"]) == (None, None, None)
        for edge in doc["edges"]:
            if edge["from"] not in constants:
                assert edge["partial"] and edge["local"], edge
        assert not [e for e in doc["edges"] if e["partial"] and "∂2" in e["partial"]]

    def test_bce_sigmoid_notes_yhat_off_the_loss_path(self):
        doc = view_doc("sigmoid(w*x1 + b)", "bce")
        yhat = doc["nodes"][doc["prediction"]]
        assert yhat["name"] == "yhat" and yhat["adjoint"] is None
        assert all(e["from"] != yhat["id"] for e in doc["edges"])
        assert doc["notes"] and "logit" in doc["notes"][0]

    def test_highlight(self):
        doc = view_doc("b+w1*x1+w2*x2", highlight="w1")
        names = {n["id"]: n["name"] for n in doc["nodes"]}
        assert doc["highlight"]["param"] == "w1"
        assert sorted(names[i] for i in doc["highlight"]["nodes"]) == sorted(["loss", "a3", "yhat", "a1", "w1"])
        edges = [doc["edges"][k] for k in doc["highlight"]["edges"]]
        assert sorted((names[e["from"]], names[e["to"]]) for e in edges) == sorted(
            [("a3", "loss"), ("yhat", "a3"), ("a1", "yhat"), ("w1", "a1")])
        assert view_doc("b+w1*x1")["highlight"] is None

    def test_rendered_json_is_the_document(self):
        view = graph_view("w*x1 + w**2", highlight="w")
        assert json.loads(rendered(graph_json, view)) == json.loads(json.dumps(view.to_dict()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=EXPRESSIONS, params=PARAM_VALUES, x1=st.floats(-2, 2), x2=st.floats(-2, 2), y=st.floats(-2, 2))
def test_random_expressions_json_paths_give_the_gradient(model, params, x1, x2, y):
    used = {name: value for name, value in params.items() if re.search(rf"\b{name}\b", model)}
    assume(used)
    data = {"x1": [x1], "x2": [x2], "y": [y]}
    note(f"model={model!r} params={used} data={data}")
    try:
        view = graph_view(model, "mse", data=data, params=used)
        report = package.gradients(model, "mse", data=data, params=used, engines=("backprop",))
    except GradcliError:
        assume(False)
        return
    doc = view.to_dict()
    sums = path_sums(doc)
    for n in doc["nodes"]:
        if n["role"] == "parameter":
            assert sums[n["id"]] == pytest.approx(report.gradients[n["name"]].backprop_value, rel=1e-9, abs=1e-12)
    assert len(re.findall(r"^  n\d+ \[", rendered(graph_dot, view), re.M)) == len(doc["nodes"])


# ---------------------------------------------------------------- DOT, Mermaid, tree


def dot_program() -> str:
    found = shutil.which("dot")
    if found is None:
        pytest.skip("Graphviz's `dot` is not installed (apt-get install graphviz; .ci/run installs it)")
    return found


class TestDot:
    def test_structure(self):
        view = graph_view("b+w1*x1+w2*x2", highlight="w1")
        text = rendered(graph_dot, view)
        assert text.startswith("digraph gradcli {") and text.rstrip().endswith("}")
        assert len(re.findall(r"^  n\d+ \[label=", text, re.M)) == len(view.nodes)
        assert len(re.findall(r"^  n\d+ -> n\d+ \[", text, re.M)) == len(view.edges)
        assert '  n1 -> n3 [label="∂a1/∂w1 = x1 = 1", color="#d62728"' in text
        marked = len(re.findall(r'[ ,]color="#d62728"', text))
        assert marked == len(view.highlight_nodes) + len(view.highlight_edges)

    def test_an_edge_from_a_constant_is_dashed_and_unlabelled(self):
        view = graph_view("w*x1**2")
        text = rendered(graph_dot, view)
        constants = [n.id for n in view.nodes if n.role == "constant"]
        for edge in view.edges:
            line = next(line for line in text.splitlines() if line.startswith(f"  n{edge.source} -> n{edge.target} "))
            if edge.source in constants:
                assert line.endswith("[style=dashed];") and "label" not in line, line
            else:
                assert "[label=" in line and "style=dashed" not in line, line
        assert "∂2" not in text

    def test_quotes_and_backslashes_are_escaped(self):
        from gradcli.views.graph import _dot_string

        assert _dot_string('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'

    @pytest.mark.parametrize("model, loss", MODELS)
    def test_graphviz_accepts_it(self, model, loss):
        dot = dot_program()
        for highlight in (None, next(iter(graph_view(model, loss).params))):
            text = rendered(graph_dot, graph_view(model, loss, highlight=highlight))
            proc = subprocess.run([dot, "-Tsvg"], input=text.encode("utf-8"), capture_output=True, timeout=60)
            assert proc.returncode == 0, (proc.stderr.decode(), text)
            assert proc.stdout.lstrip().startswith(b"<?xml") and b"<svg" in proc.stdout
            assert proc.stderr == b"", proc.stderr.decode()

    def test_graphviz_rejects_broken_dot(self):
        # A control: the check above would notice invalid output.
        proc = subprocess.run([dot_program(), "-Tsvg"], input=b"digraph { n0 -> [label=}", capture_output=True,
                              timeout=60)
        assert proc.returncode != 0


class TestMermaid:
    @pytest.mark.parametrize("model, loss", MODELS)
    def test_a_node_per_graph_node_and_a_link_per_edge(self, model, loss):
        view = graph_view(model, loss)
        text = rendered(graph_mermaid, view)
        assert text.splitlines()[0] == "flowchart BT"
        defined = re.findall(r'^  (n\d+)\["[^"\n]*"\]$', text, re.M)
        assert defined == [f"n{n.id}" for n in view.nodes]
        links = re.findall(r'^  (n\d+) (?:-->\|"[^"\n]*"\||-\.->) (n\d+)$', text, re.M)
        assert links == [(f"n{e.source}", f"n{e.target}") for e in view.edges]
        bare = re.findall(r"^  (n\d+) -\.-> n\d+$", text, re.M)  # dotted, unlabelled: from a constant
        assert bare == [f"n{e.source}" for e in view.edges if view.nodes[e.source].role == "constant"]

    def test_highlight_styles_the_path(self):
        view = graph_view("b+w1*x1+w2*x2", highlight="w2")
        text = rendered(graph_mermaid, view)
        assert f"  linkStyle {','.join(map(str, view.highlight_edges))} stroke:#d62728" in text
        assert f"  class {','.join(f'n{i}' for i in view.highlight_nodes)} highlight" in text
        assert "linkStyle" not in rendered(graph_mermaid, graph_view("b+w1*x1+w2*x2"))

    def test_labels_cannot_break_out_of_quotes(self):
        from gradcli.views.graph import _mermaid_text

        assert _mermaid_text('a "b" | <c>') == "a #quot;b#quot; #124; #lt;c#gt;"


class TestTree:
    def test_every_node_and_edge_is_shown(self):
        view = graph_view("b+w1*x1+w2*x2", data={"x1": [1.5], "x2": [2.0], "y": [1.0]},
                          params={"b": 0.5, "w1": 2.0, "w2": -1.0})
        text = rendered(graph_tree, view)
        assert text.splitlines()[0] == "loss = a3**2  pow, value 0.25  ∂loss/∂loss = 1"
        for line in ["a3 = yhat - y  sub, value 0.5  ∂loss/∂a3 = 1   ◂ ∂loss/∂a3 = 2*a3 = 1",
                     "w1  parameter, value 2  ∂loss/∂w1 = 1.5   ◂ ∂a1/∂w1 = x1 = 1.5",
                     "x1  input, value 1.5   ◂ ∂a1/∂x1 = w1 = 2"]:
            assert line in text
        assert not ANSI.search(text)

    def test_a_constant_is_drawn_without_a_derivative(self):
        text = rendered(graph_tree, graph_view("w*x1**2"))
        constants = [line for line in text.splitlines() if "constant, value 2" in line]
        assert len(constants) == 2 and all(line.endswith("constant, value 2") for line in constants), text
        assert "∂a1/∂2" not in text and "∂loss/∂2" not in text and "∂a1/∂x1 = 2*x1 = 2" in text

    def test_highlight_without_colour_still_marks(self):
        text = rendered(graph_tree, graph_view("b+w1*x1+w2*x2", highlight="w1"))
        marked = [re.sub(r"^[\s│├└─]*» ", "", line).split()[0] for line in text.splitlines() if "» " in line
                  and not line.startswith("» marks")]
        assert marked == ["loss", "a3", "yhat", "a1", "w1"]

    def test_a_node_met_twice_is_not_redrawn(self):
        text = rendered(graph_tree, graph_view("w*x1 + b", "(yhat - y)**2 + yhat"))
        assert text.count("yhat = a1 + b") == 2 and text.count("(shown above)") == 1
        assert text.count("a1 = w*x1") == 1


# ---------------------------------------------------------------- the installed program


class TestProgram:
    def test_json_for_jq(self, gradcli):
        result = gradcli("graph", "w*x1 + w**2", "--data", "x1=2,y=1", "--params", "w=0.7", "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert {"nodes", "edges", "output"} <= set(doc)
        w = next(n["id"] for n in doc["nodes"] if n["name"] == "w")
        assert path_sums(doc)[w] == pytest.approx(6.052)
        assert math.isclose(doc["nodes"][w]["adjoint"], 6.052)

    def test_dot_through_graphviz(self, gradcli, tmp_path):
        result = gradcli("graph", *NOTE_CLI, "--highlight", "w1", "--format", "dot")
        assert result.code == 0, result
        proc = subprocess.run([dot_program(), "-Tsvg"], input=result.out.encode(), capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr.decode()
        assert b"<svg" in proc.stdout

    def test_tree_and_mermaid(self, gradcli):
        tree = gradcli("graph", *NOTE_CLI, "--highlight", "w1")
        assert tree.code == 0 and tree.err == "", tree
        assert "» a1 = w1*x1  mul, value 3  ∂loss/∂a1 = 1" in tree.out and not ANSI.search(tree.out)
        mermaid = gradcli("graph", "tanh(w*x1+b)", "--format", "mermaid")
        assert mermaid.code == 0, mermaid
        assert len(re.findall(r'^  n\d+\["', mermaid.out, re.M)) == 10  # w x1 a1 b a2 yhat y a3 2 loss

    @pytest.mark.parametrize("args, needle", [
        (["graph", *NOTE_CLI, "--highlight", "q"], "--highlight 'q' is not a parameter of this model "
                                                    "(parameters: b, w1, w2)"),
        (["graph", *NOTE_CLI, "--highlight", "x1"], "parameters: b, w1, w2"),
        (["graph", *NOTE_CLI, "--format", "png"], "--format"),
        (["graph", "w*x1", "--data", "two.csv"], "choose one with --row N"),
        (["graph", "w*x1", "--data", "two.csv", "--row", "0"], "--row 0 is out of range"),
        (["graph", "log(w)", "--params", "w=-1"], "log of a non-positive number"),
        (["graph", "w x1"], "invalid syntax"),
    ], ids=["unknown-highlight", "input-highlight", "bad-format", "many-rows", "row-zero", "undefined", "syntax"])
    def test_bad_input(self, gradcli, tmp_path, args, needle):
        (tmp_path / "two.csv").write_text("x1,y\n1,0\n2,1\n")
        one_line_error(gradcli(*args), needle)

    def test_help_has_an_example_and_starts_light(self, gradcli, tmp_path):
        result = gradcli("graph", "--help")
        assert result.code == 0 and "Example" in result.out and "--highlight" in result.out
        found = probe(["graph", "--help"], tmp_path)
        assert found["code"] in (0, None) and not found["sympy"] and not found["numpy"], found


class TestReviewFindings:
    def test_a_deep_graph_loses_no_node(self, gradcli, tmp_path):
        # 80 factors: 78 products a1..a78 nest deeper than any terminal is wide
        (tmp_path / "deep.txt").write_text("*".join(["w"] * 80) + "\n")
        result = gradcli("graph", "--model-file", "deep.txt", "--data", "y=1", "--params", "w=1")
        assert result.code == 0, result
        shown = set(re.findall(r"^(a\d+) = ", result.out, flags=re.M))
        assert {f"a{i}" for i in range(1, 79)} <= shown

    def test_loss_is_a_reserved_name(self, gradcli):
        one_line_error(gradcli("graph", "loss*x1", "--data", "x1=1,y=0", "--params", "loss=2"), "'loss'")

    def test_latex_of_a_model_file_on_two_lines(self, gradcli, tmp_path):
        (tmp_path / "m.txt").write_text("b +\n  w*x1\n")
        result = gradcli("explain", "--model-file", "m.txt", "--data", "x1=1,y=0", "--params", "w=3,b=0.1",
                         "--format", "latex")
        assert result.code == 0, result
        assert all(line.startswith("%") or not line.startswith("  w*x1") for line in result.out.splitlines())
        assert r"\texttt" not in result.out.split("\n\n")[0]  # the model is set as maths

    def test_latex_without_parameters_has_no_empty_align(self, gradcli):
        result = gradcli("explain", "x1", "--data", "x1=2,y=0", "--format", "latex")
        assert result.code == 0, result
        assert not re.search(r"\\begin\{align\*\}\s*\\end\{align\*\}", result.out)
        assert "no parameters" in result.out


# ---------------------------------------------------------------- a ce classifier at one row of several


SPIRAL_PARAMS = {"W": [[0.1, 0.2], [0.3, -0.1], [0.0, 0.5]], "b": [0.0, 0.1, -0.1]}


@pytest.mark.parametrize("row", [1, 2])
def test_one_row_of_a_ce_classifier_has_as_many_classes_as_all_the_data(row):
    """spiral's class column holds 0, 1 and 2: at --row 1 (class 1) or 2 (class 0) the model still has three
    classes. Counted from the chosen row alone, b was made a 2-vector and W @ x + b refused to broadcast."""
    import csv
    from pathlib import Path

    import numpy as np

    import gradcli

    spiral = Path(__file__).resolve().parents[2] / "samples" / "spiral.csv"
    chosen = list(csv.DictReader(spiral.open()))[row - 1]
    x = np.array([float(chosen["x1"]), float(chosen["x2"])])
    z = np.array(SPIRAL_PARAMS["W"]) @ x + np.array(SPIRAL_PARAMS["b"])
    by_hand = math.log(np.exp(z).sum()) - z[int(float(chosen["class"]))]  # -log softmax(z)[class]
    asked = {"data": str(spiral), "params": SPIRAL_PARAMS, "target": "class", "loss": "ce", "shapes": ["W=3x2"],
             "row": row}
    view = gradcli.graph("W @ x + b", **asked)
    assert view.shapes["b"] == [3] and view.loss_value == pytest.approx(by_hand, rel=1e-12)
    assert gradcli.explain("W @ x + b", **asked).agree is True
