"""The chain rule step by step (`gradcli explain`) and the graph as data (`gradcli graph`).

Both start from exactly the problem `grad` computes (comparison.prepare), at one
point, and walk the graph backprop walks: node values and adjoints from the
reverse sweep, every edge's local derivative as a formula (language/ops.py's
``local_text``) and as a number (``Op.local``), the paths from the loss back
to each parameter and the products along them. Nothing here differentiates:
the symbolic side is SymPy's (engines/symbolic.py), the graph side is engines/graph.py's.
Results are plain dataclasses; rendering lives in views/explain.py and
views/graph.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..compare.verdicts import agrees
from ..engines.graph import Edge, upstream_params
from ..engines.reading import count_paths, edges, local_formula, local_values, node_formula, partial_name, paths
from ..errors import GradcliError, ParseError
from ..io.values import as_columns
from ..language.expr import Binary, Call, Unary, parse, postorder
from ..language.ops import OPS
from ..setup import Setup
from .reports import (
    AdjointTerm,
    Cost,
    EdgeInfo,
    GraphView,
    ModeCost,
    NodeInfo,
    OpCounts,
    ParamSteps,
    PathInfo,
    Reuse,
)

MAX_PATHS = 20  # paths listed per parameter unless --max-paths says otherwise
MAX_PATHS_LIMIT = 10_000  # listing more would take minutes and gigabytes; the adjoint says the rest
# Local derivatives on the listed paths of all parameters together: a product of n factors is a chain
# whose paths are n**2/2 steps in all (2,400 factors: 2.9 million, and 27 s before anything was
# refused). Past this, explain says so at once, before SymPy or backprop run.
MAX_PATH_STEPS = 50_000
JSON_ROLES = ("parameter", "input", "target", "constant", "intermediate", "loss")


# ---------------------------------------------------------------- the graph at a point








def single_point(data: Mapping[str, Iterable[float]] | None, row: int | None) -> Mapping[str, Any] | None:
    """The one row explain and graph work at: the only row, or row `row` (1-based) of several."""
    if data is None:
        if row not in (None, 1):
            raise GradcliError(f"--row {row} is out of range: without --data there is one point")
        return None
    columns, rows = as_columns(data)
    if row is None:
        if rows > 1:
            raise GradcliError(f"explain and graph work at one point, and the data have {rows:,} rows; "
                               "choose one with --row N")
        return columns
    if not 1 <= row <= rows:
        raise GradcliError(f"--row {row} is out of range: the data have {rows:,} row{'s' if rows > 1 else ''}")
    return {name: column[row - 1:row] for name, column in columns.items()}


def point_setup(question: Any, data: Any) -> Setup:
    """The question (question.Question) made concrete at the given rows, its reading notes first."""
    setup = question.setup(data)
    setup.warnings[:0] = question.notes
    return setup


def at_point(value: Any) -> float:
    return float(np.broadcast_to(value, (1,))[0])


def _finite_or_none(value: Any) -> float | None:
    number = at_point(value)
    return number if math.isfinite(number) else None






def reachable(graph: Any) -> list[bool]:
    """reachable[i]: node i lies below the loss (yhat is not, for bce on a sigmoid model)."""
    reach = [False] * len(graph.nodes)
    reach[graph.output] = True
    for node in reversed(graph.nodes):
        if reach[node.id]:
            for child in node.inputs:
                reach[child] = True
    return reach


def view_of(setup: Setup, graph: Any, sweep: Any, warnings: list[str], highlight: str | None = None,
          marked: Iterable[str] | None = None) -> GraphView:
    """The graph at the point; `highlight` marks the paths to that parameter (or, with `marked`, to any of
    those names: the entries of a matrix drawn neuron by neuron)."""
    problem = setup.problem
    nodes = [
        NodeInfo(
            id=node.id, name=node.name, op=node.op,
            role="intermediate" if node.role == "model" else node.role,
            formula=node_formula(graph, node), text=node.text,
            value=at_point(sweep.values[node.id]),
            adjoint=None if sweep.adjoints[node.id] is None else at_point(sweep.adjoints[node.id]),
        )
        for node in graph.nodes
    ]
    locals_ = local_values(graph, sweep.values)
    edge_list = [
        EdgeInfo(e.source, e.target, e.position, partial_name(graph, e.source, e.target, e.position),
                 local_formula(graph, e), _finite_or_none(locals_[e])) if e in locals_ else
        EdgeInfo(e.source, e.target, e.position, None, None, None)  # from a constant: no derivative
        for e in edges(graph)
    ]
    view = GraphView(
        model=problem.model_text.strip(), loss=problem.loss_name, loss_formula=problem.loss_formula,
        target=problem.target, params=dict(setup.values),
        point={name: float(column[0]) for name, column in setup.columns.items()},
        defaults=dict(setup.defaults), loss_value=sweep.loss_value, nodes=nodes, edges=edge_list,
        output=graph.output, prediction=graph.model, notes=graph_notes(graph), warnings=warnings,
    )
    if highlight is not None:
        upstream = upstream_params(graph)
        reach = reachable(graph)
        wanted = set(marked) if marked is not None else {highlight}
        on_path = [reach[i] and bool(wanted & upstream[i]) for i in range(len(graph.nodes))]
        view.highlight = highlight
        view.highlight_nodes = [i for i, on in enumerate(on_path) if on]
        view.highlight_edges = [k for k, e in enumerate(edge_list) if on_path[e.source] and on_path[e.target]]
    return view


def graph_notes(graph: Any) -> list[str]:
    notes = []
    yhat = graph.nodes[graph.model]
    if not reachable(graph)[graph.model]:
        loss = graph.nodes[graph.output]
        z = graph.nodes[loss.inputs[0]].name
        notes.append(
            f"bce on a sigmoid model is computed from its logit {z}: loss = {node_formula(graph, loss)} "
            f"= softplus({z}) - y*{z}, the same function, finite where yhat rounds to 0 or 1; so every path "
            f"runs from the loss to {z}, and yhat = {node_formula(graph, yhat)} is off the loss path "
            "(computed, never needed by the sweep)")
    return notes




# ---------------------------------------------------------------- the steps
















def path_steps(graph: Any, names: Iterable[str], max_paths: int) -> int:
    """How many local derivatives explain would list on the paths of these parameters (up to max_paths
    paths each, of their mean length), counted over the graph once rather than walked."""
    count = [0] * len(graph.nodes)  # paths from the loss to each node
    length = [0] * len(graph.nodes)  # their lengths, added up
    count[graph.output] = 1
    for node in reversed(graph.nodes):
        for child in node.inputs:
            count[child] += count[node.id]
            length[child] += length[node.id] + count[node.id]
    total = 0
    for name in names:
        leaf = graph.leaf(name)
        if leaf is not None and count[leaf.id]:
            total += length[leaf.id] if count[leaf.id] <= max_paths else length[leaf.id] * max_paths // count[leaf.id]
    return total




def edge_index(view: GraphView) -> dict[Any, int]:
    """Each edge of the view by (source, target, position), made once for all parameters (once per
    parameter, 950 parameters made 950 dictionaries of every edge)."""
    return {Edge(e.source, e.target, e.position): k for k, e in enumerate(view.edges)}


def param_steps(graph: Any, sweep: Any, view: GraphView, name: str, gradient: Any, max_paths: int,
                 rtol: float, atol: float, index: dict[Any, int] | None = None) -> ParamSteps:
    leaf = graph.leaf(name)
    index = edge_index(view) if index is None else index
    found = []
    for walked in paths(graph, leaf.id, max_paths):
        ids = [graph.output] + [edge.source for edge in walked]
        edge_ids = [index[edge] for edge in walked]
        values = [view.edges[k].local_value for k in edge_ids]
        found.append(PathInfo(
            nodes=[graph.nodes[i].name for i in ids], node_ids=ids, edges=edge_ids,
            partials=[view.edges[k].partial for k in edge_ids], locals=[view.edges[k].local for k in edge_ids],
            local_values=values,  # finite: backprop has checked every edge below the loss on a parameter's path
            product=math.prod(values),
        ))
    total = count_paths(graph, leaf.id)
    path_sum = math.fsum(p.product for p in found) if total <= max_paths else None
    adjoint = sweep.gradients[name]
    terms = [
        AdjointTerm(view.nodes[e.target].name, e.partial, view.nodes[e.target].adjoint, e.local_value,
                    view.nodes[e.target].adjoint * e.local_value)
        for e in view.edges
        if e.source == leaf.id and view.nodes[e.target].adjoint is not None
    ]
    checked = adjoint if path_sum is None else path_sum
    # Both engines ran, so grad's own verdict is None only within rounding of a kink: not compared.
    agree = None if gradient.agree is None else agrees(gradient.symbolic_value, checked, rtol, atol)
    return ParamSteps(
        param=name, symbolic=gradient.symbolic, symbolic_value=gradient.symbolic_value, paths=found,
        paths_total=total, paths_left_out=total - len(found), path_sum=path_sum, adjoint=adjoint,
        adjoint_terms=terms, checked="adjoint" if path_sum is None else "path_sum", agree=agree,
    )


def reused(graph: Any, sweep: Any, view: GraphView, chosen: list[str]) -> list[Reuse]:
    """Adjoints computed once that two or more of the chosen parameters' gradients went through."""
    upstream = upstream_params(graph)
    found = []
    for node in reversed(graph.nodes):
        if node.op is None or node.id == graph.output or sweep.adjoints[node.id] is None:
            continue
        users = [name for name in chosen if name in upstream[node.id]]
        if len(users) >= 2:
            found.append(Reuse(node.name, node.id, view.nodes[node.id].adjoint, users))  # type: ignore[arg-type]
    return found


