"""The html page of `gradcli graph` and `gradcli explain`: one self-contained file to step through.

One file, no network: the graph as inline SVG (views/svg.py), the CSS and a small hand-written script
(assets/page.css, assets/page.js, package data, inlined here) and the facts the script needs as JSON
in <script type="application/json" id="gradcli-data">. With JavaScript off the page is a static
picture with every number, the steps, the tables and every parameter's paths.

The DOM contract (the browser tests rely on it): #graph holds the svg; button#step-prev, #step-next,
#step-reset and the ← → keys step; #step-status (aria-live) says the step; a node <g> gets
data-shown="value" after its forward step and data-shown="adjoint" after its backward step; a
parameter (its node, or button.param[data-param] in #gradients) marks its paths' nodes and edges with
class on-path, #paths lists them and #path-sum gives their sum; #gradients rows tr[data-param]. For
tensors, button#view-toggle switches #graph-layers and #graph-neurons.
"""

from __future__ import annotations

import json
import re
import sys
from html import escape
from importlib import resources
from typing import IO, Any

from ..errors import TooLargeToDraw
from .page_facts import Facts, ParamFacts, facts_of, more_paths, verdict_words
from .svg import graph_svg


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _svg(view: Any, ids: str = "") -> str:
    return graph_svg(view, standalone=False, ids=ids)


def _data(report: Any, facts: Facts, drawn_neurons: bool) -> dict[str, Any]:
    """What the script reads: the graph's nodes and edges, the steps, each parameter's paths."""
    view = report.view if hasattr(report, "view") else report
    neurons = getattr(view, "neurons", None) if drawn_neurons else None
    return {
        "kind": "tensor" if hasattr(view, "shapes") else "scalar",
        "nodes": [{"id": n.id, "name": n.name, "role": n.role} for n in view.nodes],
        "edges": [{"source": e.source, "target": e.target, "position": e.position} for e in view.edges],
        "steps": [{"phase": s.phase, "node": s.node, "text": s.text} for s in facts.steps],
        "params": {p.name: {"node": p.node, "nodes": p.nodes, "edges": p.edges, "paths": p.paths, "sum": p.sum_text}
                   for p in facts.params},
        "neurons": None if neurons is None else {"nodes": len(neurons.nodes), "edges": len(neurons.edges)},
        "verdict": facts.verdict,
        "highlight": getattr(view, "highlight", None),  # --highlight: its paths marked when the page opens
    }


