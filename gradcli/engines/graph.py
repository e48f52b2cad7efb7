"""The computational graph and backpropagation over it.

One node per operation as the user wrote it (chains of + become one n-ary sum,
as in the worked example's ``yhat = b + a1 + a2``). Intermediate nodes are
named a1, a2, ...; the model's output is ``yhat`` and the per-row loss is
``loss``. Values are NumPy arrays over the data rows.

Backpropagation is one reverse sweep in topological order: each node's
adjoint (d loss / d node) is passed to its inputs multiplied by the local
derivative on that edge, and adjoints arriving along several paths are
added. A parameter's gradient is its adjoint summed over rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import UndefinedError
from ..language.expr import Binary, Call, Expr, Num, Sym, Unary, children, postorder, to_text
from ..language.ops import OPS
from ..language.problem import Problem
from ..language.shapes import entry_names
from ..language.tensors import aligned, fixed_order, reduce_to


@dataclass(frozen=True)
class Node:
    """One node of the computational graph: a leaf, or an operation on earlier nodes."""

    id: int
    name: str  # a1, yhat, loss, or the symbol's own name
    op: str | None  # None for a leaf
    inputs: tuple[int, ...]
    role: str  # parameter | input | target | constant | intermediate | model | loss
    # the text, or (sub-expression, model) to write it from when asked; not compared, hashed or
    # shown (a deep tree would make those recursive)
    source: str | tuple[Expr, Expr] = field(compare=False, repr=False)
    value: float | None = None  # for constants
    shape: tuple[int, ...] = ()  # per row: () a scalar, (4,) a vector, (4, 2) a matrix
    batched: bool = False  # depends on the data rows: its value has the rows as a leading axis

    @cached_property
    def text(self) -> str:
        """The sub-expression this node computes, as text (the model's own subtree as yhat).

        Written on first use: only explain, graph and error messages need it, and writing every
        node's text cost a quarter of a small gradient call.
        """
        if isinstance(self.source, str):
            return self.source
        expr, model = self.source
        return to_text(expr, {id(model): "yhat"})


@dataclass(frozen=True)
class Graph:
    """The computational graph of a loss, its nodes in topological order."""

    nodes: tuple[Node, ...]  # in topological order: inputs before consumers
    output: int  # the loss node
    model: int  # the yhat node
    tensor: bool = False  # some node is a vector or a matrix: values are aligned and VJPs reduced

    def leaf(self, name: str) -> Node | None:
        for node in self.nodes:
            if node.op is None and node.name == name:
                return node
        return None


def build_graph(problem: Problem) -> Graph:
    """The graph of the per-row loss, with the model's output named yhat."""
    builder = _GraphBuilder(problem)
    output = builder.build(problem.loss, "loss", "loss")
    model = builder.made.get(id(problem.model))
    if model is None:  # bce on a sigmoid model is computed from the logit: yhat is off the loss path
        model = builder.build(problem.model, "yhat", "model")
    return Graph(tuple(builder.nodes), output, model, problem.tensor)


class _GraphBuilder:
    """Nodes added in postorder, one per operation as the user wrote it (a sum inside a sum joins it)."""

    def __init__(self, problem: Problem) -> None:
        roles = {name: "parameter" for name in problem.param_names}
        roles.update({name: "input" for name in problem.inputs})
        roles[problem.target] = "target"
        self.roles, self.taken, self.shapes = roles, set(roles), problem.shapes
        self.counter = 0
        self.nodes: list[Node] = []
        self.made: dict[int, int] = {}  # id(expr) -> node id (the model subtree is shared)
        self.leaves: dict[str, int] = {}
        self.model_root = problem.model
        self.absorbed = _absorbed_sums([problem.loss, problem.model], problem.model)

    def fresh_name(self) -> str:
        while True:
            self.counter += 1
            if f"a{self.counter}" not in self.taken:
                return f"a{self.counter}"

    def add(self, name: str, op: str | None, inputs: tuple[int, ...], role: str, source: str | tuple[Expr, Expr],
            value: float | None = None, expr: Expr | None = None) -> int:
        shapes, nodes = self.shapes, self.nodes
        if op is None:
            shape = shapes.names.get(name, ()) if shapes is not None and role != "constant" else ()
            batched = role in ("input", "target")
        else:
            shape = shapes.of(expr) if shapes is not None and expr is not None else nodes[inputs[0]].shape
            batched = any(nodes[i].batched for i in inputs)
        nodes.append(Node(len(nodes), name, op, inputs, role, source, value, shape, batched))
        return len(nodes) - 1

    def build(self, root: Expr, root_name: str, root_role: str) -> int:
        for expr in postorder(root):
            if id(expr) in self.made or id(expr) in self.absorbed:
                continue
            if isinstance(expr, (Sym, Num)):
                node_id = self.leaf(expr, root, root_name, root_role)
            else:
                node_id = self.operation(expr, root, root_name, root_role)
            self.made[id(expr)] = node_id
        return self.made[id(root)]

    def leaf(self, expr: Sym | Num, root: Expr, root_name: str, root_role: str) -> int:
        """A name (one node however often it is used) or a constant; a model or loss that is a single
        leaf still gets its own yhat or loss node."""
        if isinstance(expr, Sym):
            if expr.name not in self.leaves:
                self.leaves[expr.name] = self.add(expr.name, None, (), self.roles[expr.name], expr.name)
            node_id, text = self.leaves[expr.name], expr.name
        else:
            node_id, text = self.add(expr.text, None, (), "constant", expr.text, expr.value), expr.text
        if expr is root:
            return self.add(root_name, "identity", (node_id,), root_role, text)
        if expr is self.model_root:
            return self.add("yhat", "identity", (node_id,), "model", text)
        return node_id

    def operation(self, expr: Expr, root: Expr, root_name: str, root_role: str) -> int:
        if isinstance(expr, Binary) and expr.op == "add":
            operands, op = _sum_operands(expr, self.absorbed), "add"
        elif isinstance(expr, Binary):
            operands, op = [expr.left, expr.right], expr.op
        elif isinstance(expr, Unary):
            operands, op = [expr.operand], expr.op
        else:
            assert isinstance(expr, Call)
            operands, op = list(expr.args), expr.fn
        inputs = tuple(self.made[id(child)] for child in operands)
        if expr is root:
            name, role = root_name, root_role
        elif expr is self.model_root:
            name, role = "yhat", "model"
        else:
            name, role = self.fresh_name(), "intermediate"
        return self.add(name, op, inputs, role, (expr, self.model_root), expr=expr)


def _absorbed_sums(roots: list[Expr], keep: Expr) -> set[int]:
    """Sums that sit directly inside another sum and become part of its n-ary node.

    Only a sum whose every parent is a sum: in a derivative graph a sum is shared, and one that
    another operation also reads must stay a node of its own.
    """
    absorbed: set[int] = set()
    read_elsewhere: set[int] = set()
    for root in roots:
        for expr in postorder(root):
            into_sum = isinstance(expr, Binary) and expr.op == "add"
            for child in children(expr):
                if isinstance(child, Binary) and child.op == "add" and child is not keep:
                    (absorbed if into_sum else read_elsewhere).add(id(child))
    return absorbed - read_elsewhere


def _sum_operands(expr: Binary, absorbed: set[int]) -> list[Expr]:
    operands: list[Expr] = []
    stack: list[Expr] = [expr.right, expr.left]
    while stack:
        item = stack.pop()
        if id(item) in absorbed:
            assert isinstance(item, Binary)
            stack += [item.right, item.left]
        else:
            operands.append(item)
    return operands


# ---------------------------------------------------------------- edges and paths
















# ---------------------------------------------------------------- evaluation


@dataclass
class Sweep:
    """Values and adjoints of every node after a forward and a backward pass."""

    values: list[Any]
    adjoints: list[Any]
    gradients: dict[str, float]
    loss_rows: Any
    loss_value: float
    rows: int
    edges_used: list[Edge] = field(default_factory=list)  # the edges the sweep walked
    multiplications: int = 0  # adjoint x local derivative (a local derivative of exactly 1 needs none)
    additions: int = 0  # adjoints added where paths meet


def forward(graph: Graph, params: Mapping[str, float], columns: Mapping[str, Any], rows: int,
            by_id: bool = False, needed: Sequence[bool] | None = None) -> list[Any]:
    """Every node's value: arrays over rows (or scalars where no data flows in).

    by_id: the graph holds a subset of another graph's nodes; values are indexed by node id.
    needed: only the nodes marked True are computed (the others stay None).
    """
    values: list[Any] = [None] * ((max(n.id for n in graph.nodes) + 1) if by_id else len(graph.nodes))
    with np.errstate(all="ignore"):
        for node in graph.nodes:
            if needed is not None and not needed[node.id]:
                continue
            if node.op is None:
                if node.role == "constant":
                    values[node.id] = np.float64(node.value)
                elif node.role == "parameter":
                    values[node.id] = parameter_value(node, params)
                else:
                    values[node.id] = columns[node.name]
            else:
                values[node.id] = apply(graph, node, arguments(graph, node, values))
    return values


def parameter_value(node: Node, params: Mapping[str, Any]) -> Any:
    """A parameter leaf's value: a float, or a vector or matrix gathered from its entries (W1[1,1], ...)
    unless `params` holds the whole array under its own name."""
    if not node.shape:
        return np.float64(params[node.name])
    if node.name in params:
        return np.asarray(params[node.name], dtype=np.float64).reshape(node.shape)
    return np.array([params[e] for e in entry_names(node.name, node.shape)], dtype=np.float64).reshape(node.shape)


def entry_slots(graph: Graph, wanted: list[str] | tuple[str, ...]) -> dict[int, Any]:
    """For each parameter leaf with a wanted entry: the position in `wanted` of each of its entries
    (-1 for an entry not wanted), in row-major order."""
    where = {name: i for i, name in enumerate(wanted)}
    slots = {}
    for node in graph.nodes:
        if node.op is None and node.role == "parameter":
            positions = [where.get(e, -1) for e in entry_names(node.name, node.shape)]
            if any(p >= 0 for p in positions):
                slots[node.id] = np.array(positions)
    return slots


def arguments(graph: Graph, node: Node, values: list[Any]) -> tuple[Any, ...]:
    """A node's argument values, each batched one given the node's number of per-row axes (a row's
    scalar against a vector is (N, 1) against (4,)): what its forward and local derivatives take."""
    args = tuple(values[i] for i in node.inputs)
    if not graph.tensor or not OPS[node.op].elementwise:  # type: ignore[index]
        return args
    ndim = len(node.shape)
    return tuple(aligned(a, graph.nodes[i].batched, ndim) for a, i in zip(args, node.inputs))


def apply(graph: Graph, node: Node, args: tuple[Any, ...]) -> Any:
    """The node's value from its arguments' (see `arguments`)."""
    op = OPS[node.op]  # type: ignore[index]
    if op.elementwise:
        return op.forward(*args)
    return op.forward(*args, batched=tuple(graph.nodes[i].batched for i in node.inputs))


def magnitude(graph: Graph, node: Node, position: int, adjoint: Any, args: tuple[Any, ...], out: Any,
              rows: int) -> Any:
    """The sum over rows of |each row's term| of `contribution` (what training's optimality measures):
    |adjoint| x |local derivative|, or for a tensor operation its VJP on magnitudes (exact for @, sum,
    dot and transpose, whose VJPs are sums of products)."""
    op = OPS[node.op]  # type: ignore[index]
    child = graph.nodes[node.inputs[position]]
    if op.elementwise:
        sent = np.abs(adjoint) * np.abs(op.local(position, args, out))
    else:
        sent = op.vjp(position, np.abs(adjoint), tuple(np.abs(a) for a in args), np.abs(out),  # type: ignore[misc]
                      tuple(graph.nodes[i].batched for i in node.inputs))
        if np.shape(sent) == ((rows,) if child.batched else ()) + child.shape:
            return sent
    return reduce_to(sent, child.shape, child.batched, rows, node.batched)


def passes_on(local: Any) -> bool:
    """A local derivative of exactly 1: the adjoint (or forward mode's tangent) passes through as it is, with no
    product to form. Both modes count their products by this one rule (explain --cost compares them)."""
    return isinstance(local, float) and local == 1.0


def contribution(graph: Graph, node: Node, position: int, adjoint: Any, args: tuple[Any, ...], out: Any,
                 rows: int) -> Any:
    """What the node's adjoint sends back to its input number `position`: the vector-Jacobian product,
    which for an elementwise operation is the adjoint times the local derivative (passed on as it is
    when that is exactly 1) and, in a tensor graph, summed down to the input's shape."""
    op = OPS[node.op]  # type: ignore[index]
    child = graph.nodes[node.inputs[position]]
    if op.elementwise:
        local = op.local(position, args, out)
        sent = adjoint if passes_on(local) else adjoint * local
    else:  # a VJP gives the argument's shape, its row axis summed already where it has none (W1 in W1 @ x)
        sent = op.vjp(position, adjoint, args, out, tuple(graph.nodes[i].batched for i in node.inputs))  # type: ignore[misc]
        if np.shape(sent) == ((rows,) if child.batched else ()) + child.shape:
            return sent
    if graph.tensor:
        sent = reduce_to(sent, child.shape, child.batched, rows, node.batched)
    return sent


def model_values(graph: Graph, params: Mapping[str, float], columns: Mapping[str, Any], rows: int,
                 node: int | None = None, *, diagnose: bool = True) -> Any:
    """yhat (or the given node) over the rows, computing only the nodes it needs (no target, no loss).

    A row where it is undefined raises UndefinedError naming the operation and the row; with
    diagnose=False non-finite values are returned as they are.
    """
    wanted = graph.model if node is None else node
    needed = [False] * len(graph.nodes)
    needed[wanted] = True
    for each in reversed(graph.nodes):
        if needed[each.id]:
            for i in each.inputs:
                needed[i] = True
    # the whole graph with only the needed nodes computed: a tensor node's arguments are looked up
    # by id in graph.nodes (their shapes), which a filtered tuple of nodes would not index
    values = forward(graph, params, columns, rows, needed=needed)
    result = np.broadcast_to(values[wanted], (rows,) + graph.nodes[wanted].shape)
    if diagnose and not np.isfinite(result).all():
        _diagnose_forward(graph, values, rows)
    return result


def backprop(graph: Graph, params: Mapping[str, float], columns: Mapping[str, Any], rows: int,
             wrt: list[str], *, diagnose: bool = True) -> Sweep:
    """Forward, then one reverse sweep; undefined values raise UndefinedError naming the op and row.

    With diagnose=False non-finite values are returned as they are (training treats them as a
    failed step, not as bad input). A parameter's adjoint is summed over rows as it arrives
    (a dot product, no array of products). For many rows, sweep.run gives the same numbers faster.
    """
    values = forward(graph, params, columns, rows)
    loss_rows = np.broadcast_to(values[graph.output], (rows,))
    if diagnose and not np.isfinite(loss_rows).all():
        _diagnose_forward(graph, values, rows)
    needed = needed_for(graph, wanted_leaves(graph, wrt))
    adjoints: list[Any] = [None] * len(graph.nodes)
    adjoints[graph.output] = np.full(rows, 1.0 / rows)
    summed = [node.role == "parameter" for node in graph.nodes]
    edges_used: list[Edge] = []
    multiplications = additions = 0
    with np.errstate(all="ignore"):
        for node in reversed(graph.nodes):
            adjoint = adjoints[node.id]
            if node.op is None or adjoint is None:
                continue
            args = arguments(graph, node, values)
            op = OPS[node.op]
            for position, child in enumerate(node.inputs):
                if not needed[child]:
                    continue
                edges_used.append(Edge(child, node.id, position))
                if summed[child] and not graph.tensor:  # a scalar parameter: summed over rows as it arrives
                    local = op.local(position, args, values[node.id])
                    sent = summed_product(adjoint, local, rows)
                    multiplications += not passes_on(local)  # b in b + w*x: its adjoint is the sum's, as is
                else:
                    sent = contribution(graph, node, position, adjoint, args, values[node.id], rows)
                    multiplications += sent is not adjoint  # sums pass the adjoint on as it is
                if adjoints[child] is None:
                    adjoints[child] = sent
                else:
                    adjoints[child] = adjoints[child] + sent
                    additions += 1
    gradients = {}
    if graph.tensor:
        for leaf, slots in entry_slots(graph, wrt).items():
            adjoint = adjoints[leaf]
            shape = graph.nodes[leaf].shape
            flat = np.zeros(len(slots)) if adjoint is None else np.broadcast_to(adjoint, shape).ravel()
            for slot, value in zip(slots, flat):
                if slot >= 0:
                    gradients[wrt[slot]] = float(value)
    for name in wrt:
        if name in gradients:
            continue
        leaf = graph.leaf(name)
        adjoint = None if leaf is None else adjoints[leaf.id]
        gradients[name] = 0.0 if adjoint is None else float(np.sum(adjoint))
    if diagnose and not all(np.isfinite(v) for v in gradients.values()):
        _diagnose_backward(graph, values, adjoints, rows)
    return Sweep(values, adjoints, gradients, loss_rows, float(np.mean(loss_rows)), rows, edges_used,
                 multiplications, additions)


def summed_product(adjoint: Any, local: Any, rows: int) -> float:
    """Sum over rows of adjoint * local, without the array of products."""
    scalar_adjoint, scalar_local = np.ndim(adjoint) == 0, np.ndim(local) == 0
    if scalar_adjoint and scalar_local:
        return rows * float(adjoint) * float(local)
    if scalar_adjoint:
        return float(adjoint) * float(local.sum())
    if scalar_local:
        return float(local) * float(adjoint.sum())
    if fixed_order():  # np.dot is BLAS's, in its kernel's order
        return float(np.einsum("i,i->", adjoint, local, optimize=False))
    return float(np.dot(adjoint, local))


def wanted_leaves(graph: Graph, names: list[str] | tuple[str, ...]) -> set[int]:
    """The leaves whose gradient is asked for: by name, or by one of their entries (W1[1,2])."""
    asked = {*names, *(name.split("[", 1)[0] for name in names)}  # an expanded model's leaves are W1[1,2]
    return {node.id for node in graph.nodes if node.op is None and node.name in asked}


def needed_for(graph: Graph, wanted: set[int]) -> list[bool]:
    """needed[i]: node i lies on a path from a wanted parameter to the loss."""
    needed = [False] * len(graph.nodes)
    for node in graph.nodes:
        needed[node.id] = node.id in wanted or any(needed[i] for i in node.inputs)
    return needed


















def _rows_where(mask: Any, rows: int) -> Any:
    """One flag per row from a mask over rows (and entries): true where any entry of the row is."""
    mask = np.asarray(mask)
    if mask.ndim > 1 or (mask.ndim == 1 and len(mask) != rows):
        mask = mask.reshape(len(mask), -1).any(axis=1) if len(mask) == rows else np.full(rows, bool(mask.any()))
    return np.broadcast_to(mask, (rows,))


def _first_bad_row(value: Any, rows: int) -> int | None:
    bad = ~np.isfinite(np.asarray(value))
    if not bad.any():
        return None
    if bad.ndim > 1 or (bad.ndim == 1 and len(bad) != rows):  # a vector or matrix per row, or a parameter
        bad = bad.reshape(len(bad), -1).any(axis=1) if len(bad) == rows else np.full(rows, True)
    bad = np.broadcast_to(bad, (rows,))
    return int(np.argmax(bad))


def _describe_args(graph: Graph, node: Node, values: list[Any], row: int) -> str:
    parts = []
    for i in node.inputs:
        child = graph.nodes[i]
        if child.role == "constant":
            continue
        if child.shape:  # a vector or a matrix: its name says enough
            continue
        value = float(values[i][row]) if np.ndim(values[i]) else float(values[i])
        parts.append(f"{child.text if len(child.text) <= 30 else child.name} = {value:.6g}")
    return f" ({', '.join(parts)})" if parts else ""


def _diagnose_forward(graph: Graph, values: list[Any], rows: int) -> None:
    for node in graph.nodes:
        if node.op is None or values[node.id] is None:  # a leaf, or a node not computed (model_values)
            continue
        row = _first_bad_row(values[node.id], rows)
        if row is None:
            continue
        args = arguments(graph, node, values)
        if any(_rows_where(~np.isfinite(a), rows)[row] for a in args):
            continue  # an input was already bad: the earlier node is the culprit
        reason = "the result overflows"
        check = OPS[node.op].undefined
        for mask, why in check(args) if check else []:
            if _rows_where(mask, rows)[row]:
                reason = why
                break
        raise UndefinedError(
            f"{node.op} is undefined at row {row + 1}: {reason} in {_short(node.text)}"
            f"{_describe_args(graph, node, values, row)}"
        )
    raise UndefinedError("the loss is not a finite number at this point")


def _diagnose_backward(graph: Graph, values: list[Any], adjoints: list[Any], rows: int) -> None:
    # Look for a non-finite forward value first (it may not have reached the loss), then
    # for the local derivative that became infinite.
    _diagnose_forward_silent(graph, values, rows)
    with np.errstate(all="ignore"):
        for node in reversed(graph.nodes):
            if node.op is None or adjoints[node.id] is None:
                continue
            if not OPS[node.op].elementwise:  # a tensor operation's VJP is finite where its inputs are
                continue
            args = arguments(graph, node, values)
            for position, child in enumerate(node.inputs):
                if adjoints[child] is None:
                    continue
                row = _first_bad_row(OPS[node.op].local(position, args, values[node.id]), rows)
                if row is not None:
                    raise UndefinedError(
                        f"the derivative of {node.op} is infinite or undefined at row {row + 1}: "
                        f"d {_short(node.text)}/d({_short(graph.nodes[child].text)})"
                        f"{_describe_args(graph, node, values, row)}"
                    )
    raise UndefinedError("a gradient is not a finite number at this point (it overflows)")


def _diagnose_forward_silent(graph: Graph, values: list[Any], rows: int) -> None:
    for node in graph.nodes:
        if node.op is not None and _first_bad_row(values[node.id], rows) is not None:
            _diagnose_forward(graph, values, rows)


def _short(text: str, limit: int = 50) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Edge:
    """An edge of the graph: node `source` is input number `position` of node `target`.

    A node that uses the same input twice (w*w) has two edges from it, one per position.
    """

    source: int
    target: int
    position: int


def upstream_params(graph: Graph) -> list[frozenset[str]]:
    """For each node, the parameters it depends on (those below it in the graph)."""
    upstream: list[frozenset[str]] = []
    for node in graph.nodes:
        names = {node.name} if node.role == "parameter" else set()
        for i in node.inputs:
            names |= upstream[i]
        upstream.append(frozenset(names))
    return upstream
