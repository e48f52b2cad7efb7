"""`gradcli predict` as a library call: a saved model's prediction for every row of new data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..engines.fresh import as_if_fresh
from ..engines.graph import build_graph, model_values
from ..errors import DataError, GradcliError, UndefinedError, placed, show_text
from ..io.arguments import callback, memory_budget, probability
from ..io.arguments import delimiter as checked_delimiter
from ..io.csv import write_csv
from ..io.dataset import files_of, open_dataset, part_bytes, part_place
from ..io.distributed import dask_client, dask_target, results_in_order
from ..io.outputs import (
    atomic_write,
    atomic_write_all,
    check_directory,
    check_output,
    check_outputs,
    commit_directory,
    directory_made,
    is_directory,
    staging_directory,
)
from ..io.saved import read_saved, saved_document, saved_problem
from ..io.sources import is_spec, one_stdin, open_table, source_name
from ..io.values import PARAMS_MAX_BYTES, read_text_source
from ..language.columns import input_columns
from ..language.losses import loss_info
from ..language.tensors import fixed_order_products
from ..language.written import Written
from ..question import Question
from ..shown import Shown, brief, clipped, listed
from ..training.passes import gather_vectors
from ..training.report import TrainReport

CLASS_COLUMN = "class"  # what --threshold adds: 1 where yhat >= the threshold, else 0


@dataclass
class Predictions(Shown):
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
    outputs: list[str] = field(default_factory=lambda: ["yhat"])  # the model's output columns

    def __repr__(self) -> str:
        first = [brief(float(v)) for v in self.columns[self.outputs[0]][:3]] if self.rows else []
        return (f"Predictions({clipped(self.model, 50)}, {self.rows:,} rows of {clipped(self.source, 40)}: "
                f"{self.outputs[0]} {listed(first, 3)}{', …' if self.rows > 3 else ''})")

    @property
    def yhat(self) -> Any:
        """The predictions: a float64 array with one value per row, or rows x outputs for a model
        whose output is a vector (the columns yhat_1, yhat_2, ...; for ce yhat_0, yhat_1, ...)."""
        if self.outputs == ["yhat"]:
            return self.columns["yhat"]

        return np.column_stack([self.columns[name] for name in self.outputs])

    @property
    def classes(self) -> Any:
        """With a threshold: 1 where yhat >= threshold, else 0; for ce the class of the highest score
        (an int64 array); None otherwise."""
        return self.columns.get(CLASS_COLUMN)


@dataclass
class PartPredictions(Shown):
    """Predictions made part by part, never all in memory: data larger than `memory`, or an output
    directory (one file per input file).

    With an output, every file is written when predict returns (`outputs`). Without one, `chunks()`
    makes the predictions again, part by part in file order, for writing as they come: every row was
    read and checked, and the model evaluated on it, before predict returned, so a bad row ends the
    run before anything is written.
    """

    model: str
    source: str  # the data as given: a path, glob or directory
    header: list[str]  # the data's columns (the first file's order), then "yhat" (and "class")
    rows: int
    files: int  # the data's files
    outputs: list[str] = field(default_factory=list)  # the files written, in the order of the input files
    warnings: list[str] = field(default_factory=list)
    threshold: float | None = None
    _parts: list[Any] = field(default_factory=list, repr=False)
    _model: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        written = f"; wrote {listed(self.outputs, 2)}" if self.outputs else ""
        return (f"PartPredictions({clipped(self.model, 50)}, {self.rows:,} rows in {self.files:,} files of "
                f"{clipped(self.source, 40)}{written})")

    def chunks(self) -> Iterator[Predictions]:
        """Each non-empty part's rows and predictions, as a Predictions, in file order."""
        for part in self._parts:
            columns, rows = _csv_columns(part, self._model)
            if rows:
                yield Predictions(self.model, part.name, self.header, columns, rows, [], self.threshold,
                                  self._model.outputs)


