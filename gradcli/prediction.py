"""`gradcli predict` as a library call: a saved model's prediction for every row of new data."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import GradcliError

CLASS_COLUMN = "class"  # what --threshold adds: 1 where yhat >= the threshold, else 0


@dataclass
class Predictions:
    """The input rows and the model's prediction for each: what `gradcli predict` writes as CSV.

    Written as CSV, every float64 column (the model's inputs and yhat) is the shortest decimal
    that reads back to the same float (repr: 1.0, 0.001, 1e-05); the other columns are the
    data's own text, as written; `class` is 0 or 1.
    """

    model: str
    source: str  # "stdin", the data file's path, or "data" for Python values
    header: list[str]  # the data's columns, then "yhat" (and "class" with a threshold)
    columns: dict[str, Any]  # every column by name: float64 arrays for the inputs and yhat, text for the
    # others, and with a threshold an int64 array of 0 and 1 for "class"
    rows: int
    warnings: list[str] = field(default_factory=list)
    threshold: float | None = None

    @property
    def yhat(self) -> Any:
        """The predictions, a float64 array with one value per row."""
        return self.columns["yhat"]

    @property
    def classes(self) -> Any:
        """With a threshold: 1 where yhat >= threshold, else 0 (an int64 array); None without one."""
        return self.columns.get(CLASS_COLUMN)


def predict(
    saved: Mapping[str, Any] | str | os.PathLike[str] | Any,
    data: Mapping[str, Any] | str | os.PathLike[str] = "-",
    *,
    output: str | os.PathLike[str] | None = None,
    threshold: float | None = None,
    delimiter: str = ",",
) -> Predictions:
    """yhat for every row of `data` by the model in `saved`, computed by the graph engine's forward pass.

    `saved` is a file written by `gradcli train --save` ('-' for stdin), the same document as a
    dict, or what `gradcli.train` returned. `data` is a CSV file's path, '-' or a mapping of
    column -> values; columns the model does not use are kept as they are. `delimiter` separates
    the data file's fields (one character, or 'tab'); the output is comma-separated. `output` names
    a CSV file to write (atomically). `threshold` (strictly between 0 and 1, for a model trained
    with bce, whose yhat is a probability) adds a column `class`: 1 where yhat >= threshold, else 0.
    Raises GradcliError (and subclasses) for bad input.
    """
    from .engines.graph import build_graph, model_values
    from .errors import UndefinedError, placed
    from .io.arguments import delimiter as checked_delimiter
    from .io.arguments import probability
    from .io.outputs import check_outputs
    from .io.saved import read_saved, saved_problem
    from .io.sources import is_spec, one_stdin, open_table

    threshold = probability(threshold, "--threshold", none=True)
    delimiter = checked_delimiter(delimiter)
    one_stdin({"the parameter file": saved, "the data": data})
    outputs = check_outputs({"--output": output}, [os.fspath(s) for s in (saved, data) if is_spec(s)])
    document, source = _saved_document(saved)
    model = read_saved(document, source)
    if threshold is not None and model.loss != "bce":
        raise GradcliError(f"--threshold makes classes from probabilities, and {source} holds a model trained "
                           f"with the loss {model.loss!r}: only a model trained with --loss bce predicts those")
    problem, unused = saved_problem(model, source)
    table = open_table(data, delimiter=delimiter)
    added = ["yhat"] + ([CLASS_COLUMN] if threshold is not None else [])
    for name in added:
        if name in table.header:
            raise GradcliError(f"{table.name}: already has a column {name!r}, which predict adds"
                               + (" with --threshold" if name == CLASS_COLUMN else ""))
    read = table.read(list(problem.inputs), keep_text=True)
    try:
        yhat = model_values(build_graph(problem), model.params, read.columns, read.rows)
    except UndefinedError as err:  # a row where the model is undefined: named by its place in the data
        raise placed(err, lambda row: f"{table.name} {table.place(row)}") from None
    columns = {**(read.text or {}), **read.columns, "yhat": yhat}
    if threshold is not None:
        import numpy as np

        columns[CLASS_COLUMN] = (yhat >= threshold).astype(np.int64)
    result = Predictions(model.model, table.name, [*read.header, *added], columns, read.rows, unused, threshold)
    if "--output" in outputs:
        from .io.csv import write_csv
        from .io.outputs import atomic_write

        atomic_write(outputs["--output"], lambda f: write_csv(result.header, result.columns, f))
    return result


def _saved_document(saved: Any) -> tuple[bytes | Mapping[str, Any], str]:
    """The saved model's document (raw bytes of a file, or a mapping) and how messages name it."""
    from .io.saved import saved_document
    from .io.sources import is_spec, source_name
    from .io.values import PARAMS_MAX_BYTES, read_text_source
    from .training.fit import TrainReport

    if isinstance(saved, TrainReport):
        return saved_document(saved), "the trained model"
    if isinstance(saved, Mapping):
        return saved, "the saved model"
    if is_spec(saved):
        return (read_text_source(os.fspath(saved), "parameter", max_bytes=PARAMS_MAX_BYTES),
                source_name(os.fspath(saved)))
    raise GradcliError(f"saved must be a file from `gradcli train --save`, its document as a dict, or what "
                       f"gradcli.train returned; got {type(saved).__name__}")
