"""`gradcli train` as a library call: choose the model, train it where its rows are (in memory, streamed
part by part, or on Dask), check the result two ways, and write --save, --history and --plot.

train() is the public entry point (gradcli.train), a thin builder: it checks train's own options, reads
the question (train_question: data first, its model optional) and calls answer(). fit() in
training/fitting.py trains and checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..engines.fresh import as_if_fresh
from ..errors import DataError, UndefinedError, placed, show_text, unused
from ..io.arguments import callback, memory_budget, number, parameter_values, probability, text
from ..io.arguments import delimiter as checked_delimiter
from ..io.dataset import open_dataset
from ..io.distributed import dask_client, dask_target
from ..io.layers import input_spec
from ..io.outputs import atomic_write_all, check_outputs, check_plot, history_writer, json_writer, plot_writer
from ..io.saved import saved_document
from ..io.sources import is_spec, model_text, one_stdin, open_table, param_values
from ..language.columns import model_columns, read_columns
from ..language.losses import DEFAULT_DELTA
from ..language.problem import Problem
from ..language.written import Written
from ..question import Question
from ..setup import check_targets
from ..training.arguments import train_options
from ..training.distributed import TrainingRows
from ..training.fitting import fit, in_fixed_order
from ..training.models import ChosenModel, dataset_problem, default_model, layered_problem, read_numbers
from ..training.options import DEFAULT_EPOCHS, DEFAULT_PATIENCE, DEFAULT_TOL, TrainOptions
from ..training.passes import Rows
from ..training.reading import data_place, dataset_to_stream, split_validation, streamed_rows, training_parts
from ..training.report import TrainReport

Tick = Callable[[int, int, int], None]  # (parts done, parts, rows done) during a pass


@as_if_fresh
@in_fixed_order
def train(
    data: Mapping[str, Any] | str | os.PathLike[str],
    model: str | None = None,
    *,
    model_file: str | os.PathLike[str] | None = None,
    loss: str = "mse",
    delta: float = DEFAULT_DELTA,
    target: str = "y",
    optimizer: str = "lbfgs",
    lr: float | None = None,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int | None = None,
    seed: int = 0,
    tol: float = DEFAULT_TOL,
    patience: int = DEFAULT_PATIENCE,
    precondition: bool = True,
    init: Mapping[str, float] | str | os.PathLike[str] | None = None,
    save: str | os.PathLike[str] | None = None,
    history: str | os.PathLike[str] | None = None,
    plot: str | os.PathLike[str] | None = None,
    progress: Callable[[int, float], None] | None = None,
    delimiter: str = ",",
    memory: int | str | None = None,
    pass_progress: Callable[[int, int, int], None] | None = None,
    dask: str | None = None,
    workers: int | None = None,
    dashboard: Callable[[str], None] | None = None,
    shapes: Any = None,
    dims: Any = None,
    inputs: Any = None,
    validation: float | None = None,
) -> TrainReport:
    """Fit a model to data by gradient descent and check the result (what `gradcli train` does).

    `data` is a CSV or Parquet file's path, a glob or directory of them, '-' for CSV on stdin (fields
    separated by `delimiter`: one character, or 'tab'), or a mapping of column name -> values. Data
    larger than `memory` (bytes, or text such as '2GB'; default a quarter of this machine's memory)
    is streamed from disk part by part, each pass reading it again; `pass_progress(parts done,
    parts, rows done)` is then called during each pass. `dask` trains on a Dask cluster (needs the
    dask extra): "local" starts a LocalCluster of `workers` processes (default one per CPU) and closes
    it on every way out, Ctrl-C included; an address such as tcp://host:8786 connects to a running
    scheduler, whose workers read the files at the same paths. The data is then files only, cut into
    the parts a streamed run with the same `memory` reads, each kept in a worker's memory; each
    evaluation is one pass over them, and `dashboard(address)` is told where Dask's dashboard is. Without
    `model` (or `model_file`), the model is b + a weight per column. `init` gives starting values
    (a mapping, NAME=VALUE,... or a JSON file). `save`, `history` and `plot` name files to write,
    all of them or none, each atomically, unless training diverged; they are checked before
    training starts. `progress(epoch, loss)` is called after each epoch. `precondition` (default on)
    lets the optimisers step in coordinates where the loss is about as curved in every direction
    (see training/precondition.py); off, they step in the parameters themselves, as in a textbook.

    Names may be vectors and matrices, as in gradcli.gradients: `shapes` declares them ({"W1": "16x2"}
    or ["W1=16x2"]), `dims` names sizes ({"h": 16}), `inputs` gathers a vector input from columns
    ({"x": "x1,x2"} or {"x": "*"}; by default x in W1 @ x gathers x1, x2, ...). Weights then start
    from a seeded Glorot (He under relu) draw and biases at 0; `init` may give them as nested lists
    (a file train --save wrote). `validation` (strictly between 0 and 1) keeps that fraction of the
    rows, drawn with `seed`, out of training: their loss is recorded after every epoch
    (report.validation_history) and report.metrics measures the model on them too. It needs the data
    in memory (not streamed, not on Dask).
    Raises GradcliError (and subclasses) for bad input.
    """
    options = train_options(optimizer, lr, epochs, batch_size, seed, tol, patience, precondition)
    question, fraction, outputs = train_question(
        data, model, model_file=model_file, loss=loss, delta=delta, target=target, init=init, save=save,
        history=history, plot=plot, delimiter=delimiter, memory=memory, dask=dask, workers=workers, shapes=shapes,
        dims=dims, inputs=inputs, validation=validation,
        callbacks={"progress": progress, "pass_progress": pass_progress, "dashboard": dashboard})
    report = answer(question, options, fraction=fraction, progress=progress, pass_progress=pass_progress)
    if outputs and not report.result.diverged:
        write_outputs(report, outputs)
    return report


def train_question(data: Any, model: str | None, *, model_file: Any, loss: str, delta: float, target: str, init: Any,
                   save: Any, history: Any, plot: Any, delimiter: str, memory: Any, dask: str | None,
                   workers: int | None, shapes: Any, dims: Any, inputs: Any, validation: float | None,
                   callbacks: Mapping[str, Callable[..., Any] | None],
                   ) -> tuple[Question, float | None, dict[str, Path]]:
    """train's question, read once, with --validation and the output files checked before anything is read.

    train reads its data first and its model may be left out (then made from the columns:
    question.model is None), so its question is read here, in the order of train's own messages (the
    output files before the model), rather than by question.ask. A bad argument is a GradcliError
    naming its option; the order of the checks is the order of the messages a user sees."""
    text(loss, "--loss"), text(target, "--target"), number(delta, "--delta")
    for name, function in callbacks.items():
        callback(function, name)
    fraction = probability(validation, "--validation", none=True)
    spec = input_spec(inputs)
    where = dask_target(dask, workers, data)
    delimiter = checked_delimiter(delimiter)
    one_stdin({"the data": data, "--model-file": model_file, "--init": init})
    read = [os.fspath(spec) for spec in (data, model_file, init) if is_spec(spec)]
    outputs = check_outputs({"--save": save, "--plot": plot, "--history": history}, read)
    check_plot(None if plot is None else os.fspath(plot))
    chosen = None
    if model is not None or model_file is not None:
        written, from_file = model_text(model, model_file)
        chosen = Written(written, "model", from_file)
    start = parameter_values(param_values(init, "--init"), "--init")
    budget = memory_budget(memory)
    dataset = dataset_to_stream(data, delimiter, budget) if where is None else open_dataset(os.fspath(data), "data",
                                                                                            delimiter)
    table = open_table(data, delimiter=delimiter, max_bytes=budget) if dataset is None else None
    question = Question(chosen, Written(loss, "loss"), target, start, dataset=dataset, budget=budget, table=table,
                        delta=delta, shapes=shapes, dims=dims, inputs=spec, delimiter=delimiter, dask=where,
                        workers=workers, dashboard=callbacks.get("dashboard"))
    return question, fraction, outputs


def answer(question: Question, options: TrainOptions, *, fraction: float | None = None, progress: Any = None,
           pass_progress: Tick | None = None) -> TrainReport:
    """train's answer to a question: a model fitted to its rows, in memory or part by part, and checked."""
    if question.dataset is not None:
        return train_on_parts(question, options, fraction, progress, pass_progress)
    return train_in_memory(question, options, fraction, progress)


