"""Backpropagation compiled for many rows: the same numbers as graph.backprop, at hand-written speed.

graph.backprop walks the graph node by node over whole arrays and records what
`explain` shows. Over a data set that costs a fresh array the size of the data
for every node and every adjoint. This module compiles the graph once into a
fixed list of steps and sweeps the rows chunk by chunk instead:

- each chunk's values and adjoints stay in the CPU cache and are dropped before
  the next chunk, so memory stays at a few chunks whatever the number of rows;
- a sum of parameter x input products (``b + w1*x1 + ... + wd*xd``) is one
  matrix-vector product over the chunk, the operations table's matmul with its VJP:
  ``X w`` forward and ``Xᵀ g`` for all d gradients at once, instead of 2d array
  operations and d reductions (a layer's ``W1 @ x`` is the same rule on a matrix);
- an adjoint reaching a parameter is summed at once as a dot product, never kept
  per row, and a local derivative of exactly 1 passes the adjoint on untouched.

Rows are independent, so the result does not depend on the chunk size beyond
float rounding (tests/test_sweep.py checks chunk sizes from 1 up).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError, UndefinedError, placed
from ..language.ops import OPS
from .blas import one_blas_thread
from .finite import require_finite
from .graph import (
    Graph,
    apply,
    arguments,
    backprop,
    contribution,
    entry_slots,
    magnitude,
    needed_for,
    parameter_value,
    summed_product,
    wanted_leaves,
)
from .kinks import Kink, kink_argument, kink_rows, kinks_from

MATMUL = OPS["matmul"]  # a sum of parameter x input products is a case of it
CHUNK_ROWS = 1 << 15  # rows per chunk: a chunk's temporaries stay in cache
CHUNK_BYTES = 4 << 20  # at most this much stacked input per chunk for a matrix-vector product
# one N x h intermediate of a layer per chunk: 512 KiB (1,024 rows at h=64, 4,096 at h=16) swept a tanh
# layer 7-15 % faster than 4 MiB here (benchmarks/layers.py's two shapes), the products still BLAS-sized
TENSOR_CHUNK_BYTES = 1 << 19

@dataclass(frozen=True)
class Linear:
    """The parameter x input products inside one sum, computed as one matrix-vector product."""

    params: tuple[str, ...]  # one per product (a parameter may appear in several)
    inputs: tuple[str, ...]  # the column each product multiplies


@dataclass(frozen=True)
class Step:
    """One node to compute: op over `inputs` (plus `linear` for a sum with products folded in)."""

    node: int
    op: str
    inputs: tuple[int, ...]
    linear: Linear | None
    back: tuple[tuple[int, int], ...]  # (position, child): the edges the reverse sweep follows


@dataclass(frozen=True)
class Plan:
    """A graph compiled for `run`: the steps in order and where the gradients go."""

    graph: Graph
    leaves: tuple[tuple[int, str, str, float | None], ...]  # (node, role, name, constant value)
    steps: tuple[Step, ...]
    wanted: tuple[str, ...]  # the gradients asked for, in order
    kink_nodes: tuple[int, ...]  # abs/relu nodes, watched for rows at their kink

    def columns(self) -> set[str]:
        """The data columns the sweep reads (and checks, with check_finite=True)."""
        read = {name for _, role, name, _ in self.leaves if role in ("input", "target")}
        return read.union(*(step.linear.inputs for step in self.steps if step.linear))


@dataclass
class Result:
    """The mean loss and its gradient over every row."""

    loss: float
    gradient: list[float]  # in plan.wanted's order
    abs_terms: list[float] | None = None  # sum over rows of |per-row term| of each gradient (abs_terms=True)
    kinks: list[Kink] = field(default_factory=list)  # (find_kinks=True)

    def finite(self) -> bool:
        return bool(np.isfinite(self.loss) and np.isfinite(self.gradient).all())


def compile_plan(graph: Graph, wanted: list[str]) -> Plan:
    """The steps that compute the loss, with parameter x input products under a sum folded together."""
    nodes = graph.nodes
    on_loss = [False] * len(nodes)
    on_loss[graph.output] = True
    uses = [0] * len(nodes)
    for node in reversed(nodes):
        if on_loss[node.id]:
            for child in node.inputs:
                on_loss[child] = True
                uses[child] += 1
    needed = needed_for(graph, wanted_leaves(graph, wanted))

    def product(i: int) -> tuple[str, str] | None:
        """(parameter, input) if node i is param*input or input*param used only by one sum."""
        node = nodes[i]
        if graph.tensor or node.op != "mul" or uses[i] != 1 or i in (graph.model, graph.output):
            return None
        a, b = (nodes[j] for j in node.inputs)
        if a.op is None and b.op is None:
            if a.role == "parameter" and b.role == "input":
                return a.name, b.name
            if b.role == "parameter" and a.role == "input":
                return b.name, a.name
        return None

    folded: set[int] = set()
    steps = []
    for node in nodes:
        if node.op is None or not on_loss[node.id]:
            continue
        linear = None
        inputs = node.inputs
        if node.op == "add":
            products = {i: product(i) for i in node.inputs}
            found = [i for i in node.inputs if products[i] is not None]
            if len(found) >= 2:
                folded.update(found)
                linear = Linear(tuple(products[i][0] for i in found), tuple(products[i][1] for i in found))  # type: ignore[index]
                inputs = tuple(i for i in node.inputs if products[i] is None)
        steps.append((node, inputs, linear))

    compiled = []
    for node, inputs, linear in steps:
        if node.id in folded:
            continue
        back = tuple((position, child) for position, child in enumerate(inputs) if needed[child])
        compiled.append(Step(node.id, node.op, inputs, linear, back))  # type: ignore[arg-type]
    read = {i for step in compiled for i in step.inputs}  # leaves only folded products use are not nodes here
    leaves = tuple((node.id, node.role, node.name, node.value) for node in nodes
                   if node.op is None and node.id in read)
    kink_nodes = tuple(node.id for node in nodes
                       if node.op is not None and OPS[node.op].kink is not None and on_loss[node.id])
    return Plan(graph, leaves, tuple(compiled), tuple(wanted), kink_nodes)


def chunk_rows(plan: Plan) -> int:
    """Rows per chunk: CHUNK_ROWS, fewer when wide stacked inputs (or a layer's vectors) would not fit in cache."""
    width = max((len(step.linear.inputs) for step in plan.steps if step.linear), default=1)
    if plan.graph.tensor:  # a layer's N x h intermediates, several alive at once: each a cache's worth
        width = max([width] + [_entries(node.shape) for node in plan.graph.nodes if node.batched])
        return max(256, min(CHUNK_ROWS, TENSOR_CHUNK_BYTES // (8 * width)))
    return max(256, min(CHUNK_ROWS, CHUNK_BYTES // (8 * width)))


def run(plan: Plan, params: Mapping[str, float], columns: Mapping[str, Any], rows: int, *,
        chunk: int | None = None, diagnose: bool = False, abs_terms: bool = False,
        find_kinks: bool = False, check_finite: bool = False) -> Result:
    """The mean loss over `rows` rows and its gradient with respect to plan.wanted.

    diagnose=True: a non-finite loss or gradient raises UndefinedError naming the operation and
    the row (found by graph.backprop on the chunk where it happened); otherwise the inf or nan is
    returned (training treats it as a failed step).
    check_finite=True: a non-finite value in a column raises DataError naming the column and row.
    Each chunk is checked while it is in cache: a column that is a node, by a dot product with
    itself; the columns of a matrix-vector product by the product (w @ X is finite only if X is,
    when no w is 0). Columns the loss does not use must be checked by the caller.
    """
    if rows < 1:
        raise DataError("no rows to compute the loss over")
    chunk = chunk or chunk_rows(plan)
    if chunk < 1:
        raise ValueError("chunk must be at least 1 row")
    where = {name: i for i, name in enumerate(plan.wanted)}
    gradient = np.zeros(len(plan.wanted))
    terms = np.zeros(len(plan.wanted)) if abs_terms else None
    loss = 0.0
    weight = 1.0 / rows  # the mean loss: every row's adjoint starts at 1/rows
    forward = _Forward(plan, params, columns, chunk, check_finite)
    slots = {s.node: [where.get(p, -1) for p in s.linear.params] for s in plan.steps if s.linear}  # type: ignore[union-attr]
    found: dict[int, tuple[list[Any], list[Any]]] = {i: ([], []) for i in plan.kink_nodes}
    leaf_param = {node: where.get(name, -1) for node, role, name, _ in plan.leaves if role == "parameter"}
    if plan.graph.tensor:  # a vector or matrix parameter's entries go to their slots in plan.wanted
        leaf_param.update(entry_slots(plan.graph, plan.wanted))
    with np.errstate(all="ignore"), one_blas_thread() if rows > chunk else nullcontext():
        for low in range(0, rows, chunk):
            size = min(chunk, rows - low)
            values, stacked = forward(low, size)
            output = values[plan.graph.output]
            loss += float(output.sum()) if np.ndim(output) else size * float(output)
            if find_kinks and plan.kink_nodes:
                for node, (exact, near) in kink_rows(plan.graph, values, size, plan.kink_nodes).items():
                    found[node][0].append(exact + low)
                    found[node][1].append(near + low)
            if plan.wanted:
                _backward(plan, values, stacked, slots, leaf_param, size, weight, gradient, terms,
                          forward.coefficients)
            if diagnose and not (np.isfinite(loss) and np.isfinite(gradient).all()):
                _diagnose_chunk(plan, params, columns, low, size)
    result = Result(loss / rows, gradient.tolist(), terms.tolist() if terms is not None else None)
    if find_kinks and plan.kink_nodes:
        joined = {i: (np.concatenate(e), np.concatenate(n)) for i, (e, n) in found.items()}
        result.kinks = kinks_from(plan.graph, joined)
    return result


class _Forward:
    """The forward sweep of one chunk at fixed parameters: every node's value (and the stacked inputs of
    each folded sum, which the reverse sweep reads)."""

    def __init__(self, plan: Plan, params: Mapping[str, float], columns: Mapping[str, Any], chunk: int,
                 check_finite: bool = False) -> None:
        linear_steps = [s for s in plan.steps if s.linear]
        self.plan, self.columns, self.check_finite = plan, columns, check_finite
        self.coefficients = {s.node: np.array([params[p] for p in s.linear.params])  # type: ignore[union-attr]
                             for s in linear_steps}
        self.buffers = {s.node: np.empty((len(s.linear.inputs), chunk)) for s in linear_steps}  # type: ignore[union-attr]
        self.fixed = {node: parameter_value(plan.graph.nodes[node], params)
                      for node, role, _, _ in plan.leaves if role == "parameter"}

    def __call__(self, low: int, size: int) -> tuple[list[Any], dict[int, Any]]:
        plan, columns, check_finite, graph = self.plan, self.columns, self.check_finite, self.plan.graph
        values: list[Any] = [None] * len(graph.nodes)
        for node, role, name, value in plan.leaves:
            if role == "constant":
                values[node] = np.float64(value)
            elif role == "parameter":
                values[node] = self.fixed[node]
            else:
                column = columns[name]
                values[node] = column[low:low + size] if np.ndim(column) else column
                if check_finite and np.ndim(column) == 1:  # a gathered vector input was checked column by column
                    _require_finite_chunk(name, values[node], low)
        stacked = {}
        for step in plan.steps:
            args = [values[i] for i in step.inputs]
            if step.linear:
                block = self.buffers[step.node][:, :size]
                for row, name in enumerate(step.linear.inputs):
                    block[row] = columns[name][low:low + size]
                stacked[step.node] = block
                # the products as the operations table's matrix product: w @ x per row, X w over the chunk
                product = MATMUL.forward(self.coefficients[step.node], block.T, batched=(False, True))
                if check_finite:  # a finite product does not bound each value (finite.LARGEST)
                    for row, name in enumerate(step.linear.inputs):
                        _require_finite_chunk(name, block[row], low)
                values[step.node] = OPS["add"].forward(product, *args) if args else product
            elif graph.tensor:
                node = graph.nodes[step.node]
                values[step.node] = apply(graph, node, arguments(graph, node, values))
            else:
                values[step.node] = OPS[step.op].forward(*args)
        return values, stacked


@dataclass
class Stencil:
    """The mean loss at each point of a difference stencil, and the kinks whose argument is not on one
    side of its kink at every point: a relu, abs, max or min whose argument changes sign (or is 0 at
    some points only) between them, so that the loss is not smooth across the stencil."""

    losses: list[float]
    crossed: list[str]  # each such node's text, in graph order


def stencil(plan: Plan, points: list[Mapping[str, float]], columns: Mapping[str, Any], rows: int,
            chunk: int | None = None) -> Stencil:
    """The mean loss at each of `points` (parameter values) in one pass over the rows, and the kinks the
    stencil crosses, found by comparing each kink argument's sign, entry by entry, at every point."""
    if rows < 1:
        raise DataError("no rows to compute the loss over")
    chunk = chunk or chunk_rows(plan)
    sweeps = [_Forward(plan, point, columns, chunk) for point in points]
    losses = [0.0] * len(points)
    crossed: set[int] = set()
    with np.errstate(all="ignore"), one_blas_thread() if rows > chunk else nullcontext():
        for low in range(0, rows, chunk):
            size = min(chunk, rows - low)
            signs: dict[int, Any] = {}
            for k, forward in enumerate(sweeps):
                values, _ = forward(low, size)
                output = values[plan.graph.output]
                losses[k] += float(output.sum()) if np.ndim(output) else size * float(output)
                for node in plan.kink_nodes:
                    if node in crossed:
                        continue
                    sign = np.sign(kink_argument(plan.graph, node, values))
                    if node not in signs:
                        signs[node] = sign
                    elif np.shape(sign) != np.shape(signs[node]) or np.any(sign != signs[node]):
                        crossed.add(node)
    return Stencil([loss / rows for loss in losses],
                   [plan.graph.nodes[node].text for node in plan.kink_nodes if node in crossed])


def _entries(shape: tuple[int, ...]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def _require_finite_chunk(name: str, values: Any, low: int) -> None:
    """require_finite for a chunk already in cache: one dot product, finite exactly when every value is
    finite and the squares' sum is (so every value is within finite.LARGEST); else the exact check."""
    if not np.isfinite(values @ values):
        require_finite(name, values, low + 1)


def _backward(plan: Plan, values: list[Any], stacked: dict[int, Any], slots: dict[int, list[int]],
              leaf_param: dict[int, int], size: int, weight: float, gradient: Any, terms: Any,
              coefficients: dict[int, Any]) -> None:
    """One reverse sweep over a chunk, adding each wanted parameter's share into `gradient`."""
    adjoints: list[Any] = [None] * len(values)
    adjoints[plan.graph.output] = weight
    if plan.graph.tensor:
        adjoints[plan.graph.output] = np.full(size, weight)
        return _backward_tensor(plan, values, adjoints, leaf_param, size, gradient, terms)
    for step in reversed(plan.steps):
        adjoint = adjoints[step.node]
        if adjoint is None:
            continue
        if step.linear is not None:
            rows_adjoint = adjoint if np.ndim(adjoint) else np.full(size, adjoint)
            # matmul's VJP with respect to w: Xᵀ g, every product's gradient in one matrix-vector product
            w = coefficients[step.node]
            shares = MATMUL.vjp(0, rows_adjoint, (w, stacked[step.node].T), None, (False, True))
            magnitudes = (MATMUL.vjp(0, np.abs(rows_adjoint), (w, np.abs(stacked[step.node]).T), None, (False, True))
                          if terms is not None else None)
            for k, slot in enumerate(slots[step.node]):
                if slot >= 0:
                    gradient[slot] += shares[k]
                    if magnitudes is not None:
                        terms[slot] += magnitudes[k]
        if not step.back:
            continue
        op = OPS[step.op]
        args = tuple(values[i] for i in step.inputs)
        for position, child in step.back:
            local = op.local(position, args, values[step.node])
            slot = leaf_param.get(child, -1)
            if slot >= 0:
                gradient[slot] += summed_product(adjoint, local, size)
                if terms is not None:
                    terms[slot] += summed_product(np.abs(adjoint), np.abs(local), size)
                continue
            contribution = adjoint if isinstance(local, float) and local == 1.0 else adjoint * local
            adjoints[child] = contribution if adjoints[child] is None else adjoints[child] + contribution


def _backward_tensor(plan: Plan, values: list[Any], adjoints: list[Any], leaf_param: dict[int, Any], size: int,
                     gradient: Any, terms: Any) -> None:
    """The reverse sweep of a graph with vectors and matrices: each edge's vector-Jacobian product from
    the operations table (graph.contribution), a parameter's summed over the chunk's rows as it arrives
    (for W1 @ x, Δᵀ X in one matrix product)."""
    graph = plan.graph
    for step in reversed(plan.steps):
        adjoint = adjoints[step.node]
        if adjoint is None or not step.back:
            continue
        node = graph.nodes[step.node]
        args = arguments(graph, node, values)
        for position, child in step.back:
            sent = contribution(graph, node, position, adjoint, args, values[step.node], size)
            slot = leaf_param.get(child, -1)
            if isinstance(slot, np.ndarray):  # a vector or matrix parameter: every wanted entry at once
                taken = slot >= 0
                gradient[slot[taken]] += np.ravel(sent)[taken]
                if terms is not None:
                    sizes = magnitude(graph, node, position, adjoint, args, values[step.node], size)
                    terms[slot[taken]] += np.ravel(sizes)[taken]
                continue
            if slot >= 0:
                gradient[slot] += float(sent)
                if terms is not None:
                    terms[slot] += float(magnitude(graph, node, position, adjoint, args, values[step.node], size))
                continue
            if graph.nodes[child].op is None and graph.nodes[child].role != "parameter":
                continue  # an input or the target: no gradient is asked of it here
            adjoints[child] = sent if adjoints[child] is None else adjoints[child] + sent


def _diagnose_chunk(plan: Plan, params: Mapping[str, float], columns: Mapping[str, Any], low: int, size: int) -> None:
    """Raise the UndefinedError graph.backprop finds in this chunk, its row counted from the first row."""
    part = {name: column[low:low + size] if np.ndim(column) else column for name, column in columns.items()}
    try:
        backprop(plan.graph, params, part, size, list(plan.wanted), diagnose=True)
    except UndefinedError as err:
        raise placed(err, lambda row: f"row {row + low}") from None
    raise UndefinedError("the loss or a gradient is not a finite number at this point (it overflows)")
