"""`gradcli diff`: the derivative of a plain expression (no loss, no roles), two ways and a witness.

SymPy differentiates the expression; the graph engine differentiates its own derivative graph
(engines/derivative.py) for every order above the first and backpropagates once more for the last;
central finite differences of the expression's values are the third witness. One name gives
d^k f / dx^k; several names give the gradient (order 1) or the Hessian (order 2).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..compare.symbolic import SymbolicUnavailable, symbolic_derivatives
from ..compare.verdicts import ENGINE_ROUNDINGS, EPS, agrees, check_tolerances, condition_text, within_warning
from ..engines.derivative import Evaluator, check_size, derivative, gradient, hessian_rows
from ..engines.differences import (
    NOT_AT_KINK,
    central,
    gradient_differences,
    kink_free,
    stencil_points,
    step,
    tolerance,
    tolerance_at,
    usable_cuts,
)
from ..engines.fresh import as_if_fresh
from ..engines.graph import build_graph
from ..engines.resolution import gradient_bounds
from ..io.arguments import flag
from ..question import MAX_ORDER, Expression, ask_expression
from ..shown import Shown, brief, clipped, listed, verdict_word

__all__ = ["MAX_ORDER", "diff", "answer"]
RTOL = 1e-9
ATOL = 1e-12


@dataclass
class Derivative:
    """One derivative at the point: d^k f / (d wrt[0] ... d wrt[-1])."""

    wrt: tuple[str, ...]
    symbolic: str | None  # SymPy's formula (None when SymPy was not used or ran out of time)
    symbolic_value: float | None
    graph_value: float
    fd_value: float | None
    abs_diff: float | None  # |symbolic - graph|
    agree: bool | None  # symbolic vs graph, within rtol/atol
    fd_agree: bool | None  # finite differences vs graph, within their own tolerance
    latex: str | None = None
    fd_verdict: str | None = None  # "agree", "disagree" or NOT_AT_KINK (then fd_value and fd_agree are None)
    # where |symbolic - graph| passed rtol/atol only as rounding: what float64 can resolve of this derivative
    # (comparison.ParamGradient's: the graph engine's sweep bounded by engines/resolution.py), and that bound
    # over eps x |derivative| (None where the exact derivative is 0)
    resolution: float | None = None
    condition: float | None = None

    @property
    def label(self) -> str:
        """d2f/dx2, d2f/dxdy, df/dx: the derivative's name as people write it."""
        order = len(self.wrt)
        power = "" if order == 1 else str(order)
        bottom = f"d{self.wrt[0]}{power}" if len(set(self.wrt)) == 1 else "".join(f"d{name}" for name in self.wrt)
        return f"d{power}f/{bottom}"

    def to_dict(self) -> dict[str, Any]:
        return {"wrt": list(self.wrt), "symbolic": self.symbolic, "symbolic_value": self.symbolic_value,
                "graph_value": self.graph_value, "fd_value": self.fd_value, "abs_diff": self.abs_diff,
                "agree": self.agree, "fd_agree": self.fd_agree, "fd_verdict": self.fd_verdict,
                "resolution": self.resolution, "condition": self.condition}


@dataclass
class DiffReport(Shown):
    expression: str
    kind: str  # "derivative" (one name), "gradient" (several, order 1) or "hessian" (several, order 2)
    order: int
    wrt: list[str]
    point: dict[str, float]
    value: float  # f at the point
    derivatives: list[Derivative]
    agree: bool | None
    rtol: float
    atol: float
    fd_rtol: float
    witness: str  # "symbolic", or "finite differences" when SymPy could not answer in time
    graph_nodes: int  # operations in the largest derivative graph the graph engine evaluated
    warnings: list[str] = field(default_factory=list)
    at_kink: bool = False  # abs or relu of exactly 0 here: the values are not compared

    def __repr__(self) -> str:
        values = [f"{d.label} {brief(d.graph_value)}" for d in self.derivatives]
        at = listed([f"{name}={brief(value)}" for name, value in self.point.items()], 3)
        return (f"DiffReport({clipped(self.expression)} at {at}: {listed(values)}; "
                f"{'at a kink' if self.at_kink else verdict_word(self.agree)})")

    @property
    def failed(self) -> bool:
        return self.agree is False

    def matrix(self, which: str = "graph_value") -> list[list[float | None]]:
        """The Hessian (kind 'hessian') as rows, from one engine's values."""
        n = len(self.wrt)
        values = [getattr(d, which) for d in self.derivatives]
        return [values[i * n:(i + 1) * n] for i in range(n)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "expression": self.expression, "kind": self.kind, "order": self.order, "wrt": self.wrt,
            "point": self.point, "value": self.value,
            "derivatives": [d.to_dict() for d in self.derivatives],
            "agree": self.agree, "rtol": self.rtol, "atol": self.atol, "fd_rtol": self.fd_rtol,
            "witness": self.witness, "graph_nodes": self.graph_nodes, "at_kink": self.at_kink,
            "warnings": self.warnings,
        }
        if self.kind == "gradient":
            out["gradient"] = {d.wrt[0]: d.graph_value for d in self.derivatives}
        if self.kind == "hessian":
            out["hessian"] = self.matrix()
        return out


