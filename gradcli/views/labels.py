"""The words every format of `gradcli graph` shows for a node and an edge, so that all show the same facts.

Here, below the views that draw the graph (graph.py, drawing.py, svg.py, the page), so that each can
read them without importing another view.
"""

from __future__ import annotations

from typing import Any

from ..explaining.reports import EdgeInfo, GraphView, NodeInfo, TensorEdge, TensorGraphView, TensorNode
from .common import number, tensor_text

HIGHLIGHT_COLOUR = "#d62728"


SHORT_DIGITS = 4  # significant digits of a number in a drawing, scalar or tensor entry alike (tensor_text's)


def short_number(value: float | None) -> str:
    """A number as a drawing shows it: 4 significant digits, as a tensor's entries (the full one in its title)."""
    return "" if value is None else f"{value:.{SHORT_DIGITS}g}"


def _value(value: float | None, short: bool = False) -> str:
    return "undefined" if value is None else short_number(value) if short else number(value)


def _tensor(value: Any, short: bool) -> str:
    return tensor_text(value, SHORT_DIGITS) if short else tensor_text(value)


def shape_text(shape: list[int]) -> str:
    """A per-row shape as the drawings and steps write it: 3x2, 3, scalar."""
    return "x".join(map(str, shape)) or "scalar"


def node_label(node: NodeInfo | TensorNode, short: bool = False) -> list[str]:
    """The lines that describe a node, in every format (a tensor's with its shape); short: a drawing's numbers
    (SHORT_DIGITS), so that the layer and the neuron drawings write numbers alike."""
    head = node.name if node.op is None else f"{node.name} = {node.formula}"
    if isinstance(node, TensorNode):
        kind = node.role if node.op is None else node.op
        lines = [head, f"{kind}, {shape_text(node.shape)}, value {_tensor(node.value, short)}"]
        if node.adjoint is not None:
            lines.append(f"∂loss/∂{node.name} = {_tensor(node.adjoint, short)}")
        return lines
    kind = node.role if node.op is None else node.op
    shown = short_number if short else number
    lines = [head, f"{kind}, value {shown(node.value)}"]
    if node.adjoint is not None:
        lines.append(f"∂loss/∂{node.name} = {shown(node.adjoint)}")
    return lines


def labelled(edge: EdgeInfo | TensorEdge) -> bool:
    """Whether the edge carries a derivative: every edge but those from a constant."""
    return (edge.vjp if isinstance(edge, TensorEdge) else edge.local) is not None


def edge_label(edge: EdgeInfo | TensorEdge, short: bool = False) -> str:
    """∂above/∂this = formula = number; a formula that is its own number (1, -1) is said once. On a
    tensor graph, the vector-Jacobian product: VJP G @ xᵀ = its value (G the adjoint of the node above).

    An edge from a constant carries no derivative (explanation.EdgeInfo): its label is empty.
    """
    if isinstance(edge, TensorEdge):
        if edge.vjp is None:
            return ""
        return f"VJP {edge.vjp}" + ("" if edge.vjp_value is None else f" = {_tensor(edge.vjp_value, short)}")
    if edge.local is None:
        return ""
    value = _value(edge.local_value, short)
    return f"{edge.partial} = {edge.local}" + ("" if edge.local == value else f" = {value}")


def drawn_edge_label(view: GraphView | TensorGraphView, index: int, short: bool = True) -> str:
    """An edge's label in the drawings (svg, html): edge_label with short numbers; on a tensor graph it starts
    with the shape of what flows along the edge, the source's per-row shape: "(3x2) VJP G @ xᵀ = [...]"
    (an edge from a constant too: "(scalar)")."""
    edge = view.edges[index]
    label = edge_label(edge, short) if labelled(edge) else ""
    if isinstance(view, TensorGraphView):
        shape = f"({shape_text(view.nodes[edge.source].shape)})"
        return f"{shape} {label}" if label else shape
    return label


TENSOR_LEGEND = ("G on an edge is the adjoint ∂loss/∂node of the node that uses it; the edge's VJP is what G sends "
                 "back (⊙ multiplies entry by entry, ᵀ transposes)")
