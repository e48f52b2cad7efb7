"""A graph read aloud: what each node computes in its inputs' names, and how each edge's local
derivative is named, as explain, graph and check show them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..language.expr import Binary, Call, Expr, Sym, Unary, to_text


def node_formula(graph: Any, node: Any, called: Mapping[int, str] | None = None) -> str:
    """What a node computes, in its inputs' names: a1 = w1*x1, yhat = b + a1 + a2, a1 = W1 @ x.

    called: other names for the nodes, by id (the batch's X and A1 for x and a1)."""
    def name_of(i: int) -> str:
        return graph.nodes[i].name if called is None else called[i]

    names: list[Expr] = [Sym(name_of(i)) for i in node.inputs]
    if node.op is None:
        return name_of(node.id)
    if node.op == "identity":
        return name_of(node.inputs[0])
    if node.op == "add":
        expr = names[0]
        for term in names[1:]:
            expr = Binary("add", expr, term)
    elif node.op in ("sub", "mul", "div", "pow", "matmul"):
        expr = Binary(node.op, names[0], names[1])
    elif node.op == "neg":
        expr = Unary("neg", names[0])
    else:
        expr = Call(node.op, tuple(names))
    return to_text(expr)


def partial_name(graph: Any, source: int, target: int, position: int) -> str:
    """How explain names the local derivative on an edge: ∂a1/∂w1 (with the argument where it is used twice)."""
    node = graph.nodes[target]
    mark = f" (argument {position + 1})" if node.inputs.count(source) > 1 else ""
    return f"∂{node.name}/∂{graph.nodes[source].name}{mark}"
