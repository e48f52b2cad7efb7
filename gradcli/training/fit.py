"""`gradcli train` as a library call: choose the model, train it, then check the result two ways.

The checks: the closed-form least-squares solution where the model is linear in its
parameters and the loss is mse, and the final gradient by both engines over the full
data, as `gradcli grad` computes it. `train()` is the public entry point (gradcli.train):
it reads the data and options as the CLI gives them, and writes --save, --history and --plot.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engines.fresh import as_if_fresh
from ..errors import DataError, RoleError, show_text, unused
from ..language.columns import model_columns, read_columns
from ..language.losses import DEFAULT_DELTA, LEAST_SQUARES, loss_named
from ..language.problem import Problem, as_written, build_problem, check_name, classes_of, shapes_of
from .closed_form import MAX_CLOSED_FORM, ClosedForm, is_linear_in_params, least_squares, starts_at_zero
from .loop import EXACT_FIT_REASON, Trainer, TrainResult, starting_point
from .options import DEFAULT_EPOCHS, DEFAULT_PATIENCE, DEFAULT_TOL, OPTIMIZERS, TrainOptions
from .passes import Rows

SHORT_OF_OPTIMUM = 1e-6  # a trained mse this far (relative) above least squares' gets a warning
CHECK_RTOL = 1e-9  # final gradient check; its atol is CHECK_RTOL x the summed size of the per-row terms


@dataclass(frozen=True)
class ChosenModel:
    text: str
    default: bool  # True: made from the columns because no --model was given


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


def problem_for(model_text: str, loss: str, target: str, header: list[str], source: str,
                delta: float = DEFAULT_DELTA, from_file: bool = False) -> Problem:
    """The problem with the columns the model uses as inputs; every other name is a parameter."""
    inputs = model_columns(model_text, loss, target, header, source, from_file=from_file, inputs_must_exist=True)
    return build_problem(model_text, loss, target=target, data_names=inputs, delta=delta, from_file=from_file)


def layered_problem(model_text: str, loss: str, target: str, columns: Mapping[str, Any], rows: int,
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
    from ..io.layers import layer_options
    from ..language.initial import split_given

    layout = layer_options(model_text, loss, target, columns, given, shapes, dims, inputs, from_file, where=where)
    problem = build_problem(model_text, loss, target=target, data_names=list(wanted), delta=delta,
                            from_file=from_file, shapes=layout.shapes, gathered=layout.gathered,
                            data_shapes=layout.data_shapes, classes=classes or layout.classes)
    start = dict(given)
    if problem.tensor or problem.gathered:
        start = split_given(problem, given)
        columns = layout.gather(problem, dict(columns), rows)
    return problem, {name: columns[name] for name in (*problem.inputs, problem.target)}, start


@dataclass
class GradientCheck:
    agree: bool | None
    rtol: float
    atol: float
    gradients: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # the gradient engines' warnings (kinks, ...)
    # what backprop was checked against: "symbolic" (SymPy; for vectors and matrices on the model
    # written out entry by entry), or "finite differences along 3 random directions" past that
    witness: str | None = "symbolic"
    # a model with vectors and matrices: each parameter as written, its largest differences
    tensors: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        found = {"agree": self.agree, "rtol": self.rtol, "atol": self.atol, "witness": self.witness,
                 "gradients": self.gradients}
        if self.tensors:
            found["gradients"] = self.tensors
        return found


@dataclass
class Held:
    """The rows --validation kept out of training."""

    fraction: float
    columns: dict[str, Any]
    rows: int
    where: Any = None  # where(row): a 1-based validation row's place in the file


@dataclass
class TrainReport:
    model: ChosenModel
    problem: Problem
    options: TrainOptions
    rows: int
    result: TrainResult
    linear: bool
    closed_form: ClosedForm | None
    check: GradientCheck | None
    warnings: list[str]
    delta: float = DEFAULT_DELTA  # Huber's threshold, saved with the model
    engine: str = "memory"  # where the rows were: "memory", "stream" (from disk, part by part) or "dask"
    files: int = 1  # the data's files
    validation: float | None = None  # --validation: the fraction of rows kept out of training
    validation_rows: int = 0
    # accuracy (bce, ce) or r2 (mse, mae, huber) on the training rows and on the validation rows
    metrics: dict[str, dict[str, float | None] | None] = field(default_factory=dict)
    drawn: dict[str, str] = field(default_factory=dict)  # a vector or matrix parameter -> how it started

    @property
    def params(self) -> dict[str, float]:
        """The trained parameters."""
        return self.result.params

    @property
    def loss(self) -> float:
        """The final mean loss over every row."""
        return self.result.loss

    @property
    def history(self) -> list[float]:
        """The mean loss over every row at the start and after each epoch."""
        return self.result.history

    @property
    def validation_history(self) -> list[float]:
        """The mean loss over the validation rows at the same points as `history` (empty without)."""
        return self.result.validation_history

    @property
    def validation_loss(self) -> float | None:
        """The final mean loss over the validation rows; None without --validation."""
        held = self.result.validation_history
        return held[-1] if held and not self.result.diverged else None

    @property
    def excess_loss(self) -> float | None:
        """(trained loss - least squares' loss) / least squares' loss, where a closed form exists."""
        closed, loss = self.closed_form, self.result.loss
        if closed is None or not math.isfinite(loss):
            return None
        return (loss - closed.loss) / closed.loss if closed.loss > 0 else loss - closed.loss

    @property
    def at_optimum(self) -> bool | None:
        """The trained loss is within SHORT_OF_OPTIMUM (relative) of least squares', or an exact fit (mse is
        never negative: nothing lies below rounding of 0, where the ratio of two such losses is noise);
        None without a closed form."""
        excess = self.excess_loss
        return None if excess is None else excess <= SHORT_OF_OPTIMUM or self.exact_fit

    @property
    def exact_fit(self) -> bool:
        """The run ended at an exact fit: its built-in loss fell to rounding of 0 (loop.EXACT_FIT)."""
        return self.result.stop_reason == EXACT_FIT_REASON

    @property
    def failed(self) -> bool:
        """Exit code 1: training diverged or the two engines disagree on the final gradient."""
        return self.result.diverged or (self.check is not None and self.check.agree is False)

    def to_dict(self) -> dict[str, Any]:
        result, options = self.result, self.options
        return {
            "model": self.model.text,
            "default_model": self.model.default,
            "loss_name": self.problem.loss_name,
            "target": self.problem.target,
            "inputs": list(self.problem.inputs),
            "rows": self.rows,
            "files": self.files,
            "engine": self.engine,
            "optimizer": options.optimizer,
            "lr": options.learning_rate,
            "batch_size": options.batch(self.rows),  # lbfgs: always every row
            "seed": options.seed,
            "params": as_written(self.problem, _finite(result.params)),
            "initial": as_written(self.problem, _finite(result.initial)),
            "shapes": shapes_of(self.problem),
            "gathered": {name: list(columns) for name, columns in self.problem.gathered.items()},
            "classes": classes_of(self.problem),
            "loss": result.loss if math.isfinite(result.loss) else None,
            "epochs": result.epochs,
            "precondition": options.precondition,
            "preconditioned": result.preconditioned,
            "converged": result.converged,
            "optimality": result.optimality,
            "diverged": result.diverged,
            "stop_reason": result.stop_reason,
            "at_optimum": self.at_optimum,
            "excess_loss": self.excess_loss,
            "seconds": result.seconds,
            "history": [v if math.isfinite(v) else None for v in result.history],
            "validation": self.validation,
            "validation_rows": self.validation_rows,
            "validation_loss": _number(self.validation_loss),
            "validation_history": ([_number(v) for v in result.validation_history]
                                   if self.validation is not None else None),
            "metrics": self.metrics,
            "closed_form": self.closed_form.to_dict() if self.closed_form else None,
            "gradient_check": self.check.to_dict() if self.check else None,
        }


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _finite(values: Mapping[str, float]) -> dict[str, float | None]:
    """JSON has no inf or nan: a diverged parameter is null."""
    return {name: value if math.isfinite(value) else None for name, value in values.items()}


def fit(model: ChosenModel, problem: Problem, columns: Mapping[str, Any] | Rows, rows: int, options: TrainOptions,
        init: Mapping[str, float] | None = None, delta: float = DEFAULT_DELTA, progress: Any = None,
        source: str = "", from_file: bool = False, where: Any = None, validation: Held | None = None) -> TrainReport:
    """Train, then check: closed form where it applies, and the final gradient two ways.

    `columns` holds every row in memory, or is a Rows (training/passes.py: streamed or on Dask;
    its parts check their own targets). where(row) describes a 1-based row in messages (the CLI
    adds the CSV line). `validation` holds rows kept out of training: their loss is recorded after
    every epoch and the metrics are measured on them too. A model with vectors and matrices starts
    from language/initial.py's seeded Glorot (He under relu) weights and biases at 0.
    """
    from ..setup import check_targets

    if isinstance(columns, Mapping):
        check_targets(problem, columns[problem.target], source, where)
    init = dict(init or {})
    warnings = unused("--init", [name for name in init if name not in problem.params], "{verb} not a parameter of the model")
    linear = is_linear_in_params(problem)
    trainer = Trainer(problem, columns, rows)
    rows, engine, files = trainer.rows, trainer.data.engine, trainer.data.files
    drawn: dict[str, str] = {}
    if problem.tensor:  # never a symmetric start: every hidden unit would learn the same thing
        from ..language.initial import initial_values

        start, drawn = initial_values(problem, init, options.seed)
    else:
        start = starting_point(problem, init, starts_at_zero(problem, linear), options.seed)
    held = _held_loss(trainer, validation) if validation is not None else None
    result = trainer.run(start, options, progress, held)

    def report_of(closed: ClosedForm | None, check: GradientCheck | None, notes: list[str]) -> TrainReport:
        report = TrainReport(model, problem, options, rows, result, linear, closed, check, notes, delta, engine,
                             files, drawn=drawn)
        if validation is not None:
            report.validation, report.validation_rows = validation.fraction, validation.rows
        return report

    if result.diverged:
        return report_of(None, None, warnings)
    closed = None
    if (linear and problem.loss_entry.closed_form == LEAST_SQUARES and problem.params
            and not trainer.graph.nodes[trainer.graph.model].shape
            and (not problem.tensor or len(problem.params) <= MAX_CLOSED_FORM)):
        if engine == "memory":
            closed = least_squares(problem, trainer.graph, trainer.columns, rows, result.params)
        else:
            from .partwise import tsqr_least_squares

            closed = tsqr_least_squares(problem, trainer.graph, trainer.data, result.params)
    if engine == "memory":
        check = final_gradient_check(trainer, result.params, delta, from_file)
    else:
        from .partwise import gradient_check

        check = gradient_check(trainer, result.params, CHECK_RTOL)
    report = report_of(closed, check, warnings + check.notes)
    report.metrics = _metrics(trainer, result.params, validation)
    if report.at_optimum is False:
        scaling = "" if options.precondition else ", preconditioning (leave out --no-precondition)"
        report.warnings.append(
            f"least squares reaches a loss of {closed.loss:.6g}, below the trained {result.loss:.6g}: training "
            f"stopped short of the optimum (a smaller --tol, more --epochs, another --optimizer{scaling}, "
            "or centred and scaled inputs)")
    return report


def _held_loss(trainer: Trainer, validation: Held) -> Callable[[Any], float]:
    """The mean loss over the validation rows at theta (one forward sweep; no gradient). Undefined at
    the start, it is bad input, named by the validation row's place in the file; later an undefined
    value is recorded as it is (training never looks at it)."""
    from ..engines.sweep import run
    from ..errors import UndefinedError, placed

    names, plan, data = trainer.names, trainer.loss_plan, validation
    first = [True]

    def loss(theta: Any) -> float:
        params = dict(zip(names, theta.tolist()))
        if first[0]:
            first[0] = False
            try:
                return run(plan, params, data.columns, data.rows, diagnose=True).loss
            except UndefinedError as err:
                raise placed(err, data.where or (lambda row: f"validation row {row}")) from None
        return run(plan, params, data.columns, data.rows).loss

    return loss


def _metrics(trainer: Trainer, params: Mapping[str, float], validation: Held | None
             ) -> dict[str, dict[str, float | None] | None]:
    """Accuracy or R² on the training rows and (with --validation) on the validation rows."""
    from .metrics import metrics
    from .passes import MemoryRows

    found: dict[str, dict[str, float | None] | None] = {
        "train": metrics(trainer.problem, trainer.graph, trainer.data, params), "validation": None}
    if validation is not None:
        found["validation"] = metrics(trainer.problem, trainer.graph, MemoryRows(validation.columns, validation.rows),
                                      params)
    return found


def final_gradient_check(trainer: Trainer, params: Mapping[str, float], delta: float,
                         from_file: bool = False) -> GradientCheck:
    """Symbolic vs backprop over the full data at the trained parameters.

    At an optimum the gradient is a sum of per-row terms that cancel, so rounding is relative to
    the size of those terms, not to the (tiny) result: atol = CHECK_RTOL x sum over rows of |term|.
    """
    from ..compare.memory import compare
    from ..setup import prepare

    problem = trainer.problem
    if not problem.params:
        return GradientCheck(None, CHECK_RTOL, 0.0)
    swept = trainer.terms(dict(params))
    size = max(swept.abs_terms or [0.0])
    atol = max(CHECK_RTOL * size, 1e-12)
    if problem.tensor:  # the trained problem itself (its shapes, gathered inputs and classes)
        from .partwise import tensor_gradient_check

        return tensor_gradient_check(trainer, params, swept, CHECK_RTOL, atol)
    setup = prepare(problem.model_text, problem.loss_name, trainer.columns, params, target=problem.target,
                    delta=delta, from_file=from_file, check_finite=False, rows_allowed=True)
    report = compare(setup, rtol=CHECK_RTOL, atol=atol, readable=False)
    from .partwise import gradient_entry

    per_param = {name: gradient_entry(g) for name, g in report.gradients.items()}
    return GradientCheck(report.agree, CHECK_RTOL, atol, per_param, report.warnings)


def checked(report: Any, atol: float) -> GradientCheck:
    """A model with vectors and matrices: grad's report (comparison.GradientReport) of the final
    gradient as train's check. SymPy differentiates the model written out entry by entry up to
    its size limit (comparison.entrywise); past it, finite differences along random directions are
    the witness, with their own tolerances, and the report's warning says so."""
    from dataclasses import asdict

    from ..compare.verdicts import FD_ATOL, FD_RTOL

    per_entry = {name: {"symbolic_value": g.symbolic_value, "backprop_value": g.backprop_value,
                        "abs_diff": g.abs_diff, "agree": g.agree} for name, g in report.gradients.items()}
    tensors = {}
    for name, t in report.tensors.items():
        found = asdict(t)
        found.pop("param")
        found.pop("entries")
        tensors[name] = found
    rtol = report.rtol
    if report.witness != "symbolic":
        rtol, atol = FD_RTOL, FD_ATOL * max(1.0, abs(report.loss_value))
    return GradientCheck(report.agree, rtol, atol, per_entry, list(report.warnings), report.witness, tensors)


