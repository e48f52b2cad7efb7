"""The computational graph laid out in layers, inputs on the left and the loss on the right (no Graphviz).

grandalf (pure Python) does the Sugiyama layout: layers, then an order within each layer that keeps
crossings few, then coordinates. Every edge is split by a vertex of its own that holds its label
(∂a1/∂w1 = x1 = 1.5), so the layout itself keeps each label clear of the nodes and of the other
labels: nodes sit in the even layers, labels in the odd ones, and grandalf keeps the boxes of one
layer apart. Edges run left to right; inside a layer an edge is a horizontal line in the band of its
own vertex (under its label's text), and it changes height only in the empty gaps between layers.
So no edge passes through a box, and a label always sits on its own edge.

grandalf lays out top to bottom; the layout here is that turned on its side (its x is our y).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import GradcliError
from ..explaining.reports import GraphView, TensorGraphView
from .labels import edge_label, labelled, node_label

# Measured on this project's reference machine (2 cores): grandalf lays out 1,500 nodes of the neuron graphs
# in about 3 s and a chain in less; past this the layout would keep a user waiting, and dot does it better.
MAX_NODES = 1500

FONT_FAMILY = "Helvetica, Arial, 'Nimbus Sans', 'Liberation Sans', sans-serif"
NAME_SIZE = 12.0  # the first line of a node: name = formula
TEXT_SIZE = 11.0  # the other lines of a node, and the edge labels
LINE_HEIGHT = 14.0  # per line of 11-12 px text
MAX_TEXT_WIDTH = 330.0  # a longer line (a vector, a matrix) is wrapped at its commas
NODE_PAD_X = 10.0
NODE_PAD_Y = 6.0
LABEL_PAD = 6.0  # around an edge label, along the edge
LABEL_GAP = 5.0  # between an edge label's text and its line
LAYER_GAP = 40.0  # between layers, where edges bend
ROW_GAP = 14.0  # between boxes of one layer
COMPONENT_GAP = 30.0  # between parts of the graph that share no edge
DUMMY_SIZE = 8.0  # a long edge's height as it passes a layer
PORT_STEP = 12.0  # between the ends of edges that meet one side of a node

# Helvetica's advance widths in thousandths of an em (the AFM metrics; Arial and Nimbus Sans share them).
_WIDTHS = dict(zip(
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
    [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
     556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015,
     667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722,
     667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333,
     556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556,
     500, 722, 500, 500, 500, 334, 260, 334, 584], strict=True))
_OTHER_WIDTH = 750  # ∂, ᵀ, ⊙, Σ, ‖ and the rest: from whichever font has them, so generously
_SAFETY = 1.08  # a browser's Helvetica stand-in may run a little wider


def text_width(text: str, size: float) -> float:
    """The width of one line of text in px, from Helvetica's metrics (with a margin for other fonts)."""
    return sum(_WIDTHS.get(char, _OTHER_WIDTH) for char in text) * size / 1000 * _SAFETY


_ROWS = re.compile(r"(?<=\], )|(?<= = )")  # after a matrix row, or after '='
_ITEMS = re.compile(r"(?<=, )")


def wrapped(text: str, size: float, limit: float = MAX_TEXT_WIDTH) -> list[str]:
    """A line too wide for a box, broken after a matrix row or '=' and, where still too wide, after a comma."""
    if text_width(text, size) <= limit:
        return [text]
    pieces: list[str] = []
    for part in _ROWS.split(text):
        pieces += _ITEMS.split(part) if text_width(part, size) > limit else [part]
    lines = [""]
    for piece in pieces:
        if lines[-1] and text_width(lines[-1] + piece, size) > limit:
            lines.append("")
        lines[-1] += piece
    return [line.rstrip() for line in lines if line.strip()]


@dataclass(frozen=True)
class DrawnNode:
    """A node's box: (x, y) its centre, w x h its size; `lines` as node_label gives them, `rows` each line
    as drawn (wrapped where long)."""

    id: int
    x: float
    y: float
    w: float
    h: float
    lines: list[str]
    rows: list[list[str]]

    @property
    def box(self) -> tuple[float, float, float, float]:
        """left, top, right, bottom"""
        return self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2


@dataclass(frozen=True)
class DrawnEdge:
    """Edge `index` of view.edges, from node `source` to node `target`: `points` of a line that runs
    horizontally where two points share a y and curves (horizontal at both ends) where they do not;
    the label's rows with (label_x, label_y) the left end of its first baseline and label_box its box."""

    index: int
    source: int
    target: int
    points: list[tuple[float, float]]
    label: str
    rows: list[str]
    label_x: float
    label_y: float
    label_box: tuple[float, float, float, float] | None  # left, top, right, bottom; None with no label


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    nodes: list[DrawnNode]  # in view.nodes' order
    edges: list[DrawnEdge] = field(default_factory=list)  # in view.edges' order


