"""The computational graph as SVG text, drawn from the layered layout (views/drawing.py): no Graphviz.

The document's shape is a contract: the page's script and the browser tests find the parts by it.
  <svg class="gradcli-graph" role="img" aria-labelledby="..."> with <title> and <desc>;
  each node  <g class="node role-{role}" id="node-{id}" data-id data-name data-role> holding a <title>
             (its whole text, for screen readers), its shape, <text class="label"> (name = formula),
             <text class="value"> and, where the sweep computed one, <text class="adjoint">;
  each edge  <g class="edge" id="edge-{k}" data-edge data-source data-target data-position> holding a
             <title>, a <path> with an arrow toward the node that uses the value, and <text class="local">
             (its label; none on an edge from a constant, which is dashed);
  the nodes and edges of view.highlight_nodes / highlight_edges carry the class `highlight`, and are
  drawn in HIGHLIGHT_COLOUR with a thicker stroke (not colour alone).
Above the drawing: the model (wrapped), the tensor legend, view.warnings (class "warning", also in <desc>) and
notes. Numbers in 4 significant digits (labels.short_number); a node's and an edge's <title> have every digit.
Styles are presentation attributes, so that a page's CSS can override them. Same view, same bytes.
"""

from __future__ import annotations

import sys
from typing import IO
from xml.sax.saxutils import escape

from ..explaining.reports import GraphView, TensorGraphView
from .common import number
from .drawing import (
    FONT_FAMILY,
    LINE_HEIGHT,
    NAME_SIZE,
    NODE_PAD_Y,
    PILL_END,
    TEXT_SIZE,
    Drawing,
    DrawnEdge,
    DrawnNode,
    layered,
    text_width,
)
from .labels import HIGHLIGHT_COLOUR, TENSOR_LEGEND, drawn_edge_label, labelled, node_label

MARGIN = 16.0
TITLE_SIZE = 13.0
HEADING_LINE = 18.0
# fill, stroke, corner radius as a share of the height (0.5: a pill, as DOT's ellipse), dashed border
ROLE_STYLE = {
    "parameter": ("#dbeafe", "#1d4ed8", 0.5),
    "input": ("#f3f4f6", "#6b7280", 0.5),
    "target": ("#fef3c7", "#b45309", 0.5),
    "constant": ("#ffffff", "none", 0.0),
    "intermediate": ("#ffffff", "#374151", 0.15),
    "loss": ("#ffffff", "#111827", 0.15),
}
EDGE_COLOUR = "#6b7280"
TEXT_COLOUR = "#111827"
SOFT_TEXT = "#374151"
HEADING_COLOUR = {"title": TEXT_COLOUR, "warning": "#9a3412"}  # a warning in dark orange, and in words
THICK = 3.0  # a highlighted stroke
BASELINE = 3.5  # from a text row's baseline to the bottom of its line


def _attr(text: object) -> str:
    return escape(str(text), {'"': "&quot;"})


