"""Reports in Jupyter: a short one-line repr, HTML with the table's facts (escaped, no script), a graph's
page in a sandboxed iframe and its SVG, and the plain repr whenever drawing fails. IPython is never
imported by gradcli: these are plain methods that Jupyter calls.

The note's point: b=0.5, w1=2, w2=-1, x1=1.5, x2=2, y=1 gives yhat 1.5, loss 0.25 and
∂loss/∂b = 1, ∂loss/∂w1 = 1.5, ∂loss/∂w2 = 2 (../shared/BACKPROP-NOTE.md).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import pytest

import gradcli
from gradcli import shown

NOTE = "b+w1*x1+w2*x2"
POINT = {"data": {"x1": [1.5], "x2": [2], "y": [1]}, "params": {"b": 0.5, "w1": 2, "w2": -1}}
DATA = Path(__file__).resolve().parents[1] / "samples" / "data.csv"
VOID = {"br", "hr", "img", "input", "meta", "link", "col", "wbr"}


class Tags(HTMLParser):
    """Every start tag, checked against its end tag: the HTML is well formed."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.seen: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    assert not tags.open, f"left open: {tags.open}"
    assert "script" not in {tag for tag, _ in tags.seen}
    return tags


def cells(html: str) -> list[str]:
    """The text of every <td>, in order."""
    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside, self.found = 0, []

        def handle_starttag(self, tag, attrs):
            if tag == "td":
                self.inside, _ = 1, self.found.append("")

        def handle_endtag(self, tag):
            if tag == "td":
                self.inside = 0

        def handle_data(self, data):
            if self.inside:
                self.found[-1] += data

    parser = Cells()
    parser.feed(html)
    return [c.strip() for c in parser.found]


@pytest.fixture(scope="module")
def grad():
    return gradcli.gradients(NOTE, **POINT)


@pytest.fixture(scope="module")
def view():
    return gradcli.graph(NOTE, **POINT)


def test_a_gradient_report_says_the_note_in_one_short_line(grad):
    assert repr(grad) == "GradientReport(b+w1*x1+w2*x2, mse, loss 0.25: ∂b 1, ∂w1 1.5, ∂w2 2; agree)"


def test_a_graph_and_an_explanation_say_the_adjoints_in_one_short_line(view):
    assert repr(view) == "GraphView(b+w1*x1+w2*x2, mse, loss 0.25: 12 nodes, 11 edges; ∂b 1, ∂w1 1.5, ∂w2 2)"
    explanation = gradcli.explain(NOTE, **POINT)
    assert repr(explanation) == ("Explanation(b+w1*x1+w2*x2, mse, loss 0.25: ∂loss/∂b 1, ∂loss/∂w1 1.5, "
                                 "∂loss/∂w2 2; 12 nodes; agree)")


def test_every_other_report_has_a_short_repr_with_its_result():
    hessian = gradcli.hessian(NOTE, **POINT)  # H = 2 [1 x1 x2]ᵀ[1 x1 x2]: its diagonal is 2, 4.5, 8
    assert repr(hessian).startswith("HessianReport(b+w1*x1+w2*x2, mse, loss 0.25: 3x3, eigenvalues ")
    assert repr(hessian).endswith("14.5; agree)")
    check = gradcli.check(NOTE, "2*(b+w1*x1+w2*x2-y)*x1", wrt="w1", points=5, **POINT)
    assert repr(check) == ("CheckReport(b+w1*x1+w2*x2, mse: ∂loss/∂w1 = 2*(b + w1*x1 + w2*x2 - y)*x1 is right; "
                           "SymPy: equivalent)")
    assert repr(gradcli.diff("x**3", wrt="x", at={"x": 2})) == "DiffReport(x**3 at x=2: df/dx 12; agree)"
    trained = gradcli.train(str(DATA), NOTE)
    said = repr(trained)
    assert said.startswith("TrainReport(b+w1*x1+w2*x2, mse, 300 rows: loss ") and "; gradient check: agree)" in said
    predicted = gradcli.predict(trained, {"x1": [1.5], "x2": [2]})
    assert repr(predicted).startswith("Predictions(b+w1*x1+w2*x2, 1 rows of data: yhat ")
    for report in (hessian, check, trained, predicted):
        assert len(repr(report)) < 200 and "\n" not in repr(report)


def test_a_long_model_keeps_the_repr_short():
    model = " + ".join(f"w{i}*x{i}" for i in range(1, 30))
    data = {f"x{i}": [1.0] for i in range(1, 30)} | {"y": [0.0]}
    report = gradcli.gradients(model, data=data, params={f"w{i}": 0.1 for i in range(1, 30)}, engines=("backprop",))
    assert len(repr(report)) < 200
    assert "… 25 more" in repr(report) and "…" in repr(report).split(",")[0]


def test_the_dataclass_equality_is_kept(grad):
    assert grad == dataclasses.replace(grad)
    assert grad != dataclasses.replace(grad, loss_value=0.5)


def test_a_gradient_reports_html_is_grads_table(grad):
    html = grad._repr_html_()
    tags = parsed(html)
    assert cells(html)[:5] == ["b", "2*(b + w1*x1 + w2*x2 - y)", "1", "1", "0"]
    assert cells(html)[6:11] == ["w1", "2*x1*(b + w1*x1 + w2*x2 - y)", "1.5", "1.5", "0"]
    assert cells(html)[12:17] == ["w2", "2*x2*(b + w1*x1 + w2*x2 - y)", "2", "2", "0"]
    text = "".join(tags.text)
    assert "mse: (yhat - y)**2  =  0.25" in text and "all 3 gradients agree (rtol 1e-09, atol 1e-12)" in text