def _json_script(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")  # no "</script>" or "<!--" can end it
    return f'<script type="application/json" id="gradcli-data">{text}</script>'


def _controls(has_neurons: bool) -> str:
    toggle = ('<button id="view-toggle" type="button" aria-pressed="false" aria-controls="graph-layers graph-neurons">'
              "Show the neuron-level graph</button>") if has_neurons else ""
    return ('<div class="controls js-only" role="group" aria-label="Step through the passes">'
            '<button id="step-reset" type="button">⟲ Start again</button>'
            '<button id="step-prev" type="button" aria-keyshortcuts="ArrowLeft">← Back</button>'
            '<button id="step-next" type="button" aria-keyshortcuts="ArrowRight">Next →</button>'
            f'{toggle}<span class="key">keys: ← and →</span></div>'
            '<p id="step-status" role="status" aria-live="polite">Every value and adjoint is shown. With JavaScript '
            "on, the buttons step through the forward pass, then the backward sweep.</p>")


def _neuron_svg(view: Any) -> tuple[str | None, str]:
    """The neuron-level drawing (None where none was asked for, or where it is too wide to draw: the page keeps
    the layer-level one), and why there is none."""
    neurons = getattr(view, "neurons", None)
    if neurons is None:
        return None, ""
    try:
        return _svg(neurons, "neurons-"), ""
    except TooLargeToDraw as error:
        return None, f"No neuron-by-neuron view: {error}."


def _picture(report: Any, neuron_svg: str | None, why: str) -> str:
    view = report.view if hasattr(report, "view") else report
    if neuron_svg is None:
        svg = _svg(view)
        note = f'<p class="note">{escape(why)}</p>' if why else _no_neurons(view)
        return f'<div id="graph" class="stepped{_fit(svg)}"{_legible(svg)}>{svg}</div>{note}'
    layers = _svg(view)
    return ('<div id="graph">'
            f'<div id="graph-layers" class="stepped{_fit(layers)}"{_legible(layers)}><h3>Layer by layer: one node '
            "per tensor operation, "
            f"with its shape</h3>{layers}</div>"
            '<div id="graph-neurons"><h3>Neuron by neuron: the model written out entry by entry</h3>'
            f'{neuron_svg}</div></div>')


def _fit(svg: str, widest: float = 1800) -> str:
    """The class " fit" where the drawing is narrow enough to shrink to the page's width and stay readable."""
    found = re.search(r'<svg[^>]*\swidth="([0-9.]+)', svg)
    return " fit" if found and float(found.group(1)) <= widest else ""


def _legible(svg: str, smallest: float = 9 / 11) -> str:
    """The least height (--legible-height) a fitted drawing may shrink to: its 11 px text kept at 9 px or more.
    Fitting the window's height shrinks it no further; the box scrolls instead."""
    found = re.search(r'<svg[^>]*\sheight="([0-9.]+)', svg)
    return f' style="--legible-height: {float(found.group(1)) * smallest:.0f}px"' if found else ""


def _no_neurons(view: Any) -> str:
    """On a tensor page without the neuron view: why (the --neurons limits)."""
    if not hasattr(view, "shapes"):
        return ""
    from ..explaining.tensors import NEURONS_MAX_ENTRIES, NEURONS_MAX_NODES  # NumPy: only for a tensor page

    return (f'<p class="note">No neuron-by-neuron view: it is drawn for models of at most {NEURONS_MAX_ENTRIES} '
            f"parameter entries and {NEURONS_MAX_NODES} nodes written out (the --neurons rule).</p>")


def _steps(facts: Facts) -> str:
    items = "".join(f'<li data-step="{k}" data-phase="{s.phase}" data-node="{s.node}">'
                    f'<span class="phase">{escape(s.phase)}</span> <span class="text">{escape(s.text)}</span></li>'
                    for k, s in enumerate(facts.steps))
    return ('<section aria-labelledby="steps-h"><h2 id="steps-h">Step by step: the forward pass, then the backward '
            'sweep</h2><p class="note">Forward: each node\'s value from its inputs. Backward: each adjoint '
            "∂loss/∂node as the sum, over the nodes that use it, of their adjoint × the local derivative.</p>"
            f'<ol id="steps">{items}</ol></section>')


def _row(p: ParamFacts) -> str:
    verdict = verdict_words(p.verdict, p.compared)
    kind = "agree" if p.compared and p.verdict else "disagree" if p.compared and p.verdict is False else "none"
    cells = [p.symbolic, p.backprop, p.path_sum, p.diff]
    numbers = "".join(f'<td class="number {name}">{escape(cell)}</td>'
                      for name, cell in zip(("symbolic", "backprop", "path-sum", "diff"), cells))
    return (f'<tr data-param="{escape(p.name)}"><th scope="row"><button class="param" type="button" '
            f'data-param="{escape(p.name)}" aria-pressed="false" aria-controls="paths">{escape(p.name)}</button></th>'
            f'{numbers}<td class="verdict {kind}">{escape(verdict)}</td></tr>')


def _gradients(facts: Facts) -> str:
    rows = "".join(_row(p) for p in facts.params)
    overall = ("– not compared: the page was made without SymPy's values" if not facts.compared else
               {True: "✓ every gradient agrees: SymPy's and backprop's", False: "✗ a gradient disagrees",
                None: "– not compared (within rounding of a kink)"}[facts.verdict])
    return ('<section aria-labelledby="gradients-h"><h2 id="gradients-h">Gradients: both engines</h2>'
            '<table id="gradients"><caption>Each parameter\'s gradient ∂loss/∂parameter: SymPy\'s (from the whole '
            "formula), backprop's (the sweep's adjoint), the sum over paths, their difference and the verdict. "
            "Choose a parameter to mark its paths.</caption><thead><tr><th scope=\"col\">parameter</th>"
            '<th scope="col">symbolic (SymPy)</th><th scope="col">backprop</th><th scope="col">sum over paths</th>'
            '<th scope="col">|diff|</th><th scope="col">verdict</th></tr></thead>'
            f'<tbody>{rows}</tbody></table><p id="verdict">Verdict: {escape(overall)}</p></section>')


def _paths(facts: Facts) -> str:
    sections = []
    for p in facts.params:
        items = "".join(f"<li>{escape(text)}</li>" for text in p.paths) or "<li>no path leads from the loss here</li>"
        more = f'<p class="note">{more_paths(p.left_out)} left out.</p>' if p.left_out else ""
        sections.append(f'<section class="param-paths" data-param="{escape(p.name)}"><h3>Paths from the loss to '
                        f'{escape(p.name)} ({p.total:,})</h3><ol>{items}</ol>{more}'
                        f'<p class="sum">{escape(p.sum_text)}</p></section>')
    return ('<section aria-labelledby="paths-h"><h2 id="paths-h">Paths: the chain rule, path by path</h2>'
            '<p class="note">Multiply the local derivatives along each path from the loss to the parameter; the '
            "paths' sum is the gradient.</p>"
            f'<div id="paths">{"".join(sections)}</div>'
            '<p id="path-sum">Each parameter\'s sum is under its paths.</p></section>')


def _lines_section(heading: str, lines: list[str], ident: str = "") -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<section{ident}><h2>{escape(heading)}</h2><ul class="formula">{items}</ul></section>'


def _warnings(warnings: list[str]) -> str:
    """What the command says on stderr (a kink's convention: its derivative taken as 0), where the reader sees it."""
    if not warnings:
        return ""
    items = "".join(f"<li>{escape(text)}</li>" for text in warnings)
    return (f'<section id="warnings" role="note" aria-labelledby="warnings-h"><h2 id="warnings-h">Warnings</h2>'
            f"<ul>{items}</ul></section>")


def page_html(report: Any, *, iframe_safe: bool = False) -> str:
    """The page of a GraphView, TensorGraphView, Explanation or TensorExplanation. iframe_safe: the page
    as an <iframe srcdoc> (its ids and script kept apart from a notebook's own page)."""
    facts = facts_of(report)
    view = report.view if hasattr(report, "view") else report
    neuron_svg, why = _neuron_svg(view)
    subtitle = "".join(f"<li>{escape(line)}</li>" for line in facts.subtitle)
    reuse = facts.reused or ["no adjoint below the loss is shared by two parameters here"]
    notes = _warnings(getattr(view, "warnings", [])) + "".join(f'<p class="note">note: {escape(note)}</p>'
                                                              for note in facts.notes)
    extra = "".join(_lines_section(heading, lines) for heading, lines in facts.extra if lines)
    reuse_section = _lines_section("Calculate once, use many times", reuse, ' id="reuse"')
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(facts.title)}</title><style>{_asset('page.css')}</style></head><body>"
        f'<header><h1>{escape(facts.title)}</h1><ul class="subtitle">{subtitle}</ul>{notes}</header><main>'
        '<section id="picture" aria-labelledby="picture-h"><div class="side">'
        '<h2 id="picture-h">The graph, from the inputs to the loss</h2>'
        '<p class="note">Each node: its formula, value and adjoint ∂loss/∂node; each edge: its local derivative. '
        'A dashed edge comes from a constant.<span class="js-only"> Stepping, an edge\'s number appears when the '
        "backward sweep reaches the node it feeds, which computes it; a solid orange border and "
        '"▶ this step" mark the step\'s node, a dashed blue one the paths of a parameter you click.</span></p>'
        f"{_controls(neuron_svg is not None)}{_steps(facts)}</div>{_picture(report, neuron_svg, why)}</section>"
        f"{_gradients(facts)}{_paths(facts)}"
        f"{reuse_section}{extra}"
        f"</main>{_json_script(_data(report, facts, neuron_svg is not None))}"
        f"<script>{_asset('page.js')}</script></body></html>\n"
    )
    if not iframe_safe:
        return page
    return (f'<iframe srcdoc="{escape(page, quote=True)}" title="{escape(facts.title)}" sandbox="allow-scripts" '
            'style="width: 100%; height: 900px; border: 1px solid #d0d7de;"></iframe>')


def page_format(report: Any, stream: IO[str] | None = None) -> None:
    """--format html: the page, written whole (made first, so a failure writes nothing)."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    stream.write(page_html(report))
