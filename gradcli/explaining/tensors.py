"""explain and graph for models with vectors and matrices: the backward pass as matrix products.

The tensor graph (engines/graph.py) has one node per tensor operation, each with its per-row shape.
Walking its reverse sweep gives backpropagation in matrix form, with nothing written for one model:
each node's adjoint δa = ∂loss/∂a has the node's shape and is the sum of the vector-Jacobian
products on the edges out of it, each the formula of language/ops.py (``local_text``: ``G @ xᵀ``
for W1 in W1 @ x, ``G ⊙ (1 - a3**2)`` for tanh) with G the consumer's adjoint. Over the batch the
same steps are matrix-matrix products on the rows stacked (X is N x d, Δa1 is N x 3, ∂loss/∂W1 =
Δa1ᵀ @ X), which is what the compiled sweep does.

One entry of a chosen parameter is then followed through the scalar graph of the model written out
entry by entry (language/expansion.py): the sum over paths, by the scalar explain's own machinery,
checked against the matrix form's entry; SymPy differentiates the written-out model as the third
witness. The same scalar graph is what `graph --neurons` draws.

Results are plain data; views/explain.py and views/graph.py render them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..compare.symbolic import SymbolicUnavailable, sympy_limits
from ..compare.verdicts import agrees, kink_warnings
from ..compare.witnesses import entrywise
from ..engines.graph import arguments, backprop, build_graph, contribution, upstream_params
from ..engines.kinks import kinks
from ..engines.reading import edges, from_constant, local_formula, node_formula
from ..engines.symbolic import SymbolicLoss, budget_seconds, time_limit
from ..errors import GradcliError, show_text
from ..io.arguments import text
from ..io.values import as_columns
from ..language.expansion import MAX_ENTRIES, MAX_NODES, entry_columns
from ..language.ops import OPS
from ..language.tensors import shown
from ..setup import Setup, check_parameter_names
from .matrix_text import adjoint_label, batch_forward, batch_names, batch_shape, batch_vjp, vjp_text
from .reports import (
    BackwardStep,
    EntryCheck,
    ForwardStep,
    GraphView,
    LayerGradient,
    MatrixCounts,
    Numbers,
    TensorEdge,
    TensorExplanation,
    TensorGraphView,
    TensorNode,
)
from .scalars import (
    add_counts,
    formula_cost,
    graph_notes,
    node_cost,
    op_counts,
    param_steps,
    reachable,
    view_of,
    zero_counts,
)

FULL_ENTRIES = 16  # a value of at most this many entries is given in full; a larger one is summarised
NEURONS_MAX_ENTRIES = 64  # graph --neurons: parameter entries (SymPy's own limit for the expansion)
NEURONS_MAX_NODES = 500  # graph --neurons: nodes of the scalar graph
BATCH_ROWS = 100_000  # explain's batch step runs over at most this many rows of the data


# ---------------------------------------------------------------- values




def numbers(value: Any, shape: tuple[int, ...] | list[int]) -> Numbers:
    with np.errstate(all="ignore"):
        array = np.broadcast_to(np.asarray(value, dtype=np.float64), tuple(shape))
        finite = array[np.isfinite(array)]
        low = float(finite.min()) if finite.size else None
        high = float(finite.max()) if finite.size else None
        norm = float(np.sqrt(np.sum(finite * finite))) if finite.size == array.size else None
    values = _listed(array) if array.size <= FULL_ENTRIES else None
    return Numbers(list(shape), values, low, high, norm)


def _listed(array: Any) -> Any:
    if array.ndim == 0:
        number = float(array) + 0.0  # -0.0 is 0
        return number if math.isfinite(number) else None
    return [_listed(part) for part in array]


def at_point(node: Any, value: Any) -> Numbers:
    """A node's value at the point: its own shape, the row axis (one row) dropped."""
    if node.batched:
        value = np.broadcast_to(np.asarray(value, dtype=np.float64), (1,) + node.shape)[0]
    return numbers(value, node.shape)


def _over_rows(node: Any, value: Any, rows: int) -> Numbers:
    """A node's value over the batch: N x its shape when it has a row axis."""
    return numbers(value, ((rows,) if node.batched else ()) + node.shape)


def nested(values: Mapping[str, float], problem: Any) -> dict[str, Any]:
    """Each parameter as written, its entries' values in its shape (a number for a scalar)."""
    shapes = problem.shapes.names
    return {name: (np.array([values[e] for e in entries]).reshape(shapes[name]).tolist() if shapes[name]
                   else values[entries[0]]) for name, entries in problem.entries.items()}


