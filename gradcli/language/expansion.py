"""A tensor model written out entry by entry in scalar operations: what SymPy and `--neurons` see.

``W2 @ tanh(W1 @ x + b1) + b2`` with W1 of shape 2x2 becomes the scalar model

    W2[1]*tanh(W1[1,1]*x1 + W1[1,2]*x2 + b1[1]) + W2[2]*tanh(W1[2,1]*x1 + W1[2,2]*x2 + b1[2]) + b2

each entry of a matrix its own name and each column of a gathered input its own input. The
symbolic engine differentiates that with respect to each entry, independently of the tensor
engine's vector-Jacobian products; the graph engine draws it neuron by neuron. An expansion
larger than the limits below is not written: the caller falls back to finite differences.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .entrywise import objects
from .ops import OPS
from .ops_numpy import np  # NumPy loads when a problem is first expanded
from .problem import Problem
from .shapes import entry_names
from .tree import Binary, Call, Expr, Num, Sym, Unary, children, postorder

MAX_ENTRIES = 64  # parameter entries SymPy differentiates one by one (above: finite differences)
MAX_NODES = 20_000  # operations in the expansion (the parser's own limit on a model)


class TooLarge(Exception):
    """The expansion would pass its limits (the message says which, in a few words: it is the start of
    a warning that must fit one line of 80 columns)."""


def entry_columns(problem: Problem) -> dict[str, tuple[str, ...]]:
    """The scalar input names of each vector input: its gathered columns, or x[1], x[2], ..."""
    shapes = problem.shapes
    found = {}
    for name in (*problem.inputs, problem.target):
        shape = shapes.names.get(name, ()) if shapes else ()
        if name in problem.gathered:
            found[name] = problem.gathered[name]
        elif shape:
            found[name] = tuple(entry_names(name, shape))
    return found


def expand(problem: Problem, max_entries: int = MAX_ENTRIES) -> Problem:
    """The scalar problem with every tensor written out entry by entry (same parameter entries)."""
    if len(problem.params) > max_entries:
        raise TooLarge(f"{len(problem.params):,} entries, over SymPy's {max_entries}")
    shapes = problem.shapes
    assert shapes is not None
    columns = entry_columns(problem)
    built: dict[int, Any] = {}
    count = 0
    elementwise_cache: dict[str, Any] = {}
    for node in postorder(problem.loss):
        if isinstance(node, Num):
            value = objects([node], ())
        elif isinstance(node, Sym):
            shape = shapes.names.get(node.name, ())
            if node.name in problem.entries:
                names = problem.entries[node.name]
            elif node.name in columns:
                names = columns[node.name]
            else:
                names = (node.name,)
            value = objects([Sym(n, node.offset) for n in names], shape)
        else:
            op = node.op if isinstance(node, (Unary, Binary)) else node.fn  # type: ignore[union-attr]
            args = [built[id(child)] for child in children(node)]
            if OPS[op].elementwise:
                maker = elementwise_cache.get(op)
                if maker is None:
                    maker = elementwise_cache[op] = np.frompyfunc(_scalar_builder(node, op), len(args), 1)
                value = np.asarray(maker(*args), dtype=object)
            else:
                value = OPS[op].expand(*args)
        count += max(1, value.size)
        if count > MAX_NODES:
            raise TooLarge(f"{MAX_NODES:,}+ operations for SymPy")
        built[id(node)] = value
    loss = built[id(problem.loss)]
    model = built.get(id(problem.model))
    model_expr = model.reshape(-1)[0] if model is not None and model.size else loss.item()
    inputs = tuple(n for name in problem.inputs for n in columns.get(name, (name,)))
    inputs += columns.get(problem.target, ())  # a vector target's entries are data like the inputs
    return replace(problem, loss=loss.item(), model=model_expr, inputs=inputs, shapes=None, gathered={},
                   tensors={}, entries={})


def _scalar_builder(node: Expr, op: str) -> Any:
    offset = node.offset
    if isinstance(node, Unary):
        return lambda a: Unary(op, a, offset)
    if isinstance(node, Binary):
        return lambda a, b: Binary(op, a, b, offset)
    return lambda *a: Call(op, tuple(a), offset)
