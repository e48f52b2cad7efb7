"""`gradcli graph --format svg` and the layered drawing behind it (views/drawing.py, views/svg.py): no Graphviz.

The SVG is read as XML, as a user's tools and the page's script read it: one <g> per node and per edge of
the JSON graph, each node's value and adjoint in its text, each edge's local derivative on it (the note's
∂a1/∂w1 = x1 = 1.5), --highlight marking exactly the paths it names. The drawing's geometry is checked
from layered(): no two nodes overlap, no edge label covers a node or another label, no edge runs through
a node. Values from the note: at x1=1.5, x2=2, y=1 with b=0.5, w1=2, w2=-1, dloss/dw1 = 1.5.
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest
from cli_runner import one_line_error

import gradcli
from gradcli.errors import GradcliError
from gradcli.explaining.reports import EdgeInfo, GraphView, NodeInfo
from gradcli.views import drawing
from gradcli.views.common import number
from gradcli.views.drawing import Drawing, layered
from gradcli.views.labels import HIGHLIGHT_COLOUR, node_label
from gradcli.views.svg import graph_svg, number_start

SVG = "{http://www.w3.org/2000/svg}"
NOTE = ["b+w1*x1+w2*x2", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]
NOTE_POINT = {"data": {"x1": [1.5], "x2": [2.0], "y": [1.0]}, "params": {"b": 0.5, "w1": 2.0, "w2": -1.0}}
LAYER = {"model": "W2 @ tanh(W1 @ x + b1) + b2", "shapes": "W1=3x2", "data": "samples/moons.csv", "row": 1}


@pytest.fixture(scope="module")
def views() -> dict[str, object]:
    """The sample models: the note's, w used twice, a layer of a network as tensors and neuron by neuron."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    layer = dict(LAYER, data=str(root / LAYER["data"]))
    return {
        "note": gradcli.graph("b+w1*x1+w2*x2", **NOTE_POINT),
        "note-w1": gradcli.graph("b+w1*x1+w2*x2", **NOTE_POINT, highlight="w1"),
        "twice": gradcli.graph("w*x1 + w**2", data={"x1": [2.0], "y": [1.0]}, params={"w": 0.7}),
        "layer": gradcli.graph(layer.pop("model"), **layer),
        "neurons": gradcli.graph(LAYER["model"], **dict(layer, neurons=True)),
    }


def parsed(text: str) -> tuple[ET.Element, dict[str, ET.Element], dict[str, ET.Element]]:
    """The root, and the node and edge groups by id."""
    root = ET.fromstring(text)
    groups = list(root.iter(f"{SVG}g"))
    nodes = {g.get("id"): g for g in groups if "node" in (g.get("class") or "").split()}
    edges = {g.get("id"): g for g in groups if "edge" in (g.get("class") or "").split()}
    return root, nodes, edges


def text_of(group: ET.Element, kind: str) -> str | None:
    found = [t for t in group.iter(f"{SVG}text") if t.get("class") == kind]
    assert len(found) <= 1, kind
    return " ".join(" ".join(found[0].itertext()).split()) if found else None


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether two boxes (left, top, right, bottom) share more than an edge."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# ---------------------------------------------------------------- through the CLI


def test_the_note_through_the_cli_matches_its_json(gradcli, tmp_path):
    svg = gradcli("graph", *NOTE, "--format", "svg")
    assert svg.code == 0 and svg.err == "", svg
    (tmp_path / "graph.svg").write_text(svg.out, encoding="utf-8")  # `... --format svg > graph.svg`
    root, nodes, edges = parsed((tmp_path / "graph.svg").read_text(encoding="utf-8"))
    doc = gradcli("graph", *NOTE, "--format", "json").json()
    assert root.tag == f"{SVG}svg" and root.get("class") == "gradcli-graph" and root.get("role") == "img"
    labelled_by = root.get("aria-labelledby").split()
    assert [root.find(f"{SVG}title").get("id"), root.find(f"{SVG}desc").get("id")] == labelled_by
    assert "0.25" in "".join(root.find(f"{SVG}g[@class='heading']").itertext())  # the loss at the point
    assert len(nodes) == len(doc["nodes"]) and len(edges) == len(doc["edges"])
    for node in doc["nodes"]:
        group = nodes[f"node-{node['id']}"]
        assert (group.get("data-id"), group.get("data-name"), group.get("data-role")) == (
            str(node["id"]), node["name"], node["role"])
        assert f"role-{node['role']}" in group.get("class").split()
    for k, edge in enumerate(doc["edges"]):
        group = edges[f"edge-{k}"]
        assert (group.get("data-source"), group.get("data-target"), group.get("data-position")) == (
            str(edge["from"]), str(edge["to"]), str(edge["position"]))
        path = group.find(f"{SVG}path")
        assert path.get("marker-end", "").startswith("url(#")  # an arrow toward the node that uses the value
        assert (text_of(group, "local") is None) == (edge["local"] is None)
        assert (path.get("stroke-dasharray") is not None) == (edge["local"] is None)  # from a constant: dashed


