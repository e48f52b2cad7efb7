"""What the user gave, read: the model text, parameter values and data, from Python values, text,
files or stdin.

Every API function reads its inputs here, so `gradcli.gradients(MODEL, data="points.csv")` reads
exactly what `gradcli grad MODEL --data points.csv` reads, with the same checks and messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from ..errors import DataError, GradcliError, show_text
from ..language.columns import model_columns
from ..language.expr import MAX_FILE_LENGTH
from ..language.written import Written
from .arguments import delimiter as checked_delimiter
from .arguments import text as checked_text
from .csv import NotNumeric, read_header
from .dataset import PartsTable, dataset_table, is_dataset_spec, open_dataset
from .layers import input_spec
from .parquet import ParquetTable, is_parquet
from .tables import ColumnsTable, Table
from .values import data_max_bytes, decode_utf8, is_inline, is_spec, parse_assignments, read_params, read_text_source

if TYPE_CHECKING:
    pass

# A file's path, '-' for stdin, or (where said) inline NAME=VALUE,... text.
Spec = Union[str, "os.PathLike[str]"]


def source_name(spec: Spec) -> str:
    """How messages name a source: 'stdin' for '-', else the path as given."""
    return "stdin" if spec == "-" else os.fspath(spec)


def one_stdin(specs: Mapping[str, Any]) -> None:
    """At most one input may read stdin; `specs` maps each input's option to what was given."""
    if sum(is_spec(spec) and os.fspath(spec) == "-" for spec in specs.values()) > 1:
        names = list(specs)
        raise GradcliError(f"only one of {', '.join(names[:-1])} and {names[-1]} can read stdin ('-')")


def model_text(model: str | None, model_file: Spec | None, *, what: str = "model",
               file_option: str = "--model-file",
               example: str = 'gradcli grad "b + w*x1"') -> tuple[str, bool]:
    """The model's (or an expression's) text and whether it came from a file (a file allows longer
    text and newlines). '-' as the text means: read it from stdin."""
    if model is not None and model_file is not None:
        raise GradcliError(f"give the {what} as an argument or with {file_option}, not both")
    if model_file is not None and not is_spec(model_file):
        raise GradcliError(f"{file_option} must be a file's path or '-', got {type(model_file).__name__}")
    if model_file is None and model == "-":  # `gradcli grad -`: the model on stdin
        model, model_file = None, "-"
    if model_file is None:
        if model is None:
            raise GradcliError(f"no {what} given: {example} (or {file_option} FILE)")
        if not isinstance(model, str):
            raise GradcliError(f"the {what} must be text, got {type(model).__name__}")
        return model, False
    path = os.fspath(model_file)
    raw = read_text_source(path, file_option, limit=MAX_FILE_LENGTH + 1)
    if len(raw) > MAX_FILE_LENGTH:
        raise GradcliError(f"{file_option} {show_text(path)!r} is longer than {MAX_FILE_LENGTH:,} characters")
    return decode_utf8(raw, f"{file_option} {show_text(path)!r}").rstrip(), True


def param_values(spec: Mapping[str, Any] | Spec | None, option: str = "--params") -> Mapping[str, Any]:
    """Parameter values: a mapping as it is (checked by the task), or NAME=VALUE,... or a JSON file."""
    if spec is None:
        return {}
    if is_inline(spec):
        return parse_assignments(spec, option)
    if is_spec(spec):
        return read_params(os.fspath(spec), option, inline=False)
    if not isinstance(spec, Mapping):
        raise DataError(f"{option} must be a mapping of name -> number, NAME=VALUE,... or a JSON file's path; "
                        f"got {type(spec).__name__}")
    return spec


def point_data(data: Mapping[str, Any] | Spec | None, model: str | Written, loss: str | Written, target: str,
               from_file: bool, delimiter: str = ",", max_bytes: int | None = None,
               inputs: Mapping[str, Any] | None = None) -> tuple[Mapping[str, Any] | None, list[str], Table | None]:
    """grad's, explain's and graph's data: a mapping as it is, NAME=VALUE,... as one row, or the columns
    of a CSV file ('-': stdin) that the model uses, with a warning for each column it does not use, and
    the table they were read from (None for the others)."""
    if data is None or isinstance(data, Mapping):
        return data, [], None
    if not is_spec(data):
        raise DataError(f"--data must be a mapping of name -> values, NAME=VALUE,..., a CSV file's path or '-'; "
                        f"got {type(data).__name__}")
    if is_inline(data):
        return {name: [value] for name, value in parse_assignments(data, "--data").items()}, [], None
    text = os.fspath(data)
    table = open_table(text, "--data" if text != "-" else "data", delimiter, max_bytes)
    wanted = model_columns(model, loss, target, table.header, table.name, from_file=from_file, inputs=inputs)
    try:
        read = table.read([*wanted, target] if target in table.header else wanted)  # else gathered (--input)
    except NotNumeric as err:
        if err.column == target:
            raise DataError(f"{err}; the target must hold numbers") from None
        if not table.text_columns([err.column]):
            raise
        raise DataError(f"{err}; the column holds text: leave it out of the model") from None
    return read.columns, table.unused(read.columns), table


