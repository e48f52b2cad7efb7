"""Optimisers: how a parameter vector moves, given gradients.

First-order rules (gd, sgd, momentum, adam) see one gradient at a time: `update`
returns the next parameters. A rule with a line search (L-BFGS) also needs the loss,
to search along its direction: `iterate` is given the objective and takes one whole
iteration per call. Which rule an optimiser uses, and with what defaults, is its entry
in options.OPTIMIZERS. All state lives in the optimiser object, so a run is deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .options import OPTIMIZERS

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]  # theta -> (mean loss, gradient)


def inner(a: np.ndarray, b: np.ndarray) -> float:
    """a · b in an order fixed by the length alone (a @ b is BLAS's, in its CPU kernel's order): one
    rounding apart, L-BFGS's path differs from one machine to the next."""
    return float(np.einsum("i,i->", a, b, optimize=False))



@dataclass
class GradientDescent:
    lr: float

    def update(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        return theta - self.lr * grad


@dataclass
class Momentum:
    lr: float
    beta: float = 0.9
    velocity: np.ndarray | None = None

    def update(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        self.velocity = grad if self.velocity is None else self.beta * self.velocity + grad
        return theta - self.lr * self.velocity


@dataclass
class Adam:
    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    steps: int = 0
    m: np.ndarray | None = None
    v: np.ndarray | None = None

    def update(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        self.steps += 1
        self.m = (1 - self.beta1) * grad if self.m is None else self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = (1 - self.beta2) * grad**2 if self.v is None else self.beta2 * self.v + (1 - self.beta2) * grad**2
        m_hat = self.m / (1 - self.beta1**self.steps)
        v_hat = self.v / (1 - self.beta2**self.steps)
        return theta - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


ROUNDING = 8 * float(np.finfo(np.float64).eps)  # loss changes this small (relative) are rounding noise


@dataclass
class LBFGS:
    """Limited-memory BFGS (Nocedal & Wright, Algorithm 7.4) with an Armijo backtracking search.

    Needs no learning rate: the first step is scaled by the gradient's size, later ones by the
    curvature seen so far, which is what lets it cope with unscaled features.
    """

    memory: int = 10
    c1: float = 1e-4
    max_backtracks: int = 60
    pairs: deque = field(default_factory=deque)  # (s, y, 1 / y.s), newest last

    def iterate(self, theta: np.ndarray, loss: float, grad: np.ndarray,
                objective: Objective) -> tuple[np.ndarray, float, np.ndarray, bool]:
        """One iteration: (theta, loss, grad, moved). moved is False when no step lowers the loss."""
        direction = -self._inverse_hessian_times(grad)
        slope = inner(grad, direction)
        if not slope < 0:  # not a descent direction: forget the curvature and go downhill
            self.pairs.clear()
            direction, slope = -grad, -inner(grad, grad)
            if slope == 0:
                return theta, loss, grad, False
        step = 1.0 if self.pairs else min(1.0, 1.0 / float(np.abs(grad).sum()))
        for _ in range(self.max_backtracks):
            candidate = theta + step * direction
            if (candidate == theta).all():  # the step no longer changes any parameter: nowhere left to go
                return theta, loss, grad, False
            new_loss, new_grad = objective(candidate)
            if np.isfinite(new_loss) and np.isfinite(new_grad).all() and new_loss <= loss + self.c1 * step * slope:
                break
            if abs(new_loss - loss) <= ROUNDING * abs(loss):  # the loss differs only by rounding: a minimum
                return theta, loss, grad, False
            step /= 2
        else:
            return theta, loss, grad, False
        s, y = candidate - theta, new_grad - grad
        curvature, yy = inner(y, s), inner(y, y)
        # Keep the pair only with positive curvature that does not underflow: on separable bce
        # data the gradient fades to ~1e-160 and y @ y rounds to 0.
        if curvature > 0 and yy > 0 and curvature > 1e-12 * inner(s, s) ** 0.5 * yy**0.5:
            self.pairs.append((s, y, 1.0 / curvature))
            if len(self.pairs) > self.memory:
                self.pairs.popleft()
        return candidate, new_loss, new_grad, bool(new_loss < loss or (candidate != theta).any())

    def _inverse_hessian_times(self, grad: np.ndarray) -> np.ndarray:
        """The two-loop recursion: H @ grad for the implicit inverse Hessian."""
        q = grad.copy()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * inner(s, q)
            q -= alpha * y
            alphas.append(alpha)
        if self.pairs:
            s, y, _ = self.pairs[-1]
            q *= inner(s, y) / inner(y, y)
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas)):
            q += (alpha - rho * inner(y, q)) * s
        return q


Rule = GradientDescent | Momentum | Adam | LBFGS
RULES: dict[str, type[Rule]] = {rule.__name__: rule for rule in (GradientDescent, Momentum, Adam, LBFGS)}


def make_optimizer(name: str, lr: float | None) -> Rule:
    """The optimiser by name (its entry in options.OPTIMIZERS); lr None means its default. One with a
    line search takes no learning rate."""
    entry = OPTIMIZERS[name]
    rule = RULES[entry.rule]
    if entry.line_search:
        return rule(**dict(entry.settings))
    rate = entry.lr if lr is None else lr
    return rule(rate, **dict(entry.settings))