def test_a_graph_too_large_to_lay_out_is_refused_by_the_cli(gradcli, tmp_path):
    terms = drawing.MAX_NODES // 2 + 1  # w_i*x1: two nodes each, and a node per term
    (tmp_path / "wide.txt").write_text(" + ".join(f"w{i}*x1" for i in range(terms)), encoding="utf-8")
    result = gradcli("graph", "--model-file", "wide.txt", "--data", "x1=0.5,y=1", "--format", "svg")
    err = one_line_error(result, f"more than {drawing.MAX_NODES:,} to lay out", "use --format dot")
    assert "graph has " in err and " nodes" in err


# ---------------------------------------------------------------- what the SVG says


def test_every_node_shows_its_value_and_adjoint(views):
    for view in views.values():
        _, nodes, _ = parsed(graph_svg(view))
        for node in view.nodes:
            group = nodes[f"node-{node.id}"]
            assert group.find(f"{SVG}title").text == "; ".join(node_label(node))  # every digit, for a screen reader
            lines = node_label(node, short=True)  # the box: 4 significant digits, layer and neuron view alike
            assert text_of(group, "label") == lines[0]
            assert text_of(group, "value") == " ".join(lines[1].split())
            if node.adjoint is None:
                assert text_of(group, "adjoint") is None
            else:
                assert text_of(group, "adjoint") == " ".join(lines[2].split())


def test_the_note_in_numbers(views):
    view = views["note"]
    _, nodes, edges = parsed(graph_svg(view))
    by_name = {n.name: n for n in view.nodes}
    w1 = nodes[f"node-{by_name['w1'].id}"]
    assert text_of(w1, "value") == "parameter, value 2" and text_of(w1, "adjoint") == "∂loss/∂w1 = 1.5"
    (w1_edge,) = [g for g in edges.values() if g.get("data-source") == str(by_name["w1"].id)]
    assert text_of(w1_edge, "local") == "∂a1/∂w1 = x1 = 1.5"
    assert text_of(nodes[f"node-{view.output}"], "value") == f"pow, value {number(0.25)}"


def test_highlight_marks_exactly_the_paths_in_colour_and_width(views):
    view = views["note-w1"]
    _, nodes, edges = parsed(graph_svg(view))
    marked_edges = sorted(int(g.get("data-edge")) for g in edges.values() if "highlight" in g.get("class").split())
    marked_nodes = sorted(int(g.get("data-id")) for g in nodes.values() if "highlight" in g.get("class").split())
    assert marked_edges == sorted(view.highlight_edges) and len(marked_edges) == 4  # w1 -> a1 -> yhat -> a3 -> loss
    assert marked_nodes == sorted(view.highlight_nodes)
    for k, group in edges.items():
        path = group.find(f"{SVG}path")
        on = int(group.get("data-edge")) in view.highlight_edges
        assert (path.get("stroke") == HIGHLIGHT_COLOUR) == on, k
        assert (float(path.get("stroke-width")) >= 2.5) == on, k  # thicker, not colour alone
    unmarked = parsed(graph_svg(views["note"]))
    assert not [g for g in itertools.chain(unmarked[1].values(), unmarked[2].values())
                if "highlight" in g.get("class").split()]


def test_same_view_same_bytes_and_ids_for_a_page(views):
    view = views["layer"]
    assert graph_svg(view) == graph_svg(view)
    inline = graph_svg(view, standalone=False, ids="layers-")
    root = ET.fromstring(inline)
    assert root.tag == "svg"  # no namespace: for an HTML page
    ids = [element.get("id") for element in root.iter() if element.get("id")]
    assert ids and all(i.startswith("layers-") for i in ids) and len(ids) == len(set(ids))
    assert all(i in ids for i in root.get("aria-labelledby").split())


def test_same_bytes_in_another_process(gradcli):
    """Nothing in the layout depends on the order of a set: an interpreter with another hash seed agrees."""
    runs = [gradcli("graph", "w*x1 + w**2", "--data", "x1=2,y=1", "--params", "w=0.7", "--format", "svg",
                    env=env) for env in ({}, {"PYTHONHASHSEED": "12345"})]  # this process's fork; a new one
    assert runs[0].code == 0 and runs[0].out == runs[1].out