def chosen_model(question: Question, header: list[str], source: str) -> ChosenModel:
    """The question's model, or (none given) b + a weight per column."""
    if question.model is None:
        return default_model(header, question.target, source)
    return ChosenModel(question.model.text, False, question.model.from_file)


def train_in_memory(question: Question, options: TrainOptions, fraction: float | None, progress: Any) -> TrainReport:
    """train with every row in memory (--validation's rows kept apart)."""
    loss, target, table = question.loss.text, question.target, question.table
    assert table is not None
    source = table.name
    chosen = chosen_model(question, table.header, source)
    wanted = model_columns(chosen.source, loss, target, table.header, source, from_file=chosen.from_file,
                           inputs_must_exist=True, inputs=question.inputs)
    read = read_numbers(table, [*wanted, target] if target in table.header else wanted, chosen, target)
    problem, columns, start = layered_problem(
        chosen.source, loss, target, read.columns, read.rows, wanted, question.params, **question.layers,
        delta=question.delta, from_file=chosen.from_file, where=lambda row: f"{table.place(row)} of {source}")
    warnings = options.ignored() + table.unused(set(read_columns(problem)))
    rows, place, held = read.rows, table.place, None
    if fraction is not None:
        check_targets(problem, columns[target], source, table.place)  # the held-out rows too
        columns, rows, place, held = split_validation(columns, read.rows, fraction, options.seed, table.place,
                                                      source)
        del read  # only the two sets' copies of the rows are kept
    try:
        report = fit(chosen, problem, columns, rows, options, start, question.delta, progress, source,
                     where=place, validation=held)
    except UndefinedError as err:  # undefined at the starting point: name the file and line
        raise placed(err, lambda row: f"{source} {place(row)}") from None
    report.files = getattr(table, "files", 1)
    report.warnings[:0] = warnings
    return report