def _fixed_order(function: Callable[..., TrainReport]) -> Callable[..., TrainReport]:
    """Training's products and dot products in a fixed order (language/tensors.fixed_order_products), so
    that a run ends at the same parameters on every machine whatever its BLAS (rows on Dask workers
    excepted: they sweep in the workers' processes)."""
    import functools

    @functools.wraps(function)
    def fixed(*args: Any, **kwargs: Any) -> TrainReport:
        from ..language.tensors import fixed_order_products

        with fixed_order_products():
            return function(*args, **kwargs)

    return fixed


@as_if_fresh
@_fixed_order
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
    from ..errors import UndefinedError, placed
    from ..io.arguments import callback, memory_budget, number, parameter_values, probability, text
    from ..io.arguments import delimiter as checked_delimiter
    from ..io.dataset import open_dataset
    from ..io.distributed import dask_target
    from ..io.layers import input_spec
    from ..io.outputs import check_outputs, check_plot
    from ..io.sources import is_spec, model_text, one_stdin, open_table, param_values

    options = _options(optimizer, lr, epochs, batch_size, seed, tol, patience, precondition)
    text(loss, "--loss"), text(target, "--target"), number(delta, "--delta"), callback(progress, "progress")
    callback(pass_progress, "pass_progress"), callback(dashboard, "dashboard")
    fraction = probability(validation, "--validation", none=True)
    spec = input_spec(inputs)
    where = dask_target(dask, workers, data)
    delimiter = checked_delimiter(delimiter)
    one_stdin({"the data": data, "--model-file": model_file, "--init": init})
    inputs = [os.fspath(spec) for spec in (data, model_file, init) if is_spec(spec)]
    outputs = check_outputs({"--save": save, "--plot": plot, "--history": history}, inputs)
    check_plot(None if plot is None else os.fspath(plot))
    chosen, from_file = None, False
    if model is not None or model_file is not None:
        text, from_file = model_text(model, model_file)
        chosen = ChosenModel(text, False)
    start = parameter_values(param_values(init, "--init"), "--init")
    budget = memory_budget(memory)
    if where is None:
        dataset = _dataset_to_stream(data, delimiter, budget)
    else:
        dataset = open_dataset(os.fspath(data), "data", delimiter)
    layers = {"shapes": shapes, "dims": dims, "inputs": spec}
    if dataset is not None:
        if fraction is not None:
            how = ("on Dask the rows are on the workers" if where is not None else
                   f"{show_text(dataset.name)} ({dataset.size:,} bytes) is larger than --memory ({budget:,} bytes) "
                   "and is streamed from disk")
            raise DataError(f"--validation keeps rows out of training in memory, and {how}; give a larger "
                            "--memory, or split the data into two files yourself and check the model with "
                            "`gradcli predict` on the second")
        if where is not None:
            report = _train_on_dask(dataset, chosen, loss, target, delta, from_file, options, start, progress,
                                    budget, pass_progress, where, workers, dashboard, layers)
        else:
            report = _train_streamed(dataset, chosen, loss, target, delta, from_file, options, start, progress,
                                     budget, pass_progress, layers)
        read = set(read_columns(report.problem))
        warnings = options.ignored() + unused("column", [n for n in dataset.header if n not in read],
                                              f"of {dataset.name} {{verb}} not used by the model")
    else:
        table = open_table(data, delimiter=delimiter, max_bytes=budget)
        source = table.name
        chosen = chosen or default_model(table.header, target, source)
        wanted = model_columns(chosen.text, loss, target, table.header, source, from_file=from_file,
                               inputs_must_exist=True, inputs=spec)
        read = _read_numbers(table, [*wanted, target] if target in table.header else wanted, chosen, target)
        problem, columns, start = layered_problem(
            chosen.text, loss, target, read.columns, read.rows, wanted, start, **layers, delta=delta,
            from_file=from_file, where=lambda row: f"{table.place(row)} of {source}")
        warnings = options.ignored() + table.unused(set(read_columns(problem)))
        rows, place, held = read.rows, table.place, None
        if fraction is not None:
            from ..setup import check_targets

            check_targets(problem, columns[target], source, table.place)  # the held-out rows too
            columns, rows, place, held = _split(columns, read.rows, fraction, options.seed, table.place, source)
            read = None  # only the two sets' copies of the rows are kept
        try:
            report = fit(chosen, problem, columns, rows, options, start, delta, progress, source, from_file,
                         where=place, validation=held)
        except UndefinedError as err:  # undefined at the starting point: name the file and line
            raise placed(err, lambda row: f"{source} {place(row)}") from None
        report.files = getattr(table, "files", 1)
    report.warnings[:0] = warnings
    if outputs and not report.result.diverged:
        _write_outputs(report, outputs)
    return report