@as_if_fresh
def predict(
    saved: Mapping[str, Any] | str | os.PathLike[str] | Any,
    data: Mapping[str, Any] | str | os.PathLike[str] = "-",
    *,
    output: str | os.PathLike[str] | None = None,
    threshold: float | None = None,
    delimiter: str = ",",
    memory: int | str | None = None,
    dask: str | None = None,
    workers: int | None = None,
    dashboard: Callable[[str], None] | None = None,
) -> Predictions | PartPredictions:
    """yhat for every row of `data` by the model in `saved`, computed by the graph engine's forward pass.

    `saved` is a file written by `gradcli train --save` ('-' for stdin), the same document as a
    dict, or what `gradcli.train` returned. `data` is a CSV or Parquet file's path, a glob or
    directory of them, '-' (CSV on stdin) or a mapping of column -> values; columns the model does
    not use are kept as they are. `delimiter` separates a CSV input's fields (one character, or
    'tab'); CSV output is comma-separated. `output` names a file to write (atomically): Parquet
    when its name ends in .parquet or .pq (a CSV column of numbers as float64, so a target stays a
    number and the file trains again), else CSV. An output directory (one that exists, or a
    name ending in '/') gets one file per input file, with the input's name and format (CSV for
    any input that is not Parquet: logs.tsv -> logs.csv), all of them written or none.
    `threshold` (strictly between 0 and 1, for a model trained with bce, whose yhat is a
    probability) adds a column `class`: 1 where yhat >= threshold, else 0.

    Data larger than `memory` (bytes, or text such as '2GB'; default a quarter of this machine's
    memory), and files written to a directory or to a Parquet file, are read part by part and a
    PartPredictions returned; else a Predictions holding every row. Raises GradcliError (and subclasses) for bad
    input, before any output file is in place.

    `dask` predicts on a Dask cluster, as gradcli.train does ("local" starts a LocalCluster of
    `workers` processes, closed on every way out; an address such as tcp://host:8786 uses a running
    scheduler, whose workers must see the files and `output` at the same paths). `output` then
    names a directory, new or empty, and each worker writes its parts there as Parquet,
    part-00000.parquet, ... in the data's order (one per part that a run with the same `memory` reads),
    into a hidden folder beside it that is renamed into place when every part is written: the
    directory appears whole or not at all. A PartPredictions is returned, `outputs` its files.
    """
    threshold = probability(threshold, "--threshold", none=True)
    delimiter = checked_delimiter(delimiter)
    budget = memory_budget(memory)
    callback(dashboard, "dashboard")
    where = dask_target(dask, workers, data)
    one_stdin({"the saved model": saved, "the data": data})
    if where is not None:
        if output is None:
            raise GradcliError("--dask writes the predictions as Parquet parts into a directory: give --output DIR")
        folder = _new_directory(output)
        dataset = open_dataset(os.fspath(data), "data", delimiter)
        model, predictor, unused = _saved_predictor(saved, threshold)
        question = Question(model, Written(predictor.problem.loss_name, "loss"), predictor.problem.target,
                            predictor.params, dataset=dataset, budget=budget, notes=tuple(unused),
                            delimiter=delimiter, dask=where, workers=workers, dashboard=dashboard)
        return answer(question, predictor, _Outputs(folder=folder), threshold)
    to_directory = output is not None and is_directory(output)
    dataset = files_of(data, delimiter, budget, always=to_directory or _is_parquet_name(output))
    outputs = _check_outputs(output, to_directory, dataset, [os.fspath(s) for s in (saved, data) if is_spec(s)],
                             lambda: open_table(data, delimiter=delimiter, max_bytes=budget))
    model, predictor, unused = _saved_predictor(saved, threshold)
    if not (dataset is not None and (to_directory or _is_parquet_name(output) or dataset.size > budget)):
        dataset = None
    table = open_table(data, delimiter=delimiter, max_bytes=budget) if dataset is None else None
    question = Question(model, Written(predictor.problem.loss_name, "loss"), predictor.problem.target,
                        predictor.params, dataset=dataset, budget=budget, table=table, notes=tuple(unused),
                        delimiter=delimiter)
    return answer(question, predictor, outputs, threshold)


