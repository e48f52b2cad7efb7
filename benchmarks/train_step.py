"""One full-batch training step of gradcli against a hand-written NumPy gradient.

Linear model b + w1*x1 + ... + wd*xd with mse over N rows (default 1e6 x 10).
Prints a table: the median of interleaved repetitions of
  - numpy: the hand-written gradient 2/N * X.T @ (X@w + b - y) and the update,
  - gradcli: Trainer.objective (graph forward + reverse sweep over the columns) and the update,
and the time the default optimiser (L-BFGS) takes to reach the least-squares optimum.

Run: python -m benchmarks.train_step [--rows N] [--inputs D] [--repeat K] (target 7)
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from gradcli.training.closed_form import least_squares
from gradcli.training.loop import Trainer
from gradcli.training.models import default_model, problem_for
from gradcli.training.options import TrainOptions

from .common import Row, interleaved


def make_data(rows: int, inputs: int, seed: int = 1) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, inputs))
    true = rng.normal(size=inputs)
    y = 0.5 + X @ true + rng.normal(0, 0.1, rows)
    columns = {f"x{i + 1}": np.ascontiguousarray(X[:, i]) for i in range(inputs)}
    columns["y"] = y
    return columns, X, y


def step_times(rows: int, inputs: int, repeat: int) -> tuple[float, float, Trainer, Any]:
    """Median seconds of one numpy step and one gradcli step (interleaved), the trainer and its problem."""
    columns, X, y = make_data(rows, inputs)
    header = list(columns)
    model = default_model(header, "y", "bench")
    problem = problem_for(model.text, "mse", "y", header, "bench")
    trainer = Trainer(problem, columns, rows)
    theta = np.zeros(inputs + 1)
    lr = 0.1

    def numpy_step() -> None:
        w, b = theta[1:], theta[0]
        residual = X @ w + b - y
        grad_w = 2.0 / len(y) * (X.T @ residual)
        grad_b = 2.0 * residual.mean()
        np.concatenate(([b - lr * grad_b], w - lr * grad_w))

    def gradcli_step() -> None:
        _, grad = trainer.objective(theta)
        theta - lr * grad

    times = interleaved({"numpy": numpy_step, "gradcli": gradcli_step}, repeat)
    return times["numpy"], times["gradcli"], trainer, problem


def training_step(quick: bool) -> list[Row]:
    """Target 7: one full-batch step over 1e6 x 10 against the hand-written NumPy step."""
    numpy_s, gradcli_s, _, _ = step_times(1_000_000, 10, 5 if quick else 15)
    return [Row("7", "training step, 1e6 x 10, linear, mse", "ms", gradcli_s, "hand NumPy step", numpy_s, 1.2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--inputs", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    numpy_s, gradcli_s, trainer, problem = step_times(args.rows, args.inputs, args.repeat)
    numpy_ms, gradcli_ms = numpy_s * 1e3, gradcli_s * 1e3
    began = time.perf_counter()
    result = trainer.run({name: 0.0 for name in problem.params}, TrainOptions())
    fit_seconds = time.perf_counter() - began
    closed = least_squares(problem, trainer.graph, trainer.columns, args.rows, result.params)

    print(f"one full-batch training step, N={args.rows:,} rows x d={args.inputs} inputs, linear model, mse "
          f"(median of {args.repeat}, interleaved)")
    print(f"{'what':<44}{'time':>12}{'ratio':>8}")
    print(f"{'hand-written numpy: X.T @ (X@w + b - y)':<44}{numpy_ms:>9.1f} ms{1.0:>8.2f}")
    print(f"{'gradcli: compiled chunked sweep':<44}{gradcli_ms:>9.1f} ms{gradcli_ms / numpy_ms:>8.2f}"
          f"   target <= 1.20: {'holds' if gradcli_ms <= 1.2 * numpy_ms else 'MISSED'}")
    print(f"{'default optimiser (lbfgs) to the optimum':<44}{fit_seconds:>10.2f} s"
          f"   {result.epochs} epochs, relative distance to lstsq {closed.relative_distance:.2g}")


if __name__ == "__main__":
    main()
