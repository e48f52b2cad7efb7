"""The mean loss over the training rows and its gradient at a parameter vector, from the graph engine.

The data stays in NumPy columns (or in parts: training/passes.py); every gradient is one
vectorised forward and reverse sweep over a batch of rows (no Python loop over rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..engines.graph import Graph, backprop, build_graph
from ..engines.sweep import compile_plan
from ..engines.sweep import run as sweep
from ..errors import UndefinedError, placed
from ..language.problem import Problem
from .passes import MemoryRows, Rows


class MeanLoss:
    """Holds the graph and the columns, and evaluates the mean loss and its gradient over them."""

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

    def diagnose(self, params: Mapping[str, float]) -> None:
        """Raise the UndefinedError naming the operation and the row (counted over all the data) where
        the loss or its gradient is not finite."""
        low = 0
        for columns, rows in self.data.parts():
            try:
                backprop(self.graph, dict(params), columns, rows, self.names)
            except UndefinedError as err:
                raise placed(err, lambda row, low=low: f"row {row + low}") from None
            low += rows