def answer(question: Question, predictor: _Predictor, outputs: _Outputs,
           threshold: float | None = None) -> Predictions | PartPredictions:
    """predict's answer to its question: the saved model's (question.model) yhat for every row of its data,
    part by part (question.dataset) or all in memory (question.table)."""
    assert question.model is not None
    model, added, unused = question.model.text, predictor.names, list(question.notes)
    if question.dask is not None:  # each worker writes its parts into the folder, which appears whole
        return _predict_on_dask(question, predictor, outputs.folder, threshold)
    if question.dataset is not None:
        dataset = question.dataset
        _refuse_added(dataset.name if len(dataset.files) > 1 else dataset.files[0].path, dataset.header, predictor)
        return _predict_parts(dataset, predictor, model, added, unused, question.budget, outputs)
    table = question.table
    assert table is not None
    _refuse_added(table.name, table.header, predictor)
    read = table.read(predictor.inputs, keep_text=True)
    columns = {**(read.text or {}), **read.columns,
               **predictor.added(read.columns, read.rows, lambda row: f"{table.name} {table.place(row)}")}
    result = Predictions(model, table.name, [*read.header, *added], columns, read.rows, unused, threshold,
                         predictor.outputs)
    if outputs.file is not None:
        _write_whole(result, outputs.file)
    return result


def _saved_predictor(saved: Any, threshold: float | None) -> tuple[Written, _Predictor, list[str]]:
    """The saved model read (its text, parsed once), --threshold checked against its loss, and what computes
    its predictions."""
    document, source = _saved_document(saved)
    model = read_saved(document, source)
    if threshold is not None and not loss_info(model.loss).probabilities:
        raise GradcliError(f"--threshold makes classes from probabilities, and {source} holds a model trained "
                           f"with the loss {model.loss!r}: only a model trained with --loss bce predicts those")
    written = Written(model.model, "model", True)
    problem, params, unused = saved_problem(model, source, written)
    return written, _Predictor(problem, params, threshold), unused


def _predict_on_dask(question: Question, predictor: _Predictor, folder: Any,
                     threshold: float | None) -> PartPredictions:
    """predict's parts written as Parquet by a Dask cluster's workers, into a directory that appears whole."""
    dataset, budget, unused = question.dataset, question.budget, list(question.notes)
    name = dataset.name if len(dataset.files) > 1 else dataset.files[0].path
    _refuse_added(name, dataset.header, predictor)
    parts = dataset.parts(part_bytes(budget))
    headers = {file.path: [*file.header, *predictor.names] for file in dataset.files}
    names = [f"part-{i:05d}.parquet" for i in range(len(parts))]
    staging = staging_directory(folder)
    try:
        with dask_client(question.dask, question.workers, question.dashboard) as client:
            futures = client.map(write_part, parts, [headers[part.path] for part in parts], names, predictor=predictor,
                                 folder=os.path.abspath(staging), pure=False)  # a worker's cwd is its own
            counts = results_in_order(client, futures)
        commit_directory(staging, folder, set(names))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    assert question.model is not None
    return PartPredictions(question.model.text, name, [*dataset.header, *predictor.names], sum(counts),
                           len(dataset.files),
                           outputs=[str(folder / n) for n in names], warnings=unused, threshold=threshold)


def write_part(part: Any, header: list[str], name: str, predictor: _Predictor, folder: str) -> int:
    """One part's rows and predictions written to folder/name as Parquet, atomically (io/outputs: a
    rerun after a worker died writes the same file again, and removes a dead worker's temporary file);
    its rows. Module-level, so that a Dask worker can run it."""
    table = _arrow_part(part, header, predictor)
    atomic_write(Path(folder) / name, lambda file: _write_parquet(file, [table]), binary=True)
    return table.num_rows


def _new_directory(output: Any) -> Any:
    """--output for --dask: a directory that does not exist yet (its parent does), or an empty one."""
    folder = check_directory(output, "--output")
    if folder.is_dir() and any(folder.iterdir()):
        raise DataError(f"--output {show_text(os.fspath(output))!r} is a directory with files in it; with --dask "
                        "the predictions' parts are written as a new directory: name one that does not exist, "
                        "or an empty one")
    return folder


