"""How good a trained model's predictions are, beyond its loss: accuracy for classifiers, R² for regression.

Which metric a loss gets is its entry's `metric` in the loss table (language/losses.py):
- accuracy, for a probability loss (bce): the share of predictions where the predicted class
  (yhat >= 0.5) is the target's (y >= 0.5): one per row, or one per entry for a vector of outputs
  against a gathered vector target; for a class-index loss (ce): the share of rows where the
  highest score is the target's class index;
- R², for mse, mae and huber on a model with one output: R² = 1 - SSE / SST, the share of the
  target's variance about its own mean that the model explains (1 is a perfect fit, 0 what
  predicting the mean gives, below 0 worse than that);
- any other loss: none (a custom loss says nothing of what a good prediction is).

Each is a sum over rows, so it is computed part by part wherever the rows are (in memory, streamed
or on Dask) through Rows.map, and the parts' sums are combined (R²'s variance by Chan's update,
which needs no second pass and keeps its precision when the target is far from 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..engines.graph import Graph, model_values
from ..language.losses import ACCURACY, R2
from ..language.problem import Problem


def metric_kind(problem: Problem, graph: Graph) -> str | None:
    """'accuracy', 'r2' or None: the loss table's metric of the loss (see the module's docstring)."""
    metric = problem.loss_entry.metric
    if metric == ACCURACY:
        return "accuracy"
    if metric == R2 and not graph.nodes[graph.model].shape:
        return "r2"
    return None


def part_metric(columns: Mapping[str, Any], rows: int, graph: Graph, params: Mapping[str, float], kind: str,
                target: str, ce: bool = False) -> tuple[float, ...]:
    """One part's sums: (right, predictions) for accuracy (bce on a vector of outputs makes one
    prediction per entry); (rows, mean of y, sum of squares about it, SSE) for R². Module-level, so
    that a Dask worker can run it."""
    y = np.asarray(columns[target], dtype=np.float64)
    with np.errstate(all="ignore"):
        yhat = model_values(graph, params, columns, rows, diagnose=False)
        if kind == "accuracy":
            if ce:  # the class of the highest score (a row with a nan score is wrong)
                picked = np.where(np.isfinite(yhat).all(axis=1), np.argmax(yhat, axis=1), -1)
                return (float(np.sum(picked == y)), float(rows))
            right = (np.asarray(yhat) >= 0.5) == (np.broadcast_to(y, np.shape(yhat)) >= 0.5)
            return (float(np.sum(right)), float(right.size))
        mean = float(np.mean(y))
        return (float(rows), mean, float(np.sum((y - mean) ** 2)), float(np.sum((np.asarray(yhat) - y) ** 2)))


def combine(kind: str, parts: list[tuple[tuple[float, ...], int]]) -> dict[str, float | None]:
    """The parts' sums as the metric over all their rows."""
    rows = sum(count for _, count in parts)
    if not rows:
        return {}
    if kind == "accuracy":
        total = sum(sums[1] for sums, _ in parts)
        return {"accuracy": sum(sums[0] for sums, _ in parts) / total if total else None}
    count, mean, squares, sse = 0.0, 0.0, 0.0, 0.0
    for (n, part_mean, part_squares, part_sse), _ in parts:  # Chan et al.: pairwise update of mean and M2
        if not n:
            continue
        delta = part_mean - mean
        total = count + n
        mean += delta * n / total
        squares += part_squares + delta * delta * count * n / total
        count, sse = total, sse + part_sse
    if not np.isfinite(sse):
        return {"r2": None}
    return {"r2": 1.0 - sse / squares if squares > 0 else (1.0 if sse == 0 else None)}


def metrics(problem: Problem, graph: Graph, data: Any, params: Mapping[str, float]) -> dict[str, float | None]:
    """The metric of the model at params over a Rows (training/passes.py): {} where none applies."""
    kind = metric_kind(problem, graph)
    if kind is None:
        return {}
    return combine(kind, data.map(part_metric, graph, dict(params), kind, problem.target,
                                  problem.loss_entry.classes))
