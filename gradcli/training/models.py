"""The model a training run fits and its Problem: the model given, or b + a weight per column.

The problem's inputs are the columns the model uses; a model with vectors and matrices (--shape,
--dim, --input) gathers its vector inputs and spreads its given starting values by entry.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import DataError, RoleError
from ..io.csv import NotNumeric, require_columns
from ..io.layers import layer_options
from ..language.columns import model_columns
from ..language.initial import split_given
from ..language.losses import DEFAULT_DELTA, loss_named
from ..language.problem import Problem, build_problem, check_name
from ..language.written import Written
from .reading import class_count


@dataclass(frozen=True)
class ChosenModel:
    text: str
    default: bool  # True: made from the columns because no --model was given
    from_file: bool = False  # it came from --model-file (longer text and newlines allowed)

    @cached_property
    def source(self) -> Written:
        """The text with its tree, parsed once however many steps read it."""
        return Written(self.text, "model", self.from_file)


def default_model(header: list[str], target: str, source: str, leave_out: Collection[str] = ()) -> ChosenModel:
    """b + w1*x1 + ... over every non-target column (but those left out): column x<k> gets weight w<k>,
    any other column c gets w_c; no weight takes the name of a column."""
    columns = [name for name in header if name != target and name not in leave_out]
    if not columns:
        raise DataError(f"{source}: the only column is the target {target!r}; there is nothing to learn from")
    for name in columns:
        try:
            check_name(name, "column")
        except RoleError as err:
            raise DataError(f"{source}: {err}; give a --model that leaves that column out") from None
    taken = set(header)

    def unused(name: str) -> str:
        while name in taken:
            name += "_"
        taken.add(name)
        return name

    terms = [unused("b")]
    for name in columns:
        match = re.fullmatch(r"x(\d+)", name)
        terms.append(f"{unused('w' + match.group(1) if match else 'w_' + name)}*{name}")
    return ChosenModel(" + ".join(terms), True)


def problem_for(model_text: str | Written, loss: str, target: str, header: list[str], source: str,
                delta: float = DEFAULT_DELTA, from_file: bool = False) -> Problem:
    """The problem with the columns the model uses as inputs; every other name is a parameter."""
    inputs = model_columns(model_text, loss, target, header, source, from_file=from_file, inputs_must_exist=True)
    return build_problem(model_text, loss, target=target, data_names=inputs, delta=delta, from_file=from_file)


def layered_problem(model_text: str | Written, loss: str, target: str, columns: Mapping[str, Any], rows: int,
                    wanted: list[str], given: Mapping[str, Any], *, shapes: Any = None, dims: Any = None,
                    inputs: Any = None, delta: float = DEFAULT_DELTA, from_file: bool = False,
                    where: Any = None, classes: int | None = None,
                    ) -> tuple[Problem, dict[str, Any], dict[str, Any]]:
    """The problem of a model that may have vectors and matrices (--shape, --dim, --input, as grad
    takes them: io/layers.py), the columns it reads (a vector input gathered as one rows x d array)
    and the given starting values by entry (a matrix given as nested lists spread over W1[1,1], ...).

    `wanted` are the columns the model uses (language/columns.model_columns), `columns` those and the
    target. A scalar model comes out as problem_for makes it. `classes` (ce) overrides the count of
    classes in the target column (a streamed run counts them over every part)."""
    layout = layer_options(model_text, loss, target, columns, given, shapes, dims, inputs, from_file, where=where)
    problem = build_problem(model_text, loss, target=target, data_names=list(wanted), delta=delta,
                            from_file=from_file, shapes=layout.shapes, gathered=layout.gathered,
                            data_shapes=layout.data_shapes, classes=classes or layout.classes)
    start = dict(given)
    if problem.tensor or problem.gathered:
        start = split_given(problem, given)
        columns = layout.gather(problem, dict(columns), rows)
    return problem, {name: columns[name] for name in (*problem.inputs, problem.target)}, start


def read_numbers(table: Any, wanted: list[str], chosen: ChosenModel, target: str) -> Any:
    """The columns the model uses; a column of text among them is an error that says how to leave it out."""
    try:
        return table.read(wanted)
    except NotNumeric as err:
        if err.column == target:
            raise DataError(f"{err}; the target must hold numbers") from None
        if not table.text_columns([err.column]):
            raise
        if not chosen.default:
            raise DataError(f"{err}; the column holds text: leave it out of the model") from None
        text = table.text_columns([name for name in table.header if name != target])
        if [name for name in table.header if name != target and name not in text]:
            instead = default_model(table.header, target, table.name, leave_out=text).text
            raise DataError(f'{err}; the column holds text: leave it out with --model, '
                            f'e.g. --model "{instead}"') from None
        raise DataError(f"{err}; the column holds text, and no other column but the target holds numbers") from None


def dataset_problem(dataset: Any, chosen: ChosenModel | None, loss: str, target: str, delta: float,
                    from_file: bool, layers: Mapping[str, Any] | None = None, start: Mapping[str, Any] | None = None,
                    budget: int | None = None) -> tuple[ChosenModel, Problem, dict[str, Any]]:
    """The model and problem of data read part by part, and the starting values by entry. Shapes and
    vector inputs follow from the header and the options (the rows are not in memory); ce counts the
    classes in one pass over the target column."""
    chosen = chosen or default_model(dataset.header, target, dataset.name)
    layers = dict(layers or {})
    start = dict(start or {})
    if (not any(layers.values()) and "@" not in chosen.text and "dot" not in chosen.text
            and not loss_named(loss).classes):
        return chosen, problem_for(chosen.source, loss, target, dataset.header, dataset.name, delta, from_file), start
    wanted = model_columns(chosen.source, loss, target, dataset.header, dataset.name, from_file=from_file,
                           inputs_must_exist=True, inputs=layers.get("inputs"))
    require_columns(dataset.header, [*wanted, target], dataset.name)
    standin = {name: np.zeros(1) for name in [*wanted, target]}  # roles and shapes from the names alone
    classes = class_count(dataset, target, budget) if loss_named(loss).classes else None
    problem, _, start = layered_problem(chosen.source, loss, target, standin, 1, wanted, start, **layers, delta=delta,
                                        from_file=from_file, classes=classes)
    return chosen, problem, start