def train_on_parts(question: Question, options: TrainOptions, fraction: float | None, progress: Any,
                   tick: Tick | None) -> TrainReport:
    """train on data read part by part: on Dask (question.dask), or streamed from disk."""
    dataset = question.dataset
    if fraction is not None:
        how = ("on Dask the rows are on the workers" if question.dask is not None else
               f"{show_text(dataset.name)} ({dataset.size:,} bytes) is larger than --memory "
               f"({question.budget:,} bytes) and is streamed from disk")
        raise DataError(f"--validation keeps rows out of training in memory, and {how}; give a larger "
                        "--memory, or split the data into two files yourself and check the model with "
                        "`gradcli predict` on the second")
    given = None if question.model is None else chosen_model(question, dataset.header, dataset.name)
    chosen, problem, start = dataset_problem(dataset, given, question.loss.text, question.target, question.delta,
                                             question.from_file, question.layers, question.params, question.budget)
    if question.dask is not None:
        report = train_on_dask(question, options, chosen, problem, start, progress, tick)
    else:
        with streamed_rows(dataset, problem, question.budget, tick) as data:
            report = fit_parts(chosen, problem, data, data.sources, options, question.delta, start, progress,
                               dataset.name)
    read = set(read_columns(report.problem))
    report.warnings[:0] = options.ignored() + unused("column", [n for n in dataset.header if n not in read],
                                                     f"of {dataset.name} {{verb}} not used by the model")
    return report


def train_on_dask(question: Question, options: TrainOptions, chosen: ChosenModel, problem: Problem,
                  start: Mapping[str, Any], progress: Any, tick: Tick | None) -> TrainReport:
    """train on a Dask cluster: the parts read once, on the workers, and kept there; one pass per evaluation."""
    dataset = question.dataset
    parts = training_parts(dataset, question.budget)
    with dask_client(question.dask, question.workers, question.dashboard) as client:
        data = TrainingRows(client, parts, problem, len(dataset.files), tick)
        return fit_parts(chosen, problem, data, parts, options, question.delta, start, progress, dataset.name)


def fit_parts(chosen: ChosenModel, problem: Problem, data: Rows, parts: list[Any], options: TrainOptions,
              delta: float, start: Mapping[str, Any], progress: Any, source: str) -> TrainReport:
    """fit() over rows held in parts (streamed or on Dask), an undefined start named by its file, line and row."""
    try:
        return fit(chosen, problem, data, data.rows, options, start, delta, progress, source)
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
