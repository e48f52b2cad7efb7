"""The training loop: gradient descent on the mean loss, gradients from the graph engine.

Each epoch is one step of the optimiser its entry names (options.OPTIMIZERS): a whole iteration
of a line search over every row, one step on the full batch, or a pass of mini-batch steps.
Stopping rules: --epochs, a relative change of the loss below --tol for --patience epochs in a
row (a plateau; a rising loss does not count), or divergence (a non-finite loss or gradient).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UndefinedError
from ..language.losses import LOSSES
from ..language.problem import Problem
from .objective import MeanLoss
from .optimizers import Rule, make_optimizer
from .options import INIT_SCALE, OPTIMIZERS, TrainOptions
from .passes import sample_rows, shuffled_batches
from .precondition import SAMPLE_ROWS, Preconditioner, identity, measure

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
Step = tuple[np.ndarray, float, np.ndarray, bool]  # (u, loss, gradient, moved) after an epoch


class Trainer(MeanLoss):
    """Holds the graph and the columns (objective.MeanLoss); `run` trains from a starting point."""

    def run(self, start: Mapping[str, float], options: TrainOptions, progress: Progress | None = None,
            validation: Held | None = None) -> TrainResult:
        """Train from `start`. The optimisers step in the preconditioned coordinates u (see
        precondition.py); losses, history and parameters are always the model's own.

        validation(theta), when given, is the mean loss over rows kept out of training: recorded
        beside `history` (at the start and after each epoch), never used to choose a step."""
        return Run(self, options, progress, validation).train(start)


def finite(loss: float, *arrays: np.ndarray) -> bool:
    return bool(np.isfinite(loss) and all(np.isfinite(array).all() for array in arrays))


class Run:
    """One training run, from its starting point to the rule that stops it."""

    def __init__(self, trainer: MeanLoss, options: TrainOptions, progress: Progress | None,
                 validation: Held | None) -> None:
        self.trainer, self.options, self.progress, self.validation = trainer, options, progress, validation
        self.began = time.perf_counter()
        self.result = TrainResult({}, {}, float("nan"), 0, False, False, "")
        self.change: Preconditioner | None = None

    def train(self, start: Mapping[str, float]) -> TrainResult:
        u, loss, grad = self.begin(start)
        options = self.options
        optimizer = make_optimizer(options.optimizer, options.lr)
        step = self.epoch_step(optimizer, options.batch(self.trainer.rows), np.random.default_rng(options.seed))
        stalled = 0
        for epoch in range(1, options.epochs + 1):
            u, loss, grad, moved = step(u, loss, grad)
            self.result.epochs = epoch
            if not moved:
                return self.stuck(u, loss)
            theta = self.params(u)
            if not finite(loss, grad, theta):
                return self.finish(theta, diverged=True, reason=self.divergence(loss, epoch))
            previous = self.result.history[-1]
            self.record(loss, theta)
            if self.progress is not None:
                self.progress(epoch, loss)
            if self.exact_fit():
                # converged by definition, so the run stops here, whatever the model and the optimiser: bce
                # or ce on rows a model separates fall geometrically towards 0 while the weights grow without
                # bound (and the held-out loss with them); at rounding of 0 there is nothing left to fit.
                # (Only networks stopped here once: L-BFGS on a separable set ran on to --epochs and then
                # reported converged beside "reached --epochs 1000".)
                return self.finish(theta, reason=EXACT_FIT_REASON)
            improvement = (previous - loss) / max(abs(previous), np.finfo(float).tiny)
            stalled = stalled + 1 if abs(improvement) < options.tol else 0  # a clear rise is no plateau either
            if stalled >= options.patience:
                return self.finish(theta, reason=f"the loss changed by less than {options.tol:g} (relative) "
                                                 f"for {options.patience} epochs")
        return self.finish(self.params(u), reason=f"reached --epochs {options.epochs}")

    def begin(self, start: Mapping[str, float]) -> tuple[np.ndarray, float, np.ndarray]:
        """The loss and gradient at `start`, undefined there named by operation and row; the change
        of coordinates measured there. Returns u = 0 (the start), the loss and the gradient in u."""
        trainer = self.trainer
        origin = np.array([start[name] for name in trainer.names], dtype=np.float64)
        loss, grad = trainer.objective(origin)
        self.result = TrainResult(dict(start), dict(start), loss, 0, False, False, "", [loss])
        if not finite(loss, grad):  # bad input, not divergence: name op and row
            trainer.diagnose(start)
            raise UndefinedError(f"the loss or its gradient is not finite at the starting point ({loss:g})")
        if self.validation is not None:
            self.result.validation_history.append(self.validation(origin))
        if self.options.precondition:
            picked = sample_rows(trainer.rows, SAMPLE_ROWS)
            self.change = measure(trainer.problem, trainer.graph, trainer.names, trainer.data.take(picked),
                                  len(picked), origin)
        else:
            self.change = identity(origin)
        self.result.preconditioned = self.change.matrix is not None
        return np.zeros_like(origin), loss, self.change.gradient(grad)

    def params(self, u: np.ndarray) -> np.ndarray:
        """The model's parameters at u."""
        assert self.change is not None
        return self.change.params(u)

    def objective(self, u: np.ndarray, columns: Mapping[str, Any] | None = None,
                  rows: int | None = None) -> tuple[float, np.ndarray]:
        """The mean loss and its gradient in u."""
        assert self.change is not None
        value, gradient = self.trainer.objective(self.change.params(u), columns, rows)
        return value, self.change.gradient(gradient)

    def epoch_step(self, optimizer: Rule, batch: int, rng: np.random.Generator
                   ) -> Callable[[np.ndarray, float, np.ndarray], Step]:
        """One epoch of this optimiser: a line search's iteration, a full-batch step or mini-batches."""
        if self.options.entry.line_search:
            def searched(u: np.ndarray, loss: float, grad: np.ndarray) -> Step:
                with np.errstate(all="ignore"):  # an overflowing slope just fails the line search
                    return optimizer.iterate(u, loss, grad, self.objective)  # type: ignore[union-attr]
            return searched
        if batch >= self.trainer.rows:
            def full(u: np.ndarray, loss: float, grad: np.ndarray) -> Step:
                with np.errstate(all="ignore"):  # a step that overflows is divergence, said after the step
                    u = optimizer.update(u, grad)  # type: ignore[union-attr]
                loss, grad = self.objective(u)
                return u, loss, grad, True
            return full

        def minibatches(u: np.ndarray, loss: float, grad: np.ndarray) -> Step:
            for batch_loss, batch_grad, stepped in self.minibatches(u, optimizer, batch, rng):
                u = stepped
                if not finite(batch_loss, batch_grad):
                    return u, batch_loss, batch_grad, True
            return u, self.trainer.mean_loss(self.params(u)), np.zeros_like(u), True
        return minibatches

    def minibatches(self, u: np.ndarray, optimizer: Any, batch: int,
                    rng: np.random.Generator) -> Iterator[tuple[float, np.ndarray, np.ndarray]]:
        """One epoch of mini-batch steps: (batch loss, batch gradient, u after the step) for each batch.
        A step that is not finite is yielded before it is taken."""
        for columns, rows in self.trainer.data.parts(rng):
            for part, size in shuffled_batches(columns, rows, batch, rng):
                batch_loss, batch_grad = self.objective(u, part, size)
                if not finite(batch_loss, batch_grad):
                    yield batch_loss, batch_grad, u
                    return
                with np.errstate(all="ignore"):
                    u = optimizer.update(u, batch_grad)
                yield batch_loss, batch_grad, u

    def record(self, value: float, theta: np.ndarray) -> None:
        """The loss after an epoch, and the validation rows' loss beside it."""
        self.result.history.append(value)
        if self.validation is not None:
            self.result.validation_history.append(self.validation(theta))

    def stuck(self, u: np.ndarray, loss: float) -> TrainResult:
        """The end of a line search that found no step lowering the loss."""
        self.record(loss, self.params(u))
        reason = EXACT_FIT_REASON if self.exact_fit() else "no step lowers the loss any further"
        done = self.finish(self.params(u), reason=reason)
        if not done.converged:
            done.stop_reason += (", yet the gradient is not zero: the problem is badly conditioned "
                                 "(inputs on very different scales or far from 0?)")
        return done

    def finish(self, theta: np.ndarray, *, diverged: bool = False, reason: str) -> TrainResult:
        """Record the end; converged means first-order optimality, whatever rule stopped the run."""
        result = self.result
        result.params = dict(zip(self.trainer.names, theta.tolist()))
        result.loss = result.history[-1] if not diverged else float("nan")
        result.diverged, result.stop_reason = diverged, reason
        if not diverged:
            result.optimality = self.trainer.optimality(theta)
            result.converged = result.optimality <= OPTIMAL or self.exact_fit()
        result.seconds = time.perf_counter() - self.began
        return result

    def exact_fit(self) -> bool:
        """The built-in losses are never negative, so one that fell to rounding of 0 is at its minimum.

        There the per-row terms are rounding too, and their ratio to the gradient says nothing.
        """
        loss, history = self.result.history[-1], self.result.history
        return self.trainer.problem.loss_name in LOSSES and 0 <= loss <= EXACT_FIT * history[0]

    def divergence(self, loss: float, epoch: int) -> str:
        """Why the run diverged, and what to try."""
        rate = self.options.learning_rate
        scaling = ("inputs centred and scaled to similar ranges" if self.result.preconditioned
                   else "preconditioning (leave out --no-precondition), or inputs centred and scaled to similar ranges")
        searching = " or ".join(f"--optimizer {name}" for name, entry in OPTIMIZERS.items() if entry.line_search)
        advice = (f"the learning rate {rate:g} is too large for this data: try --lr {rate / 10:g}, {scaling}, "
                  f"or {searching}, which needs no learning rate"
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
