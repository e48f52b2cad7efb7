"""What the html page says, as text: each step of the forward pass and the backward sweep with its
formula and numbers, each parameter's paths and their sum, and the gradients table's rows.

Read from the reports (explaining/reports.py) only: the numbers are the engines', put into words.
The page (views/page.py) lays them out as HTML and gives the steps and paths to its script as JSON.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..explaining.reports import Explanation, GraphView, TensorExplanation, TensorGraphView
from .common import number, tensor_text
from .cost import cost_lines
from .labels import labelled

MAX_PATHS = 20  # paths listed per parameter on graph's page (explain's own --max-paths rules its page)
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(?:\[[0-9, ]+\])?")
_TIMES = re.compile(r"(?<!\*)\*(?!\*)")


@dataclass
class Step:
    """One step: a node's value appears (forward) or its adjoint does (backward)."""

    phase: str  # "forward" or "backward"
    node: int
    text: str


@dataclass
class ParamFacts:
    """A parameter's paths from the loss, their sum, and its row of the gradients table."""

    name: str
    node: int | None
    nodes: list[int]  # on its paths (highlighted when it is clicked)
    edges: list[int]
    paths: list[str]
    left_out: int
    total: int
    sum_text: str
    symbolic: str = "not computed"
    backprop: str = ""
    path_sum: str = ""
    diff: str = ""
    verdict: bool | None = None
    compared: bool = True


@dataclass
class Facts:
    """Everything the page says about one report."""

    title: str
    subtitle: list[str]
    steps: list[Step]
    params: list[ParamFacts]
    reused: list[str] = field(default_factory=list)
    verdict: bool | None = None
    compared: bool = False
    extra: list[tuple[str, list[str]]] = field(default_factory=list)  # (heading, lines) sections
    notes: list[str] = field(default_factory=list)


def verdict_words(agree: bool | None, compared: bool = True) -> str:
    """The verdict in a symbol and in words (never in colour alone)."""
    if not compared:
        return "– not compared"
    return {True: "✓ agree", False: "✗ disagree", None: "– not compared (within rounding of a kink)"}[agree]


def _shown(value: float | None) -> str:
    if value is None:
        return "undefined"
    text = number(value)
    return f"({text})" if text.startswith("-") else text


def substituted(formula: str, values: dict[str, str]) -> str:
    """The formula with each input's name replaced by its value, * written ×: "w1*x1" -> "2 × 1.5"."""
    text = _NAME.sub(lambda m: values.get(m.group(0), m.group(0)), formula)
    return _TIMES.sub(" × ", text)


def more_paths(count: int) -> str:
    return f"{count:,} more path{' is' if count == 1 else 's are'}"


def _upstream(view: Any) -> list[set[str]]:
    """Each node's parameters below it (the graph's nodes come inputs first)."""
    up: list[set[str]] = [{n.name} if n.role == "parameter" else set() for n in view.nodes]
    for edge in sorted(view.edges, key=lambda e: e.target):
        up[edge.target] |= up[edge.source]
    return up


def _sent_back(view: Any) -> dict[int, list[Any]]:
    """Each node's edges to the nodes that use it and send it their adjoint: what its adjoint sums."""
    out: dict[int, list[Any]] = {}
    for e in view.edges:
        if labelled(e) and view.nodes[e.target].adjoint is not None:
            out.setdefault(e.source, []).append(e)
    return out


def _on_paths(view: Any, name: str, up: list[set[str]]) -> tuple[list[int], list[int]]:
    """The nodes and edges on the paths from the loss to parameter `name`."""
    on = [n.adjoint is not None and name in up[n.id] for n in view.nodes]
    edges = [k for k, e in enumerate(view.edges) if on[e.source] and on[e.target] and labelled(e)]
    return [i for i, yes in enumerate(on) if yes], edges