def _point(setup: Setup) -> dict[str, float]:
    """The inputs and the target at the point, a vector input by its columns' names (x1, x2)."""
    problem = setup.problem
    split = entry_columns(problem)
    point = {}
    for name in (*problem.inputs, problem.target):
        if name in split:
            point.update({entry: float(v) for entry, v in zip(split[name], np.asarray(setup.columns[name][0]).ravel())})
        else:
            point[name] = float(np.ravel(setup.columns[name])[0])
    return point


def batch_rows(data: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The rows of the data for explain's batch step (None where there is one row), and a note when cut."""
    columns, rows = as_columns(data)
    if rows <= 1:
        return None, None
    if rows <= BATCH_ROWS:
        return dict(columns), None
    return ({name: column[:BATCH_ROWS] for name, column in columns.items()},
            f"the batch step runs over the first {BATCH_ROWS:,} of the {rows:,} rows")


# ---------------------------------------------------------------- formulas

























# ---------------------------------------------------------------- the graph with shapes








def highlighted(problem: Any, name: str) -> tuple[list[str], list[str]]:
    """--highlight on a model with tensors: W1 or one entry of it (W1[1,2]). The tensors it marks, and
    the entries (for --neurons)."""
    for written, entries in problem.entries.items():
        if name == written:
            return [written], list(entries)
        if name in entries:
            return [written], [name]
    check_parameter_names([name], problem.params, "--highlight", written=problem.param_names)
    raise AssertionError("check_parameter_names raised")  # pragma: no cover


def parameter_listing(problem: Any) -> list[str]:
    """The parameters as written with their shapes, for messages: W1 (3x2), b2."""
    shapes = problem.shapes.names
    return [f"{name} ({shown(shapes[name])})" if shapes[name] else name for name in problem.entries]


def _tensor_view(setup: Setup, graph: Any, sweep: Any, warnings: list[str], highlight: str | None = None,
                 marked: list[str] | None = None) -> TensorGraphView:
    problem = setup.problem
    nodes = [
        TensorNode(node.id, node.name, node.op, "intermediate" if node.role == "model" else node.role,
                   node_formula(graph, node), node.text, list(node.shape), node.batched,
                   at_point(node, sweep.values[node.id]),
                   None if sweep.adjoints[node.id] is None else at_point(node, sweep.adjoints[node.id]))
        for node in graph.nodes
    ]
    names = {node.id: node.name for node in graph.nodes}
    listed = []
    with np.errstate(all="ignore"):
        for edge in edges(graph):
            if from_constant(graph, edge):
                listed.append(TensorEdge(edge.source, edge.target, edge.position, None, None, None, None))
                continue
            node, child = graph.nodes[edge.target], graph.nodes[edge.source]
            op = OPS[node.op]  # type: ignore[index]
            args = arguments(graph, node, sweep.values)
            out = sweep.values[node.id]
            local = local_value = None
            if op.elementwise:
                local = op.local_text(edge.position, [names[i] for i in node.inputs], node.name)
                full = ((1,) if node.batched else ()) + node.shape
                local_value = at_point(node, np.broadcast_to(op.local(edge.position, args, out), full))
            adjoint = sweep.adjoints[node.id]
            sent = None if adjoint is None else at_point(child, contribution(graph, node, edge.position, adjoint,
                                                                               args, out, 1))
            listed.append(TensorEdge(edge.source, edge.target, edge.position, vjp_text(graph, edge, names, "G"),
                                     sent, local, local_value))
    view = TensorGraphView(
        model=problem.model_text.strip(), loss=problem.loss_name, loss_formula=problem.loss_formula,
        target=problem.target, params=nested(setup.values, problem),
        shapes={name: list(shape) for name, shape in problem.shapes.names.items()},
        gathered={name: list(columns) for name, columns in problem.gathered.items()}, point=_point(setup),
        defaults=dict(setup.defaults), loss_value=sweep.loss_value, nodes=nodes, edges=listed,
        output=graph.output, prediction=graph.model, notes=graph_notes(graph), warnings=warnings,
    )
    if highlight is not None:
        wanted = set(marked or [highlight])
        upstream = upstream_params(graph)
        reach = reachable(graph)
        on_path = [reach[i] and bool(wanted & upstream[i]) for i in range(len(graph.nodes))]
        view.highlight = highlight
        view.highlight_nodes = [i for i, on in enumerate(on_path) if on]
        view.highlight_edges = [k for k, e in enumerate(listed) if on_path[e.source] and on_path[e.target]]
    return view


def tensor_graph_view(setup: Setup, highlight: str | None = None, marked: list[str] | None = None) -> TensorGraphView:
    """`gradcli graph` on a model with vectors and matrices, at the point."""
    graph = build_graph(setup.problem)
    sweep = backprop(graph, setup.values, setup.columns, 1, setup.chosen)
    warnings = setup.warnings + kink_warnings(kinks(graph, sweep.values, 1))
    return _tensor_view(setup, graph, sweep, warnings, highlight, marked)


# ---------------------------------------------------------------- the model written out neuron by neuron


def scalar_setup(setup: Setup, max_entries: int) -> Setup:
    """The same point for the model written out entry by entry: each entry of a matrix its own parameter,
    each column of a vector input its own input. Past the expansion's limits, SymbolicUnavailable."""
    scalar, columns = entrywise(setup.problem, setup.columns, max_entries=max_entries)
    columns = {name: columns[name] for name in (*scalar.inputs, scalar.target)}
    return replace(setup, problem=scalar, columns=columns, warnings=list(setup.warnings))


def neuron_setup(setup: Setup) -> tuple[Setup, list[str]]:
    """graph --neurons: the scalar problem to draw, refused past NEURONS_MAX_ENTRIES parameter entries or
    NEURONS_MAX_NODES nodes; and the note that says what is drawn."""
    problem = setup.problem
    count = len(problem.params)
    shapes = ", ".join(parameter_listing(problem))
    if count > NEURONS_MAX_ENTRIES:
        raise GradcliError(f"--neurons draws a model of at most {NEURONS_MAX_ENTRIES} parameter entries, and this one "
                           f"has {count:,} ({shapes}); leave out --neurons to draw it one node per tensor operation")
    try:
        scalar = scalar_setup(setup, NEURONS_MAX_ENTRIES)
    except SymbolicUnavailable as why:
        raise GradcliError(f"--neurons cannot write this model out entry by entry: {why}") from None
    size = len(build_graph(scalar.problem).nodes)
    if size > NEURONS_MAX_NODES:
        raise GradcliError(f"--neurons draws at most {NEURONS_MAX_NODES} nodes, and this model written out entry by "
                           f"entry has {size:,}; leave out --neurons to draw it one node per tensor operation")

    tensors = [name for name, shape in problem.tensors.items() if shape]
    inputs = [f"{name} as {', '.join(columns)}" for name, columns in entry_columns(problem).items()]
    note = (f"drawn neuron by neuron: the model written out entry by entry ({size} nodes), each entry of "
            f"{', '.join(tensors) or 'a tensor'} its own parameter"
            + (f" and each entry of a vector input its own input ({'; '.join(inputs)})" if inputs else ""))
    return scalar, [note]


def neuron_view(setup: Setup) -> GraphView | None:
    """The tensor model drawn neuron by neuron, as graph --neurons draws it (the html page's second
    picture); None past the --neurons limits."""
    try:
        scalar, notes = neuron_setup(setup)
    except GradcliError:
        return None
    graph = build_graph(scalar.problem)
    sweep = backprop(graph, scalar.values, scalar.columns, 1, scalar.chosen)
    view = view_of(scalar, graph, sweep, scalar.warnings + kink_warnings(kinks(graph, sweep.values, 1)))
    view.notes[:0] = notes
    return view


# ---------------------------------------------------------------- explain: the steps














def _forward_steps(graph: Any, sweep: Any, batch: Any) -> list[ForwardStep]:
    names = batch_names(graph)
    return [ForwardStep(node.id, node.name, node.op, node_formula(graph, node), node.text, list(node.shape),
                        at_point(node, sweep.values[node.id]), names[node.id], batch_forward(graph, node, names),
                        batch_shape(node), _over_rows(node, batch.values[node.id], batch.rows))
            for node in graph.nodes if node.op is not None]


def _backward_steps(graph: Any, sweep: Any, batch: Any, chosen: set[str]) -> list[BackwardStep]:
    """Each adjoint the sweep formed, consumers first: the sum of the VJPs on the edges it walked."""
    names = {node.id: node.name for node in graph.nodes}
    rows_names = batch_names(graph)
    arriving: dict[int, list[Any]] = {}
    for edge in sweep.edges_used:
        arriving.setdefault(edge.source, []).append(edge)
    steps = []
    for node in reversed(graph.nodes):
        if sweep.adjoints[node.id] is None or node.role == "constant":
            continue
        if node.id == graph.output:
            formula, over_rows = "1", "1/N"  # each row's share of the mean loss
        else:
            walked = arriving.get(node.id, [])
            formula = " + ".join(vjp_text(graph, e, names, adjoint_label(graph.nodes[e.target])) for e in walked)
            over_rows = " + ".join(batch_vjp(graph, e, rows_names, adjoint_label(graph.nodes[e.target], True))
                                   for e in walked)
        steps.append(BackwardStep(
            node.id, node.name, adjoint_label(node), list(node.shape), formula,
            at_point(node, sweep.adjoints[node.id]), adjoint_label(node, True), over_rows, batch_shape(node),
            _over_rows(node, batch.adjoints[node.id], batch.rows), node.role == "parameter" and node.name in chosen))
    return steps


def _add_counts(total: dict[str, int], counts: dict[str, int]) -> int:
    """Add an op's own counts to a total; its multiply-adds, which the caller keeps apart."""
    add_counts(total, counts)
    return counts["madds"]


def _size(shape: tuple[int, ...]) -> int:
    return math.prod(shape) if shape else 1


def matrix_counts(graph: Any, sweep: Any) -> MatrixCounts:
    """The matrix sweep's arithmetic at one row, in the scalar explain's kinds (multiplications include
    divisions, additions subtractions, other the functions): elementwise operations entry by entry,
    an (m x k) @ (k x n) product m·k·n multiplications and m·(k-1)·n additions, and the same for each
    of its VJPs (G @ Bᵀ, Aᵀ @ G)."""
    forward, local, reverse = zero_counts(), zero_counts(), zero_counts()
    madds = 0

    def scaled(cost: dict[str, int], times: int) -> dict[str, int]:
        return {k: v * times for k, v in cost.items()}

    for node in graph.nodes:
        if node.op is None:
            continue
        args = [graph.nodes[i].shape for i in node.inputs]
        counts = OPS[node.op].counts  # a tensor op counts its own; an elementwise one, entry by entry
        if counts is not None:
            madds += _add_counts(forward, counts(args))
        else:
            add_counts(forward, scaled(node_cost(node.op, len(node.inputs)), _size(node.shape)))
    arrivals: dict[int, int] = {}
    for edge in sweep.edges_used:
        node, child = graph.nodes[edge.target], graph.nodes[edge.source]
        arrivals[child.id] = arrivals.get(child.id, 0) + 1
        vjp_counts = OPS[node.op].vjp_counts
        if vjp_counts is not None:
            madds += _add_counts(reverse, vjp_counts(edge.position, [graph.nodes[i].shape for i in node.inputs]))
        else:  # elementwise: adjoint ⊙ local, then summed to the child
            formula = local_formula(graph, edge) or "1"
            size = _size(node.shape)
            add_counts(local, scaled(formula_cost(formula), size))
            if formula != "1":
                reverse["multiplications"] += size
            reverse["additions"] += size - _size(child.shape)
    for child, count in arrivals.items():  # adjoints added where paths meet
        reverse["additions"] += (count - 1) * _size(graph.nodes[child].shape)
    total = sum(forward.values()) + sum(local.values()) + sum(reverse.values())
    return MatrixCounts(forward, local, reverse, madds, total)


def _entry(setup: Setup, entry: str | None) -> str:
    """The entry whose path sum is shown: the one asked for, else the first chosen."""
    if entry is None:
        return setup.chosen[0]

    text(entry, "--entry")
    if entry not in setup.chosen:
        if entry in setup.problem.params:
            raise GradcliError(f"--entry {show_text(entry)!r} is not among the parameters --wrt asks for "
                               f"({', '.join(_written(setup))})")
        listed = "; ".join(f"{name}: {entries[0]} to {entries[-1]}" if len(entries) > 1 else entries[0]
                           for name, entries in setup.problem.entries.items())
        raise GradcliError(f"--entry {show_text(entry)!r} is not an entry of a parameter ({listed})")
    return entry


def _written(setup: Setup) -> list[str]:
    """The chosen parameters as written (W1), in order."""
    chosen = set(setup.chosen)
    return [name for name, entries in setup.problem.entries.items() if chosen & set(entries)]


def _sympy(scalar: Setup, entry: str) -> tuple[dict[str, Any], dict[str, float], str]:
    """SymPy's derivative of every chosen entry of the written-out model, their values, and the entry's
    formula for people, all within the symbolic engine's budget (else SymbolicUnavailable)."""
    with sympy_limits(), time_limit(budget_seconds()):
        symbolic = SymbolicLoss(scalar.problem)
        derivatives = symbolic.derivatives(scalar.chosen)
        values = symbolic.values(derivatives, scalar.values, scalar.columns, 1)
        formula = symbolic.readable(derivatives[entry])
    return derivatives, values, formula


def explain_tensors(setup: Setup, batch: Setup, *, entry: str | None, max_paths: int, rtol: float,
                    atol: float) -> TensorExplanation:
    """`gradcli explain` on a model with vectors and matrices: `setup` at the point, `batch` over the rows."""
    problem = setup.problem
    graph = build_graph(problem)
    sweep = backprop(graph, setup.values, setup.columns, 1, setup.chosen)
    warnings = setup.warnings + batch.warnings + kink_warnings(kinks(graph, sweep.values, 1))
    view = _tensor_view(setup, graph, sweep, warnings)
    if batch is setup:
        over_rows = sweep
    else:  # the same graph: every node's shape and role follow from the model and the options alone
        over_rows = backprop(build_graph(batch.problem), batch.values, batch.columns, batch.rows, batch.chosen)
    chosen = set(_written(setup))
    entry = _entry(setup, entry)
    notes: list[str] = []
    counts = matrix_counts(graph, sweep)
    derivatives: dict[str, Any] = {}
    symbolic_values: dict[str, float] = {}
    formula = None
    check = None
    try:
        scalar = scalar_setup(setup, MAX_NODES)
    except SymbolicUnavailable as why:
        notes.append(f"one entry's path sum is left out: the model {why}")
        scalar = None
    if scalar is not None:
        if len(problem.params) > MAX_ENTRIES:
            notes.append(f"SymPy's derivatives are left out: the model has {len(problem.params):,} parameter "
                         f"entries, over the {MAX_ENTRIES} that SymPy differentiates one by one")
        else:
            try:
                derivatives, symbolic_values, formula = _sympy(scalar, entry)
            except SymbolicUnavailable as why:
                notes.append(f"SymPy's derivatives are left out: the symbolic engine {why}")
        scalar_graph = build_graph(scalar.problem)
        scalar_sweep = backprop(scalar_graph, scalar.values, scalar.columns, 1, scalar.chosen)
        scalar_view = view_of(scalar, scalar_graph, scalar_sweep, [])
        witness = SimpleNamespace(symbolic=formula, symbolic_value=symbolic_values.get(entry, math.nan),
                                  agree=True if entry in symbolic_values else None)
        steps = param_steps(scalar_graph, scalar_sweep, scalar_view, entry, witness, max_paths, rtol, atol)
        matrix_value = sweep.gradients[entry]
        checked = steps.adjoint if steps.path_sum is None else steps.path_sum
        sympy_value = symbolic_values.get(entry)
        check = EntryCheck(entry, entry.split("[", 1)[0], matrix_value, steps, len(scalar_graph.nodes), formula,
                           sympy_value, agrees(matrix_value, checked, rtol, atol),
                           None if sympy_value is None else agrees(sympy_value, matrix_value, rtol, atol))
        counts.scalar = op_counts(scalar_graph, scalar_sweep, derivatives)
        counts.symbolic = bool(derivatives)
    gradients = []
    for name, entries in problem.entries.items():
        picked = [e for e in entries if e in setup.chosen]
        if not picked:
            continue
        found = [sweep.gradients[e] for e in picked]
        sympy = [symbolic_values[e] for e in picked] if symbolic_values else None
        diff = None if sympy is None else max(abs(s - b) for s, b in zip(sympy, found))
        agree = None if sympy is None else all(agrees(s, b, rtol, atol) for s, b in zip(sympy, found))
        gradients.append(LayerGradient(name, list(problem.shapes.names[name]), picked, found, sympy, diff, agree))
    names = batch_names(graph)
    verdicts = [g.agree for g in gradients if g.agree is not None]
    if check is not None:
        verdicts += [v for v in (check.agree, check.symbolic_agree) if v is not None]
    return TensorExplanation(
        view=view, forward=_forward_steps(graph, sweep, over_rows),
        backward=_backward_steps(graph, sweep, over_rows, chosen), rows=batch.rows, entry=check,
        gradients=gradients, op_counts=counts, agree=all(verdicts) if verdicts else None, rtol=rtol, atol=atol,
        max_paths=max_paths, chosen=list(setup.chosen), notes=notes,
        batch_leaves={names[n.id]: batch_shape(n) for n in graph.nodes if n.op is None and n.batched},
    )

