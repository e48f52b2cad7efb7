"""The computational graph laid out in layers, the inputs at the top and the loss at the bottom (no Graphviz).

grandalf (pure Python) does the Sugiyama layout: layers, then an order within each layer that keeps
crossings few, then coordinates. Every edge is split by a vertex of its own that holds its label
(∂a1/∂w1 = x1 = 1.5), so the layout itself keeps each label clear of the nodes and of the other
labels: nodes sit in the even layers, labels in the odd ones, and grandalf keeps the boxes of one
layer apart. Inside a layer an edge runs straight along the flow, in the band of its own vertex
(beside its label's text), and it moves across only in the empty gaps between layers. So no edge
passes through a box, and a label always sits beside its own edge.

Top to bottom reads best with long labels (a vector-Jacobian product of a matrix): a label's width
then adds to its own layer only, and the depth of the graph adds only the labels' heights, where
left to right added every layer's widest label (a 14-node network: 3,850 px wide, against 1,100 px
tall top to bottom). direction="right" lays it out left to right all the same.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import GradcliError, TooLargeToDraw
from ..explaining.reports import GraphView, TensorGraphView
from .labels import drawn_edge_label, node_label

# What grandalf places: the nodes, one label per edge, and a bend wherever a long edge passes a layer. Measured
# (CPU seconds on the 2-core machine this was written on, busy): a sum of 1,500 terms (3,006 nodes) 1.3 s;
# tanh(...)*x1*x2 nested 60 deep (188 nodes, but x1 and x2 reach every depth: 21,974 places) 2.0 s, 75 deep
# (34,214 places) 2.5 s, 90 deep (49,154) 3.9 s. Past these limits a user would wait, and Graphviz does it better.
MAX_NODES = 2000
MAX_POINTS = 30_000
NO_GRANDALF = ("drawing the graph (--format svg or html) needs grandalf, which this installation of gradcli "
               "lacks: pip install grandalf")  # a dependency: only a broken installation lacks it
# Across the flow (the width, top to bottom): a sum's terms sit side by side, about 290 px each, so 600 terms made
# a drawing 180,000 px wide that one can only scroll through. Measured widths: the note's model 631 px, the issue's
# network neuron by neuron 2,447 px, w0*x+...+w59*x 17,206 px (60 terms pass; 70 do not: 20,102 px).
MAX_BREADTH = 20_000

FONT_FAMILY = "Helvetica, Arial, 'Nimbus Sans', 'Liberation Sans', sans-serif"
NAME_SIZE = 12.0  # the first line of a node: name = formula
TEXT_SIZE = 11.0  # the other lines of a node, and the edge labels
LINE_HEIGHT = 14.0  # per line of 11-12 px text
MAX_TEXT_WIDTH = 330.0  # a longer line (a vector, a matrix) is wrapped at its commas
NODE_PAD_X = 10.0
NODE_PAD_Y = 6.0
LABEL_PAD = 6.0  # before and after an edge label, along a horizontal edge
LABEL_PAD_DOWN = 3.0  # above and below an edge label, along a vertical edge
LABEL_GAP = 5.0  # between an edge label's text and its line
LAYER_GAP = 40.0  # between layers, where edges bend
GAP_MAX = 120.0  # more, where edges cross far (see _open_gaps)
ROW_GAP = 14.0  # between boxes of one layer
COMPONENT_GAP = 30.0  # between parts of the graph that share no edge
DUMMY_SIZE = 8.0  # a long edge's height as it passes a layer
PILL_END = 20.0  # the radius of a leaf's rounded ends, at most
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
_WORDS = re.compile(r"(?<= )")


def wrapped(text: str, size: float, limit: float = MAX_TEXT_WIDTH) -> list[str]:
    """A line too wide for a box, broken after a matrix row or '=' and, where still too wide, after a comma,
    then after any space (a sum of many terms)."""
    if text_width(text, size) <= limit:
        return [text]
    pieces: list[str] = []
    for part in _ROWS.split(text):
        for item in _ITEMS.split(part) if text_width(part, size) > limit else [part]:
            pieces += _WORDS.split(item) if text_width(item, size) > limit else [item]
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
    """Edge `index` of view.edges, from node `source` to node `target` along `points`; its label's text
    (`rows`, wrapped) in label_box, (label_x, label_y) its top left corner."""

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
    """The whole, from (0, 0) to (width, height); an edge's points run along the flow where two share the
    across coordinate (x going down, y going right), and bend between layers where they do not."""

    width: float
    height: float
    nodes: list[DrawnNode]  # in view.nodes' order
    edges: list[DrawnEdge] = field(default_factory=list)  # in view.edges' order
    direction: str = "down"  # the flow from the inputs to the loss: down or right


def _node_rows(lines: Sequence[str]) -> list[list[str]]:
    return [wrapped(line, NAME_SIZE if i == 0 else TEXT_SIZE) for i, line in enumerate(lines)]


def node_size(rows: Sequence[Sequence[str]], role: str) -> tuple[float, float]:
    """A node box's width and height: its text and the padding; a leaf's pill adds its rounded ends."""
    width = max(text_width(row, NAME_SIZE if i == 0 else TEXT_SIZE) for i, line in enumerate(rows) for row in line)
    height = LINE_HEIGHT * sum(len(line) for line in rows) + 2 * NODE_PAD_Y
    width += 2 * NODE_PAD_X + (2 * min(height / 2, PILL_END) / 3 if role in ("parameter", "input", "target") else 0)
    return round(width, 1), round(height, 1)


class _Box:
    """What grandalf calls a vertex's view: its size across the flow (w) and along it (h), and where grandalf
    puts its centre (xy: across, along; grandalf lays out top to bottom)."""

    def __init__(self, across: float, along: float) -> None:
        self.w = across
        self.h = along
        self.xy = (0.0, 0.0)


def layered(view: GraphView | TensorGraphView, direction: str = "down") -> Drawing:
    """The view laid out in layers from the inputs to the loss (direction "down" or "right"), every label clear
    of the rest.

    Raises GradcliError for a graph too large to lay out in a few seconds (MAX_NODES, MAX_POINTS).
    """
    if direction not in ("down", "right"):
        raise ValueError(f"direction is down or right, not {direction!r}")
    if len(view.nodes) > MAX_NODES:
        raise TooLargeToDraw(f"graph has {len(view.nodes):,} nodes, more than {MAX_NODES:,} to lay out")
    links = [(edge.source, edge.target) for edge in view.edges]
    ranks = layer_ranks(len(view.nodes), links)
    bends = sum(ranks[t] - ranks[s] - 2 for s, t in links)  # where long edges pass a layer: grandalf places each
    if len(view.nodes) + len(links) + bends > MAX_POINTS:
        raise TooLargeToDraw(f"graph has {len(view.nodes):,} nodes, and its long edges bend in {bends:,} layers they "
                             f"pass: more than {MAX_POINTS:,} places to lay out")
    down = direction == "down"
    lines = [node_label(node, short=True) for node in view.nodes]
    rows = [_node_rows(text) for text in lines]
    sizes = [node_size(rows[i], node.role) for i, node in enumerate(view.nodes)]
    labels = [drawn_edge_label(view, k) for k in range(len(view.edges))]
    label_rows = [wrapped(text, TEXT_SIZE) if text else [] for text in labels]
    boxes = [_Box(w, h) if down else _Box(h, w) for w, h in sizes] + [_label_box(lr, down) for lr in label_rows]
    _check_breadth(len(view.nodes), _widest_layer(boxes, ranks), direction, "at least ")
    laid = _lay_out(boxes, links, ranks)
    drawn = _drawing(view, lines, rows, sizes, labels, label_rows, boxes, laid, down)
    _check_breadth(len(view.nodes), drawn.width if down else drawn.height, direction)
    return drawn


def _widest_layer(boxes: list[_Box], ranks: list[int]) -> float:
    """The least breadth of the drawing, before any layout: its widest layer's boxes side by side."""
    breadth: dict[int, float] = {}
    for box, rank in zip(boxes, ranks):
        breadth[rank] = breadth.get(rank, -ROW_GAP) + box.w + ROW_GAP
    return max(breadth.values(), default=0.0)


