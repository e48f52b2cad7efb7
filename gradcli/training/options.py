"""Training options and the optimisers' table, kept free of NumPy so the CLI can show them cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Optimizer(NamedTuple):
    """What the CLI and the training loop know of an optimiser; its update rule is optimizers.RULES[rule].

    A rule with a learning rate (lr not None) steps on one gradient at a time, on mini-batches where
    `minibatch` says so; a rule without one is given the objective and takes a whole iteration per
    epoch over every row (a line search sets its steps), and ignores --lr and --batch-size."""

    rule: str  # the class in optimizers.RULES
    lr: float | None  # the default learning rate; None: the rule searches its own steps
    minibatch: bool  # mini-batches by default (--batch-size, DEFAULT_BATCH); else the full batch
    description: str  # one line for --help
    settings: tuple[tuple[str, float], ...] = ()  # the rule's other arguments: (name, value), ...

    @property
    def line_search(self) -> bool:
        """Given the objective, it takes whole iterations (no learning rate, every row)."""
        return self.lr is None

    @property
    def ignores(self) -> tuple[str, ...]:
        """The options it does not use."""
        return ("--lr", "--batch-size") if self.line_search else ()


# name -> its entry; the first is the default
OPTIMIZERS: dict[str, Optimizer] = {
    "lbfgs": Optimizer("LBFGS", None, False,
                       "L-BFGS with a backtracking line search: full batch, no learning rate to tune (default)"),
    "gd": Optimizer("GradientDescent", 0.1, False, "plain gradient descent on the full batch"),
    "sgd": Optimizer("GradientDescent", 0.01, True,
                     "stochastic gradient descent on shuffled mini-batches (--batch-size, --seed)"),
    "momentum": Optimizer("Momentum", 0.01, False, "gradient descent with heavy-ball momentum 0.9"),
    "adam": Optimizer("Adam", 0.01, False, "Adam (beta1 0.9, beta2 0.999, eps 1e-8)"),
}
DEFAULT_OPTIMIZER = next(iter(OPTIMIZERS))

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
    def entry(self) -> Optimizer:
        """The optimiser's entry in OPTIMIZERS."""
        return OPTIMIZERS[self.optimizer]

    @property
    def learning_rate(self) -> float | None:
        """None for an optimiser whose line search sets every step (lbfgs)."""
        if self.entry.line_search:
            return None
        return self.lr if self.lr is not None else self.entry.lr

    def batch(self, rows: int) -> int:
        """Rows per step: a line search always takes every row; sgd defaults to DEFAULT_BATCH."""
        if self.entry.line_search:
            return rows
        mini = self.batch_size if self.batch_size is not None else (DEFAULT_BATCH if self.entry.minibatch else rows)
        return max(1, min(mini, rows))

    def ignored(self) -> list[str]:
        """Options given that this optimiser does not use."""
        given = {"--lr": self.lr, "--batch-size": self.batch_size}
        return [f"{option} is ignored by {self.optimizer} (full batch, steps set by its line search)"
                for option in self.entry.ignores if given[option] is not None]
