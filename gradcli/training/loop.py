"""The training loop: gradient descent on the mean loss, gradients from the graph engine.

The data stays in NumPy columns; every gradient is one vectorised forward and
reverse sweep over a batch of rows (no Python loop over rows). Stopping rules:
--epochs, a relative change of the loss below --tol for --patience epochs in a
row (a plateau; a rising loss does not count), or divergence (a non-finite loss or gradient).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ..engines.graph import Graph, backprop, build_graph
from ..engines.sweep import compile_plan
from ..engines.sweep import run as sweep
from ..errors import UndefinedError
from ..language.problem import Problem
from .optimizers import LBFGS, make_optimizer
from .options import INIT_SCALE, TrainOptions


@dataclass
class TrainResult:
    params: dict[str, float]
    initial: dict[str, float]
    loss: float  # the final mean loss over all rows
    epochs: int  # epochs run
    converged: bool
    diverged: bool
    stop_reason: str
    history: list[float] = field(default_factory=list)  # mean loss over all rows: [start, after epoch 1, ...]
    seconds: float = 0.0


Progress = Callable[[int, float], None]  # (epoch, mean loss) after each epoch


class Trainer:
    """Holds the graph and the columns; `run` trains from a starting point."""

    def __init__(self, problem: Problem, columns: Mapping[str, Any], rows: int) -> None:
        self.problem = problem
        self.graph: Graph = build_graph(problem)
        self.columns = {name: columns[name] for name in (*problem.inputs, problem.target)}
        self.rows = rows
        self.names = list(problem.params)
        self.plan = compile_plan(self.graph, self.names)
        self.loss_plan = compile_plan(self.graph, [])

    def objective(self, theta: np.ndarray, columns: Mapping[str, Any] | None = None,
                  rows: int | None = None) -> tuple[float, np.ndarray]:
        """Mean loss and its gradient at theta over the given rows (default: all)."""
        result = sweep(self.plan, dict(zip(self.names, theta.tolist())), columns or self.columns, rows or self.rows)
        return result.loss, np.array(result.gradient)

    def gradient_vanishes(self, theta: np.ndarray, rtol: float = 1e-6) -> bool:
        """Is every gradient component within rtol of the sum of |per-row terms| it adds up?

        At a true minimum the per-row terms cancel; on a badly conditioned problem a line search
        can stall where they plainly do not.
        """
        result = sweep(self.plan, dict(zip(self.names, theta.tolist())), self.columns, self.rows, abs_terms=True)
        return all(abs(g) <= rtol * t for g, t in zip(result.gradient, result.abs_terms or []))

    def mean_loss(self, theta: np.ndarray) -> float:
        return sweep(self.loss_plan, dict(zip(self.names, theta.tolist())), self.columns, self.rows).loss

    def run(self, start: Mapping[str, float], options: TrainOptions, progress: Progress | None = None) -> TrainResult:
        began = time.perf_counter()
        theta = np.array([start[name] for name in self.names], dtype=np.float64)
        loss, grad = self.objective(theta)
        history = [loss]
        result = TrainResult(dict(start), dict(start), loss, 0, False, False, "", history)
        if not (np.isfinite(loss) and np.isfinite(grad).all()):  # bad input, not divergence: name op and row
            backprop(self.graph, dict(start), self.columns, self.rows, self.names)
            raise UndefinedError(f"the loss or its gradient is not finite at the starting point ({loss:g})")
        optimizer = make_optimizer(options.optimizer, options.lr)
        batch = options.batch(self.rows)
        rng = np.random.default_rng(options.seed)
        stalled = 0
        for epoch in range(1, options.epochs + 1):
            if isinstance(optimizer, LBFGS):
                with np.errstate(all="ignore"):  # an overflowing slope just fails the line search
                    theta, loss, grad, moved = optimizer.iterate(theta, loss, grad, self.objective)
                if not moved:
                    history.append(loss)
                    result.epochs = epoch
                    if self.gradient_vanishes(theta):
                        return self._finish(result, theta, began, converged=True,
                                            reason="no step lowers the loss any further (a minimum within rounding)")
                    return self._finish(result, theta, began, reason=(
                        "no step along L-BFGS's direction lowers the loss, yet the gradient is not zero: the "
                        "problem is badly conditioned (inputs on very different scales or far from 0?); "
                        "centre or scale the inputs"))
            elif batch >= self.rows:
                with np.errstate(all="ignore"):  # a step that overflows is divergence, said below
                    theta = optimizer.update(theta, grad)
                loss, grad = self.objective(theta)
            else:
                order = rng.permutation(self.rows)
                shuffled = {name: np.asarray(column)[order] for name, column in self.columns.items()}
                for low in range(0, self.rows, batch):
                    part = {name: column[low:low + batch] for name, column in shuffled.items()}
                    batch_loss, batch_grad = self.objective(theta, part, len(next(iter(part.values()))))
                    if not (np.isfinite(batch_loss) and np.isfinite(batch_grad).all()):
                        loss, grad = batch_loss, batch_grad
                        break
                    with np.errstate(all="ignore"):
                        theta = optimizer.update(theta, batch_grad)
                else:
                    loss = self.mean_loss(theta)
                    grad = np.zeros_like(theta)
            result.epochs = epoch
            if not (np.isfinite(loss) and np.isfinite(grad).all() and np.isfinite(theta).all()):
                return self._finish(result, theta, began, diverged=True, reason=self._divergence(loss, epoch, options))
            previous = history[-1]
            history.append(loss)
            if progress is not None:
                progress(epoch, loss)
            improvement = (previous - loss) / max(abs(previous), np.finfo(float).tiny)
            stalled = stalled + 1 if abs(improvement) < options.tol else 0  # a clear rise is no plateau either
            if stalled >= options.patience:
                return self._finish(result, theta, began, converged=True,
                                    reason=f"the loss changed by less than {options.tol:g} (relative) "
                                           f"for {options.patience} epochs")
        return self._finish(result, theta, began, reason=f"reached --epochs {options.epochs}")

    def _finish(self, result: TrainResult, theta: np.ndarray, began: float, *, converged: bool = False,
                diverged: bool = False, reason: str) -> TrainResult:
        result.params = dict(zip(self.names, theta.tolist()))
        result.loss = result.history[-1] if not diverged else float("nan")
        result.converged, result.diverged, result.stop_reason = converged, diverged, reason
        result.seconds = time.perf_counter() - began
        return result

    @staticmethod
    def _divergence(loss: float, epoch: int, options: TrainOptions) -> str:
        rate = options.learning_rate
        advice = (f"the learning rate {rate:g} is too large for this data: try --lr {rate / 10:g}, inputs "
                  "centred and scaled to similar ranges, or --optimizer lbfgs, which needs no learning rate"
                  if rate is not None else "try inputs centred and scaled to similar ranges")
        return f"at epoch {epoch} the loss or its gradient became {loss:g}; {advice}"


def starting_point(problem: Problem, given: Mapping[str, float], linear: bool, seed: int) -> dict[str, float]:
    """Given values first; the rest 0 for a model linear in its parameters, else seeded small random values.

    Zero is a saddle point for models like w2*tanh(w1*x1), hence the random start there.
    """
    rng = np.random.default_rng(seed)
    draws = rng.normal(0.0, INIT_SCALE, len(problem.params))
    return {name: float(given[name]) if name in given else (0.0 if linear else float(draw))
            for name, draw in zip(problem.params, draws)}