def _check_breadth(node_count: int, breadth: float, direction: str, bound: str = "") -> None:
    """Refuses a drawing broader across the flow than MAX_BREADTH (a sum of many terms side by side)."""
    if breadth > MAX_BREADTH:
        across = "wide" if direction == "down" else "tall"
        raise TooLargeToDraw(f"graph of {node_count:,} nodes would be {bound}{breadth:,.0f} px {across}, more than "
                             f"{MAX_BREADTH:,} px to draw")


def _label_box(rows: list[str], down: bool) -> _Box:
    """An edge's label vertex: its text and, beside it, the edge (down: on its left; right: under it)."""
    if not rows:
        return _Box(DUMMY_SIZE, DUMMY_SIZE)
    width = max(text_width(row, TEXT_SIZE) for row in rows)
    height = LINE_HEIGHT * len(rows)
    return _Box(width + LABEL_GAP + 2, height + 2 * LABEL_PAD_DOWN) if down else _Box(height + LABEL_GAP + 2,
                                                                                      width + 2 * LABEL_PAD)


def layer_ranks(node_count: int, links: Sequence[tuple[int, int]]) -> list[int]:
    """Each vertex's layer: nodes (0..node_count-1) in the even layers, the label of edge k (node_count + k)
    just before its target. A node sits two layers after its latest input; a leaf two layers before its
    first consumer, so that b of b + a1 + a2 waits beside yhat rather than trailing a long edge."""
    inputs: list[list[int]] = [[] for _ in range(node_count)]
    consumers: list[list[int]] = [[] for _ in range(node_count)]
    for s, t in links:
        inputs[t].append(s)
        consumers[s].append(t)
    waiting = [len(ins) for ins in inputs]
    ready = [i for i in range(node_count) if not waiting[i]]
    rank = [0] * node_count
    for node in ready:  # grows as it goes: Kahn's topological order
        for consumer in consumers[node]:
            rank[consumer] = max(rank[consumer], rank[node] + 2)
            waiting[consumer] -= 1
            if not waiting[consumer]:
                ready.append(consumer)
    for node in range(node_count):
        if not inputs[node] and consumers[node]:
            rank[node] = min(rank[t] for t in consumers[node]) - 2
    return rank + [rank[t] - 1 for _, t in links]


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


