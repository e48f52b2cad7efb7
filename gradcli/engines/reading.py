"""A graph read aloud: its edges and the paths along them from a parameter to the loss, each edge's
local derivative (as a formula and as numbers), what each node computes in its inputs' names, and
which parameters lie upstream of each node: what explain, graph and check show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..language.expr import Expr, Sym, to_text
from ..language.ops import OPS, applied
from .graph import Edge, Graph, needed_for


def node_formula(graph: Any, node: Any, called: Mapping[int, str] | None = None) -> str:
    """What a node computes, in its inputs' names: a1 = w1*x1, yhat = b + a1 + a2, a1 = W1 @ x.

    called: other names for the nodes, by id (the batch's X and A1 for x and a1)."""
    def name_of(i: int) -> str:
        return graph.nodes[i].name if called is None else called[i]

    names: list[Expr] = [Sym(name_of(i)) for i in node.inputs]
    if node.op is None:
        return name_of(node.id)
    return to_text(applied(node.op, names))


def partial_name(graph: Any, source: int, target: int, position: int) -> str:
    """How explain names the local derivative on an edge: ∂a1/∂w1 (with the argument where it is used twice)."""
    node = graph.nodes[target]
    mark = f" (argument {position + 1})" if node.inputs.count(source) > 1 else ""
    return f"∂{node.name}/∂{graph.nodes[source].name}{mark}"




def edges(graph: Graph) -> list[Edge]:
    """Every edge, consumers in topological order."""
    return [Edge(child, node.id, position) for node in graph.nodes for position, child in enumerate(node.inputs)]


def from_constant(graph: Graph, edge: Edge) -> bool:
    """Whether the edge comes from a constant (the 2 of x1**2, the pi of pi*w).

    Such an edge carries no local derivative: a constant never changes, so no gradient needs
    d target / d constant, and showing one (d(a**2)/d2 = loss*log(a)) is noise. The graph still
    has the edge, since the constant is an input of the node; every view draws it bare.
    """
    return graph.nodes[edge.source].role == "constant"


def local_formula(graph: Graph, edge: Edge) -> str | None:
    """d target / d source as a formula in the nodes' names, from the operations table; None for
    an edge from a constant."""
    if from_constant(graph, edge):
        return None
    node = graph.nodes[edge.target]
    names = [graph.nodes[i].name for i in node.inputs]
    return OPS[node.op].local_text(edge.position, names, node.name)  # type: ignore[index]


def local_values(graph: Graph, values: list[Any]) -> dict[Edge, Any]:
    """d target / d source on every edge but those from constants, at the given node values (nan or
    inf where undefined)."""
    found: dict[Edge, Any] = {}
    with np.errstate(all="ignore"):
        for edge in edges(graph):
            if from_constant(graph, edge):
                continue
            node = graph.nodes[edge.target]
            args = tuple(values[i] for i in node.inputs)
            found[edge] = OPS[node.op].local(edge.position, args, values[node.id])  # type: ignore[index]
    return found


def count_paths(graph: Graph, source: int) -> int:
    """How many paths lead from the loss back to node `source` (one per way of walking the edges)."""
    paths = [0] * len(graph.nodes)
    paths[graph.output] = 1
    for node in reversed(graph.nodes):
        for child in node.inputs:
            paths[child] += paths[node.id]
    return paths[source]


def paths(graph: Graph, source: int, limit: int) -> list[tuple[Edge, ...]]:
    """Up to `limit` paths from the loss back to node `source`, each as its edges from the loss down.

    Backprop adds the products of the local derivatives along these paths;
    there can be exponentially many, hence the limit.
    """
    leads = needed_for(graph, {source})
    found: list[tuple[Edge, ...]] = []
    stack: list[tuple[int, tuple[Edge, ...]]] = [(graph.output, ())] if leads[graph.output] else []
    while stack and len(found) < limit:
        node_id, walked = stack.pop()
        if node_id == source:
            found.append(walked)
            continue
        node = graph.nodes[node_id]
        for position in reversed(range(len(node.inputs))):  # first input explored first
            child = node.inputs[position]
            if leads[child]:
                stack.append((child, walked + (Edge(child, node_id, position),)))
    return found