# ---------------------------------------------------------------- counting the arithmetic

_KINDS = ("multiplications", "additions", "other")


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(_KINDS, 0)


def node_cost(op: str, arity: int) -> dict[str, int]:
    """One application's arithmetic, of the kind the operations table gives it (a function: other)."""
    cost = zero_counts()
    kind = OPS[op].arithmetic if op in OPS else "other"
    if kind:
        cost[kind] = 1 if kind == "other" else arity - 1
    return cost


def formula_cost(formula: str) -> dict[str, int]:
    """The arithmetic in a local derivative's formula; a name or a number costs nothing.

    A formula our parser does not read (sign(a), step(a), clip(...)) counts as one other operation.
    """
    cost = zero_counts()
    try:  # an entry of a matrix drawn neuron by neuron (W1[1,2]) is a value at hand, as a name is
        tree = parse(re.sub(r"\[\d+(,\d+)?\]", "", formula), what="formula")
    except ParseError:
        cost["other"] = 1
        return cost
    if isinstance(tree, Unary) and not isinstance(tree.operand, (Unary, Binary, Call)):
        return cost  # -1, -x1: a value at hand
    for expr in postorder(tree):
        if isinstance(expr, Binary):
            kind = node_cost(expr.op, 2)
        elif isinstance(expr, (Unary, Call)):
            kind = node_cost("function", 1)
        else:
            continue
        for key in _KINDS:
            cost[key] += kind[key]
    return cost


