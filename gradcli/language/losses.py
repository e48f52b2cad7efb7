"""The built-in losses: each declared once, its formula for people beside the tree it builds.

Each is a per-row loss in ``yhat`` (the model's prediction) and ``y`` (the
target); over a data set the loss is the mean of the per-row losses. Adding a
loss is adding one entry to LOSSES. Imported by `gradcli --help` and `gradcli
losses`, so the trees are built lazily, from expr, only when a loss is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .expr import Expr

DEFAULT_LOSS = "mse"
DEFAULT_DELTA = 1.0

# (yhat, y, model, delta) -> the per-row loss as a tree in yhat and y (or directly in the model's terms)
Build = Callable[["Expr", "Expr", "Expr", float], "Expr"]


def _mse(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    from .expr import Binary, Num

    return Binary("pow", Binary("sub", yhat, y), Num(2.0, "2"))


def _mae(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    from .expr import Binary, Call

    return Call("abs", (Binary("sub", yhat, y),))


def _huber(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    from ..errors import GradcliError
    from .expr import Binary, Call, Num

    if not (delta > 0 and delta < float("inf")):
        raise GradcliError(f"--delta must be a positive number, got {delta!r}")
    return Call("huber", (Binary("sub", yhat, y), Num(float(delta), repr(float(delta)))))


def _bce(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    """On a sigmoid(z) model, from the logit z: softplus(z) - y*z, finite where yhat rounds to 0 or 1."""
    from .expr import Call

    if isinstance(model, Call) and model.fn == "sigmoid":
        return Call("bce_logit", (model.args[0], y))
    return Call("bce", (yhat, y))


def _ce(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    """Softmax cross-entropy of the class scores (logits) yhat against a class index y, from the logits."""
    from .expr import Call

    return Call("ce", (yhat, y))


@dataclass(frozen=True)
class LossInfo:
    """A loss by name: its per-row formula, a note for people, and how to build its tree."""

    name: str
    formula: str  # per row, in yhat and y (and delta)
    note: str
    build: Build = field(repr=False, compare=False)


LOSSES: dict[str, LossInfo] = {
    info.name: info
    for info in [
        LossInfo("mse", "(yhat - y)**2", "squared error, as in the worked example (no 1/2 factor); the default",
                 _mse),
        LossInfo("mae", "abs(yhat - y)", "absolute error; its derivative is taken as 0 where yhat == y", _mae),
        LossInfo(
            "huber",
            "(yhat - y)**2/2 if abs(yhat - y) <= delta else delta*(abs(yhat - y) - delta/2)",
            "quadratic near 0, linear beyond delta (--delta, default 1.0)",
            _huber,
        ),
        LossInfo(
            "bce",
            "-(y*log(yhat) + (1 - y)*log(1 - yhat))",
            "binary cross-entropy: yhat a probability, targets in [0, 1]; on a sigmoid(z) model it is "
            "computed from z as softplus(z) - y*z, so a yhat that rounds to 0 or 1 stays finite",
            _bce,
        ),
        LossInfo(
            "ce",
            "logsumexp(yhat) - yhat[y]",
            "softmax cross-entropy: yhat a vector of class scores (logits), y the class index 0, 1, ...; "
            "computed stably from the scores",
            _ce,
        ),
    ]
}


def builtin_losses() -> list[LossInfo]:
    """The built-in losses with their per-row formulas (`gradcli losses`; public as gradcli.losses)."""
    return list(LOSSES.values())
