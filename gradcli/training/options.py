"""Training options and their defaults, kept free of NumPy so the CLI can show them cheaply."""

from __future__ import annotations

from dataclasses import dataclass

# name -> (default learning rate, mini-batch by default, one-line description)
OPTIMIZERS: dict[str, tuple[float | None, bool, str]] = {
    "lbfgs": (None, False, "L-BFGS with a backtracking line search: full batch, no learning rate to tune (default)"),
    "gd": (0.1, False, "plain gradient descent on the full batch"),
    "sgd": (0.01, True, "stochastic gradient descent on shuffled mini-batches (--batch-size, --seed)"),
    "momentum": (0.01, False, "gradient descent with heavy-ball momentum 0.9"),
    "adam": (0.01, False, "Adam (beta1 0.9, beta2 0.999, eps 1e-8)"),
}
DEFAULT_OPTIMIZER = "lbfgs"

DEFAULT_EPOCHS = 1000
DEFAULT_TOL = 1e-10
DEFAULT_PATIENCE = 5
DEFAULT_BATCH = 32  # sgd's mini-batch size when --batch-size is not given
INIT_SCALE = 0.5  # sd of the seeded random start of a model that is not linear in its parameters


@dataclass(frozen=True)
class TrainOptions:
    """How `train` fits: the optimiser and its settings, as the options gave them."""

    optimizer: str = DEFAULT_OPTIMIZER
    lr: float | None = None  # None: the optimiser's default
    epochs: int = DEFAULT_EPOCHS
    batch_size: int | None = None  # None: full batch (sgd: DEFAULT_BATCH)
    seed: int = 0
    tol: float = DEFAULT_TOL
    patience: int = DEFAULT_PATIENCE
    precondition: bool = True  # step in coordinates where the loss is about as curved every way

    @property
    def learning_rate(self) -> float | None:
        """None for lbfgs, whose line search sets every step."""
        if OPTIMIZERS[self.optimizer][0] is None:
            return None
        return self.lr if self.lr is not None else OPTIMIZERS[self.optimizer][0]

    def batch(self, rows: int) -> int:
        """Rows per step: lbfgs always takes every row; sgd defaults to DEFAULT_BATCH."""
        if OPTIMIZERS[self.optimizer][0] is None:
            return rows
        mini = self.batch_size if self.batch_size is not None else (DEFAULT_BATCH if OPTIMIZERS[self.optimizer][1] else rows)
        return max(1, min(mini, rows))

    def ignored(self) -> list[str]:
        """Options given that this optimiser does not use."""
        if OPTIMIZERS[self.optimizer][0] is not None:
            return []
        return [f"{option} is ignored by lbfgs (full batch, steps set by its line search)"
                for option, value in (("--lr", self.lr), ("--batch-size", self.batch_size)) if value is not None]


