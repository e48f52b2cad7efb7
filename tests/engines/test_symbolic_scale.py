"""The symbolic side of a large sum is built in work linear in its terms.

Counted, not timed: every term SymPy's Add and Mul are handed (AssocOp.__new__, which every sum and
product goes through) while the loss is built, each parameter's derivative taken and all of them
evaluated. Before, each derivative of a sum of n terms rebuilt the sum (and spread its factor 2 over
it), and each step of the evaluation walked every derivative whole: 4x the work for 2x the terms, and
a sum of 950 names needed more than the symbolic budget (speed itself is in benchmarks/).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from sympy.core.operations import AssocOp

from gradcli.engines.symbolic import SymbolicLoss
from gradcli.language.problem import build_problem


def work(model: str) -> tuple[int, dict[str, float]]:
    """Terms handed to SymPy's Add and Mul for the loss, every derivative and their values; the values."""
    handed = [0]
    original = AssocOp.__new__

    def counting(cls, *args, **kwargs):
        handed[0] += len(args)
        return original(cls, *args, **kwargs)

    problem = build_problem(model, "mse", data_names=["x1", "y"], from_file=True)
    params = {name: 0.5 for name in problem.params}
    with mock.patch.object(AssocOp, "__new__", counting):
        symbolic = SymbolicLoss(problem)
        derivatives = symbolic.derivatives(problem.params)
        found = symbolic.values(derivatives, params, {"x1": np.array([1.0, 2.0]), "y": np.array([0.0, 1.0])}, 2)
    return handed[0], found


@pytest.mark.parametrize("term", ["p{i}", "w{i}*x1", "w{i}*relu(x1 - {i})", "w{i}*tanh(w{i}*x1)"])
def test_a_sum_twice_as_long_costs_twice_the_work(term):
    small, _ = work("+".join(term.format(i=i) for i in range(300)))
    large, _ = work("+".join(term.format(i=i) for i in range(600)))
    assert large <= 2.3 * small, (small, large)


def test_the_derivatives_of_a_long_sum_are_still_right():
    # (sum of 400 names at 0.5 - y)**2: every derivative is 2*(200 - y), averaged over y = 0 and 1
    _, found = work("+".join(f"p{i}" for i in range(400)))
    assert found == {f"p{i}": 2 * (200 - 0.5) for i in range(400)}
    # sum of w_i*x1: d/dw_i = 2*(yhat - y)*x1, yhat = 0.5*200*x1
    _, found = work("+".join(f"w{i}*x1" for i in range(200)))
    hand = np.mean([2 * (100 * x - y) * x for x, y in [(1.0, 0.0), (2.0, 1.0)]])
    assert all(value == pytest.approx(hand, rel=1e-14) for value in found.values()) and len(found) == 200