def _lay_out(boxes: list[_Box], edges: Sequence[tuple[int, int]], ranks: list[int]) -> dict[str, Any]:
    """grandalf's Sugiyama layout of the nodes and one label vertex per edge (vertex node_count + k) in the
    layers `ranks` gives, each part of the graph on its own, stacked top to bottom. Sets every box's xy
    (grandalf's axes: x across the layers, y along them) and returns what routing needs: each vertex's
    layout, the two halves of each edge, the vertices."""
    try:
        from grandalf.graphs import Edge, Vertex, graph_core  # heavy: loaded by a drawing, not at start-up
        from grandalf.layouts import Layer, SugiyamaLayout  # heavy: loaded by a drawing, not at start-up
        from grandalf.utils.poset import Poset  # heavy: loaded by a drawing, not at start-up
    except ImportError:  # a dependency of gradcli: only a broken installation lacks it
        raise GradcliError(NO_GRANDALF) from None

    class Connected(graph_core):
        """graph_core of a part already known to be connected: grandalf's own check compares each vertex's
        part with the whole as sets, which took 40% of the time at 600 nodes and grows as their square."""

        def __init__(self, vertices: list[Any], edges: list[Any]) -> None:
            self.directed = True
            self.sV, self.sE, self.degenerated_edges = Poset(vertices), Poset([]), set()
            for edge in edges:
                self.sE.add(edge).attach()
            for vertex in vertices:
                vertex.c = self

    node_count = len(boxes) - len(edges)
    class Layout(SugiyamaLayout):
        def _detect_alignment_conflicts(self) -> None:
            """grandalf's list of conflicts, as a set: it asks it once per vertex and neighbour (quadratic
            with many long edges: 60% of the time at 20,000 places)."""
            super()._detect_alignment_conflicts()
            self.conflicts = set(self.conflicts)

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
        core = Connected([vertices[i] for i in group], [e for i in group for e in by_vertex.get(i, [])])
        layout = Layout(core)
        layout.xspace, layout.yspace = ROW_GAP, LAYER_GAP
        layout.dw, layout.dh = DUMMY_SIZE, DUMMY_SIZE  # a long edge's dummy vertices: not the median box
        # grandalf's own ranking (init_all) is quadratic in a node's inputs (a sum of 900 terms: seconds):
        # the layers are ours, then grandalf's own steps add the long edges' dummy vertices
        lowest = min(ranks[i] for i in group)
        layout.alt_e = []  # no edge to turn round: the graph has no cycle
        layout.layers = [Layer([]) for _ in range(max(ranks[i] for i in group) - lowest + 1)]
        for i in group:
            layout.grx[vertices[i]].rank = ranks[i] - lowest
            layout.layers[ranks[i] - lowest].append(vertices[i])
        for edge in core.E():
            layout.setdummies(edge)
        for layer in layout.layers:
            layer.setup(layout)
        layout.initdone = True
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 2 * len(layout.grx) + 100))  # grandalf places a layer's boxes recursively
        try:
            layout.draw(N=1.5)
        finally:
            sys.setrecursionlimit(limit)
        _open_gaps(layout)
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