def split_rows(rows: int, fraction: float, seed: int) -> tuple[Any, Any]:
    """The 0-based indices of the training rows and of the validation rows, each in file order: the
    round(fraction x rows) rows that a permutation seeded by `seed` puts first are the validation's.
    Both must be at least one row."""
    import numpy as np

    count = int(round(fraction * rows))
    if count < 1 or count >= rows:
        raise DataError(f"--validation {fraction:g} of {rows:,} rows keeps {count:,} rows for validation and "
                        f"{rows - count:,} for training; each needs at least one row")
    order = np.random.default_rng(seed).permutation(rows)
    return np.sort(order[count:]), np.sort(order[:count])


def _split(columns: Mapping[str, Any], rows: int, fraction: float, seed: int, place: Callable[[int], str],
           source: str) -> tuple[dict[str, Any], int, Callable[[int], str], Held]:
    """The training rows' columns, their count and place(row) in the file, and the Held rows."""
    import numpy as np

    kept, held = split_rows(rows, fraction, seed)
    take = lambda picked: {name: np.ascontiguousarray(np.asarray(c)[picked]) for name, c in columns.items()}  # noqa: E731
    held_place = lambda row: f"{source} {place(int(held[row - 1]) + 1)} (a validation row)"  # noqa: E731
    return (take(kept), len(kept), lambda row: place(int(kept[row - 1]) + 1),
            Held(fraction, take(held), len(held), held_place))


