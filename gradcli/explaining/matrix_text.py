"""The backward pass of a layer written for people: each vector-Jacobian product as a formula in its
inputs' names (G for the adjoint coming in), and the batch form over the rows (X, A1, δ, Δᵀ X) that
explain prints beside the numbers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..engines.reading import node_formula
from ..language.ops import OPS
from ..language.tensors import shown

ATOMIC_NAME = re.compile(r"[A-Za-z0-9_.\[\],ᵀδΔ]+\Z")  # a name or a number: no parentheses needed


ADJOINT_G = re.compile(r"(?<![A-Za-z0-9_])G(?![A-Za-z0-9_])")


def is_atomic(text: str) -> bool:
    """A name, a number or one call (step(a2)): a factor that needs no parentheses."""
    if ATOMIC_NAME.match(text):
        return True
    call = re.match(r"[A-Za-z_][A-Za-z0-9_]*\(", text)
    if not call or not text.endswith(")"):
        return False
    depth = 0
    for k, ch in enumerate(text[call.end() - 1:], call.end() - 1):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0:
            return k == len(text) - 1
    return False


def times_text(g: str, local: str, entrywise: bool) -> str:
    """The adjoint g times a local derivative: ⊙ entry by entry for vectors and matrices, * for scalars."""
    if local == "1":
        return g
    if local == "-1":
        return f"-{g}"
    if local == "0":
        return "0"
    if entrywise:
        return f"{g} ⊙ {local if is_atomic(local) else f'({local})'}"
    return f"{g}*{local if ' ' not in local and not local.startswith('-') else f'({local})'}"


def vjp_template(op: Any, position: int, args: list[str], out: str, g: str) -> str:
    """A tensor operation's VJP formula (ops.py's local_text) with G written as `g`. The names go in after
    G is replaced, so that a name of the user's such as G is never mistaken for it."""
    marks = [f"\x01{k}\x02" for k in range(len(args))]
    text = ADJOINT_G.sub(lambda _: g, op.local_text(position, marks, "\x03"))
    for mark, name in zip(marks, args):
        text = text.replace(mark, name)
    return text.replace("\x03", out)


def summed_text(text: str, child: Any, node: Any) -> str:
    """An elementwise contribution summed down to the child's shape where broadcasting widened it."""
    if child.shape == node.shape:
        return text
    return f"sum({text})" if not child.shape else f"({text}) summed to {shown(child.shape)}"


def vjp_text(graph: Any, edge: Any, names: Mapping[int, str], g: str) -> str:
    """The vector-Jacobian product on an edge: what the consumer's adjoint `g` sends to the edge's source,
    in the nodes' names (`names`)."""
    node, child = graph.nodes[edge.target], graph.nodes[edge.source]
    op = OPS[node.op]
    args = [names[i] for i in node.inputs]
    if op.elementwise:
        local = op.local_text(edge.position, args, names[node.id])
        return summed_text(times_text(g, local, bool(node.shape)), child, node)
    return vjp_template(op, edge.position, args, names[node.id], g)


def op_batch_text(op: Any, a: Any, b: Any, names: Mapping[int, str], g: str) -> tuple[str, ...] | None:
    """The op's matrix form over the batch (C = X @ W1ᵀ) and its VJPs to a and to b, or None."""
    return op.batch_text((a.shape, a.batched), (b.shape, b.batched), names[a.id], names[b.id], g)


def batch_names(graph: Any) -> dict[int, str]:
    """The batch's name of each node: its rows stacked for a node with a row axis (x -> X, a1 -> A1),
    its own name otherwise (W1, b1). A capital already taken keeps the name in brackets: [x]."""
    taken = {node.name for node in graph.nodes}
    found = {}
    for node in graph.nodes:
        name = node.name
        if node.batched:
            upper = name[:1].upper() + name[1:]
            name = upper if upper != name and upper not in taken else f"[{name}]"
        found[node.id] = name
    return found


def batch_forward(graph: Any, node: Any, names: Mapping[int, str]) -> str:
    """What a node computes over the batch, in the batch's names: A1 = X @ W1ᵀ, A2 = A1 + b1."""
    args = [graph.nodes[i] for i in node.inputs]
    op = OPS[node.op]
    if op.batch_text is not None:
        product = op_batch_text(op, args[0], args[1], names, "G")
        if product is not None:
            return product[0]
    formula = node_formula(graph, node, names)
    if op.elementwise or not node.batched:  # broadcasting puts b1 on every row
        return formula
    return f"{formula}, row by row"


def batch_vjp(graph: Any, edge: Any, names: Mapping[int, str], g: str) -> str:
    """The VJP on an edge over the batch: a matrix product where one says it; else row by row, summed over
    the rows (Σₙ) where the source has no row axis."""
    node, child = graph.nodes[edge.target], graph.nodes[edge.source]
    op = OPS[node.op]
    if op.batch_text is not None:
        a, b = (graph.nodes[i] for i in node.inputs)
        product = op_batch_text(op, a, b, names, g)
        if product is not None:
            return product[1 + edge.position]
    text = vjp_text(graph, edge, names, g)
    if not op.elementwise and node.batched:
        text = f"{text}, row by row"
    if node.batched and not child.batched:
        text = f"Σₙ {text}" if is_atomic(text) else f"Σₙ ({text})"
    return text


def adjoint_label(node: Any, batch: bool = False) -> str:
    """∂loss/∂W1 for a parameter; δa1 for another node at the point, Δa1 for its rows over the batch."""
    if node.role == "parameter":
        return f"∂loss/∂{node.name}"
    return f"{'Δ' if batch and node.batched else 'δ'}{node.name}"


def batch_shape(node: Any) -> str:
    """N x 3 for a node with a row axis (N alone for a number per row); a parameter's own shape."""
    if not node.batched:
        return shown(node.shape)
    return "N" + "".join(f" x {n}" for n in node.shape)
