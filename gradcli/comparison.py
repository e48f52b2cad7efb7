"""The Python API: every gradient two ways, compared. The CLI is a thin layer over this.

    >>> import gradcli
    >>> report = gradcli.gradients("b+w1*x1+w2*x2", loss="mse",
    ...     data={"x1": [1.5], "x2": [2.0], "y": [1.0]}, params={"b": 0.5, "w1": 2.0, "w2": -1.0})
    >>> report.agree, report.loss_value, report.gradients["w1"].backprop_value
    (True, 0.25, 1.5)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .engines.differences import NOT_AT_KINK, STEP_CUTS, kink_free
from .engines.fresh import as_if_fresh
from .errors import DataError, GradcliError, UndefinedError, show_text
from .language.losses import DEFAULT_DELTA

if TYPE_CHECKING:  # imported lazily at run time: `import gradcli` stays light
    from .language.problem import Problem

PARAM_DEFAULT = 0.5  # a parameter with no value
INPUT_DEFAULT = 1.0  # an input with no value
TARGET_DEFAULT = 0.0  # a target with no value
RTOL, ATOL = 1e-9, 1e-12  # symbolic vs backprop
FD_RTOL, FD_ATOL = 1e-6, 1e-7  # finite differences vs backprop (FD_ATOL is scaled by max(1, |loss|))
RICHARDSON_HALVINGS = 5  # train's check: D(h), D(h/2), ... extrapolated until within tolerance, at most h/32
FD_STEP_CUTS = STEP_CUTS  # a stencil that crosses a kink is tried again with these fractions of h
ENGINES = ("symbolic", "backprop")


@dataclass
class ParamGradient:
    """One parameter's gradient as each engine found it."""

    param: str
    symbolic: str | None  # d loss / d param of the per-row loss, as a formula
    symbolic_value: float | None
    backprop_value: float | None
    abs_diff: float | None
    agree: bool | None  # None when only one engine ran
    fd_value: float | None = None
    fd_agree: bool | None = None
    # where |symbolic - backprop| passed rtol/atol only as rounding: what float64 can resolve of this
    # gradient (a bound on each engine's rounding, engines/resolution.py), and that bound over
    # eps x |gradient| (None where the exact gradient is 0: the terms that make it cancel exactly)
    resolution: float | None = None
    condition: float | None = None
    fd_verdict: str | None = None  # "agree", "disagree" or NOT_AT_KINK (then fd_value and fd_agree are None)


@dataclass
class RowGradient:
    """d loss_r / d name in each row r, for an input or the target (`--wrt x1`): one value per row."""

    name: str
    role: str  # "input" or "target"
    symbolic: str | None
    symbolic_values: list[float] | None
    backprop_values: list[float]
    max_abs_diff: float | None
    agree: bool | None
    # over the rows that agree only within float64's resolution (ParamGradient's, row by row): the
    # largest bound, and the largest condition (None where one of those rows is an exact 0)
    resolution: float | None = None
    condition: float | None = None


@dataclass
class TensorGradient:
    """A parameter as written (a scalar, vector or matrix), its entries' gradients in its shape."""

    param: str
    shape: list[int]  # [] for a scalar
    entries: list[str]  # W1[1,1], W1[1,2], ...: the rows of `gradients` it gathers
    symbolic_value: Any  # nested lists in the shape (a number for a scalar); None when SymPy did not run
    backprop_value: Any
    max_abs_diff: float | None  # the largest |symbolic - backprop| over the entries
    agree: bool | None
    fd_directions: list[dict[str, Any]] | None = None  # {"fd", "gv", "agree"} per random direction v
    fd_agree: bool | None = None
    fd_max_abs_diff: float | None = None
    # over the entries that agree only within float64's resolution (ParamGradient's): the largest of each
    resolution: float | None = None
    condition: float | None = None
    fd_verdict: str | None = None  # "agree", "disagree" or NOT_AT_KINK (no direction had a clean stencil)
    fd_left_out: list[str] | None = None  # entries left out of the directions: each alone crosses a kink


@dataclass
class GradientReport:
    """What `gradcli grad` shows; `to_dict()` is its JSON document."""

    model: str
    loss: str
    loss_formula: str
    target: str
    params: dict[str, float]
    inputs: list[str]
    rows: int
    point: dict[str, float] | None  # inputs and target, when there is a single row
    defaults: dict[str, float]  # names that took a default value
    loss_value: float
    gradients: dict[str, ParamGradient]
    agree: bool | None
    rtol: float
    atol: float
    engines: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)
    witness: str | None = "symbolic"  # what backprop was checked against: "symbolic" or "finite differences"
    row_gradients: dict[str, RowGradient] = field(default_factory=dict)  # inputs and the target in --wrt
    files: int = 1  # the data's files (a glob or a directory names several)
    engine: str = "memory"  # where the rows were: "memory", "stream" (read part by part, past --memory) or "dask"
    # a model with vectors or matrices: each parameter as written, its gradient in its shape
    tensors: dict[str, TensorGradient] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("tensors")
        data["engines"] = list(self.engines)
        data["gradients"] = [asdict(g) for g in self.gradients.values()]
        if self.tensors:  # one item per parameter as written, its values as nested lists
            data["gradients"] = [asdict(t) for t in self.tensors.values()]
            data["params"] = {t.param: _nested([self.params[e] for e in t.entries], t.shape)
                              for t in self.tensors.values()}
        data["row_gradients"] = [asdict(g) for g in self.row_gradients.values()]
        return data


def _nested(values: list[float], shape: list[int]) -> Any:
    import numpy as np

    return np.array(values).reshape(shape).tolist() if shape else values[0]


def check_targets(problem: Problem, target: Any, source: str = "",
                  where: Callable[[int], str] | None = None) -> None:
    """bce needs targets in [0, 1]; the first one outside is named by its column and row.

    where(row) may describe the 1-based row better (a CSV reader knows its line).
    """
    import numpy as np

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


def _agrees(a: float, b: float, rtol: float, atol: float) -> bool:
    return abs(a - b) <= atol + rtol * abs(a)


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
    model: str,
    loss: str = "mse",
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
) -> Setup:
    """Parse the model and loss, decide roles, and put a value on every name (defaults where none).

    check_finite=False: the data's finiteness is checked later, by compare's sweep.
    rows_allowed=True: --wrt may name inputs and the target too (Setup.row_wrt; `grad` takes them).
    where(row) places a 1-based row of the data in its file, for messages.
    """
    import numpy as np

    from .io.arguments import number, parameter_values
    from .io.layers import layer_options
    from .io.values import as_columns
    from .language.problem import build_problem

    number(delta, "--delta")
    given_params = parameter_values(params if params is not None else {})
    columns, rows = as_columns(data, check_finite) if data is not None else ({}, 1)
    layout = layer_options(model, loss, target, columns if data is not None else None, given_params, shapes, dims,
                           inputs, from_file)
    problem = build_problem(
        model, loss, target=target, data_names=list(columns) if data is not None else None,
        param_names=list(given_params), delta=delta, from_file=from_file, shapes=layout.shapes,
        gathered=layout.gathered, data_shapes=layout.data_shapes, classes=layout.classes,
    )
    if problem.tensor or layout.gathered:
        from .language.initial import split_given

        given_params = split_given(problem, given_params)
        columns = layout.gather(problem, columns, rows)
    used = {*problem.params, *problem.param_names, *problem.inputs, problem.target,
            *(c for cs in problem.gathered.values() for c in cs)}
    from .errors import unused

    warnings = [line for kind, names in (("data", columns), ("parameter", given_params))
                for line in unused(kind, [name for name in names if name not in used],
                                   "{verb} not used by the model or the loss")]

    if data is not None and problem.target not in columns:  # never a silent 0
        listed = show_text(", ".join(columns), 200) or "none"
        raise DataError(f"the data has no value for the target {problem.target!r} (given: {listed}); "
                        "add it, or name another with --target")
    defaults: dict[str, Any] = {}
    if problem.tensor:  # weights drawn by fan-in, biases 0 (language/initial.py): never a symmetric start
        from .language.initial import initial_values

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
    check_targets(problem, columns[problem.target], where=where)
    if not check_finite:  # the sweep checks the columns it reads; unused ones are checked here
        from .engines.finite import require_finite

        for name in columns.keys() - {*problem.inputs, problem.target}:
            require_finite(name, columns[name])
    columns = {name: columns[name] for name in (*problem.inputs, problem.target)}

    from .io.arguments import names

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
    return Setup(problem, values, columns, rows, defaults, chosen, warnings, unchecked=not check_finite,
                 row_wrt=row_wrt)


