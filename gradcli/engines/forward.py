"""Forward-mode differentiation: one sweep of dual numbers per parameter, over backprop's graph and rules.

Backprop (graph.backprop) computes every node's value once, then sweeps the graph once in reverse:
each local derivative is evaluated once and its product with the node's adjoint is shared by every
parameter below it ("calculate once, use many times"). Forward mode does the opposite. It seeds one
parameter's tangent with 1 and pushes (value, tangent) pairs, dual numbers, through the graph in
topological order: a node's tangent is the sum over its inputs of the local derivative times the input's
tangent. The loss's tangent is then d loss / d that parameter, and every other parameter needs a sweep
of its own. Each sweep recomputes the values it carries beside the tangents, as a dual number does.

The local derivatives are the operations table's (language/ops.py), evaluated on the same arguments
(graph.arguments) as backprop's: the two modes differ only in the order the products are formed and
added, so they agree to rounding, and exactly at a kink (both take the table's one-sided rule).

Every sweep counts the arithmetic it performs (Tally): what `explain --cost` reports.
Tensor operations carry vector-Jacobian products only, so this engine takes scalar graphs; a model
with vectors or matrices is compared on its entry-by-entry expansion (compare/memory.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GradcliError, UndefinedError
from ..language.ops import OPS
from .graph import Edge, Graph, apply, arguments, parameter_value, passes_on


@dataclass
class Tally:
    """The arithmetic of one forward-mode sweep, counted as it was performed (per data row)."""

    nodes: list[int] = field(default_factory=list)  # the operations whose value the sweep computed
    locals: list[Edge] = field(default_factory=list)  # the local derivatives it evaluated (a tangent flowed in)
    multiplications: int = 0  # tangent x local derivative (none where the local derivative is exactly 1)
    additions: int = 0  # tangents added where paths meet


@dataclass
class Tangents:
    """What forward mode found: each parameter's gradient of the mean loss, one sweep for each."""

    gradients: dict[str, float]
    loss_value: float
    tallies: dict[str, Tally]  # parameter -> its sweep's arithmetic

    @property
    def sweeps(self) -> int:
        return len(self.tallies)


def forward_gradients(graph: Graph, params: Mapping[str, float], columns: Mapping[str, Any], rows: int,
                      wrt: list[str]) -> Tangents:
    """d mean loss / d name for each name in `wrt` (a scalar parameter), one dual-number sweep each.

    A name the loss does not depend on gets 0 (its tangent reaches no node). A non-finite tangent
    raises UndefinedError, as backprop's diagnosis does for an infinite local derivative.
    """
    if graph.tensor:
        raise GradcliError("forward mode takes scalar graphs: write a model with vectors or matrices out "
                           "entry by entry first (language/expansion.py)")
    gradients: dict[str, float] = {}
    tallies: dict[str, Tally] = {}
    loss_value = float("nan")
    for name in wrt:
        leaf = graph.leaf(name)
        tally = Tally()
        loss_rows, tangent = jvp(graph, params, columns, rows, None if leaf is None else leaf.id, tally)
        loss_value = float(np.mean(loss_rows))
        gradients[name] = 0.0 if tangent is None else float(np.sum(np.broadcast_to(tangent, (rows,)))) / rows
        if not np.isfinite(gradients[name]):
            raise UndefinedError(f"forward mode's tangent of the loss along {name} is not a finite number "
                                 "at this point (a local derivative is infinite or undefined)")
        tallies[name] = tally
    return Tangents(gradients, loss_value, tallies)


def jvp(graph: Graph, params: Mapping[str, float], columns: Mapping[str, Any], rows: int, seed: int | None,
        tally: Tally) -> tuple[Any, Any]:
    """One forward sweep of dual numbers with the leaf `seed`'s tangent set to 1 (None: no tangent at all):
    the loss over the rows and its tangent (None where no tangent reaches the loss)."""
    values: list[Any] = [None] * len(graph.nodes)
    tangents: list[Any] = [None] * len(graph.nodes)
    with np.errstate(all="ignore"):
        for node in graph.nodes:
            if node.op is None:
                values[node.id] = (np.float64(node.value) if node.role == "constant" else
                                   parameter_value(node, params) if node.role == "parameter" else columns[node.name])
                tangents[node.id] = np.float64(1.0) if node.id == seed else None
                continue
            args = arguments(graph, node, values)
            out = values[node.id] = apply(graph, node, args)
            tally.nodes.append(node.id)
            op = OPS[node.op]  # type: ignore[index]
            tangent = None
            for position, child in enumerate(node.inputs):
                if tangents[child] is None:
                    continue
                local = op.local(position, args, out)
                tally.locals.append(Edge(child, node.id, position))
                if passes_on(local):  # passed on as it is, as backprop does
                    term = tangents[child]
                else:
                    term = tangents[child] * local
                    tally.multiplications += 1
                if tangent is None:
                    tangent = term
                else:
                    tangent = tangent + term
                    tally.additions += 1
            tangents[node.id] = tangent
    return np.broadcast_to(values[graph.output], (rows,)), tangents[graph.output]