@dataclass
class _Outputs:
    """Where predict writes, checked before the work starts: one file, one file per input file, or neither."""

    file: Any = None  # --output FILE (a Path)
    folder: Any = None  # --output DIRECTORY (a Path; made when the writing starts if it is not there)
    by_file: dict[str, Any] | None = None  # each input file's output file in the folder


def _check_outputs(output: Any, to_directory: bool, dataset: Any, named: list[str],
                   open_data: Callable[[], Any]) -> _Outputs:
    """--output checked against every input file (`named` and the dataset's files): never one of them."""
    inputs = named + ([file.path for file in dataset.files] if dataset is not None else [])
    if not to_directory:
        return _Outputs(file=check_outputs({"--output": output}, inputs).get("--output"))
    if dataset is None:
        open_data()  # a missing file or a device is said as for any data
        raise DataError("--output DIRECTORY writes one file per input file: name the data's files "
                        "(stdin and Python data have no file name to write under)")
    folder, by_file = _directory_targets(dataset, output, inputs)
    return _Outputs(folder=folder, by_file=by_file)


def _write_whole(result: Predictions, path: Any) -> None:
    """Predictions held in memory, written to one file (atomically): Parquet for a .parquet or .pq name."""
    if _is_parquet_name(path):
        atomic_write(path, lambda f: _write_parquet(f, [_arrow_of(result.header, result.columns)]), True)
    else:
        atomic_write(path, lambda f: write_csv(result.header, result.columns, f))


def _refuse_added(name: str, header: list[str], predictor: _Predictor) -> None:
    """The data must not already hold a column that predict adds."""
    for column in predictor.names:
        if column in header:
            why = (" with --threshold" if predictor.threshold is not None else
                   " for a ce model (the class of the highest score); leave the column out of the data, e.g. "
                   "with `cut`, to predict it") if column == CLASS_COLUMN else ""
            raise GradcliError(f"{name}: already has a column {column!r}, which predict adds{why}")


class _Predictor:
    """The saved model's forward pass, and the columns predict adds to a table of rows: `yhat` for a
    model with one output; for a vector of outputs one column each, yhat_1, yhat_2, ... (ce: named
    by the class each scores, yhat_0, yhat_1, ..., and `class`, the index of the highest); `class`
    with a threshold (bce)."""

    def __init__(self, problem: Any, params: Mapping[str, float], threshold: float | None) -> None:
        self.graph, self.params, self.threshold, self.problem = build_graph(problem), params, threshold, problem
        self.inputs = input_columns(problem)  # the columns read
        shape = self.graph.nodes[self.graph.model].shape
        self.ce = problem.loss_entry.classes
        count = 1
        for size in shape:
            count *= size
        first = 0 if self.ce else 1
        self.outputs: list[str] = ["yhat"] if not shape else [f"yhat_{k + first}" for k in range(count)]
        if self.ce:
            self.classes = [CLASS_COLUMN]
        elif threshold is None:
            self.classes = []
        else:  # bce on a vector of outputs: a class per output
            self.classes = [CLASS_COLUMN] if not shape else [f"{CLASS_COLUMN}_{k + 1}" for k in range(count)]
        self.names = self.outputs + self.classes

    def added(self, columns: Mapping[str, Any], rows: int, where: Callable[[int], str]) -> dict[str, Any]:
        """yhat (and class) over the rows; a row where the model is undefined is named by where(row)."""
        if not rows:
            yhat = np.empty((0, len(self.outputs))) if self.outputs != ["yhat"] else np.empty(0)
        else:
            try:
                inputs = gather_vectors(self.problem, {name: columns[name] for name in self.inputs})
                with fixed_order_products():  # the same digits on every machine, as training's
                    yhat = model_values(self.graph, self.params, inputs, rows)
            except UndefinedError as err:
                raise placed(err, where) from None
        if self.outputs == ["yhat"]:
            found = {"yhat": yhat}
        else:
            flat = np.reshape(yhat, (len(yhat), -1))
            found = {name: np.ascontiguousarray(flat[:, k]) for k, name in enumerate(self.outputs)}
        if self.ce:
            found[CLASS_COLUMN] = (np.argmax(yhat, axis=-1) if rows else np.empty(0)).astype(np.int64)
        elif self.threshold is not None:
            classes = np.reshape(yhat >= self.threshold, (len(yhat), -1)).astype(np.int64)
            found.update({name: np.ascontiguousarray(classes[:, k]) for k, name in enumerate(self.classes)})
        return found


