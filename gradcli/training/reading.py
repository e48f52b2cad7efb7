"""Where a training run's rows come from: every row in memory (a part kept out for validation), or
the parts of data larger than memory, streamed from disk or held on Dask's workers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataError
from ..io.dataset import files_of, part_bytes, part_place
from ..io.layers import class_count as column_class_count
from ..io.spill import Spill
from ..language.columns import read_columns
from ..language.problem import Problem
from .passes import StreamedRows, gather_vectors, part_read


@dataclass
class Held:
    """The rows --validation kept out of training."""

    fraction: float
    columns: dict[str, Any]
    rows: int
    where: Any = None  # where(row): a 1-based validation row's place in the file


def split_rows(rows: int, fraction: float, seed: int) -> tuple[Any, Any]:
    """The 0-based indices of the training rows and of the validation rows, each in file order: the
    round(fraction x rows) rows that a permutation seeded by `seed` puts first are the validation's.
    Both must be at least one row."""
    count = int(round(fraction * rows))
    if count < 1 or count >= rows:
        raise DataError(f"--validation {fraction:g} of {rows:,} rows keeps {count:,} rows for validation and "
                        f"{rows - count:,} for training; each needs at least one row")
    order = np.random.default_rng(seed).permutation(rows)
    return np.sort(order[count:]), np.sort(order[:count])


def split_validation(columns: Mapping[str, Any], rows: int, fraction: float, seed: int,
                     place: Callable[[int], str], source: str
                     ) -> tuple[dict[str, Any], int, Callable[[int], str], Held]:
    """The training rows' columns, their count and place(row) in the file, and the Held rows."""
    kept, held = split_rows(rows, fraction, seed)
    take = lambda picked: {name: np.ascontiguousarray(np.asarray(c)[picked]) for name, c in columns.items()}  # noqa: E731
    held_place = lambda row: f"{source} {place(int(held[row - 1]) + 1)} (a validation row)"  # noqa: E731
    return (take(kept), len(kept), lambda row: place(int(kept[row - 1]) + 1),
            Held(fraction, take(held), len(held), held_place))


def dataset_to_stream(data: Any, delimiter: str, budget: int) -> Any:
    """The Dataset to stream when `data` names files larger than `budget` in all; else None (read into memory)."""
    dataset = files_of(data, delimiter, budget)
    return dataset if dataset is not None and dataset.size > budget else None


def training_parts(dataset: Any, budget: int) -> list[Any]:
    """The parts a streamed or Dask run reads: the same for both given the same --memory, so that sgd
    draws the same mini-batches on either."""
    return dataset.parts(part_bytes(budget))


def class_count(dataset: Any, target: str, budget: int | None) -> int:
    """ce over parts: the number of classes in the target column of every part (one pass, that column
    only), each part's values checked as class indices, a bad one named by its file and row."""
    count = 2
    for part in training_parts(dataset, budget or dataset.size):
        table = part.load([target])
        if table.rows:
            count = max(count, column_class_count(table.columns[target], target,
                                                  lambda row, part=part: f"{part.name} {part_place(part, row)}"))
    return count


def streamed_rows(dataset: Any, problem: Problem, budget: int, tick: Any = None, spill: bool = True) -> Any:
    """The dataset's training_parts, read from disk on every pass (passes.StreamedRows; close it, or use
    it as a context manager). Each part is checked as it is read (passes.part_read); with `spill`,
    CSV parts are kept as binary after their first reading (io/spill.py)."""
    parts = training_parts(dataset, budget)
    kept = None
    if spill and any(part.kind == "csv" for part in parts):
        kept = Spill(read_columns(problem))  # the columns as read: a vector input is gathered after

    def load(i: int) -> tuple[dict[str, Any], int]:
        found = kept.read(i) if kept is not None else None
        if found is not None:
            return gather_vectors(problem, found[0]), found[1]
        columns, rows = part_read(parts[i], problem)
        if kept is not None and parts[i].kind == "csv":
            kept.write(i, columns, rows)
        return gather_vectors(problem, columns), rows

    try:
        return StreamedRows(load, len(parts), len(dataset.files), tick, sources=parts,
                            on_close=kept.close if kept is not None else None)
    except BaseException:
        if kept is not None:
            kept.close()
        raise


def data_place(data: Any, parts: list[Any], row: int) -> str:
    """Where the 1-based row `row` of all the streamed data is: its file, and its line and row there."""
    low = 0
    for part, size in zip(parts, data.sizes):
        if low < row <= low + size:
            return f"{part.name} {part_place(part, row - low)}"
        low += size
    return f"row {row}"
