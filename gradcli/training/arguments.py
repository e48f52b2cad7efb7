"""train's optimiser options, as the CLI and the public API give them, checked before anything is read
(the rest of train's question is read by tasks/train.train_question)."""

from __future__ import annotations

from ..io.arguments import choice, flag, number, whole
from .options import OPTIMIZERS, TrainOptions


def train_options(optimizer: str, lr: float | None, epochs: int, batch_size: int | None, seed: int, tol: float,
                  patience: int, precondition: bool) -> TrainOptions:
    """The options as the CLI checks them; a bad one is a GradcliError naming its option."""
    return TrainOptions(
        choice(optimizer, "--optimizer", OPTIMIZERS), number(lr, "--lr", above=0.0, none=True),
        whole(epochs, "--epochs", 1), whole(batch_size, "--batch-size", 1, none=True), whole(seed, "--seed", 0),
        number(tol, "--tol", least=0.0), whole(patience, "--patience", 1),
        flag(precondition, "precondition"))