def _dataset_to_stream(data: Any, delimiter: str, budget: int) -> Any:
    """The Dataset to stream when `data` names files larger than `budget` in all; else None (read into memory)."""
    from ..io.dataset import files_of

    dataset = files_of(data, delimiter, budget)
    return dataset if dataset is not None and dataset.size > budget else None


def training_parts(dataset: Any, budget: int) -> list[Any]:
    """The parts a streamed or Dask run reads: the same for both given the same --memory, so that sgd
    draws the same mini-batches on either."""
    from ..io.dataset import part_bytes

    return dataset.parts(part_bytes(budget))


def dataset_problem(dataset: Any, chosen: ChosenModel | None, loss: str, target: str, delta: float,
                    from_file: bool, layers: Mapping[str, Any] | None = None, start: Mapping[str, Any] | None = None,
                    budget: int | None = None) -> tuple[ChosenModel, Problem, dict[str, Any]]:
    """The model and problem of data read part by part, and the starting values by entry. Shapes and
    vector inputs follow from the header and the options (the rows are not in memory); ce counts the
    classes in one pass over the target column."""
    chosen = chosen or default_model(dataset.header, target, dataset.name)
    layers = dict(layers or {})
    start = dict(start or {})
    scalar = not any(layers.values()) and "@" not in chosen.text and "dot" not in chosen.text
    if scalar and not loss_named(loss).classes:
        return chosen, problem_for(chosen.text, loss, target, dataset.header, dataset.name, delta, from_file), start
    wanted = model_columns(chosen.text, loss, target, dataset.header, dataset.name, from_file=from_file,
                           inputs_must_exist=True, inputs=layers.get("inputs"))
    from ..io.csv import require_columns

    require_columns(dataset.header, [*wanted, target], dataset.name)
    import numpy as np

    standin = {name: np.zeros(1) for name in [*wanted, target]}  # roles and shapes from the names alone
    classes = _class_count(dataset, target, budget) if loss_named(loss).classes else None
    problem, _, start = layered_problem(chosen.text, loss, target, standin, 1, wanted, start, **layers, delta=delta,
                                        from_file=from_file, classes=classes)
    return chosen, problem, start