@as_if_fresh
def diff(
    expression: str | None = None,
    wrt: str | Iterable[str] | None = None,
    order: int = 1,
    at: Mapping[str, float] | str | os.PathLike[str] | None = None,
    *,
    expression_file: str | os.PathLike[str] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    readable: bool = True,
    latex: bool = False,
) -> DiffReport:
    """The order-th derivative of `expression` at the point `at`, by SymPy, by the graph engine and by
    finite differences (what `gradcli diff` does).

    `wrt` is a name or several (a list, or comma-separated text; default: every name in the
    expression). `at` gives every name a value: a mapping, NAME=VALUE,... or a JSON file.
    Several names give the gradient (order 1) or the Hessian (order 2). Raises GradcliError for
    bad input.
    """
    check_tolerances(rtol, atol), flag(readable, "readable"), flag(latex, "latex")
    question = ask_expression(expression, wrt, order, at, expression_file=expression_file, rtol=rtol, atol=atol)
    return answer(question, readable=readable, latex=latex)


def answer(question: Expression, *, readable: bool = True, latex: bool = False) -> DiffReport:
    """diff's answer to its question: each derivative by SymPy, by the graph engine and by finite differences."""
    tree, text, order = question.expression.expr, question.expression.text, question.order
    rtol, atol = question.rtol, question.atol
    chosen, others, point, warnings = [*question.wrt], [*question.others], dict(question.point), [*question.warnings]
    columns = {name: np.array([point[name]]) for name in others}
    values = {name: point[name] for name in chosen}
    evaluator = Evaluator.of(tree, chosen, others)
    value, _ = evaluator.run(values, columns, 1, gradient=False)

    def f_at(name: str, x: float) -> float:
        return evaluator.run({**values, name: x}, columns, 1, gradient=False)[0]

    stopped: dict[str, list[str]] = {}  # a derivative's label -> the kinks every stencil tried crossed
    cuts: dict[str, float] = {}  # a derivative's label -> the fraction of the step its stencil took

    def clean_central(name: str, k: int) -> float | None:
        """The k-th central difference along name from the first step whose stencil crosses no kink
        (kink_free, with the cuts at which its rounding still allows a witness); None where none is clean."""
        x = point[name]

        def attempt(h: float) -> tuple[float | None, list[str]]:
            kinks = evaluator.crossed([{**values, name: p} for p in stencil_points(x, k, h)], columns, 1)
            return (None if kinks else central(lambda t: f_at(name, t), x, k, h)), kinks

        found, cut, kinks = kink_free(attempt, step(x, k), usable_cuts(k))
        label = ",".join((name,) * k)
        if found is None:
            stopped[label] = kinks
        else:
            cuts[label] = cut
        return found

    # ---- the graph engine: its own derivative graph for orders above 1, then one more backprop sweep
    kind, prior, nodes, keys, graph_values, fd_values, fd_tol = _graph_side(tree, chosen, others, order, values,
                                                                            columns, evaluator, clean_central, stopped)

    # ---- SymPy
    labels = [",".join(key) for key in keys]
    witness, symbolic_values, formulas, latexed = _sympy(evaluator, labels, keys, values, columns, readable, latex,
                                                         fd_tol, warnings)

    # At a kink (abs or relu of exactly 0, in the expression or in its derivative graph) the next
    # derivative does not exist: finite differences straddle it, and SymPy may take the other side.
    kinks = Evaluator.of(prior if kind == "derivative" else tree, chosen, others).kinks(values, columns, 1)
    for kink in kinks:
        warnings.append(f"{kink.text} is at its kink (argument exactly 0) here: the derivative is not defined "
                        "at this point, so the values are not compared")

    results = _judged(zip(labels, keys, graph_values, fd_values), symbolic_values, formulas, latexed, cuts, fd_tol,
                      value, bool(kinks), rtol, atol, warnings)
    for label, crossed in stopped.items() if not kinks else ():
        if label.split(",")[-1] == chosen[-1] or kind != "hessian":
            warnings.append(f"finite differences not compared for {label_of(tuple(label.split(',')))}: every stencil "
                            f"tried crosses the kink of {', '.join(crossed)}, where f is not smooth")
    if any(d.agree is False for d in results):
        _within_resolution(results, lambda: _sweeps(kind, keys, tree, prior if kind == "derivative" else None,
                                                   chosen, others, values, columns), warnings)
    return DiffReport(text.strip(), kind, order, chosen, point, value, results, _agree(results, witness), rtol, atol,
                      fd_tol, witness, nodes, warnings, at_kink=bool(kinks))