def test_text_is_escaped_for_xml():
    nodes = [NodeInfo(0, "w", None, "parameter", "w", "w", 1.0, 2.0),
             NodeInfo(1, "loss", "pow", "loss", "w**2", "w**2", 1.0, 1.0)]
    edges = [EdgeInfo(0, 1, 0, "∂loss/∂w", "2*w", 2.0)]
    view = GraphView('w < 1 & "w" > 0', "mse", "(yhat - y)**2", "y", {"w": 1.0}, {}, {}, 1.0, nodes, edges, 1, 1,
                     notes=["a <note> & more"])
    root = ET.fromstring(graph_svg(view))
    assert 'w < 1 & "w" > 0' in "".join(root.itertext()) and "a <note> & more" in "".join(root.itertext())


# ---------------------------------------------------------------- the drawing's geometry


def assert_clear(drawn: Drawing) -> None:
    """No two nodes overlap, no label overlaps a node or another label, no straight run of an edge
    passes through a node other than its own two."""
    boxes = [n.box for n in drawn.nodes]
    labels = [e.label_box for e in drawn.edges if e.label_box]
    for a, b in itertools.combinations(boxes, 2):
        assert not overlap(a, b), (a, b)
    for label in labels:
        assert not [box for box in boxes if overlap(label, box)], label
    for a, b in itertools.combinations(labels, 2):
        assert not overlap(a, b), (a, b)
    for edge in drawn.edges:
        for (x0, y0), (x1, y1) in zip(edge.points, edge.points[1:]):
            if x0 == x1 or y0 == y1:  # the straight runs: the bends lie in the gaps between layers
                run = (min(x0, x1), min(y0, y1), max(x0, x1) + 0.01, max(y0, y1) + 0.01)
                others = [n.id for n in drawn.nodes if n.id not in (edge.source, edge.target) and overlap(run, n.box)]
                assert not others, (edge.index, others)
    assert all(0 <= x <= drawn.width and 0 <= y <= drawn.height for e in drawn.edges for x, y in e.points)


@pytest.mark.parametrize("name", ["note", "twice", "layer", "neurons"])
@pytest.mark.parametrize("direction", ["down", "right"])
def test_nothing_overlaps(views, name, direction):
    view = views[name]
    drawn = layered(view, direction)
    assert [n.id for n in drawn.nodes] == [n.id for n in view.nodes]
    assert [e.index for e in drawn.edges] == list(range(len(view.edges)))
    assert_clear(drawn)


def test_parts_that_share_no_edge_stand_side_by_side():
    nodes = [NodeInfo(0, "w", None, "parameter", "w", "w", 1.0, 2.0),
             NodeInfo(1, "loss", "pow", "loss", "w**2", "w**2", 1.0, 1.0),
             NodeInfo(2, "v", None, "parameter", "v", "v", 3.0, None),
             NodeInfo(3, "yhat", "tanh", "intermediate", "tanh(v)", "tanh(v)", 0.99, None),
             NodeInfo(4, "u", None, "input", "u", "u", 0.5, None)]
    edges = [EdgeInfo(0, 1, 0, "∂loss/∂w", "2*w", 2.0), EdgeInfo(2, 3, 0, "∂yhat/∂v", "1 - yhat**2", 0.02)]
    view = GraphView("v", "w**2", "w**2", "y", {}, {}, {}, 1.0, nodes, edges, 1, 3)
    for direction in ("down", "right"):
        drawn = layered(view, direction)
        assert_clear(drawn)
        assert len({(n.x, n.y) for n in drawn.nodes}) == 5


def test_inputs_above_the_loss_and_labels_beside_their_edges(views):
    view = views["note"]
    drawn = layered(view)
    loss = drawn.nodes[view.output]
    assert all(n.y < loss.y for n in drawn.nodes if n.id != view.output)
    for edge in drawn.edges:
        start, end = edge.points[0], edge.points[-1]
        assert start[1] == drawn.nodes[edge.source].box[3] and end[1] == drawn.nodes[edge.target].box[1]
        if edge.label_box:  # its edge runs down just left of the text, all along the text's height
            left, top, _, bottom = edge.label_box
            assert any(x0 == x1 and left - 10 < x0 < left and y0 <= top and bottom <= y1
                       for (x0, y0), (x1, y1) in zip(edge.points, edge.points[1:])), edge


