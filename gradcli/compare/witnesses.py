"""The witnesses beside backprop: finite differences that never straddle a kink (entry by entry, or along
random directions for vectors and matrices), the model written out entry by entry for SymPy, and the
bound on what float64 can resolve of each gradient."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engines.differences import STEP_CUTS, kink_free
from ..engines.graph import build_graph
from ..engines.resolution import Bounds, row_bounds
from ..engines.sweep import compile_plan, stencil
from ..language.expansion import MAX_ENTRIES, TooLarge, entry_columns, expand
from ..setup import Setup
from .symbolic import SymbolicTooLarge, SymbolicUnavailable
from .verdicts import ENGINE_ROUNDINGS, FD_ATOL, FD_DIRECTIONS, FD_RTOL, RICHARDSON_HALVINGS

if TYPE_CHECKING:  # imported lazily at run time: `import gradcli` stays light
    from ..language.problem import Problem


FD_STEP_CUTS = STEP_CUTS  # a stencil that crosses a kink is tried again with these fractions of h


def resolution(setup: Setup, names: list[str], parts: Iterable[tuple[Mapping[str, Any], int]]) -> dict[str, float]:
    """What float64 can resolve of each named gradient over the rows of `parts` (columns, rows): twice
    backprop's rounding bound (engines/resolution.py), once for each engine evaluating the same function
    in float64. A model with vectors or matrices is bounded entry by entry, as SymPy sees it; inf where
    no bound can be had (past the expansion's size limits)."""
    problem, bounds = setup.problem, None
    for columns, rows in parts:
        if problem.tensor:  # in memory only: the model is expanded once, for its one part
            try:
                problem, columns = entrywise(problem, columns)
            except SymbolicUnavailable:
                return {name: math.inf for name in names}
        if bounds is None:
            bounds = Bounds(build_graph(problem), setup.values, names, setup.rows)
        bounds.add(columns, rows)
    return {name: ENGINE_ROUNDINGS * bound for name, bound in (bounds.total() if bounds else {}).items()}


def fd_witness_note(why: SymbolicUnavailable, directional: bool = False) -> str:
    """The warning that finite differences stand in for SymPy. Past SymPy's size, which the README's own
    networks are, it is one short line ("195 entries, over SymPy's 64: checked by finite differences"),
    which a terminal of 80 columns shows whole; how they check (directions, tolerances) is in the result."""
    if isinstance(why, SymbolicTooLarge):
        return f"{why}: checked by finite differences"
    how = (f"finite differences along {FD_DIRECTIONS} random directions per parameter are the second witness, "
           "each directional derivative against gᵀv" if directional else "finite differences are the second witness")
    return f"the symbolic engine {why}; {how} (rtol {FD_RTOL:g}, atol {FD_ATOL:g} x max(1, |loss|))"




def entrywise(problem: Problem, columns: Mapping[str, Any], max_entries: int | None = None,
              ) -> tuple[Problem, dict[str, Any]]:
    """The model written out entry by entry (language/expansion.py) and the columns it reads: a vector
    input's columns one by one. Past the expansion's size limits (max_entries parameter entries, default
    the expansion's MAX_ENTRIES), SymbolicUnavailable."""
    try:
        scalar = expand(problem, MAX_ENTRIES if max_entries is None else max_entries)
    except TooLarge as why:
        raise SymbolicTooLarge(str(why)) from None
    split = {name: column for name, column in columns.items() if name not in entry_columns(problem)}
    for name, names in entry_columns(problem).items():
        for j, entry in enumerate(names):
            split[entry] = columns[name][:, j]
    if problem.target not in split:  # a vector target: the expansion reads its entries, not the name
        split[problem.target] = split[entry_columns(problem)[problem.target][0]]
    return scalar, split


def directional_differences(graph: Any, problem: Problem, chosen: list[str], values: Mapping[str, float],
                            columns: Mapping[str, Any] | None, rows: int, gradient: Mapping[str, float],
                            stencil_of: Callable[[list[Mapping[str, float]]], Any] | None = None,
                            richardson: bool = False,
                            ) -> tuple[dict[str, list[tuple[float, float]]], dict[str, list[str]],
                                       dict[str, list[str]]]:
    """For each parameter as written: (central difference along v, gᵀv) for FD_DIRECTIONS seeded random
    unit directions v over its chosen entries, as torch.autograd.gradcheck's fast mode does; and, for a
    parameter with no clean direction, the kinks that stopped it (its verdict is NOT_AT_KINK); and, for a
    parameter compared without some entries, those entries.

    A direction is clean when no relu, abs, max or min argument changes sign (or leaves or reaches 0)
    between the stencil's points x - hv, x, x + hv: across a kink the loss is not differentiable and a
    difference means nothing. A stencil that crosses one is tried with smaller steps (FD_STEP_CUTS); where
    every step crosses, the entries that alone move a kink's argument across are found (crossing_entries)
    and left out of the directions drawn next (up to 4 x FD_DIRECTIONS draws in all): a bias whose unit
    sits at its kink in some row stops no other entry's comparison.

    stencil_of(points), when given, is sweep.stencil's answer over every row wherever the rows are
    (train's passes over parts); by default it is sweep.stencil over `columns`. richardson=True: where the
    central difference D(h) misses gᵀv by more than FD_ATOL x max(1, |loss|), it is replaced by
    (4 D(h/2) - D(h)) / 3, which cancels D's h² error, and so on with h halved (RICHARDSON_HALVINGS
    times at most): train's check at a trained network, whose large weights make the loss sharply
    curved where the gradient itself is tiny (the spiral's seed 3 missed by 4e-6 at h/2)."""
    if stencil_of is None:
        stencil_of = memory_stencil(graph, columns, rows)
    rng = np.random.default_rng(0)
    found: dict[str, list[tuple[float, float]]] = {}
    stopped: dict[str, list[str]] = {}
    left_out: dict[str, list[str]] = {}
    wanted = set(chosen)
    for name, entries in problem.entries.items():
        picked = [e for e in entries if e in wanted]
        if not picked:
            continue
        probe = _Probe(picked, values, gradient, stencil_of, richardson)
        pairs, kinks, out = probe.directions(rng)
        found[name] = pairs
        if not pairs:
            stopped[name] = list(kinks)
        elif out:
            left_out[name] = [picked[i] for i in out]
    return found, stopped, left_out


class _Probe:
    """One parameter's entries (`picked`), moved together along random directions v from `values`."""

    def __init__(self, picked: list[str], values: Mapping[str, float], gradient: Mapping[str, float],
                 stencil_of: Callable[[list[Mapping[str, float]]], Any], richardson: bool) -> None:
        self.picked, self.values, self.stencil_of, self.richardson = picked, values, stencil_of, richardson
        self.point = np.array([values[e] for e in picked])
        self.g = np.array([gradient[e] for e in picked])
        self.base = 1e-5 * max(1.0, float(np.abs(self.point).max()))

    def moved(self, step: float, v: Any) -> list[Mapping[str, float]]:
        """The stencil's two outer points, x + step v and x - step v."""
        return [{**self.values, **dict(zip(self.picked, (self.point + step * v).tolist()))},
                {**self.values, **dict(zip(self.picked, (self.point - step * v).tolist()))}]

    def directions(self, rng: Any) -> tuple[list[tuple[float, float]], dict[str, None], list[int]]:
        """(difference along v, gᵀv) per clean direction; the kinks met; the entries left out."""
        several = len(self.picked) > 1
        pairs: list[tuple[float, float]] = []
        kinks: dict[str, None] = {}
        draws = 0
        isolated, out = False, []  # out: the entries every stencil that moves them crosses a kink
        while len(pairs) < (FD_DIRECTIONS if several else 1) and draws < (4 * FD_DIRECTIONS if several else 1):
            draws += 1
            v = rng.normal(size=len(self.picked)) if several else np.ones(1)
            v[out] = 0.0
            v /= np.linalg.norm(v)
            at, cut, crossed = kink_free(lambda h, v=v: self.attempt(h, v), self.base, FD_STEP_CUTS)
            h = self.base * cut
            kinks.update(dict.fromkeys(crossed))
            if at is None:  # every step crossed a kink: another direction, without the entries that move one across
                if several and not isolated:
                    isolated = True
                    out = crossing_entries(
                        lambda mask, v=v, h=h: bool(self.stencil_of([self.values, *self.moved(h, v * mask)]).crossed),
                        len(self.picked))
                    if len(out) == len(self.picked):
                        break
                continue
            pairs.append((self.difference(at, h, v), float(self.g @ v)))
        return pairs, kinks, out

    def attempt(self, h: float, v: Any) -> tuple[Any, list[str]]:
        tried = self.stencil_of([self.values, *self.moved(h, v)])
        return tried, tried.crossed

    def difference(self, at: Any, h: float, v: Any) -> float:
        """The central difference along v from a clean stencil, Richardson-refined where asked."""
        loss, up, down = at.losses
        fd = (up - down) / (2 * h)
        plain, step = fd, h
        for _ in range(RICHARDSON_HALVINGS if self.richardson else 0):
            if abs(fd - self.g @ v) <= FD_ATOL * max(1.0, abs(loss)):
                break
            half = self.stencil_of([self.values, *self.moved(step / 2, v)])  # inside a clean stencil: clean too
            finer = (half.losses[1] - half.losses[2]) / step
            fd, plain, step = (4 * finer - plain) / 3, finer, step / 2
        return float(fd)


def crossing_entries(crosses: Callable[[Any], bool], size: int) -> list[int]:
    """The entries (0-based) that alone make a stencil cross a kink, by bisection: crosses(mask) says
    whether the stencil along the direction's entries kept by a 0/1 mask crosses one. A few passes
    per such entry (2 log2 size), where probing each entry would take `size`."""
    found: list[int] = []

    def search(indices: list[int]) -> None:
        mask = np.zeros(size)
        mask[indices] = 1.0
        if not crosses(mask):
            return
        if len(indices) == 1:
            found.append(indices[0])
            return
        search(indices[:len(indices) // 2])
        search(indices[len(indices) // 2:])

    search(list(range(size)))
    return sorted(found)


def memory_stencil(graph: Any, columns: Mapping[str, Any] | None, rows: int
                    ) -> Callable[[list[Mapping[str, float]]], Any]:
    loss_plan = compile_plan(graph, [])
    return lambda points: stencil(loss_plan, points, columns or {}, rows)


def clean_differences(loss_plan: Any, chosen: list[str], values: Mapping[str, float], columns: Mapping[str, Any],
                      rows: int) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Each chosen parameter's central difference from a stencil that crosses no kink (its step cut by
    FD_STEP_CUTS until none is crossed); where every step crosses one, the kinks instead (not compared)."""
    found: dict[str, float] = {}
    stopped: dict[str, list[str]] = {}
    for name, (h, _, _) in fd_points(chosen, values).items():
        def attempt(step: float, name: str = name) -> tuple[float, list[str]]:
            at = stencil(loss_plan, [values, {**values, name: values[name] + step},
                                     {**values, name: values[name] - step}], columns, rows)
            return (at.losses[1] - at.losses[2]) / (2 * step), at.crossed

        fd, _, kinks = kink_free(attempt, h, FD_STEP_CUTS)
        if fd is None:
            stopped[name] = kinks
        else:
            found[name] = fd
    return found, stopped


def fd_points(chosen: list[str], values: Mapping[str, float],
              ) -> dict[str, tuple[float, dict[str, float], dict[str, float]]]:
    """For each chosen parameter, its central difference's step h (1e-5 x max(1, |value|)) and two points."""
    points = {}
    for name in chosen:
        h = 1e-5 * max(1.0, abs(values[name]))
        points[name] = (h, {**values, name: values[name] + h}, {**values, name: values[name] - h})
    return points


def row_resolution(setup: Setup, graph: Any, names: list[str]) -> dict[str, Any]:
    """What float64 can resolve of each name's derivative in every row (resolution's rule: twice backprop's
    rounding bound, engines/resolution.py); none for a model with vectors or matrices."""
    if graph.tensor:
        return {}
    return {name: ENGINE_ROUNDINGS * bound
            for name, bound in row_bounds(graph, setup.values, setup.columns, setup.rows, names).items()}