def _agree(results: list[Derivative], witness: str) -> bool | None:
    """Every compared derivative agrees (finite differences' verdicts count where they are the witness)."""
    verdicts = [d.agree for d in results if d.agree is not None]
    if witness != "symbolic":
        verdicts += [d.fd_agree for d in results if d.fd_agree is not None]
    return all(verdicts) if verdicts else None


def _graph_side(tree: Any, chosen: list[str], others: list[str], order: int, values: Mapping[str, float],
                columns: Mapping[str, Any], evaluator: Any, clean_central: Callable[[str, int], float | None],
                stopped: dict[str, list[str]]) -> tuple[str, Any, int, list[tuple[str, ...]], list[float],
                                                         list[float | None], float]:
    """The graph engine's derivatives (kind, the derivative graph of order - 1 for one name, the graph's size,
    the keys and their values) and finite differences' (with their tolerance)."""
    if len(chosen) == 1:
        name = chosen[0]
        prior = derivative(tree, name, order - 1)
        nodes = check_size(prior)
        _, (graph_value,) = Evaluator.of(prior, chosen, others).run(values, columns, 1)
        return ("derivative", prior, nodes, [(name,) * order], [graph_value], [clean_central(name, order)],
                tolerance(order))
    if order == 1:
        nodes = check_size(tree)
        _, graph_values = evaluator.run(values, columns, 1)
        return ("gradient", None, nodes, [(name,) for name in chosen], list(graph_values),
                [clean_central(name, 1) for name in chosen], tolerance(1))
    first = gradient(tree, chosen)
    nodes = max(check_size(d) for d in first.values())
    _, matrix = hessian_rows(tree, chosen, values, columns, 1)
    graph_values = [matrix[i][j] for i in range(len(chosen)) for j in range(len(chosen))]
    fd_values, by_row = _hessian_by_differences(evaluator, chosen, values, columns)
    stopped.update({f"{a},{b}": kinks for a, kinks in by_row.items() for b in chosen})
    return "hessian", None, nodes, [(a, b) for a in chosen for b in chosen], graph_values, fd_values, tolerance(2)


def _sympy(evaluator: Any, labels: list[str], keys: list[tuple[str, ...]], values: Mapping[str, float],
           columns: Mapping[str, Any], readable: bool, latex: bool, fd_tol: float,
           warnings: list[str]) -> tuple[str, dict[str, float], dict[str, str], dict[str, str]]:
    """SymPy's derivatives (the witness, its values, formulas and LaTeX), or finite differences as the
    witness where SymPy cannot give them."""
    def sympy_derivatives(symbolic: Any) -> dict[str, Any]:
        sp, symbol = symbolic.sp, symbolic.symbols
        return {label: sp.diff(symbolic.loss, *(symbol[n] for n in key)) for label, key in zip(labels, keys)}

    try:
        symbolic_values, formulas, latexed = symbolic_derivatives(
            evaluator.problem, sympy_derivatives, values, {**columns, "_target": np.zeros(1)}, 1, readable, latex)
    except SymbolicUnavailable as why:
        warnings.append(f"the symbolic engine {why}; finite differences are the second witness "
                        f"(rtol {fd_tol:.2g}, atol {fd_tol:.2g} x max(1, |f|))")
        return "finite differences", {}, {}, {}
    return "symbolic", symbolic_values, formulas, latexed