def walk_paths(view: Any, leaf: int, on: set[int], cap: int) -> tuple[list[list[int]], int]:
    """Up to `cap` paths from the loss down to node `leaf` through the nodes `on` its paths (each a list of
    edge indices, loss first), and how many there are in all."""
    into: dict[int, list[int]] = {}
    for k, e in enumerate(view.edges):
        if labelled(e) and e.source in on and e.target in on:
            into.setdefault(e.target, []).append(k)
    count = [0] * len(view.nodes)
    count[view.output] = 1
    for node in reversed(view.nodes):
        for k in into.get(node.id, []):
            count[view.edges[k].source] += count[node.id]
    found: list[list[int]] = []
    stack: list[tuple[int, list[int]]] = [(view.output, [])] if view.output in on else []
    while stack and len(found) < cap:
        at, walked = stack.pop()
        if at == leaf:
            found.append(walked)
            continue
        stack += [(view.edges[k].source, walked + [k]) for k in reversed(into.get(at, []))]
    return found, count[leaf]


# ---------------------------------------------------------------- scalar graphs


def _forward_scalar(view: GraphView) -> list[Step]:
    inputs: dict[int, list[int]] = {}
    for e in view.edges:
        inputs.setdefault(e.target, []).append(e.source)
    steps = []
    for node in view.nodes:
        if node.op is None:
            text = (f"{node.name} = {number(node.value)} ({node.role})" if node.role != "constant"
                    else f"constant {node.name}")
        else:
            values = {view.nodes[i].name: _shown(view.nodes[i].value) for i in inputs.get(node.id, [])}
            with_numbers = substituted(node.formula, values)
            text = f"{node.name} = {node.formula} = {with_numbers} = {number(node.value)}"
            if with_numbers == number(node.value):
                text = f"{node.name} = {node.formula} = {number(node.value)}"
        steps.append(Step("forward", node.id, text))
    return steps


def _backward_scalar(view: GraphView, reused: dict[int, list[str]]) -> list[Step]:
    out = _sent_back(view)
    steps = []
    for node in reversed(view.nodes):
        if node.adjoint is None:
            continue
        label = f"∂loss/∂{node.name}"
        if node.id == view.output:
            text = f"{label} = 1 (the sweep starts at the loss)"
        else:
            terms = out.get(node.id, [])
            names = " + ".join(f"∂loss/∂{view.nodes[e.target].name} × {e.partial}" for e in terms)
            values = " + ".join(f"{_shown(view.nodes[e.target].adjoint)} × {_shown(e.local_value)}" for e in terms)
            text = f"{label} = Σ ({names}) = {values} = {number(node.adjoint)}"
        if node.id in reused:
            text += f"; calculated once, used by {', '.join(reused[node.id])}"
        steps.append(Step("backward", node.id, text))
    return steps


def _reused_in(view: Any, up: list[set[str]], chosen: list[str]) -> dict[int, list[str]]:
    """Adjoints below the loss that two or more of the chosen parameters' gradients go through."""
    found = {}
    for node in view.nodes:
        users = [name for name in chosen if name in up[node.id]]
        if node.op is not None and node.id != view.output and node.adjoint is not None and len(users) >= 2:
            found[node.id] = users
    return found


def _path_text(view: GraphView, edges: list[int]) -> str:
    partials = [view.edges[k].partial or "" for k in edges]
    values = [view.edges[k].local_value for k in edges]
    product = None if None in values else math.prod(values)  # type: ignore[arg-type]
    result = "undefined" if product is None else number(product)
    return (f"{' × '.join(partials)} = {' × '.join(_shown(v) for v in values)} = {result}"
            if len(edges) > 1 else f"{partials[0]} = {result}")


