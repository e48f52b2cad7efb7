"""The closed-form check for training: least squares when the model is linear in its parameters.

A model linear in its parameters is yhat = c(x) + sum_i p_i * f_i(x). With the mse
loss its optimum solves a least-squares problem, which numpy.linalg.lstsq solves
directly; trained parameters should land on that solution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engines.graph import Graph, model_values
from ..engines.symbolic import to_sympy
from ..language.expr import Binary, Call, Expr, Num, Sym, Unary
from ..language.problem import Problem

# A linear model with vectors and matrices (W @ x + b over many columns) can have thousands of entries:
# its design matrix is rows x entries, one model evaluation per entry. Past this many the closed form
# is not computed (the gradient check still is).
MAX_CLOSED_FORM = 2000


def is_linear_in_params(problem: Problem, model: Expr | None = None) -> bool:
    """True when no derivative d model / d p depends on any parameter (checked exactly, with SymPy).

    `model` defaults to the problem's model; starts_at_zero passes the logit of a sigmoid model.
    A model with vectors and matrices is judged from its tree instead (SymPy would need it written
    out entry by entry): see `affine_in_params`.
    """
    if problem.tensor:
        return affine_in_params(problem.model if model is None else model, set(problem.param_names)) <= 1
    import sympy as sp

    symbols = {name: sp.Symbol(name, real=True) for name in (*problem.params, *problem.inputs)}
    expr = to_sympy(problem.model if model is None else model, symbols)
    params = {symbols[name] for name in problem.params}
    return all(not (sp.diff(expr, symbols[name]).free_symbols & params) for name in problem.params)


def affine_in_params(node: Expr, params: set[str]) -> int:
    """0: no parameter in it; 1: affine in the parameters (W @ x + b, 2*w - b); 2: anything else.

    Read off the tree, so sufficient rather than exact (w*w/w counts as 2): a network's hidden layer,
    a parameter inside tanh or relu or times another parameter, is never taken for linear."""
    if isinstance(node, Num):
        return 0
    if isinstance(node, Sym):
        return 1 if node.name in params else 0
    if isinstance(node, Unary):
        return affine_in_params(node.operand, params)
    if isinstance(node, Binary):
        left, right = affine_in_params(node.left, params), affine_in_params(node.right, params)
        if node.op in ("add", "sub"):
            return max(left, right)
        if node.op in ("mul", "matmul"):
            return min(2, left + right)
        if node.op == "div":
            return left if right == 0 else 2
        return 0 if left == right == 0 else 2  # pow
    degrees = [affine_in_params(arg, params) for arg in node.args]  # type: ignore[union-attr]
    if node.fn in ("sum", "mean", "transpose"):  # type: ignore[union-attr]
        return degrees[0]
    if node.fn == "dot":  # type: ignore[union-attr]
        return min(2, sum(degrees))
    return 0 if not any(degrees) else 2


def starts_at_zero(problem: Problem, linear: bool) -> bool:
    """Start from 0 rather than at random: a model linear in its parameters, or, with bce, the
    sigmoid of one (logistic regression: convex, so no saddle at 0 to escape, and a random start
    on unscaled inputs would begin with every row saturated)."""
    model = problem.model
    return linear or (problem.loss_name == "bce" and isinstance(model, Call) and model.fn == "sigmoid"
                      and is_linear_in_params(problem, model.args[0]))


@dataclass(frozen=True)
class ClosedForm:
    params: dict[str, float]
    loss: float  # the mean mse at the least-squares solution
    distance: float  # Euclidean distance between the trained parameters and the solution
    relative_distance: float  # distance / norm of the solution (or the distance when that norm is 0)

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "loss": self.loss, "distance": self.distance,
                "relative_distance": self.relative_distance}


def least_squares(problem: Problem, graph: Graph, columns: Mapping[str, Any], rows: int,
                  trained: Mapping[str, float]) -> ClosedForm:
    """Solve min ||c + F p - y||^2 where F's columns are the model's response to each parameter.

    F and c are read off the graph itself (the model at p = 0 and at each unit vector), so any
    model linear in its parameters works, not only b + w1*x1 + ....
    """
    with np.errstate(all="ignore"):  # values near 1e300 overflow the norms; the distance then shows it
        return _least_squares(problem, graph, columns, rows, trained)


def _least_squares(problem: Problem, graph: Graph, columns: Mapping[str, Any], rows: int,
                   trained: Mapping[str, float]) -> ClosedForm:
    names = list(problem.params)
    zero = {name: 0.0 for name in names}
    offset = model_values(graph, zero, columns, rows)
    design = np.empty((rows, len(names)))
    for i, name in enumerate(names):
        design[:, i] = model_values(graph, {**zero, name: 1.0}, columns, rows) - offset
    target = np.asarray(columns[problem.target], dtype=np.float64)
    # Columns scaled to unit norm first: lstsq's cut-off for small singular values is relative,
    # and unscaled columns (a timestamp beside an intercept) would lose the small direction.
    norms = np.linalg.norm(design, axis=0)
    norms[norms == 0] = 1.0
    solution, *_ = np.linalg.lstsq(design / norms, target - offset, rcond=None)
    solution = solution / norms
    residual = offset + design @ solution - target
    trained_vector = np.array([trained[name] for name in names])
    distance = float(np.linalg.norm(trained_vector - solution))
    scale = float(np.linalg.norm(solution))
    return ClosedForm(dict(zip(names, solution.tolist())), float(np.mean(residual**2)), distance,
                      distance / scale if scale > 0 else distance)
