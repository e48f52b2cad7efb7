"""`gradcli train` as a library call: choose the model, train it, then check the result two ways.

train() is the public entry point (gradcli.train): it checks the arguments as the CLI gives them
(training/arguments.py), trains where the rows are (training/runs.py: in memory, streamed or on
Dask; fit() in training/fitting.py trains and checks), and writes --save, --history and --plot.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ..engines.fresh import as_if_fresh
from ..language.losses import DEFAULT_DELTA
from .arguments import train_arguments, train_options
from .fitting import in_fixed_order
from .options import DEFAULT_EPOCHS, DEFAULT_PATIENCE, DEFAULT_TOL
from .report import TrainReport
from .runs import dataset_of, train_in_memory, train_on_parts, write_outputs


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
    given = train_arguments(
        options, data, model, model_file=model_file, loss=loss, delta=delta, target=target, init=init, save=save,
        history=history, plot=plot, delimiter=delimiter, memory=memory, dask=dask, workers=workers, shapes=shapes,
        dims=dims, inputs=inputs, validation=validation,
        callbacks={"progress": progress, "pass_progress": pass_progress, "dashboard": dashboard})
    dataset = dataset_of(data, given)
    if dataset is not None:
        report = train_on_parts(dataset, given, progress, pass_progress, workers, dashboard)
    else:
        report = train_in_memory(data, given, progress)
    if given.outputs and not report.result.diverged:
        write_outputs(report, given.outputs)
    return report
