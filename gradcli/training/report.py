"""What `train` found: the trained model, how it was trained, and both checks, as the views show it
and as JSON (to_dict) writes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..language.losses import DEFAULT_DELTA
from ..language.problem import Problem, as_written, classes_of, shapes_of
from ..shown import Shown, brief, clipped, listed, verdict_word
from .closed_form import ClosedForm
from .gradient_check import GradientCheck
from .loop import EXACT_FIT_REASON, TrainResult
from .models import ChosenModel
from .options import TrainOptions

SHORT_OF_OPTIMUM = 1e-6  # a trained mse this far (relative) above least squares' gets a warning


@dataclass
class TrainReport(Shown):
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

    def __repr__(self) -> str:
        result = self.result
        ended = "diverged" if result.diverged else f"loss {brief(result.loss)}"
        params = [f"{name} {brief(value)}" for name, value in result.params.items()]
        if self.problem.tensors:  # each parameter as written: a vector or matrix by its shape
            shapes, entries = self.problem.tensors, self.problem.entries
            params = [f"{name} {'x'.join(map(str, shapes[name]))}" if name in shapes
                      else f"{name} {brief(result.params[names[0]])}" for name, names in entries.items()]
        check = "" if self.check is None else f"; gradient check: {verdict_word(self.check.agree)}"
        return (f"TrainReport({clipped(self.model.text, 50)}, {self.problem.loss_name}, {self.rows:,} rows: "
                f"{ended} after {result.epochs} epochs; {listed(params)}{check})")

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