def kink_warnings(found: list[Any]) -> list[str]:
    """A warning for each abs/relu exactly at its kink (graph.Kink), where the derivative is taken as 0."""
    return [f"{k.text} is at its kink (argument exactly 0) in {k.where()}; its derivative is taken as 0 there"
            for k in found if k.exact]


def scalar_parameters_only(setup: Setup, command: str) -> None:
    """hessian and check work on scalar parameters, name by name: a vector or matrix is refused by name
    (it reached the Hessian's graph code as a KeyError)."""
    tensors = setup.problem.tensors
    if tensors:
        from .language.tensors import shown

        listed = ", ".join(f"{show_text(name)} is a {'vector of ' if len(shape) == 1 else ''}{shown(shape)}"
                           f"{' matrix' if len(shape) > 1 else ''}" for name, shape in tensors.items())
        raise GradcliError(f"{command} takes scalar parameters, and {listed}: write the model with scalar names "
                           "(b + w1*x1 + w2*x2), or use gradcli grad, which takes vectors and matrices")


def check_tolerances(rtol: float, atol: float) -> None:
    from .io.arguments import number

    for name, value in (("rtol", rtol), ("atol", atol)):
        number(value, f"--{name}", least=0.0)


@as_if_fresh
def gradients(
    model: str | None = None,
    loss: str = "mse",
    data: Mapping[str, Iterable[float]] | str | os.PathLike[str] | None = None,
    params: Mapping[str, float] | str | os.PathLike[str] | None = None,
    *,
    model_file: str | os.PathLike[str] | None = None,
    target: str = "y",
    wrt: str | Iterable[str] | None = None,
    delta: float = DEFAULT_DELTA,
    rtol: float = RTOL,
    atol: float = ATOL,
    engines: Iterable[str] = ENGINES,
    check_fd: bool = False,
    from_file: bool = False,
    readable: bool = True,
    delimiter: str = ",",
    memory: int | str | None = None,
    shapes: Any = None,
    dims: Any = None,
    inputs: Any = None,
    dask: str | None = None,
    workers: int | None = None,
    dashboard: Callable[[str], None] | None = None,
) -> GradientReport:
    """The gradient of the mean loss with respect to each parameter, by each engine (`gradcli grad`).

    Names may be vectors and matrices: `shapes` declares them ({"W1": "4x2"} or ["W1=4x2"]; sizes
    may be named and given in `dims`, {"h": 4}), `inputs` gathers a vector input from data columns
    ({"x": "x1,x2"} or {"x": "*"}); a value given as an array (params {"W1": array}, data {"x": an
    N x d array}) fixes its shape too. report.tensors then has each parameter's gradient in its shape.

    `data` maps names to one value per row (lists or 1-D arrays; float64 arrays are used
    without a copy), or is what --data takes: NAME=VALUE,... (one row), a CSV or Parquet file's
    path, a glob or directory of them, or '-' for CSV on stdin (fields separated by `delimiter`:
    one character, or 'tab'). Data larger than `memory` (bytes, or text such as '2GB'; default a
    quarter of this machine's memory) is read part by part, each engine's sums added up over the
    parts in one pass (report.engine is then "stream"); per-row gradients (`wrt` naming an input or
    the target) need the data in memory. `dask` computes those sums on a Dask cluster (needs the dask
    extra), as gradcli.train does: "local" starts a LocalCluster of `workers` processes (closed on
    every way out), an address such as tcp://host:8786 uses a running scheduler; the data is then
    files, each part read and summed on a worker (report.engine "dask"), and `dashboard(address)` is
    told where Dask's dashboard is. `params` maps names to numbers, or is NAME=VALUE,... or a JSON file.
    `model_file` reads the model from a file instead ('-': stdin). `wrt` is a list of
    parameters or comma-separated text. Names with no value take the documented defaults,
    listed in `report.defaults`. Raises GradcliError (and subclasses) for bad input or
    undefined points.
    readable=False skips the (time-bounded) simplifying of the derivative formulas for
    display; `symbolic` is then None and only the numbers are computed.
    """
    from .errors import placed
    from .io.arguments import callback, flag, memory_budget, number, text
    from .io.arguments import delimiter as checked_delimiter
    from .io.dataset import files_of, open_dataset
    from .io.distributed import dask_target
    from .io.sources import point_inputs

    text(loss, "--loss"), text(target, "--target"), number(delta, "--delta"), flag(check_fd, "--check-fd")
    callback(dashboard, "dashboard")
    engines = (engines,) if isinstance(engines, str) else tuple(engines or ())
    if not all(isinstance(e, str) for e in engines):
        raise GradcliError(f"engines must be chosen from {', '.join(ENGINES)}; got {engines!r}")
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise GradcliError(f"engines must be chosen from {', '.join(ENGINES)}; got {', '.join(engines) or 'none'}")
    check_tolerances(rtol, atol)
    where = dask_target(dask, workers, data)
    budget = memory_budget(memory)
    if where is not None:
        dataset = open_dataset(os.fspath(data), "data", checked_delimiter(delimiter))
    else:
        dataset = files_of(data, checked_delimiter(delimiter), budget)
    if dataset is not None and (where is not None or dataset.size > budget):
        if shapes or dims or inputs:
            raise GradcliError("vectors and matrices (--shape, --dim, --input) need the data in memory, and it is " +
                               ("on Dask's workers: leave out --dask" if where is not None else
                                f"{dataset.size:,} bytes, over --memory {budget:,}: give a larger --memory"))
        given = point_inputs(model, model_file, None, params, loss, target, delimiter)
        return streamed_gradients(given, dataset, budget, loss=loss, target=target, wrt=wrt, delta=delta,
                                  rtol=rtol, atol=atol, engines=engines, check_fd=check_fd,
                                  from_file=from_file or given.from_file, readable=readable,
                                  dask=where, workers=workers, dashboard=dashboard)
    given = point_inputs(model, model_file, data, params, loss, target, delimiter, max_bytes=budget, inputs=inputs)
    where = given.where if given.table is not None else None
    setup = prepare(given.model, loss, given.data, given.params, target=target, wrt=wrt, delta=delta,
                    from_file=from_file or given.from_file, check_finite=False, rows_allowed=True, where=where,
                    shapes=shapes, dims=dims, inputs=inputs)
    try:
        report = compare(setup, rtol=rtol, atol=atol, engines=engines, check_fd=check_fd, readable=readable)
    except UndefinedError as err:  # a row where the loss is undefined: named in its file
        raise placed(err, where) from None
    report.warnings[:0] = given.notes
    report.files = given.files
    return report


