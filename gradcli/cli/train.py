"""`gradcli train`: fit a model to data by gradient descent, and check the result."""

from enum import Enum
from typing import Annotated

import typer

import gradcli

from ..training.options import DEFAULT_EPOCHS, DEFAULT_OPTIMIZER, DEFAULT_PATIENCE, DEFAULT_TOL, OPTIMIZERS
from ..views.formats import offered
from .app import app, failed_if, say_dashboard, user_errors, warn, warn_all
from .options import Asked, Command, asks

# The choices come from the optimisers' table, so a new optimiser needs no change here.
Optimizer = Enum("Optimizer", {name: name for name in OPTIMIZERS}, type=str)  # type: ignore[misc]

# Options of train alone, named here to keep its signature short.
NoPreconditionOption = Annotated[bool, typer.Option(
    "--no-precondition",
    help="The textbook update on the parameters themselves. By default the optimisers step in coordinates where "
         "the loss is about as curved in every direction, so inputs of any scale need no --lr tuning.")]
InitOption = Annotated[str | None, typer.Option(
    "--init", metavar="NAME=VALUE,...|FILE", show_default=False,
    help="Starting values: NAME=VALUE,... or a JSON file (default 0, or seeded random for a non-linear "
         "model).")]
SaveOption = Annotated[str | None, typer.Option(
    "--save", metavar="FILE", show_default=False,
    help="Write the model and its parameters as JSON (for `gradcli predict`).")]
PlotOption = Annotated[str | None, typer.Option(
    "--plot", metavar="FILE", show_default=False,
    help="Draw the loss curve to FILE.png or FILE.svg (needs matplotlib: the plot extra).")]
MemoryOption = Annotated[str | None, typer.Option(
    "--memory", metavar="SIZE", show_default=False,
    help="Data larger than this (2GB, 512MiB; default a quarter of this machine's memory) is streamed from disk "
         "part by part, a pass per evaluation.")]
ValidationOption = Annotated[float | None, typer.Option(
    "--validation", metavar="FRACTION", show_default=False,
    help="Keep this fraction of the rows (strictly between 0 and 1, drawn with --seed) out of training: their "
         "loss is shown beside the training loss after every epoch, and accuracy (bce, ce) or R² (mse) on them. "
         "Data in memory only.")]


@app.command(cls=Command)
@asks(without=("params", "wrt"),
      after={"shape": "workers", "dim": "shape", "input": "dim", "target": "delta", "memory": "delimiter",
             "validation": "input"})
def train(
    asked: Asked,
    data: Annotated[str, typer.Argument(
        help="A CSV or Parquet file with a header row, a glob or directory of them (quote the glob), or '-' for CSV "
             "on stdin.")],
    model: Annotated[str | None, typer.Option(
        "--model", "-m", metavar="EXPR", show_default=False,
        help="The model; default: b + a weight per column (w1*x1 for x1, w_size*size for size).")] = None,
    target: Annotated[str, typer.Option("--target", "-t", metavar="NAME", help="The target column.")] = "y",
    optimizer: Annotated[Optimizer, typer.Option(
        "--optimizer", "-o",
        help="lbfgs needs no learning rate; gd, sgd, momentum and adam use --lr.")] = Optimizer[DEFAULT_OPTIMIZER],
    lr: Annotated[float | None, typer.Option(
        "--lr", show_default=False,
        help="Learning rate (default: gd 0.1, sgd/momentum/adam 0.01).")] = None,
    epochs: Annotated[int, typer.Option(
        "--epochs", min=1,
        help="At most this many passes over the data.")] = DEFAULT_EPOCHS,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", min=1, show_default=False,
        help="Rows per step (default: all; sgd 32).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for shuffling and for a random start.")] = 0,
    tol: Annotated[float, typer.Option(
        "--tol",
        help="Stop when the loss changes by less than this (relative) ...")] = DEFAULT_TOL,
    patience: Annotated[int, typer.Option(
        "--patience", min=1,
        help="... for this many epochs in a row.")] = DEFAULT_PATIENCE,
    no_precondition: NoPreconditionOption = False,
    init: InitOption = None,
    save: SaveOption = None,
    plot: PlotOption = None,
    history: Annotated[str | None, typer.Option(
        "--history", metavar="FILE", show_default=False,
        help="Write the loss per epoch as CSV.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    memory: MemoryOption = None,
    validation: ValidationOption = None,
) -> None:
    """Fit a model to a CSV file by gradient descent, with backprop gradients, and check the result.

    Linear model + mse: also solved by least squares, with the distance shown. At the end the
    final gradient is computed by both engines. Data larger than --memory is streamed; with --dask
    it is held on a Dask cluster's workers, each evaluation one pass there. Networks: --shape makes
    names vectors and matrices (as for grad: --model "sigmoid(W2 @ tanh(W1 @ x + b1) + b2)"
    --shape W1=16x2); weights start from a seeded Glorot (He under relu) draw, biases at 0.
    Exit 0 ok, 1 diverged or the check failed, 2 bad input.

    Example: gradcli train samples/data.csv --optimizer adam --lr 0.05 --save params.json
    """
    from ..views.progress import epoch_progress  # only a training run draws a progress bar: --help skips it

    with user_errors(), epoch_progress(quiet, epochs) as bar:
        report = gradcli.train(**asked.keywords, data=data, model=model, target=target, optimizer=optimizer.value,
                               lr=lr, epochs=epochs, batch_size=batch_size, seed=seed, tol=tol, patience=patience,
                               precondition=not no_precondition, init=init, save=save, history=history, plot=plot,
                               progress=bar and bar.epoch, memory=memory, pass_progress=bar and bar.part,
                               dashboard=say_dashboard, validation=validation)
    warn_all(report.warnings)
    if report.result.diverged:
        warn(report.result.stop_reason)
    offered("train").render(asked.format, report)
    failed_if(report.failed)
