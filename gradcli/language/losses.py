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

from ..errors import GradcliError

if TYPE_CHECKING:
    from .expr import Expr  # the parser's module: --help reads this table without it

DEFAULT_LOSS = "mse"
DEFAULT_DELTA = 1.0

# (yhat, y, model, delta) -> the per-row loss as a tree in yhat and y (or directly in the model's terms)
Build = Callable[["Expr", "Expr", "Expr", float], "Expr"]


def _mse(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    from .expr import Binary, Num  # the parser's module: --help reads this table without it

    return Binary("pow", Binary("sub", yhat, y), Num(2.0, "2"))


def _mae(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    from .expr import Binary, Call  # the parser's module: --help reads this table without it

    return Call("abs", (Binary("sub", yhat, y),))


def _huber(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    from .expr import Binary, Call, Num  # the parser's module: --help reads this table without it

    if not (delta > 0 and delta < float("inf")):
        raise GradcliError(f"--delta must be a positive number, got {delta!r}")
    return Call("huber", (Binary("sub", yhat, y), Num(float(delta), repr(float(delta)))))


def _bce(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    """On a sigmoid(z) model, from the logit z: softplus(z) - y*z, finite where yhat rounds to 0 or 1."""
    from .expr import Call  # the parser's module: --help reads this table without it

    if isinstance(model, Call) and model.fn == "sigmoid":
        return Call("bce_logit", (model.args[0], y))
    return Call("bce", (yhat, y))


def _ce(yhat: Expr, y: Expr, model: Expr, delta: float) -> Expr:
    """Softmax cross-entropy of the class scores (logits) yhat against a class index y, from the logits."""
    from .expr import Call  # the parser's module: --help reads this table without it

    return Call("ce", (yhat, y))


# What a loss's target holds, and so what its prediction is (each entry's `target`):
PROBABILITY = "probability"  # targets in [0, 1]; yhat a probability (predict --threshold makes classes of it)
CLASS_INDEX = "class index"  # targets 0, 1, 2, ...; yhat one score per class (the class is the highest)
# How good a trained model is beyond its loss (training/metrics.py; each entry's `metric`):
ACCURACY = "accuracy"
R2 = "r2"  # only on a model with one output
# What training can solve exactly (each entry's `closed_form`): least squares on a model linear in its parameters
LEAST_SQUARES = "least squares"


@dataclass(frozen=True)
class LossInfo:
    """A loss by name, with everything the rest of the code asks of it: nothing else branches on a name.

    Its SymPy form and its graph rules are those of the tree `build` returns: each node's SymPy
    counterpart and local derivative are in the operations table (huber, bce, bce_logit and ce are
    operations of their own there).
    """

    name: str
    formula: str  # per row, in yhat and y (and delta)
    note: str
    build: Build = field(repr=False, compare=False)
    derivative: str = ""  # d(per-row loss)/d yhat, for people
    target: str | None = None  # PROBABILITY or CLASS_INDEX (checked on every row read); None: any number
    metric: str | None = None  # ACCURACY or R2; None: no metric
    closed_form: str | None = None  # LEAST_SQUARES, or None
    # the model's outer function whose argument (the logit) the loss is computed from, stably: on such a
    # model training preconditions at the logit, and starts at 0 when the logit is linear (convex there)
    logit_of: str | None = None
    never_negative: bool = True  # its minimum is at most 0: a loss fallen to rounding of 0 is at it

    @property
    def builtin(self) -> bool:
        return self.name in LOSSES

    @property
    def classes(self) -> bool:
        """True when the target is a class index and yhat a vector of class scores."""
        return self.target == CLASS_INDEX

    @property
    def probabilities(self) -> bool:
        """True when yhat is a probability and the targets lie in [0, 1]."""
        return self.target == PROBABILITY


# A loss written as an expression in yhat and y: nothing is known of it.
CUSTOM_LOSS = LossInfo("", "", "an expression in yhat and y", lambda yhat, y, model, delta: yhat,
                       never_negative=False)

LOSSES: dict[str, LossInfo] = {
    info.name: info
    for info in [
        LossInfo("mse", "(yhat - y)**2", "squared error, as in the worked example (no 1/2 factor); the default",
                 _mse, derivative="2*(yhat - y)", metric=R2, closed_form=LEAST_SQUARES),
        LossInfo("mae", "abs(yhat - y)", "absolute error; its derivative is taken as 0 where yhat == y", _mae,
                 derivative="sign(yhat - y)", metric=R2),
        LossInfo(
            "huber",
            "(yhat - y)**2/2 if abs(yhat - y) <= delta else delta*(abs(yhat - y) - delta/2)",
            "quadratic near 0, linear beyond delta (--delta, default 1.0)",
            _huber,
            derivative="clip(yhat - y, -delta, delta)",
            metric=R2,
        ),
        LossInfo(
            "bce",
            "-(y*log(yhat) + (1 - y)*log(1 - yhat))",
            "binary cross-entropy: yhat a probability, targets in [0, 1]; on a sigmoid(z) model it is "
            "computed from z as softplus(z) - y*z, so a yhat that rounds to 0 or 1 stays finite",
            _bce,
            derivative="(yhat - y)/(yhat*(1 - yhat)); from the logit z: sigmoid(z) - y",
            target=PROBABILITY,
            metric=ACCURACY,
            logit_of="sigmoid",
        ),
        LossInfo(
            "ce",
            "logsumexp(yhat) - yhat[y]",
            "softmax cross-entropy: yhat a vector of class scores (logits), y the class index 0, 1, ...; "
            "computed stably from the scores",
            _ce,
            derivative="softmax(yhat) - onehot(y)",
            target=CLASS_INDEX,
            metric=ACCURACY,
        ),
    ]
}


def loss_info(name: str) -> LossInfo:
    """The entry of a loss as a Problem or a saved model names it (a built-in's name), else CUSTOM_LOSS."""
    return LOSSES.get(name, CUSTOM_LOSS)


def loss_named(text: str) -> LossInfo:
    """The entry of a loss as the user typed it (--loss, any case and spacing), else CUSTOM_LOSS."""
    return loss_info(text.strip().lower())


def builtin_losses() -> list[LossInfo]:
    """The built-in losses with their per-row formulas (`gradcli losses`; public as gradcli.losses)."""
    return list(LOSSES.values())