def test_the_other_reports_html_holds_their_tables_facts():
    hessian = gradcli.hessian(NOTE, **POINT)._repr_html_()
    assert cells(hessian)[:4] == ["b", "2", "3", "4"] and cells(hessian)[4:8] == ["w1", "3", "4.5", "6"]
    wrong = gradcli.check(NOTE, "2*(b+w1*x1+w2*x2-y)", wrt="w1", points=5, **POINT)._repr_html_()
    assert "the claim is wrong" in "".join(parsed(wrong).text) and "missing: ∂a1/∂w1 = x1" in cells(wrong)
    diff = gradcli.diff("x**3", wrt="x", at={"x": 2})._repr_html_()
    assert cells(diff)[:3] == ["df/dx", "12", "12"]
    trained = gradcli.train(str(DATA), NOTE)
    text = "".join(parsed(trained._repr_html_()).text)
    assert "lbfgs, batch 300, seed 0" in text and "engines agree on the final gradient" in text
    assert cells(gradcli.predict(trained, {"x1": [1.5], "x2": [2]})._repr_html_())[:2] == ["1.5", "2"]


def test_text_in_the_html_is_escaped(grad):
    html = dataclasses.replace(grad, model="<i>a & b</i>", warnings=['"<script>"'])._repr_html_()
    tags = parsed(html)
    assert "&lt;i&gt;a &amp; b&lt;/i&gt;" in html and "<i>" not in html
    assert "<i>a & b</i>" in "".join(tags.text) and "\"<script>\"" in "".join(tags.text)


def test_a_drawing_that_fails_gives_none_so_jupyter_shows_the_repr(grad, monkeypatch):
    def broken(report):
        raise RuntimeError("a bug in drawing")

    shown.drawer_for(grad, "html")  # the drawings registered
    monkeypatch.setitem(shown._DRAWERS, ("GradientReport", "html"), broken)
    assert grad._repr_html_() is None
    assert grad._repr_svg_() is None  # a table has no SVG: None, and Jupyter shows the HTML or the repr


def test_a_missing_drawing_module_gives_none(grad, monkeypatch):
    monkeypatch.setattr(shown, "DRAWINGS", "gradcli.views.no_such_module")
    monkeypatch.setattr(shown, "_DRAWERS", {})
    assert grad._repr_html_() is None


def test_a_graph_is_its_page_in_a_sandboxed_iframe(view, monkeypatch):
    page = types.ModuleType("gradcli.views.page")
    page.page_html = lambda report, iframe_safe=False: f'<html><script>go("{report.model}")</script></html>'
    monkeypatch.setitem(sys.modules, "gradcli.views.page", page)
    frame = view._repr_html_()
    tags = parsed(frame)
    assert [tag for tag, _ in tags.seen] == ["iframe"]
    attrs = tags.seen[0][1]
    assert attrs["sandbox"] == "allow-scripts" and "height:" in attrs["style"]
    assert attrs["srcdoc"] == '<html><script>go("b+w1*x1+w2*x2")</script></html>'
    assert "&lt;script&gt;go(&quot;" in frame


def test_a_graph_without_its_page_falls_back_to_the_repr(view, monkeypatch):
    page = types.ModuleType("gradcli.views.page")  # a page module that has no page_html
    monkeypatch.setitem(sys.modules, "gradcli.views.page", page)
    assert view._repr_html_() is None


def test_a_graphs_svg_is_the_layered_drawing(view, monkeypatch):
    svg = types.ModuleType("gradcli.views.svg")
    svg.graph_svg = lambda v, standalone=True: f'<svg class="gradcli-graph"><title>{len(v.nodes)}</title></svg>'
    monkeypatch.setitem(sys.modules, "gradcli.views.svg", svg)
    assert view._repr_svg_() == '<svg class="gradcli-graph"><title>12</title></svg>'


def test_a_graph_and_an_explanation_are_the_real_page_and_svg(view):
    for report in (view, gradcli.explain(NOTE, **POINT)):
        frame = report._repr_html_()
        tags = parsed(frame)  # the page's script is inside srcdoc, escaped: the notebook runs none of it
        assert [tag for tag, _ in tags.seen] == ["iframe"] and tags.seen[0][1]["sandbox"] == "allow-scripts"
        assert 'id="step-next"' in tags.seen[0][1]["srcdoc"] and "https://" not in frame and "http://" not in frame
    svg = view._repr_svg_()
    assert 'class="gradcli-graph"' in svg and svg.count('class="node ') == len(view.nodes)


def test_a_model_with_matrices_shows_each_parameter_as_written():
    report = gradcli.gradients("W2 @ tanh(W1 @ x + b1) + b2", data=str(DATA.parent / "moons.csv"),
                               shapes={"W1": "3x2"})
    assert repr(report) == ("GradientReport(W2 @ tanh(W1 @ x + b1) + b2, mse, loss 0.343126: ∂W2 3, ∂W1 3x2, ∂b1 3, "
                            "∂b2 scalar; agree)")
    found = cells(report._repr_html_())
    assert [found[i:i + 2] for i in range(0, 20, 5)] == [["W2", "3"], ["W1", "3x2"], ["b1", "3"], ["b2", "scalar"]]


SHOWN_WITHOUT_IPYTHON = f"""
import sys
import gradcli
report = gradcli.gradients({NOTE!r}, data={POINT['data']!r}, params={POINT['params']!r})
repr(report)
print("gradcli.views.notebook" in sys.modules)
report._repr_html_()
print("gradcli.views.notebook" in sys.modules, "IPython" in sys.modules)
"""


def test_gradcli_never_imports_ipython_and_loads_the_drawings_when_shown():
    proc = subprocess.run([sys.executable, "-c", SHOWN_WITHOUT_IPYTHON], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True", "False"]
