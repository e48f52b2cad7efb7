"""`gradcli grad` over data larger than memory: every engine's mean over all the rows, in one pass.

The gradient of a mean loss is a sum over rows, so each part read from disk adds its rows' share to
each witness: backprop's sweep, SymPy's derivatives (made once, within the symbolic budget, then
evaluated on every part) and, with --check-fd, the losses either side of each parameter. Each part's
means are weighted by its rows, and the verdicts are the in-memory ones (comparison.judged). At most
one part's columns are resident. Where SymPy cannot evaluate a part, finite differences become the
second witness, as in memory, at the cost of a second pass. A per-row gradient (--wrt naming an input or the target) would be
as large as the data, so it is refused here: it needs the data in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

import numpy as np

from .comparison import (ENGINES, Evidence, GradientReport, SymbolicUnavailable, fd_points, fd_witness_note,
                         judged, kink_warnings, prepare, sympy_limits)
from .engines.graph import Kink
from .errors import DataError, UndefinedError, placed, show_text


@dataclass(frozen=True)
class PlacedKink(Kink):
    """A kink found part by part: its first rows named by file and row. Kink.rows holds those rows
    alone, counted over all the data (a kink may be met in millions of rows)."""

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
    kinks: dict[tuple[str, bool, frozenset[str]], list[Any]] = field(default_factory=dict)  # -> [rows, places, count]
    point: dict[str, float] | None = None  # the only row's values, where there is one row in all
    unavailable: SymbolicUnavailable | None = None  # why SymPy's values stopped, if they did

    def add_kinks(self, found: list[Kink], part: Any) -> None:
        """A part's kinks (rows counted within it), before its rows are added to self.rows."""
        from .io.dataset import part_place

        for kink in found:
            entry = self.kinks.setdefault((kink.text, kink.exact, kink.params), [[], [], 0])
            for row in kink.rows[:max(0, SHOWN_KINK_ROWS + 1 - len(entry[1]))]:
                entry[0].append(self.rows + row)
                entry[1].append(f"{part.name} {part_place(part, row)}")
            entry[2] += len(kink.rows)

    def placed_kinks(self) -> list[Kink]:
        return [PlacedKink(text, tuple(rows), exact, params, tuple(places[:SHOWN_KINK_ROWS]), count > SHOWN_KINK_ROWS)
                for (text, exact, params), (rows, places, count) in self.kinks.items()]


def streamed_gradients(given: Any, dataset: Any, budget: int, *, loss: str, target: str,
                       wrt: str | Iterable[str] | None, delta: float, rtol: float, atol: float,
                       engines: tuple[str, ...] = ENGINES, check_fd: bool = False, from_file: bool = False,
                       readable: bool = True) -> GradientReport:
    """comparison.gradients over a Dataset larger than `budget`, read part by part (see the module's docstring).

    `given` is io.sources.point_inputs' result without data: the model, parameters and notes."""
    from .engines.graph import build_graph
    from .engines.sweep import compile_plan
    from .errors import unused
    from .io.csv import require_columns
    from .language.columns import model_columns
    from .training.fit import part_bytes

    name = dataset.name if len(dataset.files) > 1 else dataset.files[0].path
    wanted = list(dict.fromkeys(model_columns(given.model, loss, target, dataset.header, name, from_file=from_file)))
    require_columns(dataset.header, [*wanted, target], name)
    columns = list(dict.fromkeys([*wanted, target]))
    # prepare decides the roles from the column names alone: a stand-in row carries them (never computed on)
    setup = prepare(given.model, loss, {column: [0.0] for column in columns}, given.params, target=target, wrt=wrt,
                    delta=delta, from_file=from_file, check_finite=False, rows_allowed=True)
    if setup.row_wrt:
        raise DataError(f"--wrt {', '.join(setup.row_wrt)}: one value per row needs the data in memory, and "
                        f"{show_text(name)} ({dataset.size:,} bytes) is larger than --memory ({budget:,} bytes); "
                        "give a larger --memory, or leave the inputs and the target out of --wrt")
    problem, chosen, values = setup.problem, setup.chosen, setup.values
    graph = build_graph(problem)
    witness = "symbolic" if "symbolic" in engines else None
    warnings = list(setup.warnings)
    symbolic = None
    if "symbolic" in engines:
        try:
            symbolic = _derivatives(problem, chosen)
        except SymbolicUnavailable as why:
            witness, engines, check_fd = "finite differences", tuple(e for e in engines if e != "symbolic"), True
            warnings.append(fd_witness_note(why))
    plan = compile_plan(graph, chosen if "backprop" in engines else [])
    loss_plan = compile_plan(graph, [])
    steps = fd_points(chosen, values)
    parts = dataset.parts(part_bytes(budget))
    totals = _one_pass(parts, problem, columns, plan, loss_plan, values, symbolic, steps if check_fd else {})
    if totals.unavailable is not None:  # SymPy could not evaluate some part: finite differences stand in
        witness, engines = "finite differences", tuple(e for e in engines if e != "symbolic")
        warnings.append(fd_witness_note(totals.unavailable))
        if not check_fd:
            check_fd = True
            totals.fd = _one_pass(parts, problem, columns, None, loss_plan, values, None, steps).fd
    evidence = _evidence(totals, chosen, engines, symbolic, steps, witness, check_fd, warnings, readable)
    notes = unused("column", [n for n in dataset.header if n not in columns], f"of {name} {{verb}} not used by the model")
    report = judged(replace(setup, columns={}, rows=totals.rows), evidence, rtol, atol, files=len(dataset.files),
                    engine="stream")
    report.warnings[:0] = [*given.notes, *notes]
    return report