def _node_rows(lines: Sequence[str]) -> list[list[str]]:
    return [wrapped(line, NAME_SIZE if i == 0 else TEXT_SIZE) for i, line in enumerate(lines)]


def node_size(rows: Sequence[Sequence[str]], role: str) -> tuple[float, float]:
    """A node box's width and height: its text and the padding; a leaf's pill adds its rounded ends."""
    width = max(text_width(row, NAME_SIZE if i == 0 else TEXT_SIZE) for i, line in enumerate(rows) for row in line)
    height = LINE_HEIGHT * sum(len(line) for line in rows) + 2 * NODE_PAD_Y
    width += 2 * NODE_PAD_X + (height / 3 if role in ("parameter", "input", "target") else 0)
    return round(width, 1), round(height, 1)


class _Box:
    """What grandalf calls a vertex's view: its size across the layers (w) and along them (h), turned on the
    side, and where grandalf puts it."""

    def __init__(self, across: float, along: float) -> None:
        self.w = across
        self.h = along
        self.xy = (0.0, 0.0)


def layered(view: GraphView | TensorGraphView) -> Drawing:
    """The view laid out in layers from the inputs (left) to the loss (right), every label clear of the rest.

    Raises GradcliError for a graph of more than MAX_NODES nodes: grandalf would keep the user waiting.
    """
    if len(view.nodes) > MAX_NODES:
        raise GradcliError(f"graph has {len(view.nodes):,} nodes, more than {MAX_NODES:,} to lay out; "
                           "use --format dot")
    lines = [node_label(node) for node in view.nodes]
    rows = [_node_rows(text) for text in lines]
    sizes = [node_size(rows[i], node.role) for i, node in enumerate(view.nodes)]
    labels = [edge_label(edge) if labelled(edge) else "" for edge in view.edges]
    label_rows = [wrapped(text, TEXT_SIZE) if text else [] for text in labels]
    label_sizes = [((max(text_width(row, TEXT_SIZE) for row in lr) + 2 * LABEL_PAD) if lr else DUMMY_SIZE,
                    (LINE_HEIGHT * len(lr) + LABEL_GAP + 2) if lr else DUMMY_SIZE) for lr in label_rows]
    boxes = [_Box(h, w) for w, h in sizes] + [_Box(h, w) for w, h in label_sizes]
    ranks = _lay_out(boxes, [(e.source, e.target) for e in view.edges], len(view.nodes))
    return _drawing(view, lines, rows, sizes, labels, label_rows, label_sizes, boxes, ranks)


