"""Rendering `gradcli graph`: a Rich tree for the terminal, Graphviz DOT, Mermaid, JSON.

Rendering never computes; it takes the GraphView that explain.graph_view returns.
Every format shows the same facts: each node's operation, value and adjoint
∂loss/∂node, and each edge's local derivative as a formula and as a number (none on an
edge from a constant, which is drawn bare).
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from ..explaining.reports import EdgeInfo, GraphView, TensorGraphView
from .common import console_for, decorated, number
from .formats import offer
from .labels import HIGHLIGHT_COLOUR, TENSOR_LEGEND, edge_label, labelled, node_label

# ---------------------------------------------------------------- terminal


def graph_tree(view: GraphView | TensorGraphView, stream: IO[str] | None = None) -> None:
    """The graph as a tree from the loss down; a node met again is named, not redrawn."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    from rich.markup import escape
    from rich.tree import Tree

    console = console_for(stream)
    styled = decorated(console)
    marked_nodes = set(view.highlight_nodes)
    marked_edges = {(view.edges[k].source, view.edges[k].target, view.edges[k].position) for k in view.highlight_edges}
    into: dict[int, list[EdgeInfo]] = {}
    for edge in view.edges:
        into.setdefault(edge.target, []).append(edge)

    def label(node: Any, edge: Any, again: bool) -> str:
        text = "  ".join(node_label(node)) + ("  (shown above)" if again else "")
        if edge is not None and labelled(edge):
            text += f"   ◂ {edge_label(edge)}"
        marked = node.id in marked_nodes and (edge is None or (edge.source, edge.target, edge.position) in marked_edges)
        text = escape(text)
        if marked:
            return f"[bold red]» {text}[/]" if styled else f"» {text}"
        return f"[dim]{text}[/]" if styled and view.highlight and node.op is None else text

    def grow(branch: Tree, node_id: int, shown: set[int]) -> None:
        # Iterative, depth first: graphs can be deep.
        stack = [(branch, edge) for edge in reversed(into.get(node_id, []))]
        while stack:
            parent, edge = stack.pop()
            child = view.nodes[edge.source]
            again = child.op is not None and child.id in shown
            twig = parent.add(label(child, edge, again))
            if child.op is not None and not again:
                shown.add(child.id)
                stack += [(twig, e) for e in reversed(into.get(child.id, []))]

    if 4 * _depth(view, into) + 60 > console.width:  # Rich would wrap, then drop, the deepest nodes
        _graph_lines(view, into, console, label)
    else:
        root = view.nodes[view.output]
        tree = Tree(label(root, None, False), guide_style="dim" if styled else "")
        shown = {root.id}
        grow(tree, root.id, shown)
        console.print(tree)
        for node in view.nodes:  # yhat off the loss path (bce from the logit)
            if node.id not in shown and node.op is not None:
                off = Tree(label(node, None, False))
                grow(off, node.id, {node.id} | shown)
                console.print(off)
    for note in view.notes:
        console.print(escape(f"note: {note}"))
    if isinstance(view, TensorGraphView):
        console.print(escape(TENSOR_LEGEND))
    if view.highlight:
        console.print(escape(f"» marks the paths from the loss to {view.highlight}"))


def _depth(view: Any, into: dict[int, list[Any]]) -> int:
    """Levels of the tree from the loss down (a node's depth is its longest way from the loss)."""
    depth = {view.output: 0}
    for node in reversed(view.nodes):  # consumers before their inputs
        for edge in into.get(node.id, []):
            depth[edge.source] = max(depth.get(edge.source, 0), depth.get(node.id, 0) + 1)
    return max(depth.values(), default=0)


def _graph_lines(view: Any, into: dict[int, list[Any]], console: Any, label: Any) -> None:
    """Too deep for a tree at this width: one line per node, its inputs under it, nothing dropped."""
    console.print("(too deep to draw as a tree at this width: each node, then the edges into it)")
    for node in reversed(view.nodes):
        if node.op is None:
            continue
        console.print(label(node, None, False), soft_wrap=True)
        for edge in into.get(node.id, []):
            console.print("    " + label(view.nodes[edge.source], edge, False), soft_wrap=True)


# ---------------------------------------------------------------- Graphviz DOT

