"""The rows a training run sweeps, wherever they are: in memory, streamed from disk part by part, or on Dask.

The gradient of a mean loss is a sum over rows, so every full-batch evaluation is one pass: each
part's mean loss, gradient and per-row term sizes through the compiled sweep, weighted by its row
count and added up. The optimisers, stopping rules and checks see only `Rows`, so a run gives the
same numbers (to rounding) whichever engine holds the data.

Mini-batches (sgd, and gd, momentum and adam with --batch-size) come from a seeded shuffle buffer of
one part: the parts are visited in a seeded order and each part's rows are shuffled within it. That
is approximate shuffling across parts, and exact where all rows are one part (in memory). Given the
same parts, every engine draws the same mini-batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ..engines.sweep import Plan, Result, Stencil, stencil
from ..engines.sweep import run as sweep
from ..errors import DataError
from ..io.dataset import part_place
from ..io.layers import class_count
from ..language.columns import read_columns
from ..setup import check_targets

Columns = Mapping[str, Any]
Tick = Callable[[int, int, int], None]  # (parts done, parts in all, rows done) during a pass


class Rows(Protocol):
    engine: str  # "memory", "stream" or "dask"
    rows: int
    files: int

    def sweep(self, plan: Plan, params: Mapping[str, float], *, abs_terms: bool = False) -> Result:
        """The mean loss over every row and its gradient (and per-row term sizes) at params."""

    def parts(self, rng: np.random.Generator | None = None) -> Iterator[tuple[Columns, int]]:
        """Each part's columns in turn (in a seeded random order when rng is given)."""

    def take(self, picked: np.ndarray) -> Columns:
        """The rows at the given 0-based indices over all the data (sorted), in one table."""

    def map(self, function: Callable[..., Any], *args: Any) -> list[tuple[Any, int]]:
        """function(columns, rows, *args) on every part (where the part is), with each part's row count.
        `function` is a module-level function, so that it can run on a Dask worker."""


def combine(results: Sequence[tuple[Result, int]], rows: int, abs_terms: bool) -> Result:
    """Per-part means, weighted by their row counts, as the mean over all `rows`."""
    loss = sum(result.loss * count for result, count in results) / rows
    width = len(results[0][0].gradient) if results else 0
    gradient = np.zeros(width)
    terms = np.zeros(width) if abs_terms else None
    for result, count in results:
        gradient += np.asarray(result.gradient) * count
        if terms is not None:
            terms += np.asarray(result.abs_terms) * count
    return Result(loss, (gradient / rows).tolist(), (terms / rows).tolist() if terms is not None else None)


def part_sweep(columns: Columns, rows: int, plan: Plan, params: Mapping[str, float], abs_terms: bool) -> Result:
    """One part's share of a pass (Rows.map runs it where the part is)."""
    return sweep(plan, params, columns, rows, abs_terms=abs_terms)


def part_stencil(columns: Columns, rows: int, plan: Plan, points: Sequence[Mapping[str, float]]) -> Any:
    """One part's losses at a difference stencil's points and the kinks it crosses (sweep.stencil)."""
    return stencil(plan, list(points), columns, rows)


def stencil_over(data: Rows, plan: Plan, points: Sequence[Mapping[str, float]]) -> Any:
    """sweep.stencil over every part wherever it is: each point's mean loss over all rows, and every
    kink crossed in any part."""
    found = data.map(part_stencil, plan, list(points))
    losses = [sum(part.losses[k] * count for part, count in found) / data.rows for k in range(len(points))]
    crossed = list(dict.fromkeys(text for part, _ in found for text in part.crossed))
    return Stencil(losses, crossed)


def gather_vectors(problem: Any, columns: Columns) -> dict[str, Any]:
    """The columns the sweep reads: each vector input gathered from its columns as one rows x d array
    (a row's vector contiguous, as the matrix products read it)."""
    if not problem.gathered:
        return dict(columns)
    found = {name: columns[name] for name in (*problem.inputs, problem.target)
             if name not in problem.gathered and name in columns}  # predict has no target
    for name, sources in problem.gathered.items():
        if name == problem.target and sources[0] not in columns:  # predict reads no target
            continue
        found[name] = np.column_stack([columns[source] for source in sources])
    return found


def part_read(part: Any, problem: Any) -> tuple[dict[str, np.ndarray], int]:
    """One part's columns that the model reads (io/dataset.py's Part), checked as a whole file is:
    messages name the file, the row within it and the column; bce's targets must be in [0, 1], ce's
    class indices below the number of classes."""
    table = part.load(read_columns(problem))
    if table.rows:
        where = lambda row: part_place(part, row)  # noqa: E731
        check_targets(problem, table.columns[problem.target], part.name, where)
        if problem.loss_entry.classes:
            class_count(table.columns[problem.target], problem.target, lambda row: f"{part.name} {where(row)}")
    return table.columns, table.rows