def graph_params(view: GraphView, up: list[set[str]]) -> list[ParamFacts]:
    """Each parameter of `graph`'s view: its paths (walked over the view), their sum, both engines' values."""
    report = view.comparison
    facts = []
    for node in view.nodes:
        if node.role != "parameter":
            continue
        nodes, edges = _on_paths(view, node.name, up)
        walked, total = walk_paths(view, node.id, set(nodes), MAX_PATHS)
        paths = [_path_text(view, w) for w in walked]
        adjoint = node.adjoint if node.adjoint is not None else 0.0
        left = total - len(walked)
        sum_text = (f"∂loss/∂{node.name} = sum over {total} path{'s' if total != 1 else ''} = {number(adjoint)}"
                    if not left else f"∂loss/∂{node.name} = {number(adjoint)} (the sweep's adjoint: "
                    f"{more_paths(left)} left out)")
        item = ParamFacts(node.name, node.id, nodes, edges, paths, left, total, sum_text, backprop=number(adjoint),
                          path_sum=number(adjoint) if not left else "")
        gradient = None if report is None else report.gradients.get(node.name)
        if gradient is None:
            item.compared = False
        else:
            item.symbolic, item.verdict = _witness(gradient)
            item.backprop = number(gradient.backprop_value)
            item.diff = number(gradient.abs_diff) if gradient.abs_diff is not None else ""
        facts.append(item)
    return facts


def _witness(gradient: Any) -> tuple[str, bool | None]:
    """What backprop was checked against, and the verdict: SymPy's value, or where SymPy could not be used,
    finite differences' (as `grad` falls back to them)."""
    if gradient.symbolic_value is not None:
        return number(gradient.symbolic_value), gradient.agree
    if gradient.fd_value is not None:
        return f"{number(gradient.fd_value)} (finite differences)", gradient.fd_agree
    return "not computed", gradient.agree


def graph_facts(view: GraphView) -> Facts:
    """`graph`'s page of a scalar model."""
    up = _upstream(view)
    params = [n.name for n in view.nodes if n.role == "parameter"]
    reused = _reused_in(view, up, params)
    report = view.comparison
    facts = Facts(title=f"gradcli graph: {view.model}", subtitle=_subtitle(view),
                  steps=_forward_scalar(view) + _backward_scalar(view, reused), params=graph_params(view, up),
                  reused=_reuse_lines(view, reused), verdict=None if report is None else report.agree,
                  compared=report is not None, notes=list(view.notes))
    return facts


def _reuse_lines(view: Any, reused: dict[int, list[str]]) -> list[str]:
    return [f"∂loss/∂{view.nodes[i].name} = {_adjoint_text(view.nodes[i].adjoint)}: calculated once, used by "
            f"{', '.join(users)}" for i, users in reused.items()]


def _adjoint_text(value: Any) -> str:
    return number(value) if isinstance(value, float) else tensor_text(value)


def _subtitle(view: Any) -> list[str]:
    params = ", ".join(f"{k}={number(v) if isinstance(v, float) else tensor_text_of(v)}"
                       for k, v in view.params.items())
    point = ", ".join(f"{k}={number(v)}" for k, v in view.point.items())
    return [f"model {view.model}", f"loss {view.loss}: {view.loss_formula} = {number(view.loss_value)}",
            f"at {point}" if point else "at the parameters' values", f"parameters {params}"]


