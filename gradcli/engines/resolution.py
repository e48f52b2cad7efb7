"""What float64 can resolve of a gradient: a running error bound of backpropagation.

A gradient computed in float64 is only as exact as its terms let it be. Where terms of size 1e10
cancel to an exact 0 (``-(x3 + alpha) + log(exp(alpha)/0.25)``: alpha cancels), backprop's value is
rounding, some 1e-6, and where a value is badly conditioned (``((1.0000001^1000)^1000)^1000``
multiplies the rounding of 1.0000001 by 1e9) every float64 evaluation is off in its 8th digit.
Neither is a wrong derivative. This module bounds, to first order, how far backprop's value may lie
from the exact one, from the same operations table the sweep uses:

- forward, each node's absolute error E: the rounding of its own result, plus its inputs' errors
  carried through its local derivatives (sum_i |d out/d in_i| E_i). A leaf's error is the rounding
  of the decimal the user wrote (SymPy takes 0.1 as 1/10), none for an integer;
- backward, beside each adjoint a its error R: along every edge, R |local| + |a| err(local) +
  rounding of the product, where err(local) is how far the local derivative moves when an input
  moves by its own error (the table's local derivative, evaluated there); adding paths adds their
  errors and one more rounding;
- a parameter's bound is the mean over rows of its R, plus the rounding of that sum.

Where nothing cancels and nothing is ill-conditioned (sums of positive terms, products) the bound
is a few units of eps times the gradient, far inside the comparison's rtol: it widens nothing there.
A bound that is not finite (a perturbed input leaves the domain, log of a negative) says nothing,
and is reported as inf: the caller then keeps its plain tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..language.expr import Num, exact_number
from ..language.ops import OPS
from .graph import Graph, Node, forward, needed_for, wanted_leaves

EPS = float(np.finfo(np.float64).eps)  # one unit in the last place at 1: each operation's rounding, generously
HALF = EPS / 2  # the rounding of a decimal to the nearest float64
LOCAL_ROUNDINGS = 4  # a local derivative computed from values (tanh's 1 - out**2) rounds a few times
CHUNK_ROWS = 1 << 14  # rows bounded at once: every node's value and error per row is held for a chunk


def gradient_bounds(graph: Graph, params: Mapping[str, float], columns: Mapping[str, Any], rows: int,
                    wanted: Sequence[str]) -> dict[str, float]:
    """For each wanted parameter, a first-order bound on |backprop's mean gradient - the exact one|
    (inf where the bound says nothing), over rows in memory."""
    bounds = Bounds(graph, params, wanted, rows)
    bounds.add(columns, rows)
    return bounds.total()


class Bounds:
    """The bound summed part by part over `rows` rows in all (each part's rows in chunks): a graph of
    scalars only, the caller expands vectors and matrices entry by entry first."""

    def __init__(self, graph: Graph, params: Mapping[str, float], wanted: Sequence[str], rows: int) -> None:
        if graph.tensor:
            raise ValueError("Bounds takes a graph of scalars (expand vectors and matrices first)")
        self.graph, self.params, self.wanted, self.rows = graph, params, list(wanted), rows
        self.bounds = dict.fromkeys(self.wanted, 0.0)
        self.sizes = dict.fromkeys(self.wanted, 0.0)

    def add(self, columns: Mapping[str, Any], rows: int) -> None:
        """A part's rows."""
        for low in range(0, rows, CHUNK_ROWS):
            size = min(CHUNK_ROWS, rows - low)
            chunk = {name: column[low:low + size] if np.ndim(column) else column for name, column in columns.items()}
            with np.errstate(all="ignore"):
                values = forward(self.graph, self.params, chunk, size)
                errors = forward_errors(self.graph, values)
                bounds, sizes = _backward(self.graph, values, errors, size, self.rows, self.wanted)
            for name in self.wanted:
                self.bounds[name] += bounds[name]
                self.sizes[name] += sizes[name]

    def merge(self, bounds: Mapping[str, float], sizes: Mapping[str, float]) -> None:
        """Another Bounds' sums over its parts (made where those parts are: a Dask worker)."""
        for name in self.wanted:
            self.bounds[name] += bounds.get(name, 0.0)
            self.sizes[name] += sizes.get(name, 0.0)

    def total(self) -> dict[str, float]:
        """Each parameter's bound: the rows' bounds, plus the rounding of their sum (pairwise and blocked)."""
        summing = EPS * (math.ceil(math.log2(self.rows)) + 1)
        found = {}
        for name in self.wanted:
            total = self.bounds[name] + summing * self.sizes[name]
            found[name] = total if math.isfinite(total) else math.inf
        return found


def forward_errors(graph: Graph, values: list[Any]) -> list[Any]:
    """Each node's absolute error bound E, rows as values are (a scalar where no data flows in)."""
    errors: list[Any] = [0.0] * len(graph.nodes)
    for node in graph.nodes:
        value = values[node.id]
        if node.op is None:
            errors[node.id] = _leaf_error(node, value)
            continue
        args = tuple(values[i] for i in node.inputs)
        op = OPS[node.op]
        # a sum's partial sums are no larger than the sum of its terms' sizes
        size = sum(np.abs(a) for a in args) if op.arithmetic == "additions" else np.abs(value)
        # an op whose float64 result is exact (a sign, a choice) rounds nothing of its own, so that -2 stays
        # the integer it is (an exponent with an error would need the log of a negative base)
        error = 0.0 if op.exact else EPS * size
        for position, child in enumerate(node.inputs):
            if _zero(errors[child]):
                continue
            local = op.local(position, args, value)
            error = error + _times(np.abs(local), errors[child])
        errors[node.id] = error
    return errors


def _leaf_error(node: Node, value: Any) -> Any:
    """The rounding of what the user wrote: none for an integer or a decimal float64 holds exactly."""
    if node.role == "constant":
        exact = exact_number(Num(float(value), node.source)) if isinstance(node.source, str) else None
        return 0.0 if exact is not None and exact == float(value) else HALF * abs(float(value))
    magnitude = np.abs(value)
    return np.where(np.floor(value) == value, 0.0, HALF * magnitude)


def local_error(node: Node, position: int, args: tuple[Any, ...], out: Any, local: Any,
                errors: Sequence[Any]) -> Any:
    """How far the local derivative d out/d args[position] may be off: its own rounding, plus how far it
    moves when each input moves by its error (either way, the larger)."""
    op = OPS[node.op]  # type: ignore[index]
    # a Python float is one of the table's constants (a sum's 1.0), exact; a NumPy value was computed
    error: Any = 0.0 if type(local) is float else LOCAL_ROUNDINGS * EPS * np.abs(local)
    for j, moved_by in enumerate(errors):
        if _zero(moved_by):
            continue
        shifts = []
        for sign in (1.0, -1.0):
            moved = tuple(a + sign * moved_by if k == j else a for k, a in enumerate(args))
            shifted = op.local(position, moved, op.forward(*moved))
            shifts.append(np.abs(np.subtract(shifted, local)))
        error = error + np.maximum(*shifts)  # nan where a moved input leaves the domain: no bound there
    return np.where(np.isnan(error), math.inf, error)


def row_bounds(graph: Graph, params: Mapping[str, float], columns: Mapping[str, Any], rows: int,
               wanted: Sequence[str]) -> dict[str, Any]:
    """For each wanted name (an input, the target, or any name the graph holds as a column), a bound in
    every row on |backprop's d loss_r / d name - the exact one|, as backprop gives it: its sweep's adjoint
    of the mean (seeded 1/rows) times the rows. inf in a row where the bound says nothing."""
    if graph.tensor:
        raise ValueError("row_bounds takes a graph of scalars (expand vectors and matrices first)")
    found = {}
    for low in range(0, rows, CHUNK_ROWS):
        size = min(CHUNK_ROWS, rows - low)
        chunk = {name: column[low:low + size] if np.ndim(column) else column for name, column in columns.items()}
        with np.errstate(all="ignore"):
            values = forward(graph, params, chunk, size)
            adjoints, bounds, _ = _adjoint_bounds(graph, values, forward_errors(graph, values), rows, list(wanted))
            for name in wanted:
                leaf = graph.leaf(name)
                if leaf is None or adjoints[leaf.id] is None:
                    part = np.zeros(size)
                else:  # 1/rows rounds (HALF, relative), and so does the product by rows (EPS)
                    part = np.broadcast_to(bounds[leaf.id] * rows + (HALF + EPS) * np.abs(adjoints[leaf.id] * rows),
                                           (size,))
                found.setdefault(name, []).append(np.where(np.isfinite(part), part, math.inf))
    return {name: np.concatenate(parts) for name, parts in found.items()} if found else {
        name: np.zeros(0) for name in wanted}


def _backward(graph: Graph, values: list[Any], errors: list[Any], rows: int, total: int,
              wanted: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Over `rows` rows of `total`: each wanted parameter's summed bound, and the summed size of the
    shares that reach it (what the rounding of the sum over rows scales with)."""
    adjoints, bounds, sizes = _adjoint_bounds(graph, values, errors, total, wanted)
    found, summed = {}, {}
    for name in wanted:
        leaf = graph.leaf(name)
        if leaf is None or adjoints[leaf.id] is None:
            found[name] = summed[name] = 0.0
            continue
        found[name] = float(np.sum(np.broadcast_to(bounds[leaf.id], (rows,))))
        summed[name] = float(np.sum(np.broadcast_to(sizes[leaf.id], (rows,))))
    return found, summed


def _adjoint_bounds(graph: Graph, values: list[Any], errors: list[Any], total: int,
                    wanted: list[str]) -> tuple[list[Any], list[Any], list[Any]]:
    """The sweep of the mean over `total` rows, each node's adjoint beside its error bound R (per row),
    and at a leaf the summed size of the shares that reach it."""
    needed = needed_for(graph, wanted_leaves(graph, wanted))
    adjoints: list[Any] = [None] * len(graph.nodes)
    bounds: list[Any] = [None] * len(graph.nodes)
    sizes: list[Any] = [0.0] * len(graph.nodes)  # at a leaf: the sum of |each edge's share|, per row
    adjoints[graph.output], bounds[graph.output] = 1.0 / total, 0.0
    for node in reversed(graph.nodes):
        adjoint = adjoints[node.id]
        if node.op is None or adjoint is None:
            continue
        args = tuple(values[i] for i in node.inputs)
        op = OPS[node.op]
        for position, child in enumerate(node.inputs):
            if not needed[child]:
                continue
            local = op.local(position, args, values[node.id])
            moved = local_error(node, position, args, values[node.id], local, [errors[i] for i in node.inputs])
            share = adjoint * local
            bound = (_times(bounds[node.id], np.abs(local)) + _times(np.abs(adjoint), moved) + EPS * np.abs(share))
            sizes[child] = sizes[child] + np.abs(share)
            if adjoints[child] is None:
                adjoints[child], bounds[child] = share, bound
            else:
                adjoints[child] = adjoints[child] + share
                bounds[child] = bounds[child] + bound + EPS * np.abs(adjoints[child])
    return adjoints, bounds, sizes


def _zero(error: Any) -> bool:
    return not np.any(error)


def _times(size: Any, error: Any) -> Any:
    """size x error, with an error of 0 carried through an infinite size as 0 (an exact value stays exact)."""
    product = np.multiply(size, error)
    return np.where(np.equal(error, 0.0), 0.0, product)