def _class_count(dataset: Any, target: str, budget: int | None) -> int:
    """ce over parts: the number of classes in the target column of every part (one pass, that column
    only), each part's values checked as class indices, a bad one named by its file and row."""
    from ..io.dataset import part_place
    from ..io.layers import class_count

    count = 2
    for part in training_parts(dataset, budget or dataset.size):
        table = part.load([target])
        if table.rows:
            count = max(count, class_count(table.columns[target], target,
                                           lambda row, part=part: f"{part.name} {part_place(part, row)}"))
    return count


def _train_streamed(dataset: Any, chosen: ChosenModel | None, loss: str, target: str, delta: float,
                    from_file: bool, options: TrainOptions, start: Mapping[str, float], progress: Any,
                    budget: int, tick: Any, layers: Mapping[str, Any] | None = None) -> TrainReport:
    """train over data larger than memory: the parts read from disk on every pass."""
    chosen, problem, start = dataset_problem(dataset, chosen, loss, target, delta, from_file, layers, start, budget)
    with streamed_rows(dataset, problem, budget, tick) as data:
        return fit_parts(chosen, problem, data, data.sources, options, start, delta, progress, dataset.name,
                         from_file)


def streamed_rows(dataset: Any, problem: Problem, budget: int, tick: Any = None, spill: bool = True) -> Any:
    """The dataset's training_parts, read from disk on every pass (passes.StreamedRows; close it, or use
    it as a context manager). Each part is checked as it is read (passes.part_read); with `spill`,
    CSV parts are kept as binary after their first reading (io/spill.py)."""
    from .passes import StreamedRows, gather_vectors, part_read

    parts = training_parts(dataset, budget)
    kept = None
    if spill and any(part.kind == "csv" for part in parts):
        from ..io.spill import Spill

        kept = Spill(read_columns(problem))  # the columns as read: a vector input is gathered after

    def load(i: int) -> tuple[dict[str, Any], int]:
        found = kept.read(i) if kept is not None else None
        if found is not None:
            return gather_vectors(problem, found[0]), found[1]
        columns, rows = part_read(parts[i], problem)
        if kept is not None and parts[i].kind == "csv":
            kept.write(i, columns, rows)
        return gather_vectors(problem, columns), rows

    try:
        return StreamedRows(load, len(parts), len(dataset.files), tick, sources=parts,
                            on_close=kept.close if kept is not None else None)
    except BaseException:
        if kept is not None:
            kept.close()
        raise


