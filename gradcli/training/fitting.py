"""fit(): train from the starting point, then check the result two ways.

The checks: the closed-form least-squares solution where the model is linear in its parameters
and the loss is mse, and the final gradient by both engines over the full data, as `gradcli grad`
judges it (every row in memory here; rows in parts: training/partwise.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from ..compare.memory import compare
from ..engines.sweep import run
from ..errors import UndefinedError, placed, unused
from ..language.initial import initial_values
from ..language.losses import DEFAULT_DELTA, LEAST_SQUARES
from ..language.problem import Problem
from ..language.tensors import fixed_order_products
from ..language.written import Written
from ..setup import check_targets, prepare
from .closed_form import MAX_CLOSED_FORM, ClosedForm, is_linear_in_params, least_squares, starts_at_zero
from .gradient_check import CHECK_RTOL, GradientCheck, gradient_entry
from .loop import Trainer, TrainResult, starting_point
from .metrics import metrics
from .models import ChosenModel
from .options import TrainOptions
from .partwise import gradient_check, tensor_gradient_check, tsqr_least_squares
from .passes import MemoryRows, Rows
from .reading import Held
from .report import TrainReport


def fit(model: ChosenModel, problem: Problem, columns: Mapping[str, Any] | Rows, rows: int, options: TrainOptions,
        init: Mapping[str, float] | None = None, delta: float = DEFAULT_DELTA, progress: Any = None,
        source: str = "", where: Any = None, validation: Held | None = None) -> TrainReport:
    """Train, then check: closed form where it applies, and the final gradient two ways.

    `columns` holds every row in memory, or is a Rows (training/passes.py: streamed or on Dask;
    its parts check their own targets). where(row) describes a 1-based row in messages (the CLI
    adds the CSV line). `validation` holds rows kept out of training: their loss is recorded after
    every epoch and the metrics are measured on them too. A model with vectors and matrices starts
    from language/initial.py's seeded Glorot (He under relu) weights and biases at 0.
    """
    if isinstance(columns, Mapping):
        check_targets(problem, columns[problem.target], source, where)
    init = dict(init or {})
    warnings = unused("--init", [name for name in init if name not in problem.params],
                      "{verb} not a parameter of the model")
    linear = is_linear_in_params(problem)
    trainer = Trainer(problem, columns, rows)
    drawn: dict[str, str] = {}
    if problem.tensor:  # never a symmetric start: every hidden unit would learn the same thing
        start, drawn = initial_values(problem, init, options.seed)
    else:
        start = starting_point(problem, init, starts_at_zero(problem, linear), options.seed)
    held = held_loss(trainer, validation) if validation is not None else None
    result = trainer.run(start, options, progress, held)
    report = TrainReport(model, problem, options, trainer.rows, result, linear, None, None, warnings, delta,
                         trainer.data.engine, trainer.data.files, drawn=drawn)
    if validation is not None:
        report.validation, report.validation_rows = validation.fraction, validation.rows
    if result.diverged:
        return report
    report.closed_form = closed_form_of(trainer, result, linear)
    report.check = final_check(trainer, result.params, delta, model.source)
    report.warnings = warnings + report.check.notes
    report.metrics = metrics_of(trainer, result.params, validation)
    if report.at_optimum is False:
        report.warnings.append(short_of_optimum(report))
    return report


def closed_form_of(trainer: Trainer, result: TrainResult, linear: bool) -> ClosedForm | None:
    """Least squares (in memory; by TSQR over parts) where it applies: mse, a model linear in its
    parameters with a scalar output, and not too many parameters."""
    problem, graph = trainer.problem, trainer.graph
    by_least_squares = problem.loss_entry.closed_form == LEAST_SQUARES
    if not (linear and by_least_squares and problem.params and not graph.nodes[graph.model].shape
            and (not problem.tensor or len(problem.params) <= MAX_CLOSED_FORM)):
        return None
    if trainer.data.engine == "memory":
        return least_squares(problem, graph, trainer.columns, trainer.rows, result.params)
    return tsqr_least_squares(problem, graph, trainer.data, result.params)


def final_check(trainer: Trainer, params: Mapping[str, float], delta: float, source: Written) -> GradientCheck:
    """The final gradient two ways: over every row in memory, or part by part. `source`: the model's
    text with its tree (ChosenModel.source), not parsed again."""
    if trainer.data.engine == "memory":
        return final_gradient_check(trainer, params, delta, source)
    return gradient_check(trainer, params, CHECK_RTOL)


def short_of_optimum(report: TrainReport) -> str:
    """The warning of a run that ended above least squares' loss."""
    assert report.closed_form is not None
    scaling = "" if report.options.precondition else ", preconditioning (leave out --no-precondition)"
    return (f"least squares reaches a loss of {report.closed_form.loss:.6g}, below the trained "
            f"{report.result.loss:.6g}: training stopped short of the optimum (a smaller --tol, more --epochs, "
            f"another --optimizer{scaling}, or centred and scaled inputs)")


def held_loss(trainer: Trainer, validation: Held) -> Callable[[Any], float]:
    """The mean loss over the validation rows at theta (one forward sweep; no gradient). Undefined at
    the start, it is bad input, named by the validation row's place in the file; later an undefined
    value is recorded as it is (training never looks at it)."""
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


def metrics_of(trainer: Trainer, params: Mapping[str, float], validation: Held | None
               ) -> dict[str, dict[str, float | None] | None]:
    """Accuracy or R² on the training rows and (with --validation) on the validation rows."""
    found: dict[str, dict[str, float | None] | None] = {
        "train": metrics(trainer.problem, trainer.graph, trainer.data, params), "validation": None}
    if validation is not None:
        found["validation"] = metrics(trainer.problem, trainer.graph, MemoryRows(validation.columns, validation.rows),
                                      params)
    return found


def final_gradient_check(trainer: Trainer, params: Mapping[str, float], delta: float,
                         source: Written) -> GradientCheck:
    """Symbolic vs backprop over the full data at the trained parameters.

    At an optimum the gradient is a sum of per-row terms that cancel, so rounding is relative to
    the size of those terms, not to the (tiny) result: atol = CHECK_RTOL x sum over rows of |term|.
    """
    problem = trainer.problem
    if not problem.params:
        return GradientCheck(None, CHECK_RTOL, 0.0)
    swept = trainer.terms(dict(params))
    size = max(swept.abs_terms or [0.0])
    atol = max(CHECK_RTOL * size, 1e-12)
    if problem.tensor:  # the trained problem itself (its shapes, gathered inputs and classes)
        return tensor_gradient_check(trainer, params, swept, CHECK_RTOL, atol)
    setup = prepare(source, problem.loss_name, trainer.columns, params, target=problem.target,
                    delta=delta, from_file=source.from_file, check_finite=False, rows_allowed=True)
    report = compare(setup, rtol=CHECK_RTOL, atol=atol, readable=False)
    per_param = {name: gradient_entry(g) for name, g in report.gradients.items()}
    return GradientCheck(report.agree, CHECK_RTOL, atol, per_param, report.warnings)


def in_fixed_order(function: Callable[..., TrainReport]) -> Callable[..., TrainReport]:
    """Training's products and dot products in a fixed order (language/tensors.fixed_order_products), so
    that a run ends at the same parameters on every machine whatever its BLAS (rows on Dask workers
    excepted: they sweep in the workers' processes)."""

    @functools.wraps(function)
    def fixed(*args: Any, **kwargs: Any) -> TrainReport:
        with fixed_order_products():
            return function(*args, **kwargs)

    return fixed
