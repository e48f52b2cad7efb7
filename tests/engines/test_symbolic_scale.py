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
    small, _ = work("+".join(term.format(i=i) for i in range(150)))
    large, _ = work("+".join(term.format(i=i) for i in range(300)))
    assert large <= 2.3 * small, (small, large)


def test_the_derivatives_of_a_long_sum_are_still_right():
    # (sum of 400 names at 0.5 - y)**2: every derivative is 2*(200 - y), averaged over y = 0 and 1
    _, found = work("+".join(f"p{i}" for i in range(400)))
    assert found == {f"p{i}": 2 * (200 - 0.5) for i in range(400)}
    # sum of w_i*x1: d/dw_i = 2*(yhat - y)*x1, yhat = 0.5*200*x1
    _, found = work("+".join(f"w{i}*x1" for i in range(200)))
    hand = np.mean([2 * (100 * x - y) * x for x, y in [(1.0, 0.0), (2.0, 1.0)]])
    assert all(value == pytest.approx(hand, rel=1e-14) for value in found.values()) and len(found) == 200


# ---------------------------------------------------------------- explain of a model too long to list


@pytest.mark.parametrize("model, max_paths", [
    ("p1*p2*p3*p4", 20), ("b + w1*x1 + w2*x2", 20), ("w*x1*w + sin(w*w)*w", 20), ("w*x1*w + sin(w*w)*w", 2),
    ("relu(w1*x1 + w2)*w3 + w1*w3", 20),
])
def test_the_path_steps_counted_are_those_explain_walks(model, max_paths):
    from gradcli.engines.graph import build_graph
    from gradcli.engines.reading import paths
    from gradcli.explaining.scalars import path_steps

    problem = build_problem(model, "mse", data_names=["x1", "y"])
    graph = build_graph(problem)
    walked = sum(len(path) for name in problem.params for path in paths(graph, graph.leaf(name).id, max_paths))
    counted = path_steps(graph, problem.params, max_paths)
    if max_paths == 20:
        assert counted == walked
    else:  # more paths than listed: their mean length times the number listed
        assert 0 < counted <= 2 * walked


def test_explain_of_a_product_of_2400_factors_is_refused_at_once_naming_its_size(gradcli, tmp_path):
    from cli_runner import one_line_error

    (tmp_path / "model.txt").write_text("*".join(f"p{i}" for i in range(1, 2401)))
    result = gradcli("explain", "--model-file", "model.txt", "--data", "y=1")
    assert result.code == 2 and result.out == ""
    line = one_line_error(result)
    assert "2,400 parameters" in line and "local derivatives long in all; the limit is 50,000" in line
