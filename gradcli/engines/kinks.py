"""Kinks: where a relu, abs, max or min argument is exactly 0, or within rounding of it, row by row.
There the derivative is taken as 0 (exactly at the kink), or a difference stencil may straddle it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..language.ops import OPS
from .graph import Graph, Node, upstream_params

NEAR_KINK = 1e-9  # |argument| below this, but not 0, is "within rounding" of a kink


@dataclass(frozen=True)
class Kink:
    """A node at (exact) or within rounding of (near) its kink, in some rows."""

    text: str
    rows: tuple[int, ...]  # 1-based
    exact: bool
    params: frozenset[str]  # the parameters upstream of the node

    def where(self) -> str:
        shown = ", ".join(str(r) for r in self.rows[:5]) + (", ..." if len(self.rows) > 5 else "")
        return f"row{'s' if len(self.rows) > 1 else ''} {shown}"


def kinks(graph: Graph, values: list[Any], rows: int) -> list[Kink]:
    """Where abs/relu sit exactly at their kink (derivative taken as 0) or within rounding of it."""
    watched = tuple(node.id for node in graph.nodes if node.op is not None and OPS[node.op].kink is not None)
    return kinks_from(graph, kink_rows(graph, values, rows, watched))


def kink_rows(graph: Graph, values: list[Any], rows: int, watched: tuple[int, ...]) -> dict[int, tuple[Any, Any]]:
    """For each watched abs/relu node: the 0-based rows exactly at its kink, and those within rounding."""
    found = {}
    for node_id in watched:
        argument = kink_argument(graph, node_id, values)
        exact = np.flatnonzero(by_row(argument == 0, graph.nodes[node_id], rows))
        near = np.flatnonzero(by_row((argument != 0) & (np.abs(argument) < NEAR_KINK), graph.nodes[node_id], rows))
        found[node_id] = (exact, near)
    return found


def kink_argument(graph: Graph, node_id: int, values: list[Any]) -> Any:
    """What is 0 at a node's kink: the argument of abs and relu, a - b for max(a, b) and min(a, b)."""
    inputs = graph.nodes[node_id].inputs
    return values[inputs[0]] if len(inputs) == 1 else values[inputs[0]] - values[inputs[1]]


def by_row(mask: Any, node: Node, rows: int) -> Any:
    """A per-entry mask as one flag per row: true where any of the row's entries is."""
    mask = np.asarray(mask)
    if node.shape and mask.ndim:
        if node.batched and mask.ndim == len(node.shape) + 1:
            mask = mask.reshape(mask.shape[0], -1).any(axis=1)
        else:
            mask = mask.any()
    return np.broadcast_to(mask, (rows,))


def kinks_from(graph: Graph, found: Mapping[int, tuple[Any, Any]]) -> list[Kink]:
    """The Kink of each node with rows at (exact) or near its kink, from kink_rows' rows."""
    upstream = upstream_params(graph)
    listed = []
    for node_id, (exact, near) in found.items():
        node = graph.nodes[node_id]
        for where, is_exact in ((exact, True), (near, False)):
            if len(where):
                listed.append(Kink(node.text, tuple(int(r) + 1 for r in where), is_exact, upstream[node.id]))
    return listed