def add_counts(total: dict[str, int], more: dict[str, int]) -> None:
    for key in _KINDS:
        total[key] += more[key]


def sympy_cost(derivative: Any) -> dict[str, int]:
    """SymPy's count_ops of one derivative, sorted into multiplications, additions and other."""
    import sympy as sp

    cost = zero_counts()
    visual = sp.count_ops(derivative, visual=True)
    for symbol, count in (visual.as_coefficients_dict().items() if visual != 0 else ()):
        if symbol == 1:
            continue
        kind = {"MUL": "multiplications", "DIV": "multiplications", "ADD": "additions",
                "SUB": "additions"}.get(str(symbol), "other")
        cost[kind] += int(count)
    return cost


def values_cost(graph: Any, nodes: Iterable[int]) -> dict[str, int]:
    """The arithmetic of computing these nodes' values, each by the kind the operations table gives it."""
    cost = zero_counts()
    for i in nodes:
        node = graph.nodes[i]
        add_counts(cost, node_cost(node.op, len(node.inputs)))
    return cost


def locals_cost(graph: Any, edges: Iterable[Any]) -> dict[str, int]:
    """The arithmetic in the formulas of the local derivatives evaluated on these edges."""
    cost = zero_counts()
    for edge in edges:
        formula = local_formula(graph, edge)
        if formula is not None:  # always: no sweep walks an edge from a constant
            add_counts(cost, formula_cost(formula))
    return cost