def _open_gaps(layout: Any) -> None:
    """Make the gap under a layer taller where edges cross far through it (a sum of many terms fanning in):
    LAYER_GAP, plus a sixth of the widest crossing beyond 240 px, at most GAP_MAX more. Everything below
    moves down with it."""
    widest = [0.0] * len(layout.layers)
    for edge in layout.g.E():
        ctrl = layout.ctrls.get(edge)
        chain = [ctrl[r] for r in sorted(ctrl)] if ctrl else list(edge.v)
        for upper, lower in zip(chain, chain[1:]):
            rank = min(layout.grx[upper].rank, layout.grx[lower].rank)
            widest[rank] = max(widest[rank], abs(upper.view.xy[0] - lower.view.xy[0]))
    shift = 0.0
    for rank, layer in enumerate(layout.layers):
        for vertex in layer:
            vertex.view.xy = (vertex.view.xy[0], vertex.view.xy[1] + shift)
        shift += min(GAP_MAX, max(0.0, widest[rank] / 6 - LAYER_GAP))


def _bands(layout: Any) -> list[tuple[float, float]]:
    """Each layer's extent along the flow (grandalf's y): every box of a layer lies within it."""
    return [(min(v.view.xy[1] - v.view.h / 2 for v in layer), max(v.view.xy[1] + v.view.h / 2 for v in layer))
            for layer in layout.layers]


def _drawing(view: Any, lines: list[list[str]], rows: list[list[list[str]]], sizes: list[tuple[float, float]],
             labels: list[str], label_rows: list[list[str]], boxes: list[_Box], laid: dict[str, Any],
             down: bool) -> Drawing:
    """grandalf's layout turned the way asked, each edge routed through its label's band, the whole measured."""

    def placed(across: float, along: float) -> tuple[float, float]:
        return (across, along) if down else (along, across)

    node_count = len(view.nodes)
    nodes = [DrawnNode(node.id, *map(_r, placed(*boxes[i].xy)), sizes[i][0], sizes[i][1], lines[i], rows[i])
             for i, node in enumerate(view.nodes)]
    bands_of = {id(layout): _bands(layout) for layout in {id(lay): lay for lay in laid["layouts"].values()}.values()}
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
        (start, end), source, target = ports[k], boxes[edge.source], boxes[edge.target]
        source_band, target_band = (bands[layout.grx[laid["vertices"][i]].rank] for i in (edge.source, edge.target))
        along = [(start, source.xy[1] + source.h / 2), (start, source_band[1])]
        for vertex in chains[k]:
            band, across = bands[layout.grx[vertex].rank], vertex.view.xy[0]
            if vertex is label_vertex and label_rows[k]:  # beside the text: left of it, or under it
                across += (1 - vertex.view.w / 2) if down else (vertex.view.w / 2 - 1)
            along += [(across, band[0]), (across, band[1])]
        along += [(end, target_band[0]), (end, target.xy[1] - target.h / 2)]
        box = _label_place(label_vertex.view, label_rows[k], down)
        edges.append(DrawnEdge(k, edge.source, edge.target, [tuple(map(_r, placed(a, b))) for a, b in along],
                               labels[k], label_rows[k], *(box[:2] if box else (0.0, 0.0)), box))
    points = [p for e in edges for p in e.points] + [p for n in nodes for p in (n.box[:2], n.box[2:])]
    corners = [p for e in edges if e.label_box for p in (e.label_box[:2], e.label_box[2:])]
    width = max([x for x, _ in points + corners], default=0.0)
    height = max([y for _, y in points + corners], default=0.0)
    return Drawing(_r(width), _r(height), nodes, edges, "down" if down else "right")


def _r(value: float) -> float:
    return round(value, 1)


def _label_place(box: _Box, rows: list[str], down: bool) -> tuple[float, float, float, float] | None:
    """Where an edge label's text goes (left, top, right, bottom), from its vertex: beside its edge."""
    if not rows:
        return None
    width = max(text_width(row, TEXT_SIZE) for row in rows)
    height = LINE_HEIGHT * len(rows)
    if down:
        left, top = box.xy[0] - box.w / 2 + LABEL_GAP + 2, box.xy[1] - height / 2
    else:
        left, top = box.xy[1] - width / 2, box.xy[0] - box.w / 2
    return _r(left), _r(top), _r(left + width), _r(top + height)


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
            centre, side_length = boxes[node].xy[0], boxes[node].w
            step = min(PORT_STEP, (side_length - 4) / max(len(ks), 1))
            for i, k in enumerate(ks):
                ends[k][side] = centre + (i - (len(ks) - 1) / 2) * step
    return [(a, b) for a, b in ends]
