"""A question made concrete: the model and loss parsed into a Problem, roles decided, and a value on
every name (the documented defaults where none is given). Every task starts from a Setup."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .engines.finite import require_finite
from .errors import DataError, GradcliError, show_text, unused
from .io.arguments import names, number, parameter_values
from .io.layers import layer_options
from .io.values import as_columns
from .language.initial import initial_values, split_given
from .language.losses import DEFAULT_DELTA
from .language.problem import build_problem
from .language.tensors import shown

if TYPE_CHECKING:  # imported lazily at run time: `import gradcli` stays light
    from .language.problem import Problem
    from .language.written import Written


PARAM_DEFAULT = 0.5  # a parameter with no value
INPUT_DEFAULT = 1.0  # an input with no value
TARGET_DEFAULT = 0.0  # a target with no value


def check_targets(problem: Problem, target: Any, source: str = "",
                  where: Callable[[int], str] | None = None) -> None:
    """bce needs targets in [0, 1]; the first one outside is named by its column and row.

    where(row) may describe the 1-based row better (a CSV reader knows its line).
    """
    if not problem.loss_entry.probabilities:
        return
    outside = (target < 0) | (target > 1)
    if outside.any():
        at = tuple(int(i) for i in np.argwhere(outside)[0])  # (row,) or, for a gathered vector target, (row, entry)
        row = at[0] + 1
        place = where(row) if where else f"row {row}"
        column = problem.gathered[problem.target][at[1]] if len(at) > 1 else problem.target
        raise DataError(f"{source + ': ' if source else ''}{problem.loss_name} needs targets in [0, 1]: "
                        f"column {column!r} is {target[at]:g} at {place}")


@dataclass
class Setup:
    """A problem with every value in place: where both engines (and `explain`, `graph`) start."""

    problem: Problem
    values: dict[str, float]  # every parameter, defaults included
    columns: dict[str, Any]  # inputs and target, one float64 array each
    rows: int
    defaults: dict[str, float]
    chosen: list[str]  # the parameters asked for (--wrt), in order
    warnings: list[str]
    unchecked: bool = False  # the columns' finiteness is left to the sweep (prepare(check_finite=False))
    row_wrt: list[str] = field(default_factory=list)  # inputs and the target asked for (--wrt): per row


def check_parameter_names(names: list[str], params: Iterable[str], option: str,
                          variables: Iterable[str] = (), written: Iterable[str] | None = None) -> None:
    """Each name must be a parameter (or one of `variables`); the message lists what there is (`written`:
    the parameters as written, W1 rather than its entries)."""
    params, variables = list(params), sorted(variables)
    known = set(params)  # a layer has thousands of entries: a list lookup made this quadratic
    for name in names:
        if name not in known:
            listed = show_text(", ".join(written if written is not None else params), 200) or "none"
            also = f"; inputs and target: {', '.join(variables)}" if variables else ""
            raise GradcliError(f"{option} {show_text(name)!r} is not a parameter of this model "
                               f"(parameters: {listed}{also})")


def prepare(
    model: str | Written,
    loss: str | Written = "mse",
    data: Mapping[str, Iterable[float]] | None = None,
    params: Mapping[str, float] | None = None,
    *,
    target: str = "y",
    wrt: str | Iterable[str] | None = None,
    delta: float = DEFAULT_DELTA,
    from_file: bool = False,
    check_finite: bool = True,
    rows_allowed: bool = False,
    where: Callable[[int], str] | None = None,
    shapes: Any = None,
    dims: Any = None,
    inputs: Any = None,
    seed: int = 0,
    classes: int | None = None,
) -> Setup:
    """Parse the model and loss (or take their trees: a Written is parsed once), decide roles, and put a
    value on every name (defaults where none). Tasks call it through Question.setup.

    check_finite=False: the data's finiteness is checked later, by compare's sweep.
    rows_allowed=True: --wrt may name inputs and the target too (Setup.row_wrt; `grad` takes them).
    where(row) places a 1-based row of the data in its file, for messages.
    classes: a ce target's class count over all the data, where `data` is some of its rows.
    """

    number(delta, "--delta")
    given_params = parameter_values(params if params is not None else {})
    columns, rows = as_columns(data, check_finite) if data is not None else ({}, 1)
    layout = layer_options(model, loss, target, columns if data is not None else None, given_params, shapes, dims,
                           inputs, from_file, classes=classes)
    problem = build_problem(
        model, loss, target=target, data_names=list(columns) if data is not None else None,
        param_names=list(given_params), delta=delta, from_file=from_file, shapes=layout.shapes,
        gathered=layout.gathered, data_shapes=layout.data_shapes, classes=layout.classes,
    )
    if problem.tensor or layout.gathered:
        given_params = split_given(problem, given_params)
        columns = layout.gather(problem, columns, rows)
    used = {*problem.params, *problem.param_names, *problem.inputs, problem.target,
            *(c for cs in problem.gathered.values() for c in cs)}

    warnings = [line for kind, names in (("data", columns), ("parameter", given_params))
                for line in unused(kind, [name for name in names if name not in used],
                                   "{verb} not used by the model or the loss")]

    if data is not None and problem.target not in columns:  # never a silent 0
        listed = show_text(", ".join(columns), 200) or "none"
        raise DataError(f"the data has no value for the target {problem.target!r} (given: {listed}); "
                        "add it, or name another with --target")
    values, defaults = _values(problem, given_params, columns, rows, seed)
    check_targets(problem, columns[problem.target], where=where)
    if not check_finite:  # the sweep checks the columns it reads; unused ones are checked here

        for name in columns.keys() - {*problem.inputs, problem.target}:
            require_finite(name, columns[name])
    columns = {name: columns[name] for name in (*problem.inputs, problem.target)}

    chosen, row_wrt = _asked(problem, wrt, rows_allowed)
    return Setup(problem, values, columns, rows, defaults, chosen, warnings, unchecked=not check_finite,
                 row_wrt=row_wrt)


def _values(problem: Problem, given_params: dict[str, Any], columns: dict[str, Any], rows: int,
            seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every parameter's value and every missing input's and target's column (in `columns`), the
    documented defaults where none is given; and the defaults used."""
    defaults: dict[str, Any] = {}
    if problem.tensor:  # weights drawn by fan-in, biases 0 (language/initial.py): never a symmetric start

        values, drawn = initial_values(problem, given_params, seed)
        defaults.update(drawn)
    else:
        values = {name: given_params.get(name, PARAM_DEFAULT) for name in problem.params}
        defaults.update({name: PARAM_DEFAULT for name in problem.params if name not in given_params})
    for name, default in [*((n, INPUT_DEFAULT) for n in problem.inputs), (problem.target, TARGET_DEFAULT)]:
        if name not in columns:
            shape = problem.shapes.names.get(name, ()) if problem.shapes else ()
            columns[name] = np.full((rows, *shape) if shape else rows, default)
            defaults[name] = default
    return values, defaults