def explain_facts(ex: Explanation) -> Facts:
    """`explain`'s page of a scalar model: its paths and checks, the steps of its graph."""
    view = ex.view
    up = _upstream(view)
    reused = {r.id: r.params for r in ex.reused}
    of = ex.of
    params = []
    for step in ex.steps:
        node = next((n for n in view.nodes if n.role == "parameter" and n.name == step.param), None)
        nodes, edges = _on_paths(view, step.param, up)
        paths = [_path_text(view, p.edges) for p in step.paths]
        value = step.path_sum if step.path_sum is not None else step.adjoint
        n = step.paths_total
        sum_text = (f"{ex.label(step.param)} = sum over {n} path{'s' if n != 1 else ''} = {number(value)}"
                    if step.path_sum is not None else
                    f"{ex.label(step.param)} = {number(step.adjoint)} (the sweep's adjoint: "
                    f"{more_paths(step.paths_left_out)} left out)")
        params.append(ParamFacts(
            step.param, None if node is None else node.id, nodes, edges, paths, step.paths_left_out, n, sum_text,
            symbolic=number(step.symbolic_value), backprop=number(step.adjoint),
            path_sum="" if step.path_sum is None else number(step.path_sum),
            diff=number(abs(step.symbolic_value - value)), verdict=step.agree))
    steps = _forward_scalar(view) + _backward_scalar(view, reused)
    if of != "loss":
        for s in steps:
            s.text = s.text.replace("∂loss/∂", f"∂{of}/∂")
    symbolic = [f"{ex.label(s.param)} = {s.symbolic} = {number(s.symbolic_value)}" for s in ex.steps if s.symbolic]
    c = ex.op_counts
    counts = [f"backprop: {c.backprop_total:,} operations for all {len(ex.steps)} gradients in one sweep",
              f"each derivative evaluated on its own (SymPy's count_ops): {c.symbolic_total:,} operations"]
    return Facts(title=f"gradcli explain: {view.model}", subtitle=_subtitle(view), steps=steps, params=params,
                 reused=_reuse_lines(view, reused), verdict=ex.agree, compared=True,
                 extra=[("SymPy's derivatives, from the whole formula", symbolic),
                        ("Calculate once, use many times", counts),
                        ("Forward mode against reverse mode (--cost)",
                         [] if ex.cost is None else [line.strip() for line in cost_lines(ex.cost)])],
                 notes=list(view.notes))


# ---------------------------------------------------------------- tensors


