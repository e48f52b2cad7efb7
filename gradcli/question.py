"""A question, read once: what the user asked of a model, from text, files, stdin or Python values.

`ask` checks the options every task shares and reads the model, the parameters and the data, once;
every task (gradcli/tasks/) takes the Question it returns. The model's text travels with its tree
(language/written.py): however many steps need the tree, the text is parsed once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .compare.verdicts import ATOL, RTOL, check_tolerances
from .errors import GradcliError, show_text, unused
from .io.arguments import callback, memory_budget, names, parameter_values, whole
from .io.arguments import delimiter as checked_delimiter
from .io.csv import require_columns
from .io.dataset import files_of, open_dataset
from .io.distributed import dask_target
from .io.layers import class_count
from .io.sources import Table, model_text, param_values, point_inputs, row_place
from .language.columns import model_columns
from .language.expr import symbols
from .language.losses import DEFAULT_DELTA, loss_named
from .language.written import Written
from .setup import Setup, prepare

SAME: Any = object()  # Question.setup's data: the question's own
MAX_ORDER = 6  # diff's highest order


@dataclass(frozen=True)
class Question:
    """What every task is asked: the model (its text and, parsed once, its tree), the loss, the target,
    the parameters, the data (in memory, or files read part by part), shapes, tolerances and options.

    Exactly one of `data` (columns in memory; None with no data) and `dataset` (files streamed past
    `budget`, or read on Dask's workers: `dask` is then "local" or a scheduler's address) holds the rows.
    """

    model: Written | None  # None only for train: the model is then made from the data's columns
    loss: Written
    target: str = "y"
    params: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] | None = None
    dataset: Any = None
    budget: int = 0
    table: Table | None = None  # the file (or stdin) the in-memory data came from
    notes: tuple[str, ...] = ()  # warnings from reading (columns the model does not use)
    wrt: str | Iterable[str] | None = None
    delta: float = DEFAULT_DELTA
    rtol: float = RTOL
    atol: float = ATOL
    shapes: Any = None
    dims: Any = None
    inputs: Any = None
    delimiter: str = ","
    dask: str | None = None
    workers: int | None = None
    dashboard: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        # read-only views, so that no task changes what another will be asked (the arrays stay shared)
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        if self.data is not None:
            object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    @property
    def from_file(self) -> bool:
        return self.model is not None and self.model.from_file

    @property
    def files(self) -> int:
        return getattr(self.table, "files", 1)

    @property
    def layers(self) -> dict[str, Any]:
        return {"shapes": self.shapes, "dims": self.dims, "inputs": self.inputs}

    def where(self, row: int) -> str:
        """The 1-based row of the data, placed in its file (and line) where it came from one."""
        return row_place(self.table, row)

    def setup(self, data: Any = SAME, *, wrt: Any = SAME, check_finite: bool = True, rows_allowed: bool = False,
              where: Callable[[int], str] | None = None) -> Setup:
        """The question made concrete (setup.prepare) over its data, or over `data` (some of its rows: a ce
        target's classes are still counted over them all)."""
        classes = None
        some_rows = data is not SAME and self.data is not None and self.target in self.data
        if some_rows and loss_named(self.loss.text).classes:
            classes = class_count(self.data[self.target], self.target, self.where)
        return prepare(self.model, self.loss, self.data if data is SAME else data, self.params, target=self.target,
                       wrt=self.wrt if wrt is SAME else wrt, delta=self.delta, from_file=self.from_file,
                       check_finite=check_finite, rows_allowed=rows_allowed, where=where, classes=classes,
                       **self.layers)

    def part_setup(self, rows_allowed: bool = False) -> tuple[str, list[str], Setup]:
        """The Setup of data read part by part (streamed, or on Dask): how messages name the data, the
        columns the loss reads, and the roles decided from the column names alone, a stand-in row
        carrying them (never computed on)."""
        dataset = self.dataset
        name = dataset.name if len(dataset.files) > 1 else dataset.files[0].path
        wanted = list(dict.fromkeys(model_columns(self.model, self.loss, self.target, dataset.header, name,
                                                  from_file=self.from_file)))
        require_columns(dataset.header, [*wanted, self.target], name)
        columns = list(dict.fromkeys([*wanted, self.target]))
        setup = self.setup({column: [0.0] for column in columns}, check_finite=False, rows_allowed=rows_allowed)
        return name, columns, setup


def ask(model: str | None = None, loss: str = "mse", data: Any = None, params: Any = None, *,
        model_file: str | os.PathLike[str] | None = None, target: str = "y", wrt: str | Iterable[str] | None = None,
        delta: float = DEFAULT_DELTA, rtol: float = RTOL, atol: float = ATOL, from_file: bool = False,
        delimiter: str = ",", memory: int | str | None = None, shapes: Any = None, dims: Any = None,
        inputs: Any = None, dask: str | None = None, workers: int | None = None,
        dashboard: Callable[[str], None] | None = None, command: str = "grad", streams: bool = False) -> Question:
    """The Question the user asked, its shared options checked and its inputs read, each once.

    Arguments as gradcli.gradients takes them. `command` is the one a missing model's message shows;
    `streams`: data larger than `memory` is read part by part (else it is refused, as too large);
    with `dask`, the data is files, read on Dask's workers. The loss and the target are checked where the
    inputs are read (io/sources.point_inputs), --delta where the problem is built (setup.prepare)."""
    check_tolerances(rtol, atol)  # in the order the tasks checked them before there was a Question
    callback(dashboard, "dashboard")
    where = dask_target(dask, workers, data)
    budget = memory_budget(memory)
    options = {"target": target, "wrt": wrt, "delta": delta, "rtol": rtol, "atol": atol, "shapes": shapes,
               "dims": dims, "inputs": inputs, "delimiter": delimiter, "dask": where, "workers": workers,
               "dashboard": dashboard, "budget": budget}
    dataset = None
    if where is not None:
        dataset = open_dataset(os.fspath(data), "data", checked_delimiter(delimiter))
    elif streams:
        dataset = files_of(data, checked_delimiter(delimiter), budget)
    source = Written(loss, "loss")
    if dataset is not None and (where is not None or dataset.size > budget):
        if shapes or dims or inputs:
            raise GradcliError("vectors and matrices (--shape, --dim, --input) need the data in memory, and it is " +
                               ("on Dask's workers: leave out --dask" if where is not None else
                                f"{dataset.size:,} bytes, over --memory {budget:,}: give a larger --memory"))
        given = point_inputs(model, model_file, None, params, source, target, delimiter, command=command,
                             from_file=from_file)
        return Question(given.source, source, params=given.params, dataset=dataset, notes=tuple(given.notes),
                        **options)
    given = point_inputs(model, model_file, data, params, source, target, delimiter, max_bytes=budget,
                         inputs=inputs, command=command, from_file=from_file)
    return Question(given.source, source, params=given.params, data=given.data, table=given.table,
                    notes=tuple(given.notes), **options)


@dataclass(frozen=True)
class Expression:
    """diff's question: a plain expression (no loss, no roles, no data), parsed once, the names to
    differentiate by, the order, and a value for every name."""

    expression: Written
    wrt: tuple[str, ...]
    order: int
    point: Mapping[str, float]  # every name of the expression, in its order
    others: tuple[str, ...]  # the names held fixed
    rtol: float
    atol: float
    warnings: tuple[str, ...] = ()  # --at names that are not in the expression


def ask_expression(expression: str | None, wrt: str | Iterable[str] | None, order: int, at: Any, *,
                   expression_file: str | os.PathLike[str] | None = None, rtol: float = RTOL,
                   atol: float = ATOL) -> Expression:
    """diff's question, its options checked and its expression read and parsed, each once."""
    check_tolerances(rtol, atol)
    order = whole(order, "--order", 1)
    if order > MAX_ORDER:
        raise GradcliError(f"--order {order} is above the highest order gradcli takes ({MAX_ORDER})")
    text, from_file = model_text(expression, expression_file, what="expression", file_option="--expression-file",
                                 example='gradcli diff "x**2*sin(x)" --wrt x --at x=1.3')
    source = Written(text, "expression", from_file)
    present = symbols(source.expr)
    if not present:
        raise GradcliError(f"the expression {show_text(text.strip())!r} has no name to differentiate with respect to")
    chosen = names(wrt, "--wrt")
    chosen = present if chosen is None else list(dict.fromkeys(chosen))
    if not chosen:
        raise GradcliError(f"--wrt names nothing (the expression's names: {', '.join(present)})")
    for name in chosen:
        if name not in present:
            raise GradcliError(f"--wrt {show_text(name)!r} is not in the expression (its names: {', '.join(present)})")
    if len(chosen) > 1 and order > 2:
        raise GradcliError(f"--order {order} with several names is a tensor of {len(chosen)}**{order} derivatives; "
                           "give one name, or --order 1 (the gradient) or 2 (the Hessian)")
    point = parameter_values(param_values(at, "--at"), "--at") if at is not None else {}
    missing = [name for name in present if name not in point]
    if missing:
        listed = ",".join(f"{name}=VALUE" for name in missing)
        raise GradcliError(f"no value for {', '.join(missing)}: give --at {listed}")
    warnings = unused("--at", [name for name in point if name not in present], "{verb} not in the expression")
    return Expression(source, tuple(chosen), order, {name: float(point[name]) for name in present},
                      tuple(name for name in present if name not in chosen), rtol, atol, tuple(warnings))
