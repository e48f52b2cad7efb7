"""The built-in losses, as plain text (imported by `gradcli losses`, so kept light).

Each is a per-row loss in ``yhat`` (the model's prediction) and ``y`` (the
target); over a data set the loss is the mean of the per-row losses.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LOSS = "mse"
DEFAULT_DELTA = 1.0


@dataclass(frozen=True)
class LossInfo:
    name: str
    formula: str
    note: str


LOSSES: dict[str, LossInfo] = {
    info.name: info
    for info in [
        LossInfo("mse", "(yhat - y)**2", "squared error, as in the worked example (no 1/2 factor); the default"),
        LossInfo("mae", "abs(yhat - y)", "absolute error; its derivative is taken as 0 where yhat == y"),
        LossInfo(
            "huber",
            "(yhat - y)**2/2 if abs(yhat - y) <= delta else delta*(abs(yhat - y) - delta/2)",
            "quadratic near 0, linear beyond delta (--delta, default 1.0)",
        ),
        LossInfo(
            "bce",
            "-(y*log(yhat) + (1 - y)*log(1 - yhat))",
            "binary cross-entropy: yhat a probability, targets in [0, 1]; on a sigmoid(z) model it is "
            "computed from z as softplus(z) - y*z, so a yhat that rounds to 0 or 1 stays finite",
        ),
    ]
}


def builtin_losses() -> list[LossInfo]:
    """The built-in losses with their per-row formulas (`gradcli losses`; public as gradcli.losses)."""
    return list(LOSSES.values())