def _train_on_dask(dataset: Any, chosen: ChosenModel | None, loss: str, target: str, delta: float,
                   from_file: bool, options: TrainOptions, start: Mapping[str, float], progress: Any,
                   budget: int, tick: Any, where: str, workers: int | None, dashboard: Any,
                   layers: Mapping[str, Any] | None = None) -> TrainReport:
    """train on a Dask cluster: the parts read once, on the workers, and kept there; one pass per evaluation."""
    from ..io.distributed import dask_client
    from .distributed import TrainingRows

    chosen, problem, start = dataset_problem(dataset, chosen, loss, target, delta, from_file, layers, start, budget)
    parts = training_parts(dataset, budget)
    with dask_client(where, workers, dashboard) as client:
        data = TrainingRows(client, parts, problem, len(dataset.files), tick)
        return fit_parts(chosen, problem, data, parts, options, start, delta, progress, dataset.name, from_file)


def fit_parts(chosen: ChosenModel, problem: Problem, data: Rows, parts: list[Any], options: TrainOptions,
              start: Mapping[str, float], delta: float, progress: Any, source: str, from_file: bool) -> TrainReport:
    """fit() over rows held in parts (streamed or on Dask), an undefined start named by its file, line and row."""
    from ..errors import UndefinedError, placed

    try:
        return fit(chosen, problem, data, data.rows, options, start, delta, progress, source, from_file)
    except UndefinedError as err:  # undefined at the starting point: name the file and row
        raise placed(err, lambda row: data_place(data, parts, row)) from None


