"""The words every format of `gradcli graph` shows for a node and an edge, so that all show the same facts.

Here, below the views that draw the graph (graph.py, drawing.py, svg.py, the page), so that each can
read them without importing another view.
"""

from __future__ import annotations

from ..explaining.reports import EdgeInfo, NodeInfo, TensorEdge, TensorNode
from .common import number, tensor_text

HIGHLIGHT_COLOUR = "#d62728"


def _value(value: float | None) -> str:
    return "undefined" if value is None else number(value)


def node_label(node: NodeInfo | TensorNode) -> list[str]:
    """The lines that describe a node, in every format (a tensor's with its shape)."""
    head = node.name if node.op is None else f"{node.name} = {node.formula}"
    if isinstance(node, TensorNode):
        kind = node.role if node.op is None else node.op
        shape = "x".join(map(str, node.shape)) or "scalar"
        lines = [head, f"{kind}, {shape}, value {tensor_text(node.value)}"]
        if node.adjoint is not None:
            lines.append(f"∂loss/∂{node.name} = {tensor_text(node.adjoint)}")
        return lines
    kind = node.role if node.op is None else node.op
    lines = [head, f"{kind}, value {number(node.value)}"]
    if node.adjoint is not None:
        lines.append(f"∂loss/∂{node.name} = {number(node.adjoint)}")
    return lines


def labelled(edge: EdgeInfo | TensorEdge) -> bool:
    """Whether the edge carries a derivative: every edge but those from a constant."""
    return (edge.vjp if isinstance(edge, TensorEdge) else edge.local) is not None


def edge_label(edge: EdgeInfo | TensorEdge) -> str:
    """∂above/∂this = formula = number; a formula that is its own number (1, -1) is said once. On a
    tensor graph, the vector-Jacobian product: VJP G @ xᵀ = its value (G the adjoint of the node above).

    An edge from a constant carries no derivative (explanation.EdgeInfo): its label is empty.
    """
    if isinstance(edge, TensorEdge):
        if edge.vjp is None:
            return ""
        return f"VJP {edge.vjp}" + ("" if edge.vjp_value is None else f" = {tensor_text(edge.vjp_value)}")
    if edge.local is None:
        return ""
    value = _value(edge.local_value)
    return f"{edge.partial} = {edge.local}" + ("" if edge.local == value else f" = {value}")


TENSOR_LEGEND = ("G on an edge is the adjoint ∂loss/∂node of the node that uses it; the edge's VJP is what G sends "
                 "back (⊙ multiplies entry by entry, ᵀ transposes)")
