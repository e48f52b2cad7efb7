"""The derivative graph: derivatives as expressions, made by backpropagation over the expression.

This is the graph engine's reverse sweep run on expressions instead of numbers: each node's
adjoint is an expression, passed to its inputs multiplied by the local derivative that the
operations table declares for that edge (`Op.derivative`, hand-written, never SymPy's), and
adjoints arriving along several paths are added. The result is an expression of the same
language, sharing its parts with the original, so the graph engine can evaluate it over the rows
and backpropagate through it again: second derivatives are backprop applied to the backward pass
(reverse over reverse), and so on for higher orders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import GradcliError
from ..language import build
from ..language.expr import Binary, Call, Expr, Sym, Unary, children, postorder
from ..language.ops import OPS
from ..language.problem import Problem
from .graph import build_graph
from .sweep import compile_plan, run, stencil

MAX_NODES = 100_000  # a derivative graph larger than this is refused (order k grows it ~ a factor per order)
PLANS_KEPT = 16  # compiled derivative graphs kept for repeated hessian_rows / hessian_vector_product calls


def op_name(node: Expr) -> str:
    if isinstance(node, (Binary, Unary)):
        return node.op
    assert isinstance(node, Call)
    return node.fn


def gradient(root: Expr, names: Sequence[str]) -> dict[str, Expr]:
    """d root / d name for every name, as expressions, from one reverse sweep over root.

    Only edges into subexpressions that contain one of the names are followed (the others'
    adjoints are never needed), so the derivatives are as large as their paths, not the tree.
    """
    wanted = set(names)
    order = list(postorder(root))
    depends: set[int] = set()
    for node in order:
        if isinstance(node, Sym):
            if node.name in wanted:
                depends.add(id(node))
        elif any(id(child) in depends for child in children(node)):
            depends.add(id(node))
    adjoints: dict[int, Expr] = {id(root): build.ONE}
    for node in reversed(order):
        adjoint = adjoints.get(id(node))
        kids = children(node)
        if adjoint is None or not kids or id(node) not in depends:
            continue
        rule = OPS[op_name(node)].derivative
        assert rule is not None, op_name(node)
        for position, child in enumerate(kids):
            if id(child) not in depends:
                continue
            contribution = build.mul(adjoint, rule(position, kids, node))
            before = adjoints.get(id(child))
            adjoints[id(child)] = contribution if before is None else build.add(before, contribution)
    result: dict[str, Expr] = {name: build.ZERO for name in names}
    for node in order:
        if isinstance(node, Sym) and node.name in wanted and id(node) in adjoints:
            result[node.name] = build.add(result[node.name], adjoints[id(node)])
    for derivative in result.values():
        check_size(derivative)
    return result


def derivative(root: Expr, name: str, order: int = 1) -> Expr:
    """The order-th derivative of root with respect to name: the derivative graph, differentiated again."""
    current = root
    for _ in range(order):
        current = gradient(current, [name])[name]
    return current


def check_size(root: Expr) -> int:
    """The number of distinct nodes; over MAX_NODES is a GradcliError, not a slow death."""
    count = 0
    for _ in postorder(root):
        count += 1
        if count > MAX_NODES:
            raise GradcliError(f"the derivative graph grew past {MAX_NODES:,} operations; "
                               "ask for a lower --order or a smaller expression")
    return count


@dataclass(frozen=True)
class Evaluator:
    """An expression as the graph engine's problem, evaluated (and differentiated) over rows.

    The expression takes the place of the per-row loss; `wrt` are its "parameters" (one number
    each), every other name a column.
    """

    problem: Problem

    @classmethod
    def of(cls, expr: Expr, wrt: Sequence[str], columns: Sequence[str]) -> Evaluator:
        target = "_target"  # a role the graph needs; no user name starts with '_'
        return cls(Problem("", expr, "expression", "", expr, target, tuple(wrt), tuple(columns)))

    def run(self, values: Mapping[str, float], columns: Mapping[str, Any], rows: int,
            gradient: bool = True) -> tuple[float, list[float]]:
        """(mean over rows of the expression, its gradient with respect to wrt), by one backprop sweep."""
        return self.sweep(self.compile(gradient), values, columns, rows)

    def compile(self, gradient: bool = True) -> Any:
        """The graph engine's compiled plan of the expression: what run sweeps, built anew by each call."""
        return compile_plan(build_graph(self.problem), list(self.problem.params) if gradient else [])

    def sweep(self, plan: Any, values: Mapping[str, float], columns: Mapping[str, Any],
              rows: int) -> tuple[float, list[float]]:
        """run with a plan made by compile: the evaluation alone, without building the graph again."""
        data = {**columns, self.problem.target: np.float64(0.0)}
        result = run(plan, values, data, rows, diagnose=True)
        return result.loss, result.gradient

    def crossed(self, points: list[Mapping[str, float]], columns: Mapping[str, Any], rows: int) -> list[str]:
        """The relu, abs, max and min nodes whose argument is not on one side of its kink at every one of
        `points` (sweep.stencil): a difference stencil over them spans a point where f is not smooth."""
        data = {**columns, self.problem.target: np.float64(0.0)}
        return stencil(self.compile(gradient=False), points, data, rows).crossed

    def kinks(self, values: Mapping[str, float], columns: Mapping[str, Any], rows: int) -> list[Any]:
        """The abs, relu, sign and step nodes whose argument is exactly 0 here (graph.Kink), where a
        derivative of the next order does not exist."""
        data = {**columns, self.problem.target: np.float64(0.0)}
        found = run(self.compile(gradient=False), values, data, rows, find_kinks=True).kinks
        return [kink for kink in found if kink.exact]