def test_long_lines_wrap_at_rows_commas_then_spaces():
    from gradcli.views.drawing import MAX_TEXT_WIDTH, text_width, wrapped

    vjp = "VJP G @ xᵀ = [[0.02754, -0.04829], [-0.0228, 0.03997], [0.1009, -0.1769]]"
    rows = wrapped(vjp, 11)
    assert " ".join(rows) == vjp and len(rows) == 2 and rows[0].endswith("],")  # after a matrix row
    total = "yhat = " + " + ".join(f"a{i}" for i in range(60))
    rows = wrapped(total, 12)
    assert " ".join(rows) == total and all(text_width(row, 12) <= MAX_TEXT_WIDTH for row in rows)
    assert wrapped("∂a1/∂w1 = x1 = 1.5", 11) == ["∂a1/∂w1 = x1 = 1.5"]


# ---------------------------------------------------------------- too large


def chain(count: int, leaf_everywhere: bool) -> GraphView:
    """A made-up graph: a chain of `count` nodes from w, each also reading x when leaf_everywhere."""
    nodes = [NodeInfo(0, "w", None, "parameter", "w", "w", 1.0, 1.0),
             NodeInfo(1, "x", None, "input", "x", "x", 1.0, None)]
    edges = []
    for i in range(2, count):
        nodes.append(NodeInfo(i, f"a{i}", "mul", "intermediate", f"a{i - 1}*x", "", 1.0, 1.0))
        edges.append(EdgeInfo(i - 1 if i > 2 else 0, i, 0, f"∂a{i}/∂a{i - 1}", "x", 1.0))
        if leaf_everywhere or i == 2:
            edges.append(EdgeInfo(1, i, 1, f"∂a{i}/∂x", "a", 1.0))
    return GraphView("chain", "yhat", "yhat", "y", {}, {}, {}, 1.0, nodes, edges, count - 1, count - 1)


def test_too_many_nodes_or_too_many_places_are_refused_before_any_layout(monkeypatch):
    def no_layout(*args, **kwargs):
        raise AssertionError("laid out")

    monkeypatch.setattr(drawing, "_lay_out", no_layout)
    with pytest.raises(GradcliError, match=rf"graph has {drawing.MAX_NODES + 1:,} nodes, more than "
                                           rf"{drawing.MAX_NODES:,} to lay out$"):  # the command adds its advice
        layered(chain(drawing.MAX_NODES + 1, False))
    with pytest.raises(GradcliError, match=rf"graph has 200 nodes, and its long edges bend in [\d,]+ layers they pass: "
                                           rf"more than {drawing.MAX_POINTS:,} places to lay out$"):
        layered(chain(200, True))  # x reaches every depth: a bend in every layer it passes


def wide_sum(terms: int) -> GraphView:
    return gradcli.graph("+".join(f"w{i}*x" for i in range(terms)), data={"x": [1.0], "y": [1.0]})


def test_a_drawing_too_wide_to_use_is_refused_and_one_just_narrower_is_drawn(monkeypatch):
    """A sum's terms sit side by side (~290 px each): 600 terms made a drawing 180,000 px wide. The widest layer's
    boxes give a least width before any layout; the drawing's own width is checked after it."""
    drawn = layered(wide_sum(60))
    assert 15_000 < drawn.width <= drawing.MAX_BREADTH
    monkeypatch.setattr(drawing, "_lay_out", lambda *args, **kwargs: pytest.fail("laid out"))
    with pytest.raises(GradcliError, match=rf"graph of 166 nodes would be at least [\d,]+ px wide, more than "
                                           rf"{drawing.MAX_BREADTH:,} px to draw$"):
        layered(wide_sum(80))
    monkeypatch.undo()
    monkeypatch.setattr(drawing, "MAX_BREADTH", 1_000)  # 4 terms: at least 907 px, drawn 1,056 px
    with pytest.raises(GradcliError, match=r"graph of 14 nodes would be 1,056 px wide, more than 1,000 px to draw$"):
        layered(wide_sum(4))


@pytest.mark.parametrize(("command", "shown", "advice", "not_offered"), [
    ("graph", "svg", "use --format dot", None), ("explain", "html", "use --format json", "dot")])
def test_a_refusal_advises_a_format_its_own_command_offers(gradcli, command, shown, advice, not_offered):
    """explain has no dot format: its refusal names one of its own (the formats its view offers)."""
    name = "the_weight_of_the_term_that_is_number_{}_in_this_rather_long_sum_of_products"
    long = "+".join(f"{name.format(i)}*x" for i in range(26))
    result = gradcli(command, long, "--data", "x=1,y=1", "--format", shown)  # 26 wide terms: explain's work is short
    err = one_line_error(result, "px wide, more than", advice)
    assert not_offered is None or not_offered not in err


