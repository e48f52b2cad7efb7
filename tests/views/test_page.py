"""The html page of `graph` and `explain` (views/page.py): one file, no network, every number a learner needs.

Read here as HTML text (html.parser) and as the JSON the page's script reads; the live DOM (stepping,
clicking, JavaScript off) is tests/browser's. Values from the note's hand calculation: at x1=1.5, x2=2,
y=1 with b=0.5, w1=2, w2=-1, dloss/db = 1, dloss/dw1 = 1.5, dloss/dw2 = 2.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cli_runner import one_line_error

import gradcli
from gradcli.engines import symbolic
from gradcli.views.page import page_html

NOTE = ["b+w1*x1+w2*x2", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]
LAYER = ["W2 @ tanh(W1 @ x + b1) + b2", "--shape", "W1=2x2", "--data", "x1=-0.5,x2=0.9,y=0"]
URL = re.compile(r"https?://", re.IGNORECASE)


class Page(HTMLParser):
    """The page's elements by id, its attributes that load things, its text, and the script's JSON."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: dict[str, dict[str, str | None]] = {}
        self.loading: list[str] = []  # src, href and CSS url(...) values
        self.tags: list[str] = []
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None
        self._script: str | None = None
        self.data: dict = {}
        self.text: list[str] = []
        self.feed(text)
        self.close()
        self.loading += re.findall(r"url\(([^)]*)\)", text) + re.findall(r"@import\s+([^;]+)", text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        if "id" in found:
            assert found["id"] not in self.ids, f"two elements with id {found['id']}"
            self.ids[str(found["id"])] = found
        self.loading += [value or "" for name, value in attrs if name in ("src", "href", "xlink:href")]
        if tag == "tr" and "data-param" in found:
            self._row = found["data-param"]
            self.rows[self._row] = []
        if tag == "script":
            self._script = found.get("id") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script == "gradcli-data":
            self.data = json.loads(data)
        elif self._script is None:
            self.text.append(data)
            if self._row is not None and data.strip():
                self.rows[self._row].append(data.strip())


def test_the_notes_graph_page_holds_every_number_and_no_address(gradcli, tmp_path):
    made = gradcli("graph", *NOTE, "--format", "html")
    assert made.code == 0, made
    page = Page(made.out)
    assert made.out.startswith("<!DOCTYPE html>")
    assert not [value for value in page.loading if URL.search(value) or value.startswith("//")]
    assert not URL.search(made.out.replace('xmlns="http://www.w3.org/2000/svg"', ""))
    for ident in ("graph", "step-prev", "step-next", "step-reset", "step-status", "steps", "gradients", "paths",
                  "path-sum", "gradcli-data"):
        assert ident in page.ids, ident
    assert page.ids["step-status"]["aria-live"] == "polite"
    assert "svg" in page.tags
    shown = gradcli("graph", *NOTE, "--format", "json").json()
    assert len(page.data["nodes"]) == len(shown["nodes"]) and len(page.data["edges"]) == len(shown["edges"])
    # the table: symbolic, backprop, sum over paths, |diff|, verdict in a symbol and in words
    assert page.rows == {"b": ["b", "1", "1", "1", "0", "✓ agree"], "w1": ["w1", "1.5", "1.5", "1.5", "0", "✓ agree"],
                         "w2": ["w2", "2", "2", "2", "0", "✓ agree"]}
    w1 = page.data["params"]["w1"]
    assert w1["paths"] == ["∂loss/∂a3 × ∂a3/∂yhat × ∂yhat/∂a1 × ∂a1/∂w1 = 1 × 1 × 1 × 1.5 = 1.5"]
    assert w1["sum"] == "∂loss/∂w1 = sum over 1 path = 1.5"
    names = {n["id"]: n["name"] for n in page.data["nodes"]}
    assert sorted(names[i] for i in w1["nodes"]) == ["a1", "a3", "loss", "w1", "yhat"]
    ends = {(names[e["source"]], names[e["target"]]) for k, e in enumerate(page.data["edges"]) if k in w1["edges"]}
    assert ends == {("w1", "a1"), ("a1", "yhat"), ("yhat", "a3"), ("a3", "loss")}
    text = " ".join(page.text)
    assert "∂loss/∂a3 × ∂a3/∂yhat × ∂yhat/∂a1 × ∂a1/∂w1 = 1 × 1 × 1 × 1.5 = 1.5" in text  # JS off: every path
    steps = [(s["phase"], s["text"]) for s in page.data["steps"]]
    assert ("forward", "a1 = w1*x1 = 2 × 1.5 = 3") in steps
    assert ("backward", "∂loss/∂a1 = Σ (∂loss/∂yhat × ∂yhat/∂a1) = 1 × 1 = 1") in steps
    forward = [s["node"] for s in page.data["steps"] if s["phase"] == "forward"]
    backward = [s["node"] for s in page.data["steps"] if s["phase"] == "backward"]
    assert forward == sorted(names) and backward == sorted(backward, reverse=True)  # topological, then reversed
    assert "calculated once, used by b, w1, w2" in text  # yhat's adjoint serves all three


def test_the_explain_page_adds_the_paths_that_meet(gradcli):
    made = gradcli("explain", "w*x1 + w**2", "--data", "x1=2,y=1", "--params", "w=0.7", "--format", "html")
    assert made.code == 0, made
    page = Page(made.out)
    # d/dw (w*x1 + w**2 - y)**2 = 2*(1.89 - 1)*(x1 + 2w) = 1.78 * 3.4 = 6.052: two paths, 3.56 + 2.492
    assert page.rows["w"][:4] == ["w", "6.052", "6.052", "6.052"]
    assert page.rows["w"][-1] == "✓ agree"
    assert page.data["params"]["w"]["paths"] == [
        "∂loss/∂a3 × ∂a3/∂yhat × ∂yhat/∂a1 × ∂a1/∂w = 1.78 × 1 × 1 × 2 = 3.56",
        "∂loss/∂a3 × ∂a3/∂yhat × ∂yhat/∂a2 × ∂a2/∂w = 1.78 × 1 × 1 × 1.4 = 2.492"]
    assert page.data["params"]["w"]["sum"] == "∂loss/∂w = sum over 2 paths = 6.052"
    assert ("backward", "∂loss/∂w = Σ (∂loss/∂a1 × ∂a1/∂w + ∂loss/∂a2 × ∂a2/∂w) = 1.78 × 2 + 1.78 × 1.4 = 6.052") in [
        (s["phase"], s["text"]) for s in page.data["steps"]]


def test_explain_cost_puts_forward_against_reverse_mode_on_the_page(gradcli):
    made = gradcli("explain", *NOTE, "--cost", "--format", "html")
    assert made.code == 0, made
    text = " ".join(Page(made.out).text)
    # counted by engines/forward.py, as `explain --cost` prints them (tests/test_forward_mode.py counts them by hand)
    assert "forward mode: 3 sweeps, one per parameter: 26 operations" in text
    assert "reverse mode: 1 forward pass and 1 sweep: 10 operations" in text
    without = Page(gradcli("explain", *NOTE, "--format", "html").out)
    assert "Forward mode against reverse mode" not in " ".join(without.text)


def test_a_tensor_page_has_shapes_the_matrix_products_and_a_neuron_view():
    view = gradcli.graph(LAYER[0], shapes=["W1=2x2"], data={"x1": [-0.5], "x2": [0.9], "y": [0]}, compare=True,
                         neuron_view=True)
    page = Page(page_html(view))
    assert {"view-toggle", "graph-layers", "graph-neurons"} <= set(page.ids)
    assert page.data["neurons"] == {"nodes": len(view.neurons.nodes), "edges": len(view.neurons.edges)}
    assert len(page.data["nodes"]) == len(view.nodes)
    texts = [s["text"] for s in page.data["steps"]]
    assert any(t.startswith("a1 = W1 @ x (matmul, 2) = ") for t in texts)
    assert any(t.startswith("δa3 = W2ᵀ @ δa4 (2) = ") for t in texts)
    assert any(t.startswith("∂loss/∂W1 = δa1 @ xᵀ (2x2) = ") for t in texts)
    assert set(page.rows) == {"W1", "W2", "b1", "b2"} and all(row[-1] == "✓ agree" for row in page.rows.values())
    ex = gradcli.explain(LAYER[0], shapes=["W1=2x2"], data={"x1": [-0.5], "x2": [0.9], "y": [0]}, neuron_view=True)
    explained = Page(page_html(ex))
    assert "graph-neurons" in explained.ids
    assert any("Δa1ᵀ @ X" in line for line in explained.text)  # the batch's Δᵀ X product


def test_graph_json_is_unchanged_unless_the_comparison_is_asked_for():
    plain = gradcli.graph(NOTE[0], data={"x1": [1.5], "x2": [2], "y": [1]}, params={"b": 0.5, "w1": 2, "w2": -1})
    assert plain.comparison is None and "comparison" not in plain.to_dict()
    asked = gradcli.graph(NOTE[0], data={"x1": [1.5], "x2": [2], "y": [1]}, params={"b": 0.5, "w1": 2, "w2": -1},
                          compare=True)
    assert asked.to_dict()["comparison"]["agree"] is True
    assert asked.comparison.gradients["w1"].symbolic_value == 1.5 and asked.comparison.gradients["w1"].agree


def test_text_in_the_data_cannot_end_its_script():
    view = gradcli.graph("w*x1", data={"x1": [2], "y": [1]}, params={"w": 1})
    view.nodes[0].name = "</script><script>alert(1)</script><!--"  # a name no model has, as hostile as text gets
    text = page_html(view)
    data = text[text.index('id="gradcli-data">'):]
    data = data[:data.index("</script>")]
    assert "<" not in data.removeprefix('id="gradcli-data">')
    page = Page(text)
    assert page.data["nodes"][0]["name"] == "</script><script>alert(1)</script><!--"


def test_iframe_safe_page_is_one_iframe_holding_the_page():
    view = gradcli.graph("w*x1", data={"x1": [2], "y": [1]}, params={"w": 1})
    framed = page_html(view, iframe_safe=True)
    assert framed.startswith("<iframe srcdoc=\"&lt;!DOCTYPE html&gt;") and framed.endswith("</iframe>")
    assert "<script" not in framed  # escaped inside srcdoc: nothing runs in the notebook's own page


def test_output_writes_the_page_atomically(gradcli, tmp_path):
    made = gradcli("explain", *NOTE, "--format", "html", "--output", "steps.html")
    assert made.code == 0 and made.out == "", made
    written = (tmp_path / "steps.html").read_text()
    assert written.startswith("<!DOCTYPE html>") and written.endswith("</html>\n")
    assert sorted(os.listdir(tmp_path)) == ["steps.html"]  # no temporary file left behind
    table = gradcli("graph", *NOTE, "-o", "graph.txt")  # any format, the tree too
    assert table.code == 0 and table.out == "" and "w1" in (tmp_path / "graph.txt").read_text()


@pytest.mark.parametrize("where", ["missing/page.html", ".", "data.csv"])
def test_an_output_that_cannot_be_written_is_refused_before_the_work(gradcli, tmp_path, where):
    (tmp_path / "data.csv").write_text("x1,x2,y\n1.5,2,1\n")
    made = gradcli("graph", NOTE[0], "--data", "data.csv", "--params", "b=0.5,w1=2,w2=-1", "--format", "html",
                   "--output", where)
    one_line_error(made, "--output")
    assert sorted(os.listdir(tmp_path)) == ["data.csv"] and (tmp_path / "data.csv").read_text().startswith("x1")


def test_bad_input_is_refused_before_the_output_is_touched(gradcli, tmp_path):
    (tmp_path / "page.html").write_text("old")
    made = gradcli("graph", "b+w1*x1", "--data", "x1=oops", "--format", "html", "--output", "page.html")
    one_line_error(made)
    assert (tmp_path / "page.html").read_text() == "old"


def test_the_style_and_script_ship_as_package_data():
    """A non-editable install has them: pyproject's package-data names every file the page inlines."""
    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["gradcli.views"]
    assets = root / "gradcli" / "views" / "assets"
    shipped = {path.name for pattern in globs for path in (root / "gradcli" / "views").glob(pattern)}
    assert shipped == {path.name for path in assets.iterdir()} == {"page.css", "page.js"}


def test_where_sympy_runs_out_of_time_finite_differences_are_the_witness(monkeypatch):
    monkeypatch.setattr(symbolic, "SYMBOLIC_SECONDS", 1e-9)
    view = gradcli.graph(NOTE[0], data={"x1": [1.5], "x2": [2], "y": [1]}, params={"b": 0.5, "w1": 2, "w2": -1},
                         compare=True)
    rows = Page(page_html(view)).rows
    assert rows["w1"][1:3] == ["1.5 (finite differences)", "1.5"] and rows["w1"][-1] == "✓ agree"


def test_warnings_are_on_the_page_in_a_section_of_their_own():
    """A kink's convention (its derivative taken as 0) is on stderr; the reader of the page must see it too."""
    page_text = page_html(gradcli.graph("tanh(w*x) + relu(b)", data={"x": [1.0], "y": [2.0]},
                                        params={"w": 0.3, "b": 0.0}))
    page = Page(page_text)
    assert page.ids["warnings"]["role"] == "note" and page.ids["warnings"]["aria-labelledby"] == "warnings-h"
    found = re.search(r'<section id="warnings"[^>]*>(.*?)</section>', page_text).group(1)
    assert ">Warnings</h2>" in found and "relu(b) is at its kink" in found and "taken as 0" in found
    assert 'id="warnings"' not in page_html(gradcli.graph("b+w1*x1+w2*x2", data={"x1": [1.5], "x2": [2.0],
                                                                                 "y": [1.0]}))


def test_a_long_model_wraps_in_the_title_rather_than_widen_the_page():
    """A sum of many terms has no space to break at: the page's CSS lets the title break anywhere (the browser
    test checks that the page does not scroll sideways)."""
    css = (Path(__file__).resolve().parents[2] / "gradcli" / "views" / "assets" / "page.css").read_text()
    rule = re.search(r"^([^{}\n]*)\{ overflow-wrap: anywhere; \}", css, re.MULTILINE)
    assert rule and {"h1", ".subtitle"} <= {part.strip() for part in rule.group(1).split(",")}


def test_a_neuron_view_too_wide_to_draw_leaves_the_layer_view_and_says_why(monkeypatch):
    """The neuron drawing is the wider one (2,447 px for the issue's 3x2 network): past the width limit the page
    keeps its layer drawing, without the toggle, instead of refusing the whole page."""
    from gradcli.views import drawing

    root = Path(__file__).resolve().parents[2]
    view = gradcli.graph("W2 @ tanh(W1 @ x + b1) + b2", shapes={"W1": (3, 2)}, data=str(root / "samples/moons.csv"),
                         row=1, neuron_view=True)
    assert 'id="view-toggle"' in page_html(view)
    monkeypatch.setattr(drawing, "MAX_BREADTH", 2_000)
    page = Page(page_html(view))
    assert "view-toggle" not in page.ids and "graph-neurons" not in page.ids and page.data["neurons"] is None
    assert "No neuron-by-neuron view: graph of " in " ".join(page.text) and "px to draw." in " ".join(page.text)
