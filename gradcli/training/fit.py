"""`gradcli train` as a library call: choose the model, train it, then check the result two ways.

The checks: the closed-form least-squares solution where the model is linear in its
parameters and the loss is mse, and the final gradient by both engines over the full
data, as `gradcli grad` computes it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import DataError, RoleError
from ..language.columns import model_columns
from ..language.losses import DEFAULT_DELTA
from ..language.problem import Problem, build_problem, check_name
from .closed_form import ClosedForm, is_linear_in_params, least_squares
from .loop import Trainer, TrainResult, starting_point
from .options import TrainOptions

SHORT_OF_OPTIMUM = 1e-6  # a trained mse this far (relative) above least squares' gets a warning
CHECK_RTOL = 1e-9  # final gradient check; its atol is CHECK_RTOL x the summed size of the per-row terms


@dataclass(frozen=True)
class ChosenModel:
    text: str
    default: bool  # True: made from the columns because no --model was given


def default_model(header: list[str], target: str, source: str) -> ChosenModel:
    """b + w1*x1 + ... over every non-target column: column x<k> gets weight w<k>, any other column c gets w_c."""
    columns = [name for name in header if name != target]
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


@dataclass
class GradientCheck:
    agree: bool | None
    rtol: float
    atol: float
    gradients: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # the gradient engines' warnings (kinks, ...)

    def to_dict(self) -> dict[str, Any]:
        return {"agree": self.agree, "rtol": self.rtol, "atol": self.atol, "gradients": self.gradients}


@dataclass
class FitReport:
    model: ChosenModel
    problem: Problem
    options: TrainOptions
    rows: int
    result: TrainResult
    linear: bool
    closed_form: ClosedForm | None
    check: GradientCheck | None
    warnings: list[str]

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
            "optimizer": options.optimizer,
            "lr": options.learning_rate,
            "batch_size": options.batch(self.rows),  # lbfgs: always every row
            "seed": options.seed,
            "params": _finite(result.params),
            "initial": _finite(result.initial),
            "loss": result.loss if math.isfinite(result.loss) else None,
            "epochs": result.epochs,
            "converged": result.converged,
            "diverged": result.diverged,
            "stop_reason": result.stop_reason,
            "seconds": result.seconds,
            "history": [v if math.isfinite(v) else None for v in result.history],
            "closed_form": self.closed_form.to_dict() if self.closed_form else None,
            "gradient_check": self.check.to_dict() if self.check else None,
        }


def _finite(values: Mapping[str, float]) -> dict[str, float | None]:
    """JSON has no inf or nan: a diverged parameter is null."""
    return {name: value if math.isfinite(value) else None for name, value in values.items()}


def fit(model: ChosenModel, problem: Problem, columns: Mapping[str, Any], rows: int, options: TrainOptions,
        init: Mapping[str, float] | None = None, delta: float = DEFAULT_DELTA, progress: Any = None,
        source: str = "", from_file: bool = False, where: Any = None) -> FitReport:
    """Train, then check: closed form where it applies, and the final gradient two ways.

    where(row) describes a 1-based row in messages (the CLI adds the CSV line).
    """
    from ..comparison import check_targets

    check_targets(problem, columns[problem.target], source, where)
    init = dict(init or {})
    warnings = [f"--init {name!r} is not a parameter of the model" for name in init if name not in problem.params]
    linear = is_linear_in_params(problem)
    trainer = Trainer(problem, columns, rows)
    result = trainer.run(starting_point(problem, init, linear, options.seed), options, progress)
    if result.diverged:
        return FitReport(model, problem, options, rows, result, linear, None, None, warnings)
    closed = (least_squares(problem, trainer.graph, trainer.columns, rows, result.params)
              if linear and problem.loss_name == "mse" and problem.params else None)
    check = final_gradient_check(trainer, result.params, delta, from_file)
    if closed and result.loss > closed.loss + SHORT_OF_OPTIMUM * abs(closed.loss) + 1e-300:
        warnings.append(f"least squares reaches a loss of {closed.loss:.6g}, below the trained {result.loss:.6g}: "
                        "training stopped short of the optimum (a smaller --tol, more --epochs, another --optimizer, "
                        "or centred and scaled inputs)")
    return FitReport(model, problem, options, rows, result, linear, closed, check, warnings + check.notes)


def final_gradient_check(trainer: Trainer, params: Mapping[str, float], delta: float,
                         from_file: bool = False) -> GradientCheck:
    """Symbolic vs backprop over the full data at the trained parameters.

    At an optimum the gradient is a sum of per-row terms that cancel, so rounding is relative to
    the size of those terms, not to the (tiny) result: atol = CHECK_RTOL x sum over rows of |term|.
    """
    from ..comparison import gradients
    from ..engines.sweep import run

    problem = trainer.problem
    if not problem.params:
        return GradientCheck(None, CHECK_RTOL, 0.0)
    swept = run(trainer.plan, params, trainer.columns, trainer.rows, abs_terms=True)
    size = max(swept.abs_terms or [0.0])
    atol = max(CHECK_RTOL * size, 1e-12)
    report = gradients(problem.model_text, problem.loss_name, trainer.columns, params, target=problem.target,
                       delta=delta, rtol=CHECK_RTOL, atol=atol, from_file=from_file, readable=False)
    per_param = {name: {"symbolic_value": g.symbolic_value, "backprop_value": g.backprop_value,
                        "abs_diff": g.abs_diff, "agree": g.agree} for name, g in report.gradients.items()}
    return GradientCheck(report.agree, CHECK_RTOL, atol, per_param, report.warnings)