_DOT_ROLE_STYLE = {
    "parameter": 'shape=ellipse, style=filled, fillcolor="#dbeafe"',
    "input": 'shape=ellipse, style=filled, fillcolor="#f3f4f6"',
    "target": 'shape=ellipse, style=filled, fillcolor="#fef3c7"',
    "constant": "shape=plaintext",
    "intermediate": 'shape=box, style=rounded',
    "loss": 'shape=box, style="rounded,bold", peripheries=2',
}


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def graph_dot(view: GraphView | TensorGraphView, stream: IO[str] | None = None) -> None:
    """Valid Graphviz (dot -Tsvg accepts it): edges point from an input to the node that uses it."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    marked_nodes = set(view.highlight_nodes)
    marked_edges = set(view.highlight_edges)
    title = f"{view.model}   loss {view.loss}: {view.loss_formula} = {number(view.loss_value)}"
    if isinstance(view, TensorGraphView):
        title += "\n" + TENSOR_LEGEND
    lines = [
        "digraph gradcli {",
        f"  label={_dot_string(title)};",
        '  labelloc=t; rankdir=BT; fontname="Helvetica";',
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in view.nodes:
        style = _DOT_ROLE_STYLE[node.role]
        if node.id in marked_nodes:
            style += f', color="{HIGHLIGHT_COLOUR}", penwidth=2.5'
        lines.append(f"  n{node.id} [label={_dot_string(chr(10).join(node_label(node)))}, {style}];")
    for k, edge in enumerate(view.edges):
        if not labelled(edge):  # from a constant: drawn, dashed, with no derivative to label it
            lines.append(f"  n{edge.source} -> n{edge.target} [style=dashed];")
            continue
        style = (f', color="{HIGHLIGHT_COLOUR}", fontcolor="{HIGHLIGHT_COLOUR}", penwidth=2.5'
                 if k in marked_edges else "")
        lines.append(f"  n{edge.source} -> n{edge.target} [label={_dot_string(edge_label(edge))}{style}];")
    lines.append("}")
    stream.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- Mermaid


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label, entity codes stand for characters Mermaid would read as syntax.
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("|", "#124;"))


def graph_mermaid(view: GraphView | TensorGraphView, stream: IO[str] | None = None) -> None:
    """A Mermaid flowchart: one node statement per graph node, one link per edge."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    lines = ["flowchart BT"]
    if isinstance(view, TensorGraphView):
        lines.append(f"  %% {TENSOR_LEGEND}")
    for node in view.nodes:
        label = "<br/>".join(_mermaid_text(line) for line in node_label(node))
        lines.append(f'  n{node.id}["{label}"]')
    for edge in view.edges:
        if not labelled(edge):  # from a constant: a dotted link with no derivative to label it
            lines.append(f"  n{edge.source} -.-> n{edge.target}")
        else:
            lines.append(f'  n{edge.source} -->|"{_mermaid_text(edge_label(edge))}"| n{edge.target}')
    lines += [
        "  classDef parameter fill:#dbeafe,stroke:#1d4ed8",
        "  classDef input fill:#f3f4f6,stroke:#6b7280",
        "  classDef target fill:#fef3c7,stroke:#b45309",
        "  classDef constant fill:#ffffff,stroke:#d1d5db",
        "  classDef loss stroke-width:3px",
    ]
    for role in ("parameter", "input", "target", "constant", "loss"):
        ids = [f"n{n.id}" for n in view.nodes if n.role == role]
        if ids:
            lines.append(f"  class {','.join(ids)} {role}")
    if view.highlight_nodes:
        lines.append(f"  classDef highlight stroke:{HIGHLIGHT_COLOUR},stroke-width:3px")
        lines.append(f"  class {','.join(f'n{i}' for i in view.highlight_nodes)} highlight")
    if view.highlight_edges:
        lines.append(f"  linkStyle {','.join(map(str, view.highlight_edges))} "
                     f"stroke:{HIGHLIGHT_COLOUR},stroke-width:3px")
    stream.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- JSON


def graph_json(view: GraphView | TensorGraphView, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    json.dump(view.to_dict(), stream, indent=2)
    stream.write("\n")


offer("graph", {"tree": graph_tree, "dot": graph_dot, "mermaid": graph_mermaid, "json": graph_json,
                "svg": "svg:graph_svg_file", "html": "page:page_format"},  # the drawing's modules: on use only
      "tree for the terminal; dot (Graphviz), mermaid or json; svg, laid out here (no Graphviz); html, a page to step "
      "through (no network needed).",
      asks={"html": {"compare": True, "neuron_view": True}})  # the page shows both engines and the neuron view