def _components(count: int, links: Sequence[tuple[int, int]]) -> list[list[int]]:
    """The vertices 0..count-1 in groups that share no link, each group in ascending order."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in range(count):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda group: group[0])


def _lay_out(boxes: list[_Box], edges: list[tuple[int, int]], node_count: int) -> dict[int, Any]:
    """grandalf's Sugiyama layout of the nodes and one label vertex per edge (vertex node_count + k), each
    part of the graph on its own, stacked top to bottom. Sets every box's xy (grandalf's axes: x across
    the layers, y along them) and returns, per part, what routing needs: the layout and the vertices."""
    from grandalf.graphs import Edge, Vertex, graph_core  # heavy: loaded by a drawing, not at start-up
    from grandalf.layouts import SugiyamaLayout  # heavy: loaded by a drawing, not at start-up

    vertices = [Vertex(i) for i in range(len(boxes))]
    for vertex, box in zip(vertices, boxes):
        vertex.view = box
    links = [(s, node_count + k) for k, (s, _) in enumerate(edges)] + [
        (node_count + k, t) for k, (_, t) in enumerate(edges)]
    halves = [(Edge(vertices[s], vertices[node_count + k]), Edge(vertices[node_count + k], vertices[t]))
              for k, (s, t) in enumerate(edges)]
    by_vertex: dict[int, list[Any]] = {}
    for k, (s, _) in enumerate(edges):
        by_vertex.setdefault(s, []).append(halves[k][0])
        by_vertex.setdefault(node_count + k, []).append(halves[k][1])
    layouts: dict[int, Any] = {}
    offset = 0.0
    for group in _components(len(boxes), links):
        core = graph_core([vertices[i] for i in group], [e for i in group for e in by_vertex.get(i, [])])
        layout = SugiyamaLayout(core)
        layout.xspace, layout.yspace = ROW_GAP, LAYER_GAP
        layout.dw, layout.dh = DUMMY_SIZE, DUMMY_SIZE  # a long edge's dummy vertices: not the median box
        layout.init_all(optimize=True)
        layout.draw(N=1.5)
        placed = [vertices[i].view for i in group] + [d.view for ctrl in layout.ctrls.values() for d in ctrl.values()]
        low = min(box.xy[0] - box.w / 2 for box in placed)
        high = max(box.xy[0] + box.w / 2 for box in placed)
        top = min(box.xy[1] - box.h / 2 for box in placed)
        for box in {id(box): box for box in placed}.values():
            box.xy = (box.xy[0] - low + offset, box.xy[1] - top)
        offset += high - low + COMPONENT_GAP
        for i in group:
            layouts[i] = layout
    return {"layouts": layouts, "halves": halves, "vertices": vertices}


def _bands(layout: Any) -> list[tuple[float, float]]:
    """Each layer's extent along the flow (grandalf's y): every box of a layer lies within it."""
    return [(min(v.view.xy[1] - v.view.h / 2 for v in layer), max(v.view.xy[1] + v.view.h / 2 for v in layer))
            for layer in layout.layers]


def _drawing(view: Any, lines: list[list[str]], rows: list[list[list[str]]], sizes: list[tuple[float, float]],
             labels: list[str], label_rows: list[list[str]], label_sizes: list[tuple[float, float]],
             boxes: list[_Box], laid: dict[str, Any]) -> Drawing:
    """Turn the layout on its side, route each edge through its label's band, and measure the whole."""
    node_count = len(view.nodes)
    nodes = [DrawnNode(node.id, round(boxes[i].xy[1], 1), round(boxes[i].xy[0], 1), sizes[i][0], sizes[i][1],
                       lines[i], rows[i]) for i, node in enumerate(view.nodes)]
    bands_of = {id(layout): _bands(layout) for layout in laid["layouts"].values()}
    chains = []
    for k, edge in enumerate(view.edges):
        layout = laid["layouts"][edge.source]
        first, second = laid["halves"][k]
        chains.append([*_between(layout, first), laid["vertices"][node_count + k], *_between(layout, second)])
    ports = _ports(view, boxes, chains)
    edges = []
    for k, edge in enumerate(view.edges):
        layout = laid["layouts"][edge.source]
        bands = bands_of[id(layout)]
        label_vertex = laid["vertices"][node_count + k]
        (start_y, end_y), source, target = ports[k], nodes[edge.source], nodes[edge.target]
        start_band = bands[layout.grx[laid["vertices"][edge.source]].rank]
        end_band = bands[layout.grx[laid["vertices"][edge.target]].rank]
        points = [(source.x + source.w / 2, start_y), (start_band[1], start_y)]
        for vertex in chains[k]:
            band, across = bands[layout.grx[vertex].rank], vertex.view.xy[0]
            y = across + vertex.view.w / 2 - 1 if vertex is label_vertex and label_rows[k] else across
            points += [(band[0], y), (band[1], y)]
        points += [(end_band[0], end_y), (target.x - target.w / 2, end_y)]
        box, label_x, label_y = None, 0.0, 0.0
        if label_rows[k]:
            left = label_vertex.view.xy[1] - label_sizes[k][0] / 2 + LABEL_PAD
            top = label_vertex.view.xy[0] - label_vertex.view.w / 2
            box = (round(left, 1), round(top, 1), round(left + label_sizes[k][0] - 2 * LABEL_PAD, 1),
                   round(top + LINE_HEIGHT * len(label_rows[k]), 1))
            label_x, label_y = box[0], round(top + LINE_HEIGHT - 3.5, 1)
        edges.append(DrawnEdge(k, edge.source, edge.target, [(round(x, 1), round(y, 1)) for x, y in points],
                               labels[k], label_rows[k], label_x, label_y, box))
    width = max([n.box[2] for n in nodes] + [p[0] for e in edges for p in e.points], default=0.0)
    height = max([n.box[3] for n in nodes] + [p[1] for e in edges for p in e.points] +
                 [e.label_box[3] for e in edges if e.label_box], default=0.0)
    return Drawing(round(width, 1), round(height, 1), nodes, edges)


def _between(layout: Any, edge: Any) -> list[Any]:
    """The dummy vertices grandalf put on a long edge, from its source on."""
    ctrl = layout.ctrls.get(edge)
    if not ctrl:
        return []
    ranks = sorted(ctrl)
    return [ctrl[r] for r in ranks[1:-1]]


def _ports(view: Any, boxes: list[_Box], chains: list[list[Any]]) -> list[tuple[float, float]]:
    """Where each edge leaves its source and meets its target: the edges at one side of a node spread along
    it, in the order of where they go to (or come from), so that they do not cross there."""
    ends: list[list[float]] = [[0.0, 0.0] for _ in view.edges]
    for side, mine, nearest in ((0, "source", 0), (1, "target", -1)):
        at: dict[int, list[int]] = {}
        for k, edge in enumerate(view.edges):
            at.setdefault(getattr(edge, mine), []).append(k)
        for node, ks in at.items():
            ks.sort(key=lambda k: (chains[k][nearest].view.xy[0], k))
            centre, height = boxes[node].xy[0], boxes[node].w
            step = min(PORT_STEP, (height - 4) / max(len(ks), 1))
            for i, k in enumerate(ks):
                ends[k][side] = centre + (i - (len(ks) - 1) / 2) * step
    return [(a, b) for a, b in ends]
