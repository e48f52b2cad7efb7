"""A change of parameters that makes the loss about as curved in every direction.

On raw columns (sizes in the thousands beside an intercept, a 1.6e9 timestamp) the loss is a long,
narrow valley: a step that suits one parameter is far too large or too small for another, and the
intercept and a weight on an uncentred column move almost in lockstep. Standardizing the inputs is
the textbook fix, but it applies only to b + sum w*x and reports the parameters on another scale.

This does the same in parameter space, for any model. With J the model's response to each
parameter at the start (on a sample of rows, by central differences), scaled to unit RMS per
column and factored J / sqrt(n) = Q R, the optimisers step in u where

    theta = start + D^-1 R^-1 u,

so that J's Gram matrix is the identity in u. For a model linear in its parameters with mse this is
exactly the standardization (centring included: R mixes the intercept with each weight) and the
Hessian in u is 2I; for a sigmoid model with bce, J is taken at the logit. Any invertible change
leaves the minimum where it is: the loss, its history and the parameters reported are theta's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engines.graph import Graph, model_values
from ..language.problem import Problem
from .closed_form import is_linear_in_params, starts_at_zero

MAX_PRECONDITIONED = 200  # parameters; above, the 2p model evaluations and the QR cost more than they save
SAMPLE_ROWS = 4096  # rows J is measured on (evenly spaced); enough to fix the scales
STEP = 1e-4  # central-difference step, relative to max(1, |theta_i|)
DEPENDENT = 1e-10  # a scaled column with less than this left after the earlier ones is left as it is


@dataclass(frozen=True)
class Preconditioner:
    """theta = start + matrix @ u; matrix None means no change (u = theta - start)."""

    start: np.ndarray
    matrix: np.ndarray | None

    def params(self, u: np.ndarray) -> np.ndarray:
        """theta for u. A step that overflows gives inf or nan quietly: the loop calls it divergence."""
        with np.errstate(all="ignore"):
            return self.start + (u if self.matrix is None else self.matrix @ u)

    def gradient(self, grad: np.ndarray) -> np.ndarray:
        """The loss's gradient in u, from its gradient in theta."""
        with np.errstate(all="ignore"):
            return grad if self.matrix is None else self.matrix.T @ grad

    def coordinates(self, theta: np.ndarray) -> np.ndarray:
        """u for a given theta."""
        offset = theta - self.start
        return offset if self.matrix is None else np.linalg.solve(self.matrix, offset)


def identity(start: np.ndarray) -> Preconditioner:
    return Preconditioner(start.copy(), None)


def measure(problem: Problem, graph: Graph, names: list[str], columns: Mapping[str, Any], rows: int,
            start: np.ndarray) -> Preconditioner:
    """The preconditioner at `start`; no change when it cannot be measured (too many parameters,
    a model that is undefined next to the start, or no response to any parameter)."""
    if not 0 < len(names) <= MAX_PRECONDITIONED or not suits(problem):
        return identity(start)
    node = _response_node(problem, graph)
    picked = np.unique(np.linspace(0, rows - 1, min(rows, SAMPLE_ROWS)).astype(np.int64))
    sample = {name: np.asarray(column)[picked] if np.ndim(column) else column for name, column in columns.items()}
    outputs = int(np.prod(graph.nodes[node].shape, dtype=np.int64))  # a vector of class scores: one row each
    jacobian = np.empty((len(picked) * outputs, len(names)))
    with np.errstate(all="ignore"):
        for i in range(len(names)):
            step = STEP * max(1.0, abs(float(start[i])))
            high = model_values(graph, _params(names, start, i, step), sample, len(picked), node, diagnose=False)
            low = model_values(graph, _params(names, start, i, -step), sample, len(picked), node, diagnose=False)
            jacobian[:, i] = np.ravel((high - low) / (2 * step))
    if not np.isfinite(jacobian).all():
        return identity(start)
    return Preconditioner(start.copy(), whitening(jacobian))


def suits(problem: Problem) -> bool:
    """Whether to precondition: every scalar model (as always), and a model with vectors and matrices
    that is linear in its parameters (W @ x + b; with bce, the sigmoid of one), but not a network.

    A network's Jacobian at its seeded start is nearly rank-deficient: small weights keep tanh near
    linear, so every hidden unit's weights move the output almost alike (W1's columns are nearly
    multiples of one another, and of b1's). R^-1 then blows those near-dependent directions up by
    orders of magnitude (on samples/moons.csv with W1=16x2 the change of coordinates had condition
    number 1.6e12), a unit step in u is an enormous step in the weights, and L-BFGS's first line
    search finds nothing: it stopped after one epoch at 66% accuracy, where unpreconditioned L-BFGS
    reaches 100% of the training rows. A network's curvature also changes as soon as its weights
    move, so a change measured once at the start would not hold anyway; its inputs' scale is what
    Glorot/He starting weights assume instead (language/initial.py)."""
    if not problem.tensor:
        return True
    return starts_at_zero(problem, is_linear_in_params(problem))


def whitening(jacobian: np.ndarray) -> np.ndarray | None:
    """D^-1 R^-1 from the column RMS D and the QR factor R of J D^-1 / sqrt(n); None if J is all 0."""
    rows, width = jacobian.shape
    largest = np.max(np.abs(jacobian), axis=0)
    largest[largest == 0] = 1.0
    scales = largest * np.sqrt(np.mean((jacobian / largest) ** 2, axis=0))  # the RMS, with no square overflowing
    if not (scales > 0).any():
        return None
    scales[scales == 0] = 1.0
    scaled = jacobian / scales / np.sqrt(rows)
    if rows >= width:
        r = np.linalg.qr(scaled, mode="r")
        for i in range(width):  # a column the earlier ones (nearly) explain keeps its own scale only
            if abs(r[i, i]) < DEPENDENT:
                r[i, :] = 0.0
                r[i, i] = 1.0
        inverse = np.linalg.solve(r, np.eye(width))
    else:  # fewer rows than parameters: scales only
        inverse = np.eye(width)
    matrix = inverse / scales[:, None]
    return matrix if np.isfinite(matrix).all() else None


def _response_node(problem: Problem, graph: Graph) -> int:
    """The node whose response J measures: the logit for bce on a sigmoid model, else yhat."""
    model = graph.nodes[graph.model]
    if problem.loss_name == "bce" and model.op == "sigmoid":
        return model.inputs[0]
    return graph.model


def _params(names: list[str], start: np.ndarray, index: int, step: float) -> dict[str, float]:
    values = dict(zip(names, start.tolist()))
    values[names[index]] += step
    return values
