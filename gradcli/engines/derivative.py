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

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..errors import GradcliError
from ..language import build
from ..language.expr import Binary, Call, Expr, Sym, Unary, children, postorder
from ..language.ops import OPS
from ..language.problem import Problem

MAX_NODES = 100_000  # a derivative graph larger than this is refused (order k grows it ~ a factor per order)


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
    def of(cls, expr: Expr, wrt: Sequence[str], columns: Sequence[str]) -> "Evaluator":
        target = "_target"  # a role the graph needs; no user name starts with '_'
        return cls(Problem("", expr, "expression", "", expr, target, tuple(wrt), tuple(columns)))

    def run(self, values: Mapping[str, float], columns: Mapping[str, Any], rows: int,
            gradient: bool = True) -> tuple[float, list[float]]:
        """(mean over rows of the expression, its gradient with respect to wrt), by one backprop sweep."""
        import numpy as np

        from .graph import build_graph
        from .sweep import compile_plan, run

        graph = build_graph(self.problem)
        plan = compile_plan(graph, list(self.problem.params) if gradient else [])
        data = {**columns, self.problem.target: np.float64(0.0)}
        result = run(plan, values, data, rows, diagnose=True)
        return result.loss, result.gradient


def hessian_rows(expr: Expr, names: Sequence[str], values: Mapping[str, float], columns: Mapping[str, Any],
                 rows: int) -> tuple[list[float], list[list[float]]]:
    """(the gradient, the Hessian) of the mean of expr over the rows, with respect to names.

    Row i of the Hessian is backprop through the derivative graph of d expr / d name_i (reverse
    over reverse): one sweep over every row at once per name, its "loss" that derivative.
    """
    derivatives = gradient(expr, names)
    first, matrix = [], []
    for name in names:
        mean, row = Evaluator.of(derivatives[name], names, list(columns)).run(values, columns, rows)
        first.append(mean)
        matrix.append(row)
    return first, matrix


def hessian_vector_product(expr: Expr, names: Sequence[str], vector: Sequence[float], values: Mapping[str, float],
                           columns: Mapping[str, Any], rows: int) -> list[float]:
    """H v without H: backprop through the derivative graph of the directional derivative sum_i v_i d/dname_i."""
    derivatives = gradient(expr, names)
    directional = build.add(*(build.mul(build.number(v), derivatives[name]) for name, v in zip(names, vector)))
    return Evaluator.of(directional, names, list(columns)).run(values, columns, rows)[1]