def _is_parquet_name(path: str | os.PathLike[str] | None) -> bool:
    return path is not None and os.fspath(path).lower().endswith((".parquet", ".pq"))


def _output_name(path: str, kind: str) -> str:
    """An output file's name in the directory: the input's base name, with .csv for any input not Parquet."""
    base = os.path.basename(path)
    stem, suffix = os.path.splitext(base)
    if kind == "parquet":
        return base if suffix.lower() in (".parquet", ".pq") else stem + ".parquet"
    return stem + ".csv"


def _directory_targets(dataset: Any, directory: str | os.PathLike[str],
                       inputs: list[str]) -> tuple[Any, dict[str, Any]]:
    """The output directory, and input file -> output file in it, each checked as --output is (never an input)."""
    folder = check_directory(directory, "--output")
    named: dict[str, str] = {}
    for file in dataset.files:
        name = _output_name(file.path, file.kind)
        if name in named:
            raise DataError(f"{named[name]} and {file.path} would both be written as {name!r} in --output "
                            f"{show_text(os.fspath(directory))!r}: the input files' names must differ")
        named[name] = file.path
    if not folder.is_dir():  # made when the writing starts: nothing in it can be an input
        return folder, {path: folder / name for name, path in named.items()}
    return folder, {path: check_output(folder / name, "--output", inputs) for name, path in named.items()}


def _predict_parts(dataset: Any, predictor: _Predictor, model_text: str, added: list[str], warnings: list[str],
                   budget: int, outputs: _Outputs) -> PartPredictions:
    """Predictions part by part: written one file per input file, into one file, or (no output) checked
    now and made again by PartPredictions.chunks()."""
    parts = dataset.parts(part_bytes(budget))
    name = dataset.name if len(dataset.files) > 1 else dataset.files[0].path
    result = PartPredictions(model_text, name, [*dataset.header, *added], 0, len(dataset.files),
                             warnings=warnings, threshold=predictor.threshold, _parts=parts, _model=predictor)
    if outputs.by_file is not None:
        groups = [(outputs.by_file[file.path], [p for p in parts if p.path == file.path], file.header)
                  for file in dataset.files]
    elif outputs.file is not None:
        groups = [(outputs.file, parts, dataset.header)]
    else:
        result.rows = sum(_csv_columns(part, predictor)[1] for part in parts)  # every row checked: nothing yet written
        return result
    counted: list[int] = []
    writers = [(path, _file_writer(group, [*header, *added], predictor, _is_parquet_name(path), counted),
                _is_parquet_name(path)) for path, group, header in groups]
    with directory_made(outputs.folder) if outputs.folder is not None else nullcontext():
        atomic_write_all(writers)
    result.rows, result.outputs = sum(counted), [str(path) for path, _, _ in groups]
    return result


def _file_writer(parts: list[Any], header: list[str], predictor: _Predictor, parquet: bool,
                 counted: list[int]) -> Callable[[Any], None]:
    """What writes one output file from its parts (appending each part's rows to the open file)."""

    def write(handle: Any) -> None:
        if parquet:
            tables = (_arrow_part(part, header, predictor) for part in parts)
            counted.append(_write_parquet(handle, tables))
            return

        rows = 0
        for part in parts:
            columns, size = _csv_columns(part, predictor)
            if size:
                write_csv(header, columns, handle, header_row=not rows)
                rows += size
        if not rows:
            write_csv(header, {name: [] for name in header}, handle)
        counted.append(rows)

    return write


def _loaded(part: Any, predictor: _Predictor, keep_text: bool = True) -> Any:
    """One part's model inputs, checked (and the other columns' text); a read error names the input file."""
    try:
        return part.load(predictor.inputs, keep_text=keep_text)
    except OSError as err:
        raise DataError(f"cannot read {part.name!r}: {err.strerror}") from None


def _where(part: Any) -> Callable[[int], str]:
    return lambda row: f"{part.name} {part_place(part, row)}"