def _n(value: float) -> str:
    """A coordinate, short and the same on every machine."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


EDGE_SHAPES = "(3x2) at the start of an edge's label is the shape of what flows along it, per data row"


def _heading(view: GraphView | TensorGraphView, width: float) -> list[tuple[str, str, float]]:
    """The lines above the graph: (class, text, size): the model, its loss and value (wrapped, as a long model
    would widen the picture); the tensor legend; warnings (a kink's convention); notes."""
    room = max(width, 600.0)
    title = f"{view.model}, loss {view.loss}: {view.loss_formula} = {number(view.loss_value)}"
    lines = [("title", row, TITLE_SIZE) for row in _prose(title, TITLE_SIZE, room)]
    legend = [f"{TENSOR_LEGEND}; {EDGE_SHAPES}"] if isinstance(view, TensorGraphView) else []
    said = ([("legend", text) for text in legend] + [("warning", f"warning: {text}") for text in view.warnings]
            + [("note", f"note: {note}") for note in view.notes])
    return lines + [(kind, row, TEXT_SIZE) for kind, text in said for row in _prose(text, TEXT_SIZE, room)]


def _prose(text: str, size: float, room: float) -> list[str]:
    """Words filled into lines no wider than room; a word wider than room (a long model has no spaces) is cut
    where it reaches the edge."""
    lines = [""]
    for word in text.split():
        if lines[-1] and text_width(f"{lines[-1]} {word}", size) > room:
            lines.append("")
        lines[-1] = f"{lines[-1]} {word}".strip()
        while text_width(lines[-1], size) > room:
            cut = max(1, next(i for i in range(len(lines[-1]), 0, -1) if text_width(lines[-1][:i], size) <= room))
            lines[-1:] = [lines[-1][:cut], lines[-1][cut:]]
    return lines


def graph_svg(view: GraphView | TensorGraphView, *, standalone: bool = True, ids: str = "") -> str:
    """The graph as SVG: standalone, a file of its own (with xmlns); otherwise for inline use in an HTML page.

    `ids` goes before every id in the document, for a page that holds more than one graph.
    """
    drawing = layered(view)
    heading = _heading(view, drawing.width)
    top = MARGIN + HEADING_LINE * len(heading) + 8
    width = max([drawing.width] + [text_width(text, size) for _, text, size in heading]) + 2 * MARGIN
    height = top + drawing.height + MARGIN
    title = f"Computational graph of {view.model}, loss {view.loss} = {number(view.loss_value)}"
    flow = ("from the inputs at the top to the loss at the bottom" if drawing.direction == "down" else
            "from the inputs on the left to the loss on the right")
    desc = (f"{len(view.nodes)} nodes and {len(view.edges)} edges, {flow}; each node shows its operation, value and "
            "adjoint ∂loss/∂node, each edge its local derivative"
            + (" and the shape of what flows along it." if isinstance(view, TensorGraphView) else ".")
            + "".join(f" Warning: {text}" for text in view.warnings))
    if view.highlight:
        desc += f" Marked: the paths from the loss to {view.highlight}."
    out = [f'<svg{" xmlns=" + chr(34) + "http://www.w3.org/2000/svg" + chr(34) if standalone else ""} '
           f'class="gradcli-graph" role="img" aria-labelledby="{ids}gradcli-title {ids}gradcli-desc" '
           f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
           f'font-family="{_attr(FONT_FAMILY)}" font-size="{_n(TEXT_SIZE)}">',
           f'<title id="{ids}gradcli-title">{escape(title)}</title>',
           f'<desc id="{ids}gradcli-desc">{escape(desc)}</desc>',
           "<defs>", _marker(f"{ids}gradcli-arrow", EDGE_COLOUR), _marker(f"{ids}gradcli-arrow-highlight",
                                                                         HIGHLIGHT_COLOUR), "</defs>",
           '<g class="heading">']
    for i, (kind, text, size) in enumerate(heading):
        out.append(f'<text class="{kind}" x="{_n(MARGIN)}" y="{_n(MARGIN + HEADING_LINE * i + size)}" '
                   f'font-size="{_n(size)}" fill="{HEADING_COLOUR.get(kind, SOFT_TEXT)}">'
                   f"{escape(text)}</text>")
    out.append("</g>")
    out.append(f'<g class="drawing" transform="translate({_n(MARGIN)},{_n(top)})">')
    out += _edges(view, drawing, ids)
    out += _nodes(view, drawing, ids)
    out += ["</g>", "</svg>"]
    return "\n".join(out)


def graph_svg_file(view: GraphView | TensorGraphView, stream: IO[str] | None = None) -> None:
    """`gradcli graph --format svg`: the graph as an .svg file on stdout (no Graphviz needed)."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    stream.write(graph_svg(view) + "\n")  # the whole text first: a graph too large to lay out writes nothing


def _marker(marker_id: str, colour: str) -> str:
    return (f'<marker id="{marker_id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" '
            f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>')


def _path(points: list[tuple[float, float]], down: bool) -> str:
    """Straight where two points share a coordinate, else a curve that leaves and arrives along the flow."""
    parts = [f"M{_n(points[0][0])},{_n(points[0][1])}"]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if (x0, y0) == (x1, y1):
            continue
        if x0 == x1 or y0 == y1:
            parts.append(f"L{_n(x1)},{_n(y1)}")
        elif down:
            middle = (y0 + y1) / 2
            parts.append(f"C{_n(x0)},{_n(middle)} {_n(x1)},{_n(middle)} {_n(x1)},{_n(y1)}")
        else:
            middle = (x0 + x1) / 2
            parts.append(f"C{_n(middle)},{_n(y0)} {_n(middle)},{_n(y1)} {_n(x1)},{_n(y1)}")
    return " ".join(parts)


def _edges(view: GraphView | TensorGraphView, drawing: Drawing, ids: str) -> list[str]:
    marked = set(view.highlight_edges)
    out = []
    for drawn in drawing.edges:
        edge = view.edges[drawn.index]
        source, target = view.nodes[drawn.source].name, view.nodes[drawn.target].name
        on = drawn.index in marked
        colour = HIGHLIGHT_COLOUR if on else EDGE_COLOUR
        full = drawn_edge_label(view, drawn.index, short=False)  # every digit, for a screen reader and a tooltip
        said = f"{source} → {target}" + (f": {full}" if labelled(edge) else
                                          f" (from a constant: no derivative){' ' + full if full else ''}")
        out.append(f'<g class="edge{" highlight" if on else ""}" id="{ids}edge-{drawn.index}" '
                   f'data-edge="{drawn.index}" data-source="{drawn.source}" data-target="{drawn.target}" '
                   f'data-position="{edge.position}">')
        out.append(f"<title>{escape(said)}</title>")
        dashed = "" if labelled(edge) else ' stroke-dasharray="5,4"'
        arrow = f"{ids}gradcli-arrow-highlight" if on else f"{ids}gradcli-arrow"
        out.append(f'<path d="{_path(drawn.points, drawing.direction == "down")}" fill="none" stroke="{colour}" '
                   f'stroke-width="{_n(THICK if on else 1.2)}"{dashed} marker-end="url(#{arrow})"/>')
        if drawn.label:
            out.append(_edge_text(drawn, on))
        out.append("</g>")
    return out


def number_start(label: str) -> int | None:
    """Where an edge label's computed number starts ("∂a1/∂w1 = x1 = 1.5": at "1.5"; "VJP G = [...]": at "["),
    or None where the label has no number apart from its formula ("∂yhat/∂b = 1": the formula is 1)."""
    head, equals, _ = label.rpartition(" = ")
    if not equals or (head.startswith("∂") and " = " not in head):
        return None
    return len(head) + len(equals)


def _edge_rows(drawn: DrawnEdge) -> list[str]:
    """The label's rows as escaped text, its number in <tspan class="number"> (the page shows it only once the
    sweep has computed it)."""
    start = number_start(drawn.label)
    if start is None or " ".join(drawn.rows) != drawn.label:
        return [escape(row) for row in drawn.rows]
    out, offset = [], 0
    for row in drawn.rows:
        cut = min(max(start - offset, 0), len(row))
        number = f'<tspan class="number">{escape(row[cut:])}</tspan>' if cut < len(row) else ""
        out.append(escape(row[:cut]) + number)
        offset += len(row) + 1
    return out


def _edge_text(drawn: DrawnEdge, on: bool) -> str:
    style = f' fill="{HIGHLIGHT_COLOUR}" font-weight="bold"' if on else f' fill="{SOFT_TEXT}"'
    rows = "".join(f'<tspan x="{_n(drawn.label_x)}" y="{_n(drawn.label_y + LINE_HEIGHT * (i + 1) - BASELINE)}">'
                   f"{row}</tspan>" for i, row in enumerate(_edge_rows(drawn)))
    return f'<text class="local" font-size="{_n(TEXT_SIZE)}"{style}>{rows}</text>'


def _nodes(view: GraphView | TensorGraphView, drawing: Drawing, ids: str) -> list[str]:
    marked = set(view.highlight_nodes)
    out = []
    for drawn in drawing.nodes:
        node = view.nodes[drawn.id]
        on = node.id in marked
        out.append(f'<g class="node role-{node.role}{" highlight" if on else ""}" id="{ids}node-{node.id}" '
                   f'data-id="{node.id}" data-name="{_attr(node.name)}" data-role="{node.role}">')
        out.append(f"<title>{escape('; '.join(node_label(node)))}</title>")  # every digit, where the box has 4
        out += _shape(drawn, node.role, on)
        out += _node_text(drawn)
        out.append("</g>")
    return out


def _shape(drawn: DrawnNode, role: str, on: bool) -> list[str]:
    fill, stroke, rounding = ROLE_STYLE[role]
    width = THICK if on else (2.0 if role == "loss" else 1.2)
    if on:
        stroke = HIGHLIGHT_COLOUR
    left, top, _, _ = drawn.box
    radius = _n(min(drawn.h * rounding, PILL_END))
    shapes = [f'<rect class="shape" x="{_n(left)}" y="{_n(top)}" width="{_n(drawn.w)}" height="{_n(drawn.h)}" '
              f'rx="{radius}" ry="{radius}" fill="{fill}" stroke="{stroke}" stroke-width="{_n(width)}"/>']
    if role == "loss":  # a second border, as DOT's peripheries=2
        shapes.append(f'<rect class="shape-inner" x="{_n(left + 3)}" y="{_n(top + 3)}" width="{_n(drawn.w - 6)}" '
                      f'height="{_n(drawn.h - 6)}" rx="{radius}" ry="{radius}" fill="none" stroke="{stroke}" '
                      f'stroke-width="1"/>')
    return shapes


_TEXT_CLASSES = ("label", "value", "adjoint")


def _node_text(drawn: DrawnNode) -> list[str]:
    """A <text> per line of node_label (label, value, adjoint), each of its wrapped rows a <tspan>."""
    out = []
    row = 0
    top = drawn.box[1] + NODE_PAD_Y
    for i, rows in enumerate(drawn.rows):
        size = NAME_SIZE if i == 0 else TEXT_SIZE
        colour = TEXT_COLOUR if i == 0 else SOFT_TEXT
        spans = "".join(f'<tspan x="{_n(drawn.x)}" y="{_n(top + LINE_HEIGHT * (row + j + 1) - BASELINE)}">'
                        f"{escape(text)}</tspan>" for j, text in enumerate(rows))
        out.append(f'<text class="{_TEXT_CLASSES[min(i, 2)]}" text-anchor="middle" font-size="{_n(size)}" '
                   f'fill="{colour}">{spans}</text>')
        row += len(rows)
    return out