@pytest.mark.parametrize(("label", "number"), [
    ("∂a1/∂w1 = x1 = 1.5", "1.5"),  # the formula x1, then the number the sweep computes
    ("∂yhat/∂b = 1", None),  # a constant formula: no number apart from it
    ("VJP G = [-0.05559, 0.04602]", "[-0.05559, 0.04602]"),
    ("no equals", None),
])
def test_an_edge_labels_computed_number_is_what_follows_its_formula(label, number):
    """The page hides an edge's number (tspan.number) until the backward sweep computes it."""
    start = number_start(label)
    assert (None if start is None else label[start:]) == number


# ---------------------------------------------------------------- review 27: shapes, numbers, heading, warnings


def test_every_tensor_edge_says_the_shape_of_what_flows_along_it(views):
    """The layer-level graph has shapes on every edge: the source's per-row shape before its VJP."""
    view = views["layer"]
    _, _, edges = parsed(graph_svg(view))
    by_id = {n.id: n for n in view.nodes}
    for k, edge in enumerate(view.edges):
        shape = "x".join(map(str, by_id[edge.source].shape)) or "scalar"
        local = text_of(edges[f"edge-{k}"], "local")
        assert local == f"({shape})" if edge.vjp is None else local.startswith(f"({shape}) VJP "), (k, local)
    texts = [text_of(edges[f"edge-{k}"], "local") for k in range(len(view.edges))]
    assert "(3x2) VJP G @ xᵀ = [[0.02754, -0.04829], [-0.0228, 0.03997], [0.1009, -0.1769]]" in texts  # W1 → a1


SIGNIFICANT = re.compile(r"-?(\d+(?:\.\d+)?)(?:e[-+]?\d+)?")


def test_both_drawings_write_numbers_with_at_most_four_significant_digits(views):
    """The neuron view wrote 0.0663446594044 where the layer view writes 0.06634; the full number stays in the
    node's <title>."""
    for name in ("layer", "neurons", "note"):
        root, nodes, _ = parsed(graph_svg(views[name]))
        shown = [" ".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") in ("value", "adjoint",
                                                                                             "local")]
        for text in shown:
            for found in SIGNIFICANT.finditer(text.split(" = ", 1)[-1] if "[" not in text else text):
                digits = found.group(1).replace(".", "").lstrip("0")
                assert len(digits) <= 4, (name, text)
    neurons = views["neurons"]
    _, nodes, _ = parsed(graph_svg(neurons))
    long = [n for n in neurons.nodes if len(number(n.value).replace(".", "").lstrip("-0")) > 4]
    assert long and all(number(n.value) in nodes[f"node-{n.id}"].find(f"{SVG}title").text for n in long)


def test_a_long_model_wraps_in_the_heading_rather_than_widen_the_picture(views):
    import dataclasses

    from gradcli.views.drawing import text_width

    view = dataclasses.replace(views["note"], model="+".join(f"w{i}*x{i}" for i in range(1, 80)))
    root = ET.fromstring(graph_svg(view))
    titles = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    assert len(titles) > 1 and "".join(titles).startswith(view.model)
    assert float(root.get("width")) < 700 < text_width(view.model, 13)


def test_warnings_are_under_the_title_and_in_the_description():
    view = gradcli.graph("tanh(w*x) + relu(b)", data={"x": [1.0], "y": [2.0]}, params={"w": 0.3, "b": 0.0})
    assert view.warnings and "kink" in view.warnings[0]
    root = ET.fromstring(graph_svg(view))
    warned = " ".join(" ".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") == "warning")
    assert warned.startswith("warning: relu(b) is at its kink") and "taken as 0" in warned
    assert "Warning: relu(b) is at its kink" in root.find(f"{SVG}desc").text


def test_the_description_says_which_way_the_drawing_flows(views, monkeypatch):
    desc = ET.fromstring(graph_svg(views["note"])).find(f"{SVG}desc").text
    assert "from the inputs at the top to the loss at the bottom" in desc and "left" not in desc
    from gradcli.views import svg

    monkeypatch.setattr(svg, "layered", lambda view: layered(view, direction="right"))
    desc = ET.fromstring(graph_svg(views["note"])).find(f"{SVG}desc").text
    assert "from the inputs on the left to the loss on the right" in desc