def _shape(shape: list[int]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _forward_tensor(view: TensorGraphView) -> list[Step]:
    steps = []
    for node in view.nodes:
        head = node.name if node.op is None else f"{node.name} = {node.formula}"
        kind = node.role if node.op is None else node.op
        steps.append(Step("forward", node.id, f"{head} ({kind}, {_shape(node.shape)}) = {tensor_text(node.value)}"))
    return steps


def _backward_tensor(view: TensorGraphView) -> list[Step]:
    out = _sent_back(view)
    steps = []
    for node in reversed(view.nodes):
        if node.adjoint is None:
            continue
        label = f"∂loss/∂{node.name}" if node.role == "parameter" else f"δ{node.name}"
        if node.id == view.output:
            text = f"{label} = 1 (the sweep starts at the loss)"
        else:
            vjps = [_vjp(view, e) for e in out.get(node.id, [])]
            summed = f"Σ ({' + '.join(vjps)})" if len(vjps) > 1 else vjps[0]
            text = f"{label} = {summed} ({_shape(node.shape)}) = {tensor_text(node.adjoint)}"
        steps.append(Step("backward", node.id, text))
    return steps


def _vjp(view: TensorGraphView, edge: Any) -> str:
    """The edge's vector-Jacobian product with G named: the adjoint δ of the node that uses it."""
    return re.sub(r"\bG\b", f"δ{view.nodes[edge.target].name}", edge.vjp or "")


def _explained_backward(ex: TensorExplanation) -> list[Step]:
    return [Step("backward", s.id, f"{s.label} = {s.formula} ({_shape(s.shape)}) = {tensor_text(s.value)}")
            for s in ex.backward]


def tensor_params(view: TensorGraphView, gradients: dict[str, tuple[str, str, str, bool | None]]) -> list[ParamFacts]:
    """Each parameter as written: the layer-level paths from the loss (with each edge's VJP), the gradient."""
    up = _upstream(view)
    facts = []
    for node in view.nodes:
        if node.role != "parameter":
            continue
        nodes, edges = _on_paths(view, node.name, up)
        walked, total = walk_paths(view, node.id, set(nodes), MAX_PATHS)
        paths = [" → ".join([view.nodes[view.output].name] + [view.nodes[view.edges[k].source].name for k in w])
                 + ": " + " then ".join(_vjp(view, view.edges[k]) for k in w) for w in walked]
        adjoint = "0" if node.adjoint is None else tensor_text(node.adjoint)
        symbolic, backprop, diff, agree = gradients.get(node.name, ("not computed", adjoint, "", None))
        facts.append(ParamFacts(
            node.name, node.id, nodes, edges, paths, total - len(walked), total,
            f"∂loss/∂{node.name} ({_shape(node.shape)}) = the sum over its paths = {adjoint}",
            symbolic=symbolic, backprop=backprop, path_sum=adjoint, diff=diff, verdict=agree,
            compared=node.name in gradients))
    return facts


def tensor_graph_facts(view: TensorGraphView) -> Facts:
    """`graph`'s page of a model with vectors and matrices."""
    report = view.comparison
    gradients = {} if report is None else {
        name: (tensor_text_of(t.symbolic_value), tensor_text_of(t.backprop_value),
               "" if t.max_abs_diff is None else f"{t.max_abs_diff:.3g} (largest)", t.agree)
        for name, t in report.tensors.items()}
    return Facts(title=f"gradcli graph: {view.model}", subtitle=_subtitle(view),
                 steps=_forward_tensor(view) + _backward_tensor(view), params=tensor_params(view, gradients),
                 reused=_tensor_reuse(view), verdict=None if report is None else report.agree,
                 compared=report is not None, notes=list(view.notes))


def _tensor_reuse(view: TensorGraphView) -> list[str]:
    up = _upstream(view)
    reused = _reused_in(view, up, [n.name for n in view.nodes if n.role == "parameter"])
    return [line.replace(f"∂loss/∂{view.nodes[i].name} =", f"δ{view.nodes[i].name} =", 1)
            for i, line in zip(reused, _reuse_lines(view, reused))]


def tensor_text_of(values: Any) -> str:
    """Nested lists (a gradient in its parameter's shape) as short text."""
    if values is None:
        return "not computed"
    if isinstance(values, float | int):
        return f"{values:.6g}"
    return "[" + ", ".join(tensor_text_of(v) for v in values) + "]"


def tensor_explain_facts(ex: TensorExplanation) -> Facts:
    """`explain`'s page of a model with vectors and matrices: the δ and Δᵀ X products, layer by layer."""
    view = ex.view
    gradients = {g.param: (tensor_text_of(g.symbolic_values), tensor_text_of(g.matrix_values),
                           "" if g.max_abs_diff is None else f"{g.max_abs_diff:.3g} (largest)", g.agree)
                 for g in ex.gradients}
    batch = [f"{s.batch_name} = {s.batch_formula}  ({s.batch_shape})" for s in ex.forward]
    batch += [f"{s.batch_label} = {s.batch_formula}  ({s.batch_shape})" for s in ex.backward]
    extra = [(f"The same sweep over the batch of N = {ex.rows:,} rows", batch)]
    if ex.entry is not None:
        e = ex.entry
        lines = [" → ".join(p.nodes) + ": " + " × ".join(_shown(v) for v in p.local_values)
                 + f" = {number(p.product)}" for p in e.steps.paths]
        value = e.steps.path_sum if e.steps.path_sum is not None else e.steps.adjoint
        lines.append(f"sum = {number(value)}; the matrix form's ∂loss/∂{e.param} = {number(e.matrix_value)}: "
                     f"{verdict_words(e.agree)}")
        extra.append((f"One entry, {e.param}, as the sum over paths of the scalar graph ({e.graph_nodes} nodes)",
                      lines))
    return Facts(title=f"gradcli explain: {view.model}", subtitle=_subtitle(view),
                 steps=_forward_tensor(view) + _explained_backward(ex), params=tensor_params(view, gradients),
                 reused=_tensor_reuse(view), verdict=ex.agree, compared=True, extra=extra, notes=ex.notes + view.notes)


def facts_of(report: Any) -> Facts:
    """The facts of any report the page shows."""
    if isinstance(report, Explanation):
        return explain_facts(report)
    if isinstance(report, TensorExplanation):
        return tensor_explain_facts(report)
    if isinstance(report, TensorGraphView):
        return tensor_graph_facts(report)
    if isinstance(report, GraphView):
        return graph_facts(report)
    raise TypeError(f"no page for a {type(report).__name__}")
