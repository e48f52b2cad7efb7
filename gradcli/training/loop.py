"""The training loop: gradient descent on the mean loss, gradients from the graph engine.

The data stays in NumPy columns; every gradient is one vectorised forward and
reverse sweep over a batch of rows (no Python loop over rows). Stopping rules:
--epochs, a relative change of the loss below --tol for --patience epochs in a
row (a plateau; a rising loss does not count), or divergence (a non-finite loss or gradient).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engines.graph import Graph, backprop, build_graph
from ..engines.sweep import compile_plan
from ..engines.sweep import run as sweep
from ..errors import UndefinedError, placed
from ..language.problem import Problem
from .optimizers import LBFGS, make_optimizer
from .options import INIT_SCALE, TrainOptions
from .passes import MemoryRows, Rows, sample_rows, shuffled_batches
from .precondition import SAMPLE_ROWS, identity, measure

OPTIMAL = 1e-6  # converged: every |gradient| is at most this fraction of the per-row terms it sums
EXACT_FIT = (64 * float(np.finfo(np.float64).eps)) ** 2  # a built-in loss this small against the start's: 0
EXACT_FIT_REASON = "the loss fell to rounding of 0 (an exact fit)"


@dataclass
class TrainResult:
    params: dict[str, float]
    initial: dict[str, float]
    loss: float  # the final mean loss over all rows
    epochs: int  # epochs run
    converged: bool  # first-order optimality: the gradient is small against its per-row terms (OPTIMAL)
    diverged: bool
    stop_reason: str
    history: list[float] = field(default_factory=list)  # mean loss over all rows: [start, after epoch 1, ...]
    seconds: float = 0.0
    optimality: float | None = None  # the largest |gradient| / mean |per-row term|; None when diverged
    preconditioned: bool = False
    # the mean loss over the validation rows (--validation) at the same points as `history`; empty without
    validation_history: list[float] = field(default_factory=list)


Progress = Callable[[int, float], None]  # (epoch, mean loss) after each epoch
Held = Callable[[np.ndarray], float]  # the mean loss over the validation rows at theta


class Trainer:
    """Holds the graph and the columns; `run` trains from a starting point."""

    def __init__(self, problem: Problem, data: Rows | Mapping[str, Any], rows: int | None = None) -> None:
        self.problem = problem
        self.graph: Graph = build_graph(problem)
        if isinstance(data, Mapping):
            data = MemoryRows({name: data[name] for name in (*problem.inputs, problem.target)}, int(rows or 0))
        self.data: Rows = data
        self.rows = data.rows
        self.names = list(problem.params)
        self.plan = compile_plan(self.graph, self.names)
        self.loss_plan = compile_plan(self.graph, [])
        self._terms: tuple[tuple[float, ...], Any] | None = None

    @property
    def columns(self) -> Mapping[str, Any]:
        """Every row's columns (the data in memory only)."""
        return self.data.columns  # type: ignore[attr-defined]

    def objective(self, theta: np.ndarray, columns: Mapping[str, Any] | None = None,
                  rows: int | None = None) -> tuple[float, np.ndarray]:
        """Mean loss and its gradient at theta over the given rows (default: all, one pass)."""
        params = self.point(theta)
        result = sweep(self.plan, params, columns, rows) if columns is not None else self.data.sweep(self.plan, params)
        return result.loss, np.array(result.gradient)

    def point(self, theta: np.ndarray) -> dict[str, Any]:
        """The engine's parameters at theta: each name's value, a vector or matrix as one array (a view of
        theta) rather than its thousands of entries one by one."""
        if not self.problem.tensor:
            return dict(zip(self.names, theta.tolist()))
        found: dict[str, Any] = {}
        low = 0
        for name, entries in self.problem.entries.items():
            shape = self.problem.shapes.names[name] if self.problem.shapes else ()
            found[name] = theta[low:low + len(entries)].reshape(shape) if shape else float(theta[low])
            low += len(entries)
        return found

    def optimality(self, theta: np.ndarray) -> float:
        """The largest ratio of a gradient component to the mean |per-row term| it adds up.

        0 at an exact minimum, rounding (~1e-15) at a computed one. At a true minimum the per-row
        terms cancel; on a badly conditioned problem a line search can stall where they plainly do not.
        """
        result = self.terms(dict(zip(self.names, theta.tolist())))
        ratios = [abs(g) / t if t > 0 else (0.0 if g == 0 else float("inf"))
                  for g, t in zip(result.gradient, result.abs_terms or [])]
        return max(ratios, default=0.0)

    def terms(self, params: Mapping[str, float]) -> Any:
        """The sweep with per-row term sizes at params; the last one is kept, as the end of a run and the
        final check both ask for it at the trained parameters (over streamed data each is a pass)."""
        key = tuple(params[name] for name in self.names)
        if self._terms is None or self._terms[0] != key:
            self._terms = (key, self.data.sweep(self.plan, params, abs_terms=True))
        return self._terms[1]

    def mean_loss(self, theta: np.ndarray) -> float:
        return self.data.sweep(self.loss_plan, self.point(theta)).loss

    def _diagnose(self, params: Mapping[str, float]) -> None:
        """Raise the UndefinedError naming the operation and the row (counted over all the data) where
        the loss or its gradient is not finite."""
        low = 0
        for columns, rows in self.data.parts():
            try:
                backprop(self.graph, dict(params), columns, rows, self.names)
            except UndefinedError as err:
                raise placed(err, lambda row, low=low: f"row {row + low}") from None
            low += rows

    def run(self, start: Mapping[str, float], options: TrainOptions, progress: Progress | None = None,
            validation: Held | None = None) -> TrainResult:
        """Train from `start`. The optimisers step in the preconditioned coordinates u (see
        precondition.py); losses, history and parameters are always the model's own.

        validation(theta), when given, is the mean loss over rows kept out of training: recorded
        beside `history` (at the start and after each epoch), never used to choose a step."""
        began = time.perf_counter()
        origin = np.array([start[name] for name in self.names], dtype=np.float64)
        loss, grad = self.objective(origin)
        history = [loss]
        result = TrainResult(dict(start), dict(start), loss, 0, False, False, "", history)
        if not (np.isfinite(loss) and np.isfinite(grad).all()):  # bad input, not divergence: name op and row
            self._diagnose(start)
            raise UndefinedError(f"the loss or its gradient is not finite at the starting point ({loss:g})")
        held = result.validation_history

        def record(value: float, theta: np.ndarray) -> None:
            history.append(value)
            if validation is not None:
                held.append(validation(theta))

        if validation is not None:
            held.append(validation(origin))
        if options.precondition:
            picked = sample_rows(self.rows, SAMPLE_ROWS)
            change = measure(self.problem, self.graph, self.names, self.data.take(picked), len(picked), origin)
        else:
            change = identity(origin)
        result.preconditioned = change.matrix is not None

        def objective(u: np.ndarray, columns: Mapping[str, Any] | None = None,
                      rows: int | None = None) -> tuple[float, np.ndarray]:
            value, gradient = self.objective(change.params(u), columns, rows)
            return value, change.gradient(gradient)

        u, grad = np.zeros_like(origin), change.gradient(grad)
        optimizer = make_optimizer(options.optimizer, options.lr)
        batch = options.batch(self.rows)
        rng = np.random.default_rng(options.seed)
        stalled = 0
        for epoch in range(1, options.epochs + 1):
            if isinstance(optimizer, LBFGS):
                with np.errstate(all="ignore"):  # an overflowing slope just fails the line search
                    u, loss, grad, moved = optimizer.iterate(u, loss, grad, objective)
                if not moved:
                    record(loss, change.params(u))
                    result.epochs = epoch
                    reason = EXACT_FIT_REASON if self._exact_fit(result) else "no step lowers the loss any further"
                    done = self._finish(result, change.params(u), began, reason=reason)
                    if not done.converged:
                        done.stop_reason += (", yet the gradient is not zero: the problem is badly conditioned "
                                             "(inputs on very different scales or far from 0?)")
                    return done
            elif batch >= self.rows:
                with np.errstate(all="ignore"):  # a step that overflows is divergence, said below
                    u = optimizer.update(u, grad)
                loss, grad = objective(u)
            else:
                for batch_loss, batch_grad, stepped in self._minibatches(u, objective, optimizer, batch, rng):
                    u = stepped
                    if not (np.isfinite(batch_loss) and np.isfinite(batch_grad).all()):
                        loss, grad = batch_loss, batch_grad
                        break
                else:
                    loss = self.mean_loss(change.params(u))
                    grad = np.zeros_like(u)
            result.epochs = epoch
            theta = change.params(u)
            if not (np.isfinite(loss) and np.isfinite(grad).all() and np.isfinite(theta).all()):
                return self._finish(result, theta, began, diverged=True,
                                    reason=self._divergence(loss, epoch, options, result.preconditioned))
            previous = history[-1]
            record(loss, theta)
            if progress is not None:
                progress(epoch, loss)
            if self._exact_fit(result):
                # converged by definition, so the run stops here, whatever the model and the optimiser: bce
                # or ce on rows a model separates fall geometrically towards 0 while the weights grow without
                # bound (and the held-out loss with them); at rounding of 0 there is nothing left to fit.
                # (Only networks stopped here once: L-BFGS on a separable set ran on to --epochs and then
                # reported converged beside "reached --epochs 1000".)
                return self._finish(result, theta, began, reason=EXACT_FIT_REASON)
            improvement = (previous - loss) / max(abs(previous), np.finfo(float).tiny)
            stalled = stalled + 1 if abs(improvement) < options.tol else 0  # a clear rise is no plateau either
            if stalled >= options.patience:
                return self._finish(result, theta, began,
                                    reason=f"the loss changed by less than {options.tol:g} (relative) "
                                           f"for {options.patience} epochs")
        return self._finish(result, change.params(u), began, reason=f"reached --epochs {options.epochs}")

    def _minibatches(self, u: np.ndarray, objective: Callable[..., tuple[float, np.ndarray]], optimizer: Any,
                     batch: int, rng: np.random.Generator) -> Iterator[tuple[float, np.ndarray, np.ndarray]]:
        """One epoch of mini-batch steps: (batch loss, batch gradient, u after the step) for each batch.
        A step that is not finite is yielded before it is taken."""
        for columns, rows in self.data.parts(rng):
            for part, size in shuffled_batches(columns, rows, batch, rng):
                batch_loss, batch_grad = objective(u, part, size)
                if not (np.isfinite(batch_loss) and np.isfinite(batch_grad).all()):
                    yield batch_loss, batch_grad, u
                    return
                with np.errstate(all="ignore"):
                    u = optimizer.update(u, batch_grad)
                yield batch_loss, batch_grad, u

    def _finish(self, result: TrainResult, theta: np.ndarray, began: float, *, diverged: bool = False,
                reason: str) -> TrainResult:
        """Record the end; converged means first-order optimality, whatever rule stopped the run."""
        result.params = dict(zip(self.names, theta.tolist()))
        result.loss = result.history[-1] if not diverged else float("nan")
        result.diverged, result.stop_reason = diverged, reason
        if not diverged:
            result.optimality = self.optimality(theta)
            result.converged = result.optimality <= OPTIMAL or self._exact_fit(result)
        result.seconds = time.perf_counter() - began
        return result

    def _exact_fit(self, result: TrainResult) -> bool:
        """The built-in losses are never negative, so one that fell to rounding of 0 is at its minimum.

        There the per-row terms are rounding too, and their ratio to the gradient says nothing.
        """
        loss = result.history[-1]
        return self.problem.loss_entry.never_negative and 0 <= loss <= EXACT_FIT * result.history[0]

    @staticmethod
    def _divergence(loss: float, epoch: int, options: TrainOptions, preconditioned: bool) -> str:
        rate = options.learning_rate
        scaling = ("inputs centred and scaled to similar ranges" if preconditioned
                   else "preconditioning (leave out --no-precondition), or inputs centred and scaled to similar ranges")
        advice = (f"the learning rate {rate:g} is too large for this data: try --lr {rate / 10:g}, {scaling}, "
                  "or --optimizer lbfgs, which needs no learning rate"
                  if rate is not None else f"try {scaling}")
        return f"at epoch {epoch} the loss or its gradient became {loss:g}; {advice}"


def starting_point(problem: Problem, given: Mapping[str, float], zero: bool, seed: int) -> dict[str, float]:
    """Given values first; the rest 0 where `zero` (see closed_form.starts_at_zero), else seeded small random values.

    Zero is a saddle point for models like w2*tanh(w1*x1), hence the random start there.
    """
    rng = np.random.default_rng(seed)
    draws = rng.normal(0.0, INIT_SCALE, len(problem.params))
    return {name: float(given[name]) if name in given else (0.0 if zero else float(draw))
            for name, draw in zip(problem.params, draws)}