def _csv_columns(part: Any, predictor: _Predictor) -> tuple[dict[str, Any], int]:
    """One part's columns as CSV writes them: the data's own text, the model's inputs, yhat (and class)."""
    table = _loaded(part, predictor)
    if not table.rows:
        return {}, 0
    added = predictor.added(table.columns, table.rows, _where(part))
    return {**(table.text or {}), **table.columns, **added}, table.rows


def _arrow_part(part: Any, header: list[str], predictor: _Predictor) -> Any:
    """One part's rows as a pyarrow Table with yhat (and class) after the data's columns: a Parquet
    part keeps its columns' own types; a CSV part has float64 inputs and the other columns as text."""
    import pyarrow as pa

    if part.kind == "parquet":
        try:
            table, numbers = part.arrow(predictor.inputs)
        except OSError as err:
            raise DataError(f"cannot read {part.name!r}: {err.strerror}") from None
        for name, values in predictor.added(numbers, table.num_rows, _where(part)).items():
            table = table.append_column(name, pa.array(np.ascontiguousarray(values)))
        return table.select(header)
    loaded = _loaded(part, predictor)
    columns = {**(loaded.text or {}), **loaded.columns,
               **predictor.added(loaded.columns, loaded.rows, _where(part))}
    return _arrow_of(header, columns)


def _arrow_of(header: list[str], columns: Mapping[str, Any]) -> Any:
    """A pyarrow Table of columns in header order: NumPy arrays as they are, a CSV column of text that
    is all numbers as float64 (so that the file can be trained on again: a target stays a number),
    other text as strings (an empty part: every column that is not predict's own as text)."""
    import pyarrow as pa

    arrays = {}
    for name in header:
        values = columns.get(name)
        if isinstance(values, np.ndarray):
            arrays[name] = pa.array(np.ascontiguousarray(values))
        elif values is None and (name == CLASS_COLUMN or name.startswith(CLASS_COLUMN + "_")):
            arrays[name] = pa.array(np.empty(0, dtype=np.int64))
        elif values is None and (name == "yhat" or name.startswith("yhat_")):
            arrays[name] = pa.array(np.empty(0))
        else:
            arrays[name] = _typed(pa.array(list(values or []), type=pa.string()))
    return pa.table(arrays)


def _typed(text: Any) -> Any:
    """A column of CSV text as float64 when every cell is a finite number, else as it is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not len(text):
        return text
    try:
        numbers = pc.cast(pc.utf8_trim_whitespace(text), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return text
    return numbers if pc.all(pc.is_finite(numbers)).as_py() else text


def _write_parquet(handle: Any, tables: Iterable[Any]) -> int:
    """Tables appended to one Parquet file in the open handle, each made to the first's schema; its rows."""
    import pyarrow.parquet as pq

    writer, rows = None, 0
    try:
        for table in tables:
            if writer is None:  # the first table gives the schema, even with no rows
                writer = pq.ParquetWriter(handle, table.schema)
            elif table.schema != writer.schema:
                try:
                    table = table.cast(writer.schema)
                except Exception as err:  # noqa: BLE001 (pyarrow's errors have no common base but Exception)
                    raise DataError(f"the data's files hold columns of different types "
                                    f"({' '.join(str(err).split())[:160]}), which one Parquet file cannot; "
                                    "write to a directory instead (one file per input file)") from None
            if table.num_rows:
                writer.write_table(table)
                rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def _saved_document(saved: Any) -> tuple[bytes | Mapping[str, Any], str]:
    """The saved model's document (raw bytes of a file, or a mapping) and how messages name it."""
    if isinstance(saved, TrainReport):
        return saved_document(saved), "the trained model"
    if isinstance(saved, Mapping):
        return saved, "the saved model"
    if is_spec(saved):
        return (read_text_source(os.fspath(saved), "saved model", max_bytes=PARAMS_MAX_BYTES),
                source_name(os.fspath(saved)))
    raise GradcliError(f"saved must be a file from `gradcli train --save`, its document as a dict, or what "
                       f"gradcli.train returned; got {type(saved).__name__}")
