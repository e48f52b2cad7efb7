"""An optimiser is its entry in options.OPTIMIZERS: the loop, the defaults and the warnings follow the
entry, never the optimiser's name or class."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from gradcli.training.fitting import fit
from gradcli.training.models import default_model, problem_for
from gradcli.training.optimizers import RULES
from gradcli.training.options import OPTIMIZERS, Optimizer, TrainOptions

DATA = Path(__file__).resolve().parents[2] / "samples" / "data.csv"


def trained(optimizer: str, **options: object) -> object:
    with open(DATA, newline="") as handle:
        records = list(csv.reader(handle))
    header = records[0]
    columns = {name: np.array([float(r[i]) for r in records[1:]]) for i, name in enumerate(header)}
    chosen = default_model(header, "y", DATA.name)
    problem = problem_for(chosen.text, "mse", "y", header, DATA.name)
    return fit(chosen, problem, columns, len(records) - 1, TrainOptions(optimizer, **options)).result


def test_every_entry_names_an_update_rule():
    assert {entry.rule for entry in OPTIMIZERS.values()} <= set(RULES)


def test_an_entry_with_its_settings_is_a_new_optimiser(monkeypatch):
    # heavy-ball momentum with beta 0 steps by lr x gradient, exactly as gd does: the entry's
    # settings reach the rule (with the rule's own beta 0.9 the path would differ)
    monkeypatch.setitem(OPTIMIZERS, "momentum0", Optimizer("Momentum", 0.1, False, "momentum 0", (("beta", 0.0),)))
    variant, plain = trained("momentum0", epochs=25, tol=0), trained("gd", epochs=25, tol=0)
    assert variant.history == plain.history and variant.params == plain.params
    assert trained("momentum", lr=0.1, epochs=25, tol=0).history != plain.history


def test_a_line_search_is_known_by_its_entry_not_its_name(monkeypatch):
    monkeypatch.setitem(OPTIMIZERS, "bfgs-again", Optimizer("LBFGS", None, False, "L-BFGS again"))
    again, lbfgs = trained("bfgs-again"), trained("lbfgs")
    assert again.history == lbfgs.history and again.stop_reason == lbfgs.stop_reason
    options = TrainOptions("bfgs-again", lr=0.5, batch_size=4)
    assert options.learning_rate is None and options.batch(100) == 100
    assert options.ignored() == [
        "--lr is ignored by bfgs-again (full batch, steps set by its line search)",
        "--batch-size is ignored by bfgs-again (full batch, steps set by its line search)"]


@pytest.mark.parametrize("name", [name for name, entry in OPTIMIZERS.items() if not entry.line_search])
def test_an_optimiser_with_a_learning_rate_takes_its_default_and_uses_every_option(name):
    options = TrainOptions(name)
    assert options.learning_rate == OPTIMIZERS[name].lr and options.ignored() == []
    assert TrainOptions(name, lr=0.5, batch_size=4).ignored() == []