def _judged(found: Iterable[tuple[str, tuple[str, ...], float, float | None]], symbolic_values: Mapping[str, float],
            formulas: Mapping[str, str], latexed: Mapping[str, str], cuts: Mapping[str, float], fd_tol: float,
            value: float, at_kink: bool, rtol: float, atol: float, warnings: list[str]) -> list[Derivative]:
    """Each derivative (label, key, the graph engine's value, finite differences') against SymPy's and the
    differences' (none compared at a kink)."""
    results = []
    for label, key, g, fd in found:
        s = symbolic_values.get(label)
        fd_agree, fd_verdict = None, NOT_AT_KINK
        if fd is not None and not at_kink:
            tol = tolerance_at(len(key), cuts[label]) if label in cuts else fd_tol
            fd_agree = bool(math.isfinite(fd) and agrees(g, fd, tol, tol * max(1.0, abs(value))))
            fd_verdict = "agree" if fd_agree else "disagree"
            if cuts.get(label, 1.0) != 1.0:
                warnings.append(f"finite differences for {label_of(key)}: a kink lies within the usual step, so the "
                                f"step is cut to 1/{1 / cuts[label]:g} of it and judged at rtol {tol:.2g}")
        results.append(Derivative(
            wrt=key, symbolic=formulas.get(label), symbolic_value=s, graph_value=g,
            fd_value=fd if fd_agree is not None else None,
            abs_diff=abs(s - g) if s is not None else None,
            agree=agrees(s, g, rtol, atol) if s is not None and not at_kink else None,
            fd_agree=fd_agree, latex=latexed.get(label), fd_verdict=fd_verdict))
    return results


def _within_resolution(results: list[Derivative], bounds: Any, warnings: list[str]) -> None:
    """comparison.within_resolution for diff: a derivative whose engines differ by more than rtol and atol
    but by no more than what float64 can resolve of it agrees, with one line saying which."""
    found, within = bounds(), []
    for d in results:
        bound = found.get(d.wrt, math.inf)
        if d.agree is not False or d.abs_diff is None or not (math.isfinite(bound) and d.abs_diff <= bound):
            continue
        exact = abs(d.symbolic_value or 0.0)
        d.agree, d.resolution = True, bound
        d.condition = min(bound / (EPS * exact), sys.float_info.max) if exact else None
        within.append(f"{d.label} ({condition_text(d.condition)}: |diff| {d.abs_diff:.3g} <= {bound:.3g})")
    within_warning(within, warnings)


def _sweeps(kind: str, keys: list[tuple[str, ...]], tree: Any, prior: Any, chosen: list[str], others: list[str],
            values: Mapping[str, float], columns: Mapping[str, Any]) -> dict[tuple[str, ...], float]:
    """What float64 can resolve of each derivative the graph engine found: its last step is always one
    backprop sweep of an expression graph (the expression, the derivative of one lower order, or a first
    derivative for a Hessian row), and engines/resolution.py bounds that sweep's rounding to first order,
    once for each engine (comparison.ENGINE_ROUNDINGS)."""
    data = {**columns, "_target": np.zeros(1)}

    def swept(expression: Any) -> dict[str, float]:
        graph = build_graph(Evaluator.of(expression, chosen, others).problem)
        bounds = gradient_bounds(graph, values, data, 1, chosen)
        return {name: ENGINE_ROUNDINGS * bound for name, bound in bounds.items()}

    if kind == "derivative":  # the one name, as often as the order
        [bound] = swept(prior).values()
        return {keys[0]: bound}
    if kind == "gradient":
        return {(name,): bound for name, bound in swept(tree).items()}
    first = gradient(tree, chosen)
    return {(a, b): bound for a in chosen for b, bound in swept(first[a]).items()}


def _hessian_by_differences(evaluator: Any, chosen: list[str], values: Mapping[str, float],
                            columns: Mapping[str, Any]) -> tuple[list[float | None], dict[str, list[str]]]:
    """Central differences of the backprop gradient, one name at a time (the witness of a Hessian), from
    stencils that cross no kink; a row none of whose stencils is clean is None (its name -> the kinks)."""
    rows, stopped = gradient_differences(lambda at: evaluator.run(at, columns, 1)[1], values, chosen,
                                         lambda points: evaluator.crossed(points, columns, 1))
    return [value for row in rows for value in (row if row is not None else [None] * len(chosen))], stopped


def label_of(key: tuple[str, ...]) -> str:
    """d2f/dw2, d2f/dwdb: a derivative's name, as Derivative.label gives it."""
    return Derivative(key, None, None, 0.0, None, None, None, None).label