def open_table(data: Mapping[str, Any] | Spec, what: str = "data", delimiter: str = ",",
               max_bytes: int | None = None) -> Table:
    """A CSV or Parquet file or '-' (CSV on stdin) with its header read and checked, or a mapping of
    column -> values.

    `delimiter` separates a CSV file's fields (one character, checked by arguments.delimiter). A glob
    or a directory reads every file it names (io/dataset.py). Data larger than `max_bytes` (default:
    values.data_max_bytes) is refused."""
    if isinstance(data, Mapping):
        return ColumnsTable("data", b"", [str(name) for name in data], data={str(k): v for k, v in data.items()})
    if not is_spec(data):
        raise DataError(f"{what} must be a CSV file's path, '-' or a mapping of column name -> values; "
                        f"got {type(data).__name__}")
    path = os.fspath(data)
    name = source_name(path)
    budget = data_max_bytes() if max_bytes is None else max_bytes
    if is_dataset_spec(path):
        dataset = open_dataset(path, what, delimiter)
        if dataset.size > budget:
            raise DataError(f"{name}: {dataset.size:,} bytes in {len(dataset.files)} files is more than gradcli "
                            f"reads into memory ({budget:,} bytes); train streams such data")
        return dataset_table(dataset)
    if path != "-" and os.path.isfile(path) and is_parquet(path):
        return ParquetTable.open(path, name, budget)
    raw = read_text_source(path, what, max_bytes=budget)
    return Table(name, raw, read_header(raw, name, delimiter), delimiter)


@dataclass
class PointInputs:
    """grad's, explain's and graph's inputs, read: the model text, parameter values and data."""

    model: str
    from_file: bool
    params: Mapping[str, Any]
    data: Mapping[str, Any] | None
    notes: list[str]  # warnings about the data (CSV columns the model does not use)
    table: Table | None = None  # where the data came from, when from a file or stdin

    source: Written | None = None  # the model text, parsed once wherever it is first needed

    @property
    def files(self) -> int:
        return getattr(self.table, "files", 1)

    def where(self, row: int) -> str:
        """The 1-based row of the data, placed in its file (and line) where it came from one."""
        return row_place(self.table, row)


def row_place(table: Table | None, row: int) -> str:
    """The 1-based row of the data, placed in its file (and line) where it came from one."""
    if table is None:
        return f"row {row}"
    if isinstance(table, PartsTable):  # "in FILE row R": the file is the place
        return table.place(row).removeprefix("in ")
    return f"{table.name} {table.place(row)}"


def point_inputs(model: str | None, model_file: Spec | None, data: Mapping[str, Any] | Spec | None,
                 params: Mapping[str, Any] | Spec | None, loss: str, target: str,
                 delimiter: str = ",", max_bytes: int | None = None, inputs: Any = None,
                 command: str = "grad", from_file: bool = False) -> PointInputs:
    """The inputs of grad, explain and graph, from whatever form each was given in (data larger than
    `max_bytes`, default values.data_max_bytes, refused); `inputs` is --input, for the columns it gathers.
    `command` is the one a missing model's message shows how to run."""
    checked_text(getattr(loss, "text", loss), "--loss"), checked_text(target, "--target")
    delimiter = checked_delimiter(delimiter)
    one_stdin({"--model-file": model_file, "--data": data, "--params": params})
    text, read_from_file = model_text(model, model_file, example=f'gradcli {command} "b + w*x1"')
    source = Written(text, "model", from_file or read_from_file)
    values = param_values(params)
    columns, notes, table = point_data(data, source, loss, target, source.from_file, delimiter, max_bytes,
                                       input_spec(inputs))
    return PointInputs(text, read_from_file, values, columns, notes, table, source)
