"""Finite differences: the third witness, which knows nothing of either engine's calculus.

They only evaluate the function (or, for a Hessian, the backprop gradient) near the point, so they
are independent of both the symbolic derivative and the derivative graph, and only as accurate as
the step allows: the tolerance they are judged by grows with the order.
"""

from __future__ import annotations

from math import comb
from typing import Any, Callable, Mapping, Sequence

EPS = 2.0**-52


def step(x: float, order: int) -> float:
    """The step that balances truncation (~h^2) against rounding (~eps/h^order)."""
    return EPS ** (1.0 / (order + 2)) * max(1.0, abs(x))


def central(f: Callable[[float], float], x: float, order: int) -> float:
    """The order-th derivative of f at x: sum over j of (-1)^j C(k, j) f(x + (k/2 - j) h), over h^k."""
    h = step(x, order)
    total = sum((-1) ** j * comb(order, j) * f(x + (order / 2 - j) * h) for j in range(order + 1))
    return total / h**order


def tolerance(order: int) -> float:
    """Relative (and, times max(1, |f|), absolute) tolerance of `central` at this order:
    1e-6 for the first derivative, about 1e-4 for the second, 3e-3 for the third."""
    return 1e3 * EPS ** (2.0 / (order + 2))


def gradient_differences(gradient_at: Callable[[Mapping[str, float]], Any], values: Mapping[str, float],
                         names: Sequence[str]) -> list[list[float]]:
    """Row j: central differences of a gradient along names[j] (a Hessian's witness, from the gradient
    alone): (g(x + h e_j) - g(x - h e_j)) / 2h."""
    rows = []
    for name in names:
        h = step(values[name], 1)
        up, down = gradient_at({**values, name: values[name] + h}), gradient_at({**values, name: values[name] - h})
        rows.append([(u - d) / (2 * h) for u, d in zip(up, down)])
    return rows