def data_place(data: Any, parts: list[Any], row: int) -> str:
    """Where the 1-based row `row` of all the streamed data is: its file, and its line and row there."""
    from ..io.dataset import part_place

    low = 0
    for part, size in zip(parts, data.sizes):
        if low < row <= low + size:
            return f"{part.name} {part_place(part, row - low)}"
        low += size
    return f"row {row}"


def _read_numbers(table: Any, wanted: list[str], chosen: ChosenModel, target: str) -> Any:
    """The columns the model uses; a column of text among them is an error that says how to leave it out."""
    from ..io.csv import NotNumeric

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
            raise DataError(f'{err}; the column holds text: leave it out with --model, e.g. --model "{instead}"') from None
        raise DataError(f"{err}; the column holds text, and no other column but the target holds numbers") from None


def _options(optimizer: str, lr: float | None, epochs: int, batch_size: int | None, seed: int, tol: float,
             patience: int, precondition: bool) -> TrainOptions:
    """The options as the CLI checks them; a bad one is a GradcliError naming its option."""
    from ..io.arguments import choice, flag, number, whole

    return TrainOptions(
        choice(optimizer, "--optimizer", OPTIMIZERS), number(lr, "--lr", above=0.0, none=True),
        whole(epochs, "--epochs", 1), whole(batch_size, "--batch-size", 1, none=True), whole(seed, "--seed", 0),
        number(tol, "--tol", least=0.0), whole(patience, "--patience", 1),
        flag(precondition, "precondition"))


def _write_outputs(report: TrainReport, outputs: Mapping[str, Any]) -> None:
    """--save, --history and --plot: all of them or none, each atomically."""
    from ..io.outputs import atomic_write_all, history_writer, json_writer, plot_writer
    from ..io.saved import saved_document

    writers = []
    if "--save" in outputs:
        writers.append(json_writer(outputs["--save"], saved_document(report)))
    if "--history" in outputs:
        writers.append(history_writer(outputs["--history"], report.result.history, report.validation_history))
    if "--plot" in outputs:
        writers.append(plot_writer(outputs["--plot"], report.result.history,
                                   f"{report.model.text}  ({report.problem.loss_name})", report.validation_history))
    atomic_write_all(writers)