@dataclass
class _Symbolic:
    """SymPy's derivatives, made once."""

    loss: Any  # engines.symbolic.SymbolicLoss
    derivatives: dict[str, Any]

    def formulas(self) -> dict[str, str]:
        """Each derivative's formula for people, within the symbolic budget; none where it runs out.

        Made after the pass, as compare makes them after evaluating: the simplifier's time bound
        then does not pay for SymPy's first imports, and the formulas read as in memory."""
        from .engines.symbolic import SYMBOLIC_SECONDS, time_limit

        try:
            with sympy_limits(), time_limit(SYMBOLIC_SECONDS):
                return {name: self.loss.readable(d) for name, d in self.derivatives.items()}
        except SymbolicUnavailable:
            return {}


def _derivatives(problem: Any, chosen: list[str]) -> _Symbolic:
    """SymPy's derivative of each chosen parameter, within the symbolic budget."""
    from .engines.symbolic import SYMBOLIC_SECONDS, SymbolicLoss, time_limit

    with sympy_limits(), time_limit(SYMBOLIC_SECONDS):
        symbolic = SymbolicLoss(problem)
        return _Symbolic(symbolic, {name: symbolic.derivative(name) for name in chosen})


def _one_pass(parts: list[Any], problem: Any, columns: list[str], plan: Any, loss_plan: Any,
              values: Mapping[str, float], symbolic: _Symbolic | None,
              steps: Mapping[str, tuple[float, dict[str, float], dict[str, float]]]) -> Totals:
    """Every part read once, each adding its rows' share to every witness asked for (plan None: no backprop)."""
    from .comparison import check_targets
    from .engines.sweep import run
    from .io.dataset import part_place

    totals = Totals(gradient=np.zeros(len(plan.wanted)) if plan is not None else None)
    for part in parts:
        table = part.load(columns)
        rows = table.rows
        if not rows:
            continue
        where = (lambda part: lambda row: f"{part.name} {part_place(part, row)}")(part)
        data = {name: table.columns[name] for name in columns}
        check_targets(problem, data[problem.target], where=where)
        try:
            if plan is not None:
                swept = run(plan, values, data, rows, diagnose=True, find_kinks=True)
                totals.loss += swept.loss * rows
                totals.gradient += np.asarray(swept.gradient) * rows
                totals.add_kinks(swept.kinks, part)
            for name, (_, up, down) in steps.items():
                sums = totals.fd.setdefault(name, [0.0, 0.0])
                sums[0] += run(loss_plan, up, data, rows).loss * rows
                sums[1] += run(loss_plan, down, data, rows).loss * rows
        except UndefinedError as err:  # a row where the loss is undefined: named in its file
            raise placed(err, where) from None
        if symbolic is not None and totals.unavailable is None:
            try:
                with sympy_limits():
                    means = symbolic.loss.values(symbolic.derivatives, values, data, rows)
                for name, mean in means.items():
                    totals.symbolic[name] = totals.symbolic.get(name, 0.0) + mean * rows
            except SymbolicUnavailable as why:
                totals.unavailable = why
        totals.point = {name: float(column[0]) for name, column in data.items()} if (totals.rows, rows) == (0, 1) else None
        totals.rows += rows
    if not totals.rows:
        raise DataError(f"{parts[0].name if len(parts) == 1 else 'the data'}: there are no data rows")
    return totals


def _evidence(totals: Totals, chosen: list[str], engines: tuple[str, ...], symbolic: _Symbolic | None,
              steps: Mapping[str, tuple[float, dict[str, float], dict[str, float]]], witness: str | None,
              check_fd: bool, warnings: list[str], readable: bool) -> Evidence:
    """The sums turned into means over every row, as compare's Evidence."""
    rows = totals.rows
    backprop = dict(zip(chosen, (totals.gradient / rows).tolist())) if "backprop" in engines else {}
    kinks = totals.placed_kinks()
    found_symbolic = ({name: totals.symbolic[name] / rows for name in chosen}
                      if symbolic is not None and "symbolic" in engines else {})
    formulas = symbolic.formulas() if readable and found_symbolic and symbolic is not None else {}
    fd = ({name: (totals.fd[name][0] / rows - totals.fd[name][1] / rows) / (2 * steps[name][0]) for name in chosen}
          if check_fd else {})
    return Evidence(rows, totals.point, totals.loss / rows, backprop, kinks, found_symbolic, formulas, fd, engines,
                    witness, check_fd, warnings + kink_warnings(kinks))