@dataclass
class Evidence:
    """What the engines found over every row, wherever the rows were (in memory, or read part by part):
    what compare's verdicts are made from."""

    rows: int
    point: dict[str, float] | None
    loss: float
    backprop: dict[str, float]  # empty when backprop did not run
    kinks: list[Any]  # graph.Kink: abs/relu at or within rounding of their kink
    symbolic: dict[str, float]  # empty when SymPy did not run (or could not)
    formulas: dict[str, str]
    fd: dict[str, float]  # central finite differences, with check_fd
    engines: tuple[str, ...]  # the engines that ran
    witness: str | None
    check_fd: bool
    warnings: list[str]
    # a vector or matrix parameter -> (central difference along v, gᵀv) per random direction v
    directions: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    # a parameter (as written) -> the kinks that every difference stencil tried crossed: not compared
    fd_kinks: dict[str, list[str]] = field(default_factory=dict)
    # a parameter (as written) -> its entries left out of every direction (each alone crosses a kink)
    fd_left_out: dict[str, list[str]] = field(default_factory=dict)


def compare(setup: Setup, *, rtol: float = RTOL, atol: float = ATOL, engines: Iterable[str] = ENGINES,
            check_fd: bool = False, readable: bool = True) -> GradientReport:
    """Run the engines on a prepared problem and compare what they found."""
    from .engines.graph import build_graph

    graph = build_graph(setup.problem)
    evidence = _evidence(setup, graph, tuple(engines), check_fd, readable)
    return judged(setup, evidence, rtol, atol, lambda warnings: _row_gradients(
        setup, graph, rtol, atol, "symbolic" in evidence.engines, readable, warnings),
        resolution=lambda names: resolution(setup, names, [(setup.columns, setup.rows)]))


def resolution(setup: Setup, names: list[str], parts: Iterable[tuple[Mapping[str, Any], int]]) -> dict[str, float]:
    """What float64 can resolve of each named gradient over the rows of `parts` (columns, rows): twice
    backprop's rounding bound (engines/resolution.py), once for each engine evaluating the same function
    in float64. A model with vectors or matrices is bounded entry by entry, as SymPy sees it; inf where
    no bound can be had (past the expansion's size limits)."""
    from .engines.graph import build_graph
    from .engines.resolution import Bounds

    problem, bounds = setup.problem, None
    for columns, rows in parts:
        if problem.tensor:  # in memory only: the model is expanded once, for its one part
            try:
                problem, columns = entrywise(problem, columns)
            except SymbolicUnavailable:
                return {name: math.inf for name in names}
        if bounds is None:
            bounds = Bounds(build_graph(problem), setup.values, names, setup.rows)
        bounds.add(columns, rows)
    return {name: ENGINE_ROUNDINGS * bound for name, bound in (bounds.total() if bounds else {}).items()}


ENGINE_ROUNDINGS = 2  # what float64 resolves: backprop's rounding bound once for each engine


def _evidence(setup: Setup, graph: Any, engines: tuple[str, ...], check_fd: bool, readable: bool) -> Evidence:
    """Each engine over the rows in memory: backprop's sweep (with its kinks), SymPy's derivatives and,
    with check_fd or where SymPy cannot be used, finite differences."""
    import numpy as np

    from .engines.sweep import compile_plan, run

    problem, values, columns, rows, chosen = setup.problem, setup.values, setup.columns, setup.rows, setup.chosen
    warnings = list(setup.warnings)
    plan = compile_plan(graph, chosen if "backprop" in engines else [])
    if setup.unchecked:
        from .engines.finite import require_finite

        for name in columns.keys() - plan.columns():
            require_finite(name, columns[name])
    swept = run(plan, values, columns, rows, diagnose=True, find_kinks=True, check_finite=setup.unchecked)
    backprop_values = dict(zip(chosen, swept.gradient)) if "backprop" in engines else {}
    warnings += kink_warnings(swept.kinks)

    symbolic_values: dict[str, float] = {}
    formulas: dict[str, str] = {}
    witness = "symbolic" if "symbolic" in engines else None
    if "symbolic" in engines:
        try:
            if problem.tensor:  # SymPy sees the model entry by entry, each entry of W1 its own symbol
                scalar, scalar_columns = entrywise(problem, columns)
                symbolic_values, formulas = symbolic_gradient(scalar, chosen, values, scalar_columns, rows, False)
            else:
                symbolic_values, formulas = symbolic_gradient(problem, chosen, values, columns, rows, readable)
        except SymbolicUnavailable as why:  # the second witness becomes finite differences, and says so
            witness, engines, check_fd = "finite differences", tuple(e for e in engines if e != "symbolic"), True
            warnings.append(fd_witness_note(why, problem.tensor))

    fd_values: dict[str, float] = {}
    directions: dict[str, list[tuple[float, float]]] = {}
    fd_kinks: dict[str, list[str]] = {}
    left_out: dict[str, list[str]] = {}
    if check_fd and problem.tensor:  # along random directions: one pass per direction, not per entry
        directions, fd_kinks, left_out = directional_differences(graph, problem, chosen, values, columns, rows, backprop_values
                                                       or dict(zip(chosen, swept.gradient)))
    elif check_fd:
        fd_values, fd_kinks = clean_differences(compile_plan(graph, []), chosen, values, columns, rows)
    point = {name: float(columns[name][0]) for name in columns if np.ndim(columns[name]) == 1} if rows == 1 else None
    if point is not None and problem.tensor:  # a vector input's entries by their columns' names, in order
        from .language.expansion import entry_columns

        spread = entry_columns(problem)
        point = {entry: float(value) for name in columns
                 for entry, value in (zip(spread[name], columns[name][0]) if name in spread else [(name, point[name])])}
    return Evidence(rows, point, swept.loss, backprop_values, swept.kinks, symbolic_values, formulas, fd_values,
                    engines, witness, check_fd, warnings, directions, fd_kinks, left_out)


def fd_witness_note(why: SymbolicUnavailable, directional: bool = False) -> str:
    """The warning that finite differences stand in for SymPy. Past SymPy's size, which the README's own
    networks are, it is one short line ("195 entries, over SymPy's 64: checked by finite differences"),
    which a terminal of 80 columns shows whole; how they check (directions, tolerances) is in the result."""
    if isinstance(why, SymbolicTooLarge):
        return f"{why}: checked by finite differences"
    how = (f"finite differences along {FD_DIRECTIONS} random directions per parameter are the second witness, "
           "each directional derivative against gᵀv" if directional else "finite differences are the second witness")
    return f"the symbolic engine {why}; {how} (rtol {FD_RTOL:g}, atol {FD_ATOL:g} x max(1, |loss|))"


FD_DIRECTIONS = 3  # random directions per vector or matrix parameter


def entrywise(problem: Problem, columns: Mapping[str, Any], max_entries: int | None = None,
              ) -> tuple[Problem, dict[str, Any]]:
    """The model written out entry by entry (language/expansion.py) and the columns it reads: a vector
    input's columns one by one. Past the expansion's size limits (max_entries parameter entries, default
    the expansion's MAX_ENTRIES), SymbolicUnavailable."""
    from .language.expansion import MAX_ENTRIES, TooLarge, entry_columns, expand

    try:
        scalar = expand(problem, MAX_ENTRIES if max_entries is None else max_entries)
    except TooLarge as why:
        raise SymbolicTooLarge(str(why)) from None
    split = {name: column for name, column in columns.items() if name not in entry_columns(problem)}
    for name, names in entry_columns(problem).items():
        for j, entry in enumerate(names):
            split[entry] = columns[name][:, j]
    if problem.target not in split:  # a vector target: the expansion reads its entries, not the name
        split[problem.target] = split[entry_columns(problem)[problem.target][0]]
    return scalar, split


