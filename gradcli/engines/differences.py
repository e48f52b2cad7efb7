"""Finite differences: the third witness, which knows nothing of either engine's calculus.

They only evaluate the function (or, for a Hessian, the backprop gradient) near the point, so they
are independent of both the symbolic derivative and the derivative graph, and only as accurate as
the step allows: the tolerance they are judged by grows with the order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from math import comb
from typing import Any, TypeVar

EPS = 2.0**-52
# The verdict of a difference whose every stencil tried crosses a relu, abs, max or min kink: neither
# agree nor disagree (the function is not differentiable along the stencil, so the difference means nothing).
NOT_AT_KINK = "not compared at a kink"
STEP_CUTS = (1.0, 1 / 16, 1 / 256, 1 / 4096)  # a stencil that crosses a kink is tried again with these fractions of h
LOOSEST = 1e-2  # a step cut so far that rounding needs a looser tolerance than this is no witness
T = TypeVar("T")


def kink_free(attempt: Callable[[float], tuple[T, Sequence[str]]], h: float,
              cuts: Sequence[float] = STEP_CUTS) -> tuple[T | None, float, list[str]]:
    """The first difference whose stencil crosses no kink: attempt(step) gives (the difference at that
    step, the kinks its stencil crosses), tried at h x each of `cuts`. Returns (that difference, its cut,
    []); where every step crosses one, (None, the last cut, the kinks crossed) and the caller says
    NOT_AT_KINK. Every command that judges an engine by finite differences goes through here."""
    kinks: dict[str, None] = {}
    cut = 1.0
    for cut in cuts:
        value, crossed = attempt(h * cut)
        if not crossed:
            return value, cut, []
        kinks.update(dict.fromkeys(crossed))
    return None, cut, list(kinks)


def usable_cuts(order: int) -> tuple[float, ...]:
    """The STEP_CUTS at which an order-th central difference of a function's values is still a witness:
    rounding grows as cut**-order, and with it tolerance_at, which must stay within LOOSEST."""
    return tuple(cut for cut in STEP_CUTS if tolerance_at(order, cut) <= LOOSEST)


def tolerance_at(order: int, cut: float) -> float:
    """tolerance(order) for `central` at the step cut to h x cut: its rounding, eps x |f| / step**order,
    grows by cut**-order."""
    return tolerance(order) * cut ** -order


def step(x: float, order: int) -> float:
    """The step that balances truncation (~h^2) against rounding (~eps/h^order)."""
    return EPS ** (1.0 / (order + 2)) * max(1.0, abs(x))


def central(f: Callable[[float], float], x: float, order: int, h: float | None = None) -> float:
    """The order-th derivative of f at x: sum over j of (-1)^j C(k, j) f(x + (k/2 - j) h), over h^k
    (h: step(x, order) unless given)."""
    h = step(x, order) if h is None else h
    total = sum((-1) ** j * comb(order, j) * f(x + (order / 2 - j) * h) for j in range(order + 1))
    return total / h**order


def tolerance(order: int) -> float:
    """Relative (and, times max(1, |f|), absolute) tolerance of `central` at this order:
    1e-6 for the first derivative, about 1e-4 for the second, 3e-3 for the third."""
    return 1e3 * EPS ** (2.0 / (order + 2))


def stencil_points(x: float, order: int, h: float) -> list[float]:
    """Where `central` evaluates f, and x itself (a kink exactly at x is crossed too)."""
    return [x, *(x + (order / 2 - j) * h for j in range(order + 1))]


def gradient_differences(gradient_at: Callable[[Mapping[str, float]], Any], values: Mapping[str, float],
                         names: Sequence[str],
                         crossed: Callable[[list[Mapping[str, float]]], Sequence[str]] = lambda points: [],
                         ) -> tuple[list[list[float] | None], dict[str, list[str]]]:
    """Row j: central differences of a gradient along names[j] (a Hessian's witness, from the gradient
    alone): (g(x + h e_j) - g(x - h e_j)) / 2h, from the first step (kink_free) whose points x, x +- h e_j
    cross no kink by crossed(points). A row whose every step crosses one is None, and the second value
    maps its name to the kinks crossed (not compared)."""
    rows: list[list[float] | None] = []
    stopped: dict[str, list[str]] = {}
    for name in names:
        def attempt(h: float, name: str = name) -> tuple[list[float], Sequence[str]]:
            up, down = {**values, name: values[name] + h}, {**values, name: values[name] - h}
            kinks = crossed([values, up, down])
            if kinks:
                return [], kinks
            return [(u - d) / (2 * h) for u, d in zip(gradient_at(up), gradient_at(down))], kinks

        row, _, kinks = kink_free(attempt, step(values[name], 1))
        rows.append(row)
        if row is None:
            stopped[name] = kinks
    return rows, stopped
