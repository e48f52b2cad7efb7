"""The witnesses over data read part by part (streamed past --memory, or on Dask's workers): each part's
sums, added up in one pass, and the evidence they make."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engines.sweep import run, stencil
from ..engines.symbolic import SymbolicLoss, budget_seconds, time_limit
from ..errors import DataError, UndefinedError, placed
from ..io.dataset import part_place
from ..io.distributed import DaskRows, dask_client
from ..setup import check_targets
from .symbolic import SymbolicUnavailable, sympy_limits
from .verdicts import Evidence, kink_warnings

if TYPE_CHECKING:  # imported lazily at run time: `import gradcli` stays light
    pass


# ---------------------------------------------------------------- grad over data larger than memory
#
# The gradient of a mean loss is a sum over rows, so each part read from disk adds its rows' share to
# each witness: backprop's sweep, SymPy's derivatives (made once, within the symbolic budget, then
# evaluated on every part) and, with --check-fd, the losses either side of each parameter. Each
# part's means are weighted by its rows, and the verdicts are the in-memory ones (judged). At most
# one part's columns are resident. Where SymPy cannot evaluate a part, finite differences become
# the second witness, as in memory, at the cost of a second pass. A per-row gradient (--wrt naming
# an input or the target) would be as large as the data: it needs the data in memory.


@dataclass(frozen=True)
class PlacedKink:
    """A kink found part by part (graph.Kink's fields), its first rows named by file and row. `rows`
    holds those rows alone, counted over all the data: a kink may be met in millions of rows."""

    text: str
    rows: tuple[int, ...]
    exact: bool
    params: frozenset[str]
    places: tuple[str, ...] = ()
    more: bool = False  # more rows than `places` names

    def where(self) -> str:
        return ", ".join(self.places) + (", ..." if self.more else "")


SHOWN_KINK_ROWS = 5  # as Kink.where shows


@dataclass
class Totals:
    """Each witness's sums over the parts read so far, every mean weighted by its part's rows."""

    rows: int = 0
    loss: float = 0.0
    gradient: Any = None
    symbolic: dict[str, float] = field(default_factory=dict)
    fd: dict[str, list[float]] = field(default_factory=dict)  # name -> [sum of up losses, sum of down losses]
    fd_kinks: dict[str, dict[str, None]] = field(default_factory=dict)  # name -> kinks its stencil crossed
    kinks: dict[tuple[str, bool, frozenset[str]], list[Any]] = field(default_factory=dict)  # -> [rows, places, count]
    point: dict[str, float] | None = None  # the only row's values, where there is one row in all
    unavailable: SymbolicUnavailable | None = None  # why SymPy's values stopped, if they did

    def add_kinks(self, found: list[Any], part: Any) -> None:
        """A part's kinks (rows counted within it), before its rows are added to self.rows."""
        for kink in found:
            entry = self.kinks.setdefault((kink.text, kink.exact, kink.params), [[], [], 0])
            for row in kink.rows[:max(0, SHOWN_KINK_ROWS + 1 - len(entry[1]))]:
                entry[0].append(self.rows + row)
                entry[1].append(f"{part.name} {part_place(part, row)}")
            entry[2] += len(kink.rows)

    def placed_kinks(self) -> list[PlacedKink]:
        return [PlacedKink(text, tuple(rows), exact, params, tuple(places[:SHOWN_KINK_ROWS]), count > SHOWN_KINK_ROWS)
                for (text, exact, params), (rows, places, count) in self.kinks.items()]


def symbolic_means(columns: Mapping[str, Any], rows: int, symbolic: Any, derivatives: Mapping[str, Any],
                   values: Mapping[str, float]) -> dict[str, float]:
    """The mean of each SymPy derivative over one part's rows (SymPy's limits as SymbolicUnavailable).
    Module-level, so that a Dask worker can run it."""
    with sympy_limits():
        return symbolic.values(derivatives, values, columns, rows)


@dataclass
class SymbolicMeans:
    """SymPy's derivatives, made once."""

    loss: Any  # engines.symbolic.SymbolicLoss
    derivatives: dict[str, Any]

    def formulas(self) -> dict[str, str]:
        """Each derivative's formula for people, within the symbolic budget; none where it runs out.

        Made after the pass, as compare makes them after evaluating: the simplifier's time bound
        then does not pay for SymPy's first imports, and the formulas read as in memory."""
        try:
            with sympy_limits(), time_limit(budget_seconds()):
                return {name: self.loss.readable(d) for name, d in self.derivatives.items()}
        except SymbolicUnavailable:
            return {}


def symbolic_witness(problem: Any, chosen: list[str]) -> SymbolicMeans:
    """SymPy's derivative of each chosen parameter, within the symbolic budget."""
    with sympy_limits(), time_limit(budget_seconds()):
        symbolic = SymbolicLoss(problem)
        return SymbolicMeans(symbolic, symbolic.derivatives(chosen))


def read_part(part: Any, problem: Any, columns: list[str]) -> tuple[dict[str, Any], int]:
    """One part's `columns`, checked as it is read (a bad cell named by file, row and column) and
    bce's targets checked. Module-level, so that a Dask worker can run it."""
    table = part.load(columns)
    if not table.rows:
        return {}, 0
    data = {name: table.columns[name] for name in columns}
    check_targets(problem, data[problem.target], where=part_where(part))
    return data, table.rows


def part_where(part: Any) -> Callable[[int], str]:
    return lambda row: f"{part.name} {part_place(part, row)}"


@dataclass
class PartSums:
    """One part's share of every witness: its rows' sums (each mean times the part's rows)."""

    loss: float = 0.0
    gradient: Any = None  # None: backprop not asked for in this pass
    kinks: list[Any] = field(default_factory=list)  # graph.Kink, rows counted within the part
    fd: dict[str, list[float]] = field(default_factory=dict)  # name -> [sum of up losses, sum of down losses]
    fd_crossed: dict[str, list[str]] = field(default_factory=dict)  # name -> kinks its stencil crossed in the part
    symbolic: dict[str, float] | None = None
    unavailable: SymbolicUnavailable | None = None  # why SymPy gave no values on this part
    undefined: UndefinedError | None = None  # the loss undefined at a row of the part (its row within it)
    point: dict[str, float] | None = None  # the only row's values, in a part of one row


def part_witnesses(data: Mapping[str, Any], rows: int, plan: Any, loss_plan: Any, values: Mapping[str, float],
                   symbolic: SymbolicMeans | None,
                   steps: Mapping[str, tuple[float, dict[str, float], dict[str, float]]]) -> PartSums:
    """What one part adds to each witness asked for (plan None: no backprop). Module-level, so that a
    Dask worker can run it; an undefined row comes back as data, to be named by its file here."""
    sums = PartSums(point={name: float(column[0]) for name, column in data.items()} if rows == 1 else None)
    try:
        if plan is not None:
            swept = run(plan, values, data, rows, diagnose=True, find_kinks=True)
            sums.loss, sums.gradient = swept.loss * rows, np.asarray(swept.gradient) * rows
            sums.kinks = list(swept.kinks)
        for name, (_, up, down) in steps.items():  # a stencil across a kink in any part: not compared
            at = stencil(loss_plan, [values, up, down], data, rows)
            sums.fd[name] = [at.losses[1] * rows, at.losses[2] * rows]
            if at.crossed:
                sums.fd_crossed[name] = list(at.crossed)
    except UndefinedError as err:
        sums.undefined = err
        return sums
    if symbolic is not None:
        try:
            with sympy_limits():
                means = symbolic.loss.values(symbolic.derivatives, values, data, rows)
            sums.symbolic = {name: mean * rows for name, mean in means.items()}
        except SymbolicUnavailable as why:
            sums.unavailable = why
    return sums


@contextmanager
def part_passes(parts: list[Any], problem: Any, columns: list[str], files: int, dask: str | None,
                 workers: int | None, dashboard: Callable[[str], None] | None) -> Iterator[Passes]:
    """What runs one pass of part_witnesses: here, each part read from disk in turn, or (`dask`) on a
    cluster's workers, where the parts are read once and kept (io/distributed.py, as train does)."""
    if dask is None:
        def streamed(*args: Any) -> Iterator[tuple[Any, PartSums, int]]:
            for part in parts:
                data, rows = read_part(part, problem, columns)
                if rows:
                    yield part, part_witnesses(data, rows, *args), rows

        yield streamed
        return

    with dask_client(dask, workers, dashboard) as client:
        held = DaskRows(client, parts, read_part, files, problem=problem, columns=columns)

        def on_dask(*args: Any) -> Iterator[tuple[Any, PartSums, int]]:
            results = held.map(part_witnesses, *args)
            for i, (sums, rows) in zip(held.live, results):
                yield parts[i], sums, rows

        yield on_dask


def one_pass(each: Passes, parts: list[Any], plan: Any, loss_plan: Any, values: Mapping[str, float],
              symbolic: SymbolicMeans | None,
              steps: Mapping[str, tuple[float, dict[str, float], dict[str, float]]]) -> Totals:
    """Every part once, each adding its rows' share to every witness asked for (plan None: no backprop),
    in file order: the first undefined row in the data is the one named."""
    totals = Totals(gradient=np.zeros(len(plan.wanted)) if plan is not None else None)
    for part, sums, rows in each(plan, loss_plan, values, symbolic, steps):
        if sums.undefined is not None:  # a row where the loss is undefined: named in its file
            raise placed(sums.undefined, part_where(part)) from None
        if sums.gradient is not None:
            totals.loss += sums.loss
            totals.gradient += sums.gradient
            totals.add_kinks(sums.kinks, part)
        for name, (up, down) in sums.fd.items():
            found = totals.fd.setdefault(name, [0.0, 0.0])
            found[0] += up
            found[1] += down
        for name, crossed in sums.fd_crossed.items():
            totals.fd_kinks.setdefault(name, {}).update(dict.fromkeys(crossed))
        if symbolic is not None and totals.unavailable is None:
            if sums.unavailable is not None:
                totals.unavailable = sums.unavailable
            else:
                for name, total in (sums.symbolic or {}).items():
                    totals.symbolic[name] = totals.symbolic.get(name, 0.0) + total
        totals.point = sums.point if (totals.rows, rows) == (0, 1) else None
        totals.rows += rows
    if not totals.rows:
        raise DataError(f"{parts[0].name if len(parts) == 1 else 'the data'}: there are no data rows")
    return totals


def streamed_evidence(totals: Totals, chosen: list[str], engines: tuple[str, ...], symbolic: SymbolicMeans | None,
              steps: Mapping[str, tuple[float, dict[str, float], dict[str, float]]], witness: str | None,
              check_fd: bool, warnings: list[str], readable: bool) -> Evidence:
    """The sums turned into means over every row, as compare's Evidence."""
    rows = totals.rows
    backprop = dict(zip(chosen, (totals.gradient / rows).tolist())) if "backprop" in engines else {}
    kinks = totals.placed_kinks()
    found_symbolic = ({name: totals.symbolic[name] / rows for name in chosen}
                      if symbolic is not None and "symbolic" in engines else {})
    formulas = symbolic.formulas() if readable and found_symbolic and symbolic is not None else {}
    fd = ({name: (totals.fd[name][0] / rows - totals.fd[name][1] / rows) / (2 * steps[name][0]) for name in chosen
           if name not in totals.fd_kinks} if check_fd else {})
    fd_kinks = {name: list(kinks) for name, kinks in totals.fd_kinks.items()} if check_fd else {}
    return Evidence(rows, totals.point, totals.loss / rows, backprop, kinks, found_symbolic, formulas, fd, engines,
                    witness, check_fd, warnings + kink_warnings(kinks), fd_kinks=fd_kinks)


Passes = Callable[..., Iterator[tuple[Any, PartSums, int]]]  # part_witnesses' arguments -> (part, sums, rows)