def directional_differences(graph: Any, problem: Problem, chosen: list[str], values: Mapping[str, float],
                            columns: Mapping[str, Any] | None, rows: int, gradient: Mapping[str, float],
                            stencil_of: Callable[[list[Mapping[str, float]]], Any] | None = None,
                            richardson: bool = False,
                            ) -> tuple[dict[str, list[tuple[float, float]]], dict[str, list[str]], dict[str, list[str]]]:
    """For each parameter as written: (central difference along v, gᵀv) for FD_DIRECTIONS seeded random
    unit directions v over its chosen entries, as torch.autograd.gradcheck's fast mode does; and, for a
    parameter with no clean direction, the kinks that stopped it (its verdict is NOT_AT_KINK); and, for a
    parameter compared without some entries, those entries.

    A direction is clean when no relu, abs, max or min argument changes sign (or leaves or reaches 0)
    between the stencil's points x - hv, x, x + hv: across a kink the loss is not differentiable and a
    difference means nothing. A stencil that crosses one is tried with smaller steps (FD_STEP_CUTS); where
    every step crosses, the entries that alone move a kink's argument across are found (crossing_entries)
    and left out of the directions drawn next (up to 4 x FD_DIRECTIONS draws in all): a bias whose unit
    sits at its kink in some row stops no other entry's comparison.

    stencil_of(points), when given, is sweep.stencil's answer over every row wherever the rows are
    (train's passes over parts); by default it is sweep.stencil over `columns`. richardson=True: where the
    central difference D(h) misses gᵀv by more than FD_ATOL x max(1, |loss|), it is replaced by
    (4 D(h/2) - D(h)) / 3, which cancels D's h² error, and so on with h halved (RICHARDSON_HALVINGS
    times at most): train's check at a trained network, whose large weights make the loss sharply
    curved where the gradient itself is tiny (the spiral's seed 3 missed by 4e-6 at h/2)."""
    import numpy as np

    if stencil_of is None:
        stencil_of = _memory_stencil(graph, columns, rows)
    rng = np.random.default_rng(0)
    found: dict[str, list[tuple[float, float]]] = {}
    stopped: dict[str, list[str]] = {}
    left_out: dict[str, list[str]] = {}
    wanted = set(chosen)
    for name, entries in problem.entries.items():
        picked = [e for e in entries if e in wanted]
        if not picked:
            continue
        point = np.array([values[e] for e in picked])
        g = np.array([gradient[e] for e in picked])
        base = 1e-5 * max(1.0, float(np.abs(point).max()))
        pairs: list[tuple[float, float]] = []
        kinks: dict[str, None] = {}
        draws = 0
        wanted_pairs = FD_DIRECTIONS if len(picked) > 1 else 1
        isolated, out = False, []  # out: the entries every stencil that moves them crosses a kink
        while len(pairs) < wanted_pairs and draws < (4 * FD_DIRECTIONS if len(picked) > 1 else 1):
            draws += 1
            v = rng.normal(size=len(picked)) if len(picked) > 1 else np.ones(1)
            v[out] = 0.0
            v /= np.linalg.norm(v)

            def moved(step: float, v: Any = v) -> list[Mapping[str, float]]:
                return [{**values, **dict(zip(picked, (point + step * v).tolist()))},
                        {**values, **dict(zip(picked, (point - step * v).tolist()))}]

            def attempt(h: float, moved: Callable[..., list[Mapping[str, float]]] = moved) -> tuple[Any, list[str]]:
                tried = stencil_of([values, *moved(h)])
                return tried, tried.crossed

            at, cut, crossed = kink_free(attempt, base, FD_STEP_CUTS)
            h = base * cut
            kinks.update(dict.fromkeys(crossed))
            if at is None:  # every step crossed a kink: another direction, without the entries that move one across
                if len(picked) > 1 and not isolated:
                    isolated = True
                    out = crossing_entries(lambda mask, v=v, h=h: bool(stencil_of([values, *moved(h, v * mask)]).crossed),
                                           len(picked))
                    if len(out) == len(picked):
                        break
                continue
            loss, up, down = at.losses
            fd = (up - down) / (2 * h)
            plain, step = fd, h
            for _ in range(RICHARDSON_HALVINGS if richardson else 0):
                if abs(fd - g @ v) <= FD_ATOL * max(1.0, abs(loss)):
                    break
                half = stencil_of([values, *moved(step / 2)])  # inside a clean stencil: clean too
                finer = (half.losses[1] - half.losses[2]) / step
                fd, plain, step = (4 * finer - plain) / 3, finer, step / 2
            pairs.append((float(fd), float(g @ v)))
        found[name] = pairs
        if not pairs:
            stopped[name] = list(kinks)
        elif out:
            left_out[name] = [picked[i] for i in out]
    return found, stopped, left_out


