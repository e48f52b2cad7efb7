"""`gradcli predict`: a saved model's predictions for new rows."""

import sys
from typing import Annotated

import typer

import gradcli

from ..errors import GradcliError
from .app import app, say_dashboard, user_errors, warn_all
from .options import Command, WorkersOption


@app.command(cls=Command)
def predict(
    model: Annotated[str, typer.Argument(help="A saved model: the file `gradcli train --save` wrote.")],
    data: Annotated[str | None, typer.Argument(
        show_default=False,
        help="A CSV or Parquet file with the model's input columns, a glob or directory of them (quote the glob), or "
             "'-' for CSV on stdin (the default when stdin is not a terminal).")] = None,
    output: Annotated[str | None, typer.Option(
        "--output", "-o", metavar="FILE|DIR", show_default=False,
        help="Write here (atomically) instead of stdout: a FILE (Parquet if it ends in .parquet, else CSV), or a "
             "directory (existing, or a name ending in '/'): one file per input file, with its name and "
             "format; '-' is stdout.")] = None,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", metavar="T", show_default=False,
        help="For a model trained with --loss bce: add a column 'class', 1 where yhat >= T, else 0 (T strictly "
             "between 0 and 1).")] = None,
    delimiter: Annotated[str, typer.Option(
        "--delimiter", metavar="CHAR",
        help="What separates the data's fields: one character such as ';' or '|', or 'tab' (the output is "
             "comma-separated).")] = ",",
    memory: Annotated[str | None, typer.Option(
        "--memory", metavar="SIZE", show_default=False,
        help="Data larger than this (2GB, 512MiB; default a quarter of this machine's memory) is read and written "
             "part by part.")] = None,
    dask: Annotated[str | None, typer.Option(
        "--dask", metavar="ADDRESS", show_default=False,
        help="Predict on Dask (needs the dask extra): 'local' starts a cluster on this machine, closed when the "
             "command ends; an address such as tcp://host:8786 uses a running one, whose workers see the files and "
             "--output at the same paths. Needs --output DIR, new or empty: each worker writes its parts there as "
             "Parquet (part-00000.parquet, ...), and the directory appears whole or not at all.")] = None,
    workers: WorkersOption = None,
) -> None:
    """Predict with a trained model: the input rows plus a yhat column, as CSV.

    Numbers are written as the shortest decimal that reads back to the same float (1 as 1.0);
    columns the model does not read are copied as they are. Several files (a glob or a directory)
    are written as one CSV, rows in file order, or with --output DIR/ one output file per input.
    With --dask, Parquet parts in a new directory, written by a Dask cluster's workers.

    Example: gradcli predict params.json samples/new.csv > predictions.csv
    """
    with user_errors():
        if data is None:
            if sys.stdin is not None and sys.stdin.isatty():  # reading it would wait for typing, silently
                raise GradcliError(f"no data given: name a CSV or Parquet file (gradcli predict {model} DATA), "
                                   "or pipe CSV into stdin")
            data = "-"
        if output == "-":  # stdout, as '-' is stdin for the data
            output = None
        result = gradcli.predict(model, data, output=output, threshold=threshold, delimiter=delimiter,
                                 memory=memory, dask=dask, workers=workers, dashboard=say_dashboard)
    warn_all(result.warnings)
    if dask is not None:
        sys.stderr.write(f"gradcli: wrote {result.rows:,} rows in {len(result.outputs):,} Parquet "
                         f"part{'s' if len(result.outputs) != 1 else ''} to {output}\n")
    if output is None:
        from ..views.predict import predictions_csv  # the prediction task's modules: only when printing

        with user_errors():  # a part read again that cannot be read now (a file changed meanwhile)
            predictions_csv(result)