def _asked(problem: Problem, wrt: str | Iterable[str] | None, rows_allowed: bool) -> tuple[list[str], list[str]]:
    """--wrt's parameters, in order (all of them without --wrt), and (rows_allowed) its inputs and target."""
    wrt = names(wrt)
    if wrt is not None and problem.entries:  # a vector or matrix asked for by its name: all its entries
        wrt = [entry for name in wrt for entry in problem.entries.get(name, (name,))]
    asked = list(problem.params) if wrt is None else list(dict.fromkeys(wrt))
    if wrt is not None and not asked:
        raise GradcliError(f"--wrt names no parameter (parameters: {', '.join(problem.params) or 'none'})")
    variables = {*problem.inputs, problem.target} if rows_allowed else set()
    row_wrt = [name for name in asked if name in variables and name not in problem.params]
    chosen = [name for name in asked if name not in row_wrt]
    check_parameter_names(chosen, problem.params, "--wrt", variables, problem.param_names)
    return chosen, row_wrt


def scalar_parameters_only(setup: Setup, command: str) -> None:
    """hessian and check work on scalar parameters, name by name: a vector or matrix is refused by name
    (it reached the Hessian's graph code as a KeyError)."""
    tensors = setup.problem.tensors
    if tensors:
        listed = ", ".join(f"{show_text(name)} is a {'vector of ' if len(shape) == 1 else ''}{shown(shape)}"
                           f"{' matrix' if len(shape) > 1 else ''}" for name, shape in tensors.items())
        raise GradcliError(f"{command} takes scalar parameters, and {listed}: write the model with scalar names "
                           "(b + w1*x1 + w2*x2), or use gradcli grad, which takes vectors and matrices")