def crossing_entries(crosses: Callable[[Any], bool], size: int) -> list[int]:
    """The entries (0-based) that alone make a stencil cross a kink, by bisection: crosses(mask) says
    whether the stencil along the direction's entries kept by a 0/1 mask crosses one. A few passes
    per such entry (2 log2 size), where probing each entry would take `size`."""
    import numpy as np

    found: list[int] = []

    def search(indices: list[int]) -> None:
        mask = np.zeros(size)
        mask[indices] = 1.0
        if not crosses(mask):
            return
        if len(indices) == 1:
            found.append(indices[0])
            return
        search(indices[:len(indices) // 2])
        search(indices[len(indices) // 2:])

    search(list(range(size)))
    return sorted(found)


def _memory_stencil(graph: Any, columns: Mapping[str, Any] | None, rows: int
                    ) -> Callable[[list[Mapping[str, float]]], Any]:
    from .engines.sweep import compile_plan, stencil

    loss_plan = compile_plan(graph, [])
    return lambda points: stencil(loss_plan, points, columns or {}, rows)


def clean_differences(loss_plan: Any, chosen: list[str], values: Mapping[str, float], columns: Mapping[str, Any],
                      rows: int) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Each chosen parameter's central difference from a stencil that crosses no kink (its step cut by
    FD_STEP_CUTS until none is crossed); where every step crosses one, the kinks instead (not compared)."""
    from .engines.sweep import stencil

    found: dict[str, float] = {}
    stopped: dict[str, list[str]] = {}
    for name, (h, _, _) in fd_points(chosen, values).items():
        def attempt(step: float, name: str = name) -> tuple[float, list[str]]:
            at = stencil(loss_plan, [values, {**values, name: values[name] + step},
                                     {**values, name: values[name] - step}], columns, rows)
            return (at.losses[1] - at.losses[2]) / (2 * step), at.crossed

        fd, _, kinks = kink_free(attempt, h, FD_STEP_CUTS)
        if fd is None:
            stopped[name] = kinks
        else:
            found[name] = fd
    return found, stopped


def fd_points(chosen: list[str], values: Mapping[str, float]) -> dict[str, tuple[float, dict[str, float], dict[str, float]]]:
    """For each chosen parameter, its central difference's step h (1e-5 x max(1, |value|)) and two points."""
    points = {}
    for name in chosen:
        h = 1e-5 * max(1.0, abs(values[name]))
        points[name] = (h, {**values, name: values[name] + h}, {**values, name: values[name] - h})
    return points


def judged(setup: Setup, evidence: Evidence, rtol: float, atol: float,
           row_gradients: Callable[[list[str]], dict[str, RowGradient]] = lambda warnings: {},
           files: int = 1, engine: str = "memory",
           resolution: Callable[[list[str]], dict[str, float]] | None = None) -> GradientReport:
    """The report: each parameter's engines compared, a kink excusing a disagreement it explains.

    row_gradients(warnings) gives the inputs' and target's per-row gradients (data in memory only).
    resolution(names), asked only for the parameters whose engines differ by more than rtol and atol,
    gives what float64 can resolve of each: a difference within it is rounding, not a disagreement."""
    problem, chosen, values = setup.problem, setup.chosen, setup.values
    warnings, check_fd = evidence.warnings, evidence.check_fd
    results: dict[str, ParamGradient] = {}
    uncompared: dict[Any, list[str]] = {}  # kink -> the parameters not compared because of it
    for name in chosen:
        s = evidence.symbolic.get(name)
        b = evidence.backprop.get(name)
        both = s is not None and b is not None
        gradient = ParamGradient(
            param=name,
            symbolic=evidence.formulas.get(name),
            symbolic_value=s,
            backprop_value=b,
            abs_diff=abs(s - b) if both else None,  # type: ignore[operator]
            agree=_agrees(s, b, rtol, atol) if both else None,  # type: ignore[arg-type]
        )
        if check_fd and name in evidence.fd:
            fd = evidence.fd[name]
            reference = b if b is not None else s
            gradient.fd_value = fd
            if math.isfinite(fd) and reference is not None:
                gradient.fd_agree = _agrees(reference, fd, FD_RTOL, FD_ATOL * max(1.0, abs(evidence.loss)))
            else:
                gradient.fd_agree = False
            gradient.fd_verdict = "agree" if gradient.fd_agree else "disagree"
        elif check_fd and name in evidence.fd_kinks and not problem.tensor:
            gradient.fd_verdict = NOT_AT_KINK
        near = [k for k in evidence.kinks if name in k.params]
        if gradient.agree is False and near:
            # At or within rounding of a kink the engines may fall on different sides of it: backprop's
            # argument can be exactly 0 where SymPy's 30 digits leave 1e-31, or the other way round.
            # Not a disagreement, but a point where the loss is not differentiable.
            gradient.agree = None
            uncompared.setdefault(near[0], []).append(name)
        results[name] = gradient
    for kink, names in uncompared.items():  # one line per kink, however many parameters it touches
        at = "at" if kink.exact else "within rounding of"
        warnings.append(f"not compared for {', '.join(names)}: {kink.text} is {at} its kink in {kink.where()}, "
                        "where the loss is not differentiable and the engines fell on different sides")

    if resolution is not None:
        within_resolution(results, resolution, warnings)
    for name, kinks in evidence.fd_kinks.items():  # one line per parameter that no clean stencil reached
        warnings.append(f"{name}: {NOT_AT_KINK}: {', '.join(kinks)} changes sign inside every finite-difference "
                        "stencil tried (smaller steps, other directions), where the loss is not differentiable")
    for name, entries in evidence.fd_left_out.items():
        warnings.append(f"{name}: {show_text(', '.join(entries), 200)} left out of the finite-difference directions: "
                        "each moves a kink's argument across it within any step tried")
    witness = evidence.witness
    if witness is None and check_fd:
        witness = "finite differences"
    by_row = row_gradients(warnings)
    verdicts = [g.agree for g in [*results.values(), *by_row.values()] if g.agree is not None]
    verdicts += [g.fd_agree for g in results.values() if g.fd_agree is not None]
    tensors = tensor_gradients(problem, results, evidence) if problem.tensor else {}
    verdicts += [t.fd_agree for t in tensors.values() if t.fd_agree is not None]
    if check_fd and problem.tensor and witness == "finite differences":
        witness = f"finite differences along {FD_DIRECTIONS} random directions"
    return GradientReport(
        model=problem.model_text.strip(), loss=problem.loss_name, loss_formula=problem.loss_formula,
        target=problem.target, params=values, inputs=list(problem.inputs), rows=evidence.rows,
        point=evidence.point, defaults=setup.defaults, loss_value=evidence.loss, gradients=results,
        agree=all(verdicts) if verdicts else None, rtol=rtol, atol=atol, engines=evidence.engines,
        warnings=warnings, witness=witness, row_gradients=by_row, files=files, engine=engine, tensors=tensors,
    )


def within_resolution(results: Mapping[str, ParamGradient], resolution: Callable[[list[str]], dict[str, float]],
                      warnings: list[str]) -> None:
    """Each disagreement that float64 cannot resolve becomes an agreement "within float64's resolution",
    its bound and condition recorded, with one line saying which. Only there: a tolerance never widens
    for a gradient that passed, nor where the bound is no larger than rtol and atol (nothing cancels)."""
    differing = [g.param for g in results.values() if g.agree is False]
    if not differing:
        return
    found = resolution(differing)
    within = []
    for name in differing:
        gradient, bound = results[name], found.get(name, math.inf)
        if not (math.isfinite(bound) and gradient.abs_diff is not None and gradient.abs_diff <= bound):
            continue
        exact = gradient.symbolic_value or 0.0
        gradient.agree, gradient.resolution = True, bound
        gradient.condition = bound / (EPS * abs(exact)) if exact else None
        within.append(f"{name} ({condition_text(gradient.condition)}: |diff| {gradient.abs_diff:.3g} <= {bound:.3g})")
    within_warning(within, warnings)


def within_warning(within: list[str], warnings: list[str]) -> None:
    """One line naming what agrees only within float64's resolution (a few of them; JSON has each one)."""
    if within:
        more = f", and {len(within) - SHOWN_WITHIN} more" if len(within) > SHOWN_WITHIN else ""
        warnings.append(f"agree within float64's resolution: {', '.join(within[:SHOWN_WITHIN])}{more}; the engines "
                        "differ by rounding that float64 cannot resolve for this gradient, not by a wrong derivative")


SHOWN_WITHIN = 3  # parameters named in the warning (JSON has each one's resolution)


EPS = 2.0 ** -52  # float64's machine epsilon


def condition_text(condition: float | None) -> str:
    """'condition ~1e9' (the bound over eps x |gradient|), or what an exact 0 means."""
    if condition is None:
        return "an exact 0 from terms that cancel"
    return f"condition ~1e{math.floor(math.log10(condition) + 0.5)}" if condition >= 1 else "condition ~1"


def tensor_gradients(problem: Problem, results: Mapping[str, ParamGradient], evidence: Evidence
                     ) -> dict[str, TensorGradient]:
    """Each parameter as written, its entries' gradients gathered into its shape: the largest difference
    over its entries, and its directional finite differences where those were the witness."""
    grouped: dict[str, TensorGradient] = {}
    shapes = problem.shapes
    for name, entries in problem.entries.items():
        rows = [results[e] for e in entries if e in results]
        if not rows:
            continue
        shape = list(shapes.names[name]) if shapes else []

        def nested(values: list[float | None]) -> Any:
            return None if any(v is None for v in values) else _nested(values, shape)  # type: ignore[arg-type]

        diffs = [r.abs_diff for r in rows if r.abs_diff is not None]
        verdicts = [r.agree for r in rows if r.agree is not None]
        gradient = TensorGradient(
            param=name, shape=shape, entries=[r.param for r in rows],
            symbolic_value=nested([r.symbolic_value for r in rows]) if len(rows) == len(entries) else None,
            backprop_value=nested([r.backprop_value for r in rows]) if len(rows) == len(entries) else None,
            max_abs_diff=max(diffs) if diffs else None,
            agree=all(verdicts) if verdicts else None,
        )
        resolved = [r for r in rows if r.resolution is not None]
        if resolved:
            gradient.resolution = max(r.resolution for r in resolved)  # type: ignore[type-var]
            gradient.condition = None if any(r.condition is None for r in resolved) else max(
                r.condition for r in resolved)  # type: ignore[type-var]
        pairs = evidence.directions.get(name)
        if pairs:
            scale = FD_ATOL * max(1.0, abs(evidence.loss))
            gradient.fd_directions = [{"fd": fd, "gv": gv, "agree": math.isfinite(fd) and _agrees(gv, fd, FD_RTOL, scale)}
                                      for fd, gv in pairs]
            gradient.fd_agree = all(d["agree"] for d in gradient.fd_directions)
            gradient.fd_max_abs_diff = max(abs(fd - gv) for fd, gv in pairs)
            gradient.fd_verdict = "agree" if gradient.fd_agree else "disagree"
            gradient.fd_left_out = evidence.fd_left_out.get(name)
        elif name in evidence.fd_kinks:
            gradient.fd_verdict = NOT_AT_KINK
        grouped[name] = gradient
    return grouped


def _row_gradients(setup: Setup, graph: Any, rtol: float, atol: float, symbolic_too: bool, readable: bool,
                   warnings: list[str]) -> dict[str, RowGradient]:
    """d loss_r / d name for the inputs and target in --wrt: backprop's per-row adjoints of their leaves
    (times the rows: the sweep's adjoints are of the mean), and SymPy's derivative in every row."""
    import numpy as np

    from .engines.graph import backprop

    names, rows = setup.row_wrt, setup.rows
    if not names:
        return {}
    swept = backprop(graph, setup.values, setup.columns, rows, names)
    backprop_rows = {}
    for name in names:
        leaf = graph.leaf(name)
        adjoint = None if leaf is None else swept.adjoints[leaf.id]
        backprop_rows[name] = np.zeros(rows) if adjoint is None else np.broadcast_to(adjoint * rows, (rows,))
    symbolic_rows: dict[str, Any] = {}
    formulas: dict[str, str] = {}
    if symbolic_too:
        try:
            symbolic_rows, formulas, _ = symbolic_derivatives(
                setup.problem, lambda symbolic: symbolic.derivatives(names),
                setup.values, setup.columns, rows, readable, per_row=True)
        except SymbolicUnavailable as why:
            warnings.append(f"the symbolic engine {why}: the inputs' derivatives are backprop's alone")
    found, within = {}, []
    bounds = functools.cache(lambda: row_resolution(setup, graph, names))  # once, and only where a row differs
    for name in names:
        b = backprop_rows[name]
        s = symbolic_rows.get(name)
        role = "target" if name == setup.problem.target else "input"
        if s is None:
            found[name] = RowGradient(name, role, None, None, b.tolist(), None, None)
            continue
        s = np.broadcast_to(np.asarray(s, dtype=float), (rows,))
        diff = np.abs(s - b)
        close = diff <= atol + rtol * np.abs(s)
        gradient = RowGradient(name, role, formulas.get(name), s.tolist(), b.tolist(), float(np.max(diff)),
                               bool(close.all()))
        if not gradient.agree:
            within += rows_within_resolution(gradient, s, diff, close, bounds)
        found[name] = gradient
    within_warning(within, warnings)
    return found


def rows_within_resolution(gradient: RowGradient, exact: Any, diff: Any, close: Any,
                           bounds: Callable[[], dict[str, Any]]) -> list[str]:
    """within_resolution row by row: where every row that fails rtol and atol differs by no more than what
    float64 can resolve of that row's derivative, the name agrees within float64's resolution."""
    import numpy as np

    bound = bounds().get(gradient.name)
    if bound is None:
        return []
    failing = ~close
    if not bool(np.all(np.isfinite(bound[failing]) & (diff[failing] <= bound[failing]))):
        return []
    gradient.agree, gradient.resolution = True, float(np.max(bound[failing]))
    exact_rows = np.abs(exact[failing])
    with np.errstate(all="ignore"):  # past float64's range (a subnormal value): its largest number
        gradient.condition = None if bool(np.any(exact_rows == 0)) else min(
            float(np.max(bound[failing] / (EPS * exact_rows))), sys.float_info.max)
    return [f"{gradient.name} ({condition_text(gradient.condition)}: |diff| {gradient.max_abs_diff:.3g} <= "
            f"{gradient.resolution:.3g})"]


def row_resolution(setup: Setup, graph: Any, names: list[str]) -> dict[str, Any]:
    """What float64 can resolve of each name's derivative in every row (resolution's rule: twice backprop's
    rounding bound, engines/resolution.py); none for a model with vectors or matrices."""
    from .engines.resolution import row_bounds

    if graph.tensor:
        return {}
    return {name: ENGINE_ROUNDINGS * bound
            for name, bound in row_bounds(graph, setup.values, setup.columns, setup.rows, names).items()}


OUT_OF_TIME = "needed more than its"  # how a report's warning says that SymPy ran out of its budget


class SymbolicUnavailable(Exception):
    """SymPy could not give this gradient within its budget; the message says why, for a warning."""


class SymbolicTooLarge(SymbolicUnavailable):
    """The model written out entry by entry is past SymPy's size limits (the message: which, briefly)."""


def symbolic_gradient(problem: Problem, chosen: list[str], values: Mapping[str, float], columns: Mapping[str, Any],
                      rows: int, readable: bool) -> tuple[dict[str, float], dict[str, str]]:
    """SymPy's derivative of each chosen parameter, its mean value over the rows and (readable) its formula,
    all within SYMBOLIC_SECONDS. Past the budget, or where SymPy fails on the expression, SymbolicUnavailable."""
    found, formulas, _ = symbolic_derivatives(
        problem, lambda symbolic: symbolic.derivatives(chosen), values, columns, rows, readable)
    return found, formulas


def symbolic_derivatives(problem: Problem, derivatives_of: Callable[[Any], dict[str, Any]],
                         values: Mapping[str, float], columns: Mapping[str, Any], rows: int,
                         readable: bool, latex: bool = False, per_row: bool = False,
                         ) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The derivatives `derivatives_of(SymbolicLoss)` builds (any order), their mean values over the rows,
    (readable) their formulas and (latex) the same in LaTeX, within SYMBOLIC_SECONDS in all; else
    SymbolicUnavailable, saying why. per_row=True: each value in every row (an array), not the mean."""
    from .engines.symbolic import SYMBOLIC_SECONDS, SymbolicLoss, time_limit

    with sympy_limits(), time_limit(SYMBOLIC_SECONDS):
        symbolic = SymbolicLoss(problem)
        derivatives = derivatives_of(symbolic)
        found = (symbolic.row_values if per_row else symbolic.values)(derivatives, values, columns, rows)
        formulas = {name: symbolic.readable(d) for name, d in derivatives.items()} if readable else {}
        latexed = ({name: symbolic.sp.latex(symbolic.readable_expr(d)) for name, d in derivatives.items()}
                   if latex else {})
    return found, formulas, latexed


@contextmanager
def sympy_limits() -> Iterator[None]:
    """SymPy's limits met inside (its time budget spent, an expression it cannot evaluate) become
    SymbolicUnavailable, saying why; bad input and our own bugs pass as they are."""
    from .engines.symbolic import SYMBOLIC_SECONDS, OutOfTime

    try:
        yield
    except OutOfTime:
        raise SymbolicUnavailable(f"{OUT_OF_TIME} {SYMBOLIC_SECONDS:g} s for this expression") from None
    except UndefinedError as err:  # backprop found every value finite: SymPy's form of it has none (0**w*log(0))
        raise SymbolicUnavailable(f"finds no value where backprop does ({err})") from None
    except GradcliError:
        raise
    except (ArithmeticError, LookupError, NameError, TypeError, ValueError, NotImplementedError,
            RecursionError) as err:
        if not _raised_outside_gradcli(err):
            raise  # a bug of ours, not a limit of SymPy's: it must not pass for one
        # SymPy's limits on an expression it cannot take (a ComplexInfinity it cannot print, say, or a
        # DiracDelta in a second derivative that lambdify's code has no function for: a NameError)
        raise SymbolicUnavailable(f"cannot evaluate this expression ({type(err).__name__} in SymPy)") from None


def _raised_outside_gradcli(err: BaseException) -> bool:
    """Whether the innermost frame of err's traceback is not gradcli's own code (SymPy, mpmath, NumPy, or
    code that lambdify generated)."""
    import os

    frame = err.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    here = os.path.dirname(os.path.abspath(__file__))
    return frame is not None and not os.path.abspath(frame.tb_frame.f_code.co_filename).startswith(here)


# ---------------------------------------------------------------- grad over data larger than memory
#
# The gradient of a mean loss is a sum over rows, so each part read from disk adds its rows' share to
# each witness: backprop's sweep, SymPy's derivatives (made once, within the symbolic budget, then
# evaluated on every part) and, with --check-fd, the losses either side of each parameter. Each
# part's means are weighted by its rows, and the verdicts are the in-memory ones (judged). At most
# one part's columns are resident. Where SymPy cannot evaluate a part, finite differences become
# the second witness, as in memory, at the cost of a second pass. A per-row gradient (--wrt naming
# an input or the target) would be as large as the data: it needs the data in memory.


@dataclass(frozen=True)
class PlacedKink:
    """A kink found part by part (graph.Kink's fields), its first rows named by file and row. `rows`
    holds those rows alone, counted over all the data: a kink may be met in millions of rows."""

    text: str
    rows: tuple[int, ...]
    exact: bool
    params: frozenset[str]
    places: tuple[str, ...] = ()
    more: bool = False  # more rows than `places` names

    def where(self) -> str:
        return ", ".join(self.places) + (", ..." if self.more else "")


SHOWN_KINK_ROWS = 5  # as Kink.where shows


@dataclass
class Totals:
    """Each witness's sums over the parts read so far, every mean weighted by its part's rows."""

    rows: int = 0
    loss: float = 0.0
    gradient: Any = None
    symbolic: dict[str, float] = field(default_factory=dict)
    fd: dict[str, list[float]] = field(default_factory=dict)  # name -> [sum of up losses, sum of down losses]
    fd_kinks: dict[str, dict[str, None]] = field(default_factory=dict)  # name -> kinks its stencil crossed
    kinks: dict[tuple[str, bool, frozenset[str]], list[Any]] = field(default_factory=dict)  # -> [rows, places, count]
    point: dict[str, float] | None = None  # the only row's values, where there is one row in all
    unavailable: SymbolicUnavailable | None = None  # why SymPy's values stopped, if they did

    def add_kinks(self, found: list[Any], part: Any) -> None:
        """A part's kinks (rows counted within it), before its rows are added to self.rows."""
        from .io.dataset import part_place

        for kink in found:
            entry = self.kinks.setdefault((kink.text, kink.exact, kink.params), [[], [], 0])
            for row in kink.rows[:max(0, SHOWN_KINK_ROWS + 1 - len(entry[1]))]:
                entry[0].append(self.rows + row)
                entry[1].append(f"{part.name} {part_place(part, row)}")
            entry[2] += len(kink.rows)

    def placed_kinks(self) -> list[PlacedKink]:
        return [PlacedKink(text, tuple(rows), exact, params, tuple(places[:SHOWN_KINK_ROWS]), count > SHOWN_KINK_ROWS)
                for (text, exact, params), (rows, places, count) in self.kinks.items()]


def dataset_setup(given: Any, dataset: Any, *, loss: str, target: str, wrt: str | Iterable[str] | None,
                  delta: float, from_file: bool, rows_allowed: bool = False) -> tuple[str, list[str], Setup]:
    """The Setup of data read part by part (streamed, or on Dask): how messages name the data, the
    columns the loss reads, and the roles decided from the column names alone, a stand-in row
    carrying them (never computed on)."""
    from .io.csv import require_columns
    from .language.columns import model_columns

    name = dataset.name if len(dataset.files) > 1 else dataset.files[0].path
    wanted = list(dict.fromkeys(model_columns(given.model, loss, target, dataset.header, name, from_file=from_file)))
    require_columns(dataset.header, [*wanted, target], name)
    columns = list(dict.fromkeys([*wanted, target]))
    setup = prepare(given.model, loss, {column: [0.0] for column in columns}, given.params, target=target, wrt=wrt,
                    delta=delta, from_file=from_file, check_finite=False, rows_allowed=rows_allowed)
    return name, columns, setup


def symbolic_means(columns: Mapping[str, Any], rows: int, symbolic: Any, derivatives: Mapping[str, Any],
                   values: Mapping[str, float]) -> dict[str, float]:
    """The mean of each SymPy derivative over one part's rows (SymPy's limits as SymbolicUnavailable).
    Module-level, so that a Dask worker can run it."""
    with sympy_limits():
        return symbolic.values(derivatives, values, columns, rows)


def streamed_gradients(given: Any, dataset: Any, budget: int, *, loss: str, target: str,
                       wrt: str | Iterable[str] | None, delta: float, rtol: float, atol: float,
                       engines: tuple[str, ...] = ENGINES, check_fd: bool = False, from_file: bool = False,
                       readable: bool = True, dask: str | None = None, workers: int | None = None,
                       dashboard: Callable[[str], None] | None = None) -> GradientReport:
    """comparison.gradients over a Dataset larger than `budget`, read part by part (see the comment
    above), or (`dask`: "local" or a scheduler's address) summed part by part on Dask's workers.

    `given` is io.sources.point_inputs' result without data: the model, parameters and notes."""
    from .engines.graph import build_graph
    from .engines.sweep import compile_plan
    from .errors import unused
    from .io.dataset import part_bytes

    name, columns, setup = dataset_setup(given, dataset, loss=loss, target=target, wrt=wrt, delta=delta,
                                         from_file=from_file, rows_allowed=True)
    if setup.row_wrt:
        how = ("is on Dask's workers; leave out --dask" if dask is not None else
               f"({dataset.size:,} bytes) is larger than --memory ({budget:,} bytes); give a larger --memory")
        raise DataError(f"--wrt {', '.join(setup.row_wrt)}: one value per row needs the data in memory, and "
                        f"{show_text(name)} {how}, or leave the inputs and the target out of --wrt")
    problem, chosen, values = setup.problem, setup.chosen, setup.values
    graph = build_graph(problem)
    witness = "symbolic" if "symbolic" in engines else None
    warnings = list(setup.warnings)
    symbolic = None
    if "symbolic" in engines:
        try:
            symbolic = _derivatives(problem, chosen)
        except SymbolicUnavailable as why:
            witness, engines, check_fd = "finite differences", tuple(e for e in engines if e != "symbolic"), True
            warnings.append(fd_witness_note(why))
    plan = compile_plan(graph, chosen if "backprop" in engines else [])
    loss_plan = compile_plan(graph, [])
    steps = fd_points(chosen, values)
    parts = dataset.parts(part_bytes(budget))
    with _part_passes(parts, problem, columns, len(dataset.files), dask, workers, dashboard) as each:
        totals = _one_pass(each, parts, plan, loss_plan, values, symbolic, steps if check_fd else {})
        if totals.unavailable is not None:  # SymPy could not evaluate some part: finite differences stand in
            witness, engines = "finite differences", tuple(e for e in engines if e != "symbolic")
            warnings.append(fd_witness_note(totals.unavailable))
            if not check_fd:
                check_fd = True
                totals.fd = _one_pass(each, parts, None, loss_plan, values, None, steps).fd
    evidence = _streamed_evidence(totals, chosen, engines, symbolic, steps, witness, check_fd, warnings, readable)
    notes = unused("column", [n for n in dataset.header if n not in columns], f"of {name} {{verb}} not used by the model")
    streamed = dataclasses.replace(setup, columns={}, rows=totals.rows)

    def read_again() -> Iterator[tuple[dict[str, Any], int]]:  # only where the engines differ: one more pass
        for part in parts:
            table = part.load(columns)
            if table.rows:
                yield {name: table.columns[name] for name in columns}, table.rows

    report = judged(streamed, evidence, rtol, atol, files=len(dataset.files), engine="stream" if dask is None else "dask",
                    resolution=lambda names: resolution(streamed, names, read_again()))
    report.warnings[:0] = [*given.notes, *notes]
    return report


@dataclass
class _Symbolic:
    """SymPy's derivatives, made once."""

    loss: Any  # engines.symbolic.SymbolicLoss
    derivatives: dict[str, Any]

    def formulas(self) -> dict[str, str]:
        """Each derivative's formula for people, within the symbolic budget; none where it runs out.

        Made after the pass, as compare makes them after evaluating: the simplifier's time bound
        then does not pay for SymPy's first imports, and the formulas read as in memory."""
        from .engines.symbolic import SYMBOLIC_SECONDS, time_limit

        try:
            with sympy_limits(), time_limit(SYMBOLIC_SECONDS):
                return {name: self.loss.readable(d) for name, d in self.derivatives.items()}
        except SymbolicUnavailable:
            return {}


def _derivatives(problem: Any, chosen: list[str]) -> _Symbolic:
    """SymPy's derivative of each chosen parameter, within the symbolic budget."""
    from .engines.symbolic import SYMBOLIC_SECONDS, SymbolicLoss, time_limit

    with sympy_limits(), time_limit(SYMBOLIC_SECONDS):
        symbolic = SymbolicLoss(problem)
        return _Symbolic(symbolic, symbolic.derivatives(chosen))


def read_part(part: Any, problem: Any, columns: list[str]) -> tuple[dict[str, Any], int]:
    """One part's `columns`, checked as it is read (a bad cell named by file, row and column) and
    bce's targets checked. Module-level, so that a Dask worker can run it."""
    table = part.load(columns)
    if not table.rows:
        return {}, 0
    data = {name: table.columns[name] for name in columns}
    check_targets(problem, data[problem.target], where=_part_where(part))
    return data, table.rows


def _part_where(part: Any) -> Callable[[int], str]:
    from .io.dataset import part_place

    return lambda row: f"{part.name} {part_place(part, row)}"


@dataclass
class PartSums:
    """One part's share of every witness: its rows' sums (each mean times the part's rows)."""

    loss: float = 0.0
    gradient: Any = None  # None: backprop not asked for in this pass
    kinks: list[Any] = field(default_factory=list)  # graph.Kink, rows counted within the part
    fd: dict[str, list[float]] = field(default_factory=dict)  # name -> [sum of up losses, sum of down losses]
    fd_crossed: dict[str, list[str]] = field(default_factory=dict)  # name -> kinks its stencil crossed in the part
    symbolic: dict[str, float] | None = None
    unavailable: SymbolicUnavailable | None = None  # why SymPy gave no values on this part
    undefined: UndefinedError | None = None  # the loss undefined at a row of the part (its row within it)
    point: dict[str, float] | None = None  # the only row's values, in a part of one row


def part_witnesses(data: Mapping[str, Any], rows: int, plan: Any, loss_plan: Any, values: Mapping[str, float],
                   symbolic: _Symbolic | None,
                   steps: Mapping[str, tuple[float, dict[str, float], dict[str, float]]]) -> PartSums:
    """What one part adds to each witness asked for (plan None: no backprop). Module-level, so that a
    Dask worker can run it; an undefined row comes back as data, to be named by its file here."""
    import numpy as np

    from .engines.sweep import run, stencil

    sums = PartSums(point={name: float(column[0]) for name, column in data.items()} if rows == 1 else None)
    try:
        if plan is not None:
            swept = run(plan, values, data, rows, diagnose=True, find_kinks=True)
            sums.loss, sums.gradient, sums.kinks = swept.loss * rows, np.asarray(swept.gradient) * rows, list(swept.kinks)
        for name, (_, up, down) in steps.items():  # a stencil across a kink in any part: not compared
            at = stencil(loss_plan, [values, up, down], data, rows)
            sums.fd[name] = [at.losses[1] * rows, at.losses[2] * rows]
            if at.crossed:
                sums.fd_crossed[name] = list(at.crossed)
    except UndefinedError as err:
        sums.undefined = err
        return sums
    if symbolic is not None:
        try:
            with sympy_limits():
                means = symbolic.loss.values(symbolic.derivatives, values, data, rows)
            sums.symbolic = {name: mean * rows for name, mean in means.items()}
        except SymbolicUnavailable as why:
            sums.unavailable = why
    return sums


Passes = Callable[..., Iterator[tuple[Any, PartSums, int]]]  # part_witnesses' arguments -> (part, sums, rows)


@contextmanager
def _part_passes(parts: list[Any], problem: Any, columns: list[str], files: int, dask: str | None,
                 workers: int | None, dashboard: Callable[[str], None] | None) -> Iterator[Passes]:
    """What runs one pass of part_witnesses: here, each part read from disk in turn, or (`dask`) on a
    cluster's workers, where the parts are read once and kept (io/distributed.py, as train does)."""
    if dask is None:
        def streamed(*args: Any) -> Iterator[tuple[Any, PartSums, int]]:
            for part in parts:
                data, rows = read_part(part, problem, columns)
                if rows:
                    yield part, part_witnesses(data, rows, *args), rows

        yield streamed
        return
    from .io.distributed import DaskRows, dask_client

    with dask_client(dask, workers, dashboard) as client:
        held = DaskRows(client, parts, read_part, files, problem=problem, columns=columns)

        def on_dask(*args: Any) -> Iterator[tuple[Any, PartSums, int]]:
            results = held.map(part_witnesses, *args)
            for i, (sums, rows) in zip(held.live, results):
                yield parts[i], sums, rows

        yield on_dask


def _one_pass(each: Passes, parts: list[Any], plan: Any, loss_plan: Any, values: Mapping[str, float],
              symbolic: _Symbolic | None,
              steps: Mapping[str, tuple[float, dict[str, float], dict[str, float]]]) -> Totals:
    """Every part once, each adding its rows' share to every witness asked for (plan None: no backprop),
    in file order: the first undefined row in the data is the one named."""
    import numpy as np

    from .errors import placed

    totals = Totals(gradient=np.zeros(len(plan.wanted)) if plan is not None else None)
    for part, sums, rows in each(plan, loss_plan, values, symbolic, steps):
        if sums.undefined is not None:  # a row where the loss is undefined: named in its file
            raise placed(sums.undefined, _part_where(part)) from None
        if sums.gradient is not None:
            totals.loss += sums.loss
            totals.gradient += sums.gradient
            totals.add_kinks(sums.kinks, part)
        for name, (up, down) in sums.fd.items():
            found = totals.fd.setdefault(name, [0.0, 0.0])
            found[0] += up
            found[1] += down
        for name, crossed in sums.fd_crossed.items():
            totals.fd_kinks.setdefault(name, {}).update(dict.fromkeys(crossed))
        if symbolic is not None and totals.unavailable is None:
            if sums.unavailable is not None:
                totals.unavailable = sums.unavailable
            else:
                for name, total in (sums.symbolic or {}).items():
                    totals.symbolic[name] = totals.symbolic.get(name, 0.0) + total
        totals.point = sums.point if (totals.rows, rows) == (0, 1) else None
        totals.rows += rows
    if not totals.rows:
        raise DataError(f"{parts[0].name if len(parts) == 1 else 'the data'}: there are no data rows")
    return totals


def _streamed_evidence(totals: Totals, chosen: list[str], engines: tuple[str, ...], symbolic: _Symbolic | None,
              steps: Mapping[str, tuple[float, dict[str, float], dict[str, float]]], witness: str | None,
              check_fd: bool, warnings: list[str], readable: bool) -> Evidence:
    """The sums turned into means over every row, as compare's Evidence."""
    rows = totals.rows
    backprop = dict(zip(chosen, (totals.gradient / rows).tolist())) if "backprop" in engines else {}
    kinks = totals.placed_kinks()
    found_symbolic = ({name: totals.symbolic[name] / rows for name in chosen}
                      if symbolic is not None and "symbolic" in engines else {})
    formulas = symbolic.formulas() if readable and found_symbolic and symbolic is not None else {}
    fd = ({name: (totals.fd[name][0] / rows - totals.fd[name][1] / rows) / (2 * steps[name][0]) for name in chosen
           if name not in totals.fd_kinks} if check_fd else {})
    fd_kinks = {name: list(kinks) for name, kinks in totals.fd_kinks.items()} if check_fd else {}
    return Evidence(rows, totals.point, totals.loss / rows, backprop, kinks, found_symbolic, formulas, fd, engines,
                    witness, check_fd, warnings + kink_warnings(kinks), fd_kinks=fd_kinks)
