"""Where the parameters of a model with vectors and matrices start, when no value is given.

The same value for every entry of a matrix is a symmetric point: every hidden unit computes the
same thing and gets the same gradient, and gradient descent never tells them apart. So:

- a weight (a parameter that is an operand of ``@`` or ``dot``) starts from a seeded normal draw
  scaled by its fan-in: He, standard deviation sqrt(2/fan_in), when the model uses relu; Glorot,
  sqrt(2/(fan_in + fan_out)), otherwise;
- every other parameter of such a model (a bias: b1, b2) starts at 0.

Scalar models keep their own rules (grad: 0.5; train: see training/loop.starting_point).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import DataError
from .problem import Problem
from .tensors import shown
from .tree import Call, postorder, product_operands


def weights(problem: Problem) -> dict[str, tuple[int, int]]:
    """Each weight's (fan_in, fan_out): the size it sums over in its product and the size it feeds."""
    shapes = problem.shapes
    found: dict[str, tuple[int, int]] = {}
    for position, operand in product_operands(problem.loss):
        if operand.name not in problem.entries:
            continue
        shape = shapes.names[operand.name] if shapes else ()
        if not shape:
            continue
        if len(shape) == 1:
            found.setdefault(operand.name, (shape[0], 1))
        elif position == 0:  # A (m, k) in A @ B: sums over k, feeds m
            found.setdefault(operand.name, (shape[1], shape[0]))
        else:  # B (k, n)
            found.setdefault(operand.name, (shape[0], shape[1]))
    return found


def scheme(problem: Problem) -> str:
    uses_relu = any(isinstance(node, Call) and node.fn == "relu" for node in postorder(problem.loss))
    return "He" if uses_relu else "Glorot"


def initial_values(problem: Problem, given: Mapping[str, float], seed: int) -> tuple[dict[str, float], dict[str, str]]:
    """Every parameter entry's start (given values kept), and for each parameter as written that took
    a default, how it was drawn ("Glorot normal, seed 0" or "0")."""
    import numpy as np

    rng = np.random.default_rng(seed)
    fans = weights(problem)
    he = scheme(problem) == "He"
    values: dict[str, float] = {}
    how: dict[str, str] = {}
    for name, entries in problem.entries.items():
        draw = None
        if name in fans:
            fan_in, fan_out = fans[name]
            scale = np.sqrt(2.0 / fan_in) if he else np.sqrt(2.0 / (fan_in + fan_out))
            draw = rng.normal(0.0, scale, len(entries))  # drawn whether or not given: the rest stay the same
        if all(e in given for e in entries):
            values.update({e: float(given[e]) for e in entries})
            continue
        for i, entry in enumerate(entries):
            values[entry] = float(given[entry]) if entry in given else (float(draw[i]) if draw is not None else 0.0)
        how[name] = f"{'He' if he else 'Glorot'} normal, seed {seed}" if draw is not None else "0"
    return values, how


def split_given(problem: Problem, given: Mapping[str, Any]) -> dict[str, float]:
    """Given values by entry: a vector or matrix value of a parameter spread over its entries (its shape
    checked), a number kept as it is."""
    import numpy as np

    shapes = problem.shapes
    out: dict[str, float] = {}
    for name, value in given.items():
        if isinstance(value, np.ndarray) and value.ndim:
            want = shapes.names.get(name, ()) if shapes else ()
            if name not in problem.entries:
                out[name] = value  # type: ignore[assignment]  # not a parameter: the caller warns
                continue
            if tuple(value.shape) != want:
                raise DataError(f"parameter {name!r} is given with shape {shown(tuple(value.shape))}; "
                                f"the model needs {shown(want)}")
            out.update(zip(problem.entries[name], value.ravel().tolist()))
        elif name in problem.entries and problem.entries[name] != (name,):
            out.update({entry: float(value) for entry in problem.entries[name]})  # one number for every entry
        else:
            out[name] = value
    return out