def op_counts(graph: Any, sweep: Any, derivatives: Mapping[str, Any]) -> OpCounts:
    """Count backprop's arithmetic (forward, local derivatives, sweep) and SymPy's, derivative by derivative."""
    forward = values_cost(graph, [node.id for node in graph.nodes if node.op is not None])
    local = locals_cost(graph, sweep.edges_used)
    reverse = {"multiplications": sweep.multiplications, "additions": sweep.additions}
    symbolic = zero_counts()
    per_param = {}
    costs: dict[Any, dict[str, int]] = {}  # the derivatives of a sum of names are all one expression
    for name, derivative in derivatives.items():
        cost = costs.get(derivative)
        if cost is None:
            cost = costs[derivative] = sympy_cost(derivative)
        per_param[name] = sum(cost.values())
        add_counts(symbolic, cost)
    return OpCounts(
        forward=forward, local_derivatives=len(sweep.edges_used), local=local, reverse=reverse,
        backprop_total=sum(forward.values()) + sum(local.values()) + sum(reverse.values()),
        symbolic=symbolic, symbolic_per_param=per_param, symbolic_total=sum(symbolic.values()),
    )


def mode_cost(graph: Any, sweeps: int, nodes: list[int], edges: list[Any], products: int, sums: int) -> ModeCost:
    """One mode's arithmetic from what its sweeps recorded as they ran: the values they computed, the local
    derivatives they evaluated, and their products and sums."""
    total = values_cost(graph, nodes)
    add_counts(total, locals_cost(graph, edges))
    total["multiplications"] += products
    total["additions"] += sums
    return ModeCost(sweeps=sweeps, values=len(nodes), local_derivatives=len(edges), products=products, sums=sums,
                    multiplications=total["multiplications"], additions=total["additions"], other=total["other"],
                    total=sum(total.values()))


def cost_of(graph: Any, sweep: Any, tangents: Any) -> Cost:
    """Forward mode (engines/forward.py's sweeps, one per parameter) against reverse mode (graph.backprop's
    one forward pass and one sweep) for the same gradients, each counted as it ran."""
    tallies = tangents.tallies
    forward = mode_cost(graph, len(tallies), [i for t in tallies.values() for i in t.nodes],
                        [e for t in tallies.values() for e in t.locals],
                        sum(t.multiplications for t in tallies.values()), sum(t.additions for t in tallies.values()))
    reverse = mode_cost(graph, 1, [node.id for node in graph.nodes if node.op is not None], sweep.edges_used,
                        sweep.multiplications, sweep.additions)
    per_param = {name: mode_cost(graph, 1, t.nodes, t.locals, t.multiplications, t.additions).total
                 for name, t in tallies.items()}
    return Cost(params=list(tallies), forward=forward, reverse=reverse, forward_per_param=per_param,
                saved=forward.total - reverse.total)