def part_columns(part: Any, problem: Any) -> tuple[dict[str, np.ndarray], int]:
    """part_read's columns with the vector inputs gathered: what a sweep over the part reads.
    Module-level, so that a Dask worker can run it."""
    columns, rows = part_read(part, problem)
    return gather_vectors(problem, columns), rows


def shuffled_batches(columns: Columns, rows: int, batch: int,
                     rng: np.random.Generator) -> Iterator[tuple[Columns, int]]:
    """One part's rows in a seeded random order, in mini-batches of `batch` (the last may be smaller)."""
    order = rng.permutation(rows)
    shuffled = {name: np.asarray(column)[order] for name, column in columns.items()}
    for low in range(0, rows, batch):
        part = {name: column[low:low + batch] for name, column in shuffled.items()}
        yield part, min(batch, rows - low)


class MemoryRows:
    """Every row in NumPy columns: one part."""

    engine = "memory"

    def __init__(self, columns: Columns, rows: int, files: int = 1) -> None:
        self.columns, self.rows, self.files = columns, rows, files

    def sweep(self, plan: Plan, params: Mapping[str, float], *, abs_terms: bool = False) -> Result:
        return sweep(plan, params, self.columns, self.rows, abs_terms=abs_terms)

    def parts(self, rng: np.random.Generator | None = None) -> Iterator[tuple[Columns, int]]:
        yield self.columns, self.rows

    def take(self, picked: np.ndarray) -> Columns:
        return {name: np.asarray(column)[picked] if np.ndim(column) else column
                for name, column in self.columns.items()}

    def map(self, function: Callable[..., Any], *args: Any) -> list[tuple[Any, int]]:
        return [(function(self.columns, self.rows, *args), self.rows)]


class StreamedRows:
    """Parts read from disk one at a time, every pass: at most one part's columns are resident.

    `load(i)` reads part i's columns (checked, messages naming file, row and column); the first pass
    counts the rows, so `rows` is known once the object is made.
    """

    engine = "stream"

    def __init__(self, load: Callable[[int], tuple[Columns, int]], count: int, files: int,
                 tick: Tick | None = None, sources: Sequence[Any] = (),
                 on_close: Callable[[], None] | None = None) -> None:
        self.load, self.count, self.files, self.tick = load, count, files, tick
        self.sources = list(sources)  # what each part is (io.dataset.Part), for messages
        self.on_close = on_close
        self.sizes = [0] * count
        for i in range(count):  # the first pass: every part read and checked once, its rows counted
            self.sizes[i] = self.load(i)[1]
        self.rows = sum(self.sizes)
        if not self.rows:
            raise DataError("there are no data rows")

    def close(self) -> None:
        """Let go of what the parts keep on disk (io/spill.py); the object is not used after."""
        if self.on_close is not None:
            self.on_close()
            self.on_close = None

    def __enter__(self) -> StreamedRows:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _each(self, order: Sequence[int] | None = None) -> Iterator[tuple[int, Columns, int]]:
        done = 0
        for step, i in enumerate(order if order is not None else range(self.count)):
            if not self.sizes[i]:
                continue
            columns, rows = self.load(i)
            yield i, columns, rows
            done += rows
            if self.tick is not None:
                self.tick(step + 1, self.count, done)

    def sweep(self, plan: Plan, params: Mapping[str, float], *, abs_terms: bool = False) -> Result:
        return combine(self.map(part_sweep, plan, params, abs_terms), self.rows, abs_terms)

    def map(self, function: Callable[..., Any], *args: Any) -> list[tuple[Any, int]]:
        return [(function(columns, rows, *args), rows) for _, columns, rows in self._each()]

    def parts(self, rng: np.random.Generator | None = None) -> Iterator[tuple[Columns, int]]:
        order = rng.permutation(self.count).tolist() if rng is not None and self.count > 1 else None
        for _, columns, rows in self._each(order):
            yield columns, rows

    def take(self, picked: np.ndarray) -> Columns:
        return take_from(self._each(), self.sizes, picked)


def take_from(parts: Iterator[tuple[int, Columns, int]], sizes: Sequence[int], picked: np.ndarray) -> Columns:
    """The rows at global indices `picked` (sorted) gathered from parts visited in order."""
    starts = np.concatenate([[0], np.cumsum(sizes)])
    pieces: dict[str, list[Any]] = {}
    for i, columns, _ in parts:
        mine = picked[(picked >= starts[i]) & (picked < starts[i + 1])] - starts[i]
        if not len(mine):
            continue
        for name, column in columns.items():
            pieces.setdefault(name, []).append(np.asarray(column)[mine])
    return {name: np.concatenate(values) for name, values in pieces.items()}


def sample_rows(rows: int, most: int) -> np.ndarray:
    """At most `most` evenly spaced 0-based row indices (the rows the preconditioner is measured on)."""
    return np.unique(np.linspace(0, rows - 1, min(rows, most)).astype(np.int64))