class _Same:
    """An expression as a cache key by identity: equality and hashing of a frozen tree are recursive
    (a deep or much-shared DAG would be walked as a tree), and the key keeps the expression alive,
    so its id cannot be taken by another expression while the entry is kept."""

    __slots__ = ("expr",)

    def __init__(self, expr: Expr) -> None:
        self.expr = expr

    def __hash__(self) -> int:
        return id(self.expr)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.expr is self.expr


@lru_cache(maxsize=PLANS_KEPT)
def _hessian_plans(expr: _Same, names: tuple[str, ...], columns: tuple[str, ...]) -> tuple[tuple[Evaluator, Any], ...]:
    """For each name, d expr / d name as an evaluator and its compiled plan: hessian_rows' building.

    Kept across calls (expressions are immutable; the plan holds no values and no data), so a
    second Hessian of the same expression, at another point or over other rows, is the sweeps alone.
    """
    derivatives = gradient(expr.expr, names)
    made = []
    for name in names:
        evaluator = Evaluator.of(derivatives[name], names, columns)
        made.append((evaluator, evaluator.compile()))
    return tuple(made)


def second_derivative_graphs(expr: Expr, names: Sequence[str], columns: Sequence[str],
                             vector: Sequence[float] | None = None) -> list[Any]:
    """The graphs whose one backprop sweep each gives hessian_rows' rows (d expr / d name, per name), or
    hessian_vector_product (the directional derivative): what engines/resolution.py bounds."""
    if vector is not None:
        return [build_graph(_hvp_plan(_Same(expr), tuple(names), tuple(vector), tuple(columns))[0].problem)]
    plans = _hessian_plans(_Same(expr), tuple(names), tuple(columns))
    return [build_graph(evaluator.problem) for evaluator, _ in plans]


@lru_cache(maxsize=PLANS_KEPT)
def _hvp_plan(expr: _Same, names: tuple[str, ...], vector: tuple[float, ...],
              columns: tuple[str, ...]) -> tuple[Evaluator, Any]:
    """The directional derivative sum_i v_i d expr / d name_i as an evaluator and its compiled plan.

    v is part of the key because its numbers are constants of the graph (0 and 1 fold away).
    """
    derivatives = gradient(expr.expr, names)
    directional = build.add(*(build.mul(build.number(v), derivatives[name]) for name, v in zip(names, vector)))
    evaluator = Evaluator.of(directional, names, columns)
    return evaluator, evaluator.compile()


def hessian_rows(expr: Expr, names: Sequence[str], values: Mapping[str, float], columns: Mapping[str, Any],
                 rows: int) -> tuple[list[float], list[list[float]]]:
    """(the gradient, the Hessian) of the mean of expr over the rows, with respect to names.

    Row i of the Hessian is backprop through the derivative graph of d expr / d name_i (reverse
    over reverse): one sweep over every row at once per name, its "loss" that derivative. The
    derivative graphs and their plans are built once per expression and kept (PLANS_KEPT), so
    repeated calls pay only for the sweeps.
    """
    first, matrix = [], []
    for evaluator, plan in _hessian_plans(_Same(expr), tuple(names), tuple(columns)):
        mean, row = evaluator.sweep(plan, values, columns, rows)
        first.append(mean)
        matrix.append(row)
    return first, matrix


def hessian_vector_product(expr: Expr, names: Sequence[str], vector: Sequence[float], values: Mapping[str, float],
                           columns: Mapping[str, Any], rows: int) -> list[float]:
    """H v without H: backprop through the derivative graph of the directional derivative sum_i v_i d/dname_i.

    The graph and its plan are kept per (expression, names, v, column names), as for hessian_rows.
    """
    evaluator, plan = _hvp_plan(_Same(expr), tuple(names), tuple(vector), tuple(columns))
    return evaluator.sweep(plan, values, columns, rows)[1]
