"""A training run where its rows are: read into memory, streamed from disk part by part, or held on Dask.

Each reads its model and problem, calls fit(), names an undefined start by its file and line, and
puts its warnings (ignored options, unused columns) first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import DataError, UndefinedError, placed, show_text, unused
from ..io.dataset import open_dataset
from ..io.distributed import dask_client
from ..io.outputs import atomic_write_all, history_writer, json_writer, plot_writer
from ..io.saved import saved_document
from ..io.sources import open_table
from ..language.columns import model_columns, read_columns
from ..language.problem import Problem
from .arguments import TrainArguments
from .distributed import TrainingRows
from .fitting import fit
from .models import ChosenModel, dataset_problem, default_model, layered_problem, read_numbers
from .passes import Rows
from .reading import data_place, dataset_to_stream, split_validation, streamed_rows, training_parts
from .report import TrainReport

Tick = Callable[[int, int, int], None]  # (parts done, parts, rows done) during a pass


def dataset_of(data: Any, given: TrainArguments) -> Any:
    """The Dataset to train on part by part (on Dask, or larger than --memory); None: read into memory."""
    if given.where is None:
        return dataset_to_stream(data, given.delimiter, given.budget)
    return open_dataset(os.fspath(data), "data", given.delimiter)


def train_in_memory(data: Any, given: TrainArguments, progress: Any) -> TrainReport:
    """train with every row in memory (--validation's rows kept apart)."""
    from ..setup import check_targets

    loss, target, options = given.loss, given.target, given.options
    table = open_table(data, delimiter=given.delimiter, max_bytes=given.budget)
    source = table.name
    chosen = given.chosen or default_model(table.header, target, source)
    wanted = model_columns(chosen.text, loss, target, table.header, source, from_file=given.from_file,
                           inputs_must_exist=True, inputs=given.layers["inputs"])
    read = read_numbers(table, [*wanted, target] if target in table.header else wanted, chosen, target)
    problem, columns, start = layered_problem(
        chosen.text, loss, target, read.columns, read.rows, wanted, given.start, **given.layers, delta=given.delta,
        from_file=given.from_file, where=lambda row: f"{table.place(row)} of {source}")
    warnings = options.ignored() + table.unused(set(read_columns(problem)))
    rows, place, held = read.rows, table.place, None
    if given.fraction is not None:
        check_targets(problem, columns[target], source, table.place)  # the held-out rows too
        columns, rows, place, held = split_validation(columns, read.rows, given.fraction, options.seed, table.place,
                                                      source)
        del read  # only the two sets' copies of the rows are kept
    try:
        report = fit(chosen, problem, columns, rows, options, start, given.delta, progress, source, given.from_file,
                     where=place, validation=held)
    except UndefinedError as err:  # undefined at the starting point: name the file and line
        raise placed(err, lambda row: f"{source} {place(row)}") from None
    report.files = getattr(table, "files", 1)
    report.warnings[:0] = warnings
    return report


def train_on_parts(dataset: Any, given: TrainArguments, progress: Any, tick: Tick | None, workers: int | None,
                   dashboard: Any) -> TrainReport:
    """train on data read part by part: on Dask (given.where), or streamed from disk."""
    if given.fraction is not None:
        how = ("on Dask the rows are on the workers" if given.where is not None else
               f"{show_text(dataset.name)} ({dataset.size:,} bytes) is larger than --memory ({given.budget:,} bytes) "
               "and is streamed from disk")
        raise DataError(f"--validation keeps rows out of training in memory, and {how}; give a larger "
                        "--memory, or split the data into two files yourself and check the model with "
                        "`gradcli predict` on the second")
    chosen, problem, start = dataset_problem(dataset, given.chosen, given.loss, given.target, given.delta,
                                             given.from_file, given.layers, given.start, given.budget)
    if given.where is not None:
        report = train_on_dask(dataset, chosen, problem, start, given, progress, tick, workers, dashboard)
    else:
        report = train_streamed(dataset, chosen, problem, start, given, progress, tick)
    read = set(read_columns(report.problem))
    report.warnings[:0] = given.options.ignored() + unused("column", [n for n in dataset.header if n not in read],
                                                           f"of {dataset.name} {{verb}} not used by the model")
    return report


def train_streamed(dataset: Any, chosen: ChosenModel, problem: Problem, start: Mapping[str, Any],
                   given: TrainArguments, progress: Any, tick: Tick | None) -> TrainReport:
    """train over data larger than memory: the parts read from disk on every pass."""
    with streamed_rows(dataset, problem, given.budget, tick) as data:
        return fit_parts(chosen, problem, data, data.sources, given, start, progress, dataset.name)


def train_on_dask(dataset: Any, chosen: ChosenModel, problem: Problem, start: Mapping[str, Any],
                  given: TrainArguments, progress: Any, tick: Tick | None, workers: int | None,
                  dashboard: Any) -> TrainReport:
    """train on a Dask cluster: the parts read once, on the workers, and kept there; one pass per evaluation."""
    assert given.where is not None
    parts = training_parts(dataset, given.budget)
    with dask_client(given.where, workers, dashboard) as client:
        data = TrainingRows(client, parts, problem, len(dataset.files), tick)
        return fit_parts(chosen, problem, data, parts, given, start, progress, dataset.name)


def fit_parts(chosen: ChosenModel, problem: Problem, data: Rows, parts: list[Any], given: TrainArguments,
              start: Mapping[str, Any], progress: Any, source: str) -> TrainReport:
    """fit() over rows held in parts (streamed or on Dask), an undefined start named by its file, line and row."""
    try:
        return fit(chosen, problem, data, data.rows, given.options, start, given.delta, progress, source,
                   given.from_file)
    except UndefinedError as err:  # undefined at the starting point: name the file and row
        raise placed(err, lambda row: data_place(data, parts, row)) from None


def write_outputs(report: TrainReport, outputs: Mapping[str, Any]) -> None:
    """--save, --history and --plot: all of them or none, each atomically."""
    writers = []
    if "--save" in outputs:
        writers.append(json_writer(outputs["--save"], saved_document(report)))
    if "--history" in outputs:
        writers.append(history_writer(outputs["--history"], report.result.history, report.validation_history))
    if "--plot" in outputs:
        writers.append(plot_writer(outputs["--plot"], report.result.history,
                                   f"{report.model.text}  ({report.problem.loss_name})", report.validation_history))
    atomic_write_all(writers)
