"""train's two checks when the rows are not all in memory: each is one pass over the parts.

- The closed form (mse, a model linear in its parameters) by TSQR: each part's [F | y - c] is
  QR-factored where the part is, and the small R factors are stacked and factored again. R is
  as accurate as one QR of all the rows (no normal equations, which would square the condition
  number: a timestamp column beside an intercept would lose the small direction).
- The final gradient two ways: backprop's pass, and SymPy's derivatives (made once here, within
  the symbolic budget) evaluated on every part and weighted by its rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..compare.symbolic import OUT_OF_TIME, SymbolicTooLarge, SymbolicUnavailable, sympy_limits
from ..compare.verdicts import (
    ENGINE_ROUNDINGS,
    FD_DIRECTIONS,
    Evidence,
    ParamGradient,
    agrees,
    judged,
    kink_warnings,
    within_resolution,
)
from ..compare.witnesses import directional_differences, fd_witness_note
from ..engines.blas import one_blas_thread
from ..engines.graph import Graph, model_values
from ..engines.resolution import Bounds
from ..engines.sweep import run
from ..engines.symbolic import OutOfTime, SymbolicLoss, budget_seconds, time_limit
from ..errors import GradcliError
from ..language.expansion import TooLarge, entry_columns, expand
from ..language.problem import Problem
from ..setup import Setup
from .closed_form import ClosedForm
from .gradient_check import GradientCheck, checked, gradient_entry
from .passes import Rows, stencil_over

QR_ROWS = 1 << 15  # rows factored at a time, so that a part's design matrix is never made whole


def part_r(columns: Mapping[str, Any], rows: int, graph: Graph, names: list[str], target: str) -> np.ndarray:
    """The R factor of one part's [F | y - c] (F: the model's response to each parameter, c: at p = 0),
    itself by TSQR over chunks of QR_ROWS rows: memory stays at one chunk's block."""
    zero = {name: 0.0 for name in names}
    r = np.zeros((0, len(names) + 1))
    with one_blas_thread():  # many small QRs: BLAS threads only add synchronisation (5x slower on 2 busy cores)
        for low in range(0, rows, QR_ROWS):
            size = min(QR_ROWS, rows - low)
            chunk = {name: column[low:low + size] if np.ndim(column) else column for name, column in columns.items()}
            block = np.empty((len(r) + size, len(names) + 1), order="F")  # LAPACK's order: no copy
            block[:len(r)] = r
            with np.errstate(all="ignore"):
                offset = model_values(graph, zero, chunk, size)
                for i, name in enumerate(names):
                    block[len(r):, i] = model_values(graph, {**zero, name: 1.0}, chunk, size) - offset
                block[len(r):, -1] = np.asarray(chunk[target], dtype=np.float64) - offset
            r = np.linalg.qr(block, mode="r")
    return r


def tsqr_least_squares(problem: Problem, graph: Graph, data: Rows, trained: Mapping[str, float]) -> ClosedForm:
    """Least squares over every part by TSQR (see the module's docstring)."""
    names = list(problem.params)
    factors = [r for r, _ in data.map(part_r, graph, names, problem.target)]
    with np.errstate(all="ignore"):
        r = np.linalg.qr(np.vstack(factors), mode="r") if len(factors) > 1 else factors[0]
        width = len(names)
        r11, z = r[:width, :width], r[:width, width]
        rho = float(r[width, width]) if r.shape[0] > width else 0.0
        norms = np.linalg.norm(r11, axis=0)  # R's column norms are F's
        norms[norms == 0] = 1.0
        solution, *_ = np.linalg.lstsq(r11 / norms, z, rcond=None)
        left = (r11 / norms) @ solution - z
        solution = solution / norms
        loss = (float(left @ left) + rho * rho) / data.rows
    trained_vector = np.array([trained[name] for name in names])
    distance = float(np.linalg.norm(trained_vector - solution))
    scale = float(np.linalg.norm(solution))
    return ClosedForm(dict(zip(names, solution.tolist())), loss, distance, distance / scale if scale > 0 else distance)


def part_symbolic(columns: Mapping[str, Any], rows: int, problem: Problem, derivatives: Mapping[str, Any],
                  params: Mapping[str, float]) -> dict[str, float]:
    """The mean over one part's rows of each of SymPy's derivatives (compiled once for all the parts)."""
    key = (id(problem), id(derivatives))
    if _evaluator[:1] != [key]:
        _evaluator[:] = [key, SymbolicLoss(problem), problem, derivatives]  # the objects held: ids stay theirs
    return _evaluator[1].values(derivatives, params, columns, rows)


_evaluator: list[Any] = []  # [key, SymbolicLoss, problem, derivatives] of the last part_symbolic call


def gradient_check(trainer: Any, params: Mapping[str, float], rtol: float) -> GradientCheck:
    """Symbolic vs backprop over every part at the trained parameters (fitting.final_gradient_check's rules)."""
    problem, data = trainer.problem, trainer.data
    swept = trainer.terms(params)
    size = max(swept.abs_terms or [0.0])
    atol = max(rtol * size, 1e-12)
    backprop = dict(zip(trainer.names, swept.gradient))
    if problem.tensor:
        return tensor_gradient_check(trainer, params, swept, rtol, atol)
    try:
        with time_limit(budget_seconds()):
            symbolic = SymbolicLoss(problem)
            derivatives = symbolic.derivatives(trainer.names)
    except OutOfTime:
        return GradientCheck(None, rtol, atol, notes=[f"the symbolic engine {OUT_OF_TIME} {budget_seconds():g} s "
                                                      "for this model: the final gradient is backprop's alone"])
    except GradcliError as err:
        return GradientCheck(None, rtol, atol, notes=[f"the symbolic engine cannot check the final gradient ({err})"])
    means = data.map(part_symbolic, problem, derivatives, params)
    found = {name: sum(values[name] * rows for values, rows in means) / data.rows for name in trainer.names}
    results = {name: ParamGradient(name, None, found[name], backprop[name], abs(found[name] - backprop[name]),
                                   agrees(found[name], backprop[name], rtol, atol)) for name in trainer.names}
    notes: list[str] = []
    within_resolution(results, lambda names: resolution_over(trainer, params, names), notes)
    return GradientCheck(all(g.agree for g in results.values()), rtol, atol,
                         {name: gradient_entry(g) for name, g in results.items()}, notes)


def resolution_over(trainer: Any, params: Mapping[str, float], names: list[str]) -> dict[str, float]:
    """comparison.resolution over every part, each part bounded where it is: what float64 can resolve of
    each named gradient of the mean loss."""
    data = trainer.data
    bounds = Bounds(trainer.graph, dict(params), names, data.rows)
    for (part, sizes), _ in data.map(part_bounds, trainer.graph, dict(params), names, data.rows):
        bounds.merge(part, sizes)
    return {name: ENGINE_ROUNDINGS * bound for name, bound in bounds.total().items()}


def part_bounds(columns: Mapping[str, Any], rows: int, graph: Graph, params: Mapping[str, float], names: list[str],
                total: int) -> tuple[dict[str, float], dict[str, float]]:
    """One part's share of resolution_over (a module-level function: it can run on a Dask worker)."""
    bounds = Bounds(graph, params, names, total)
    bounds.add(columns, rows)
    return bounds.bounds, bounds.sizes


def part_symbolic_entries(columns: Mapping[str, Any], rows: int, problem: Problem, scalar: Problem,
                          derivatives: Mapping[str, Any], params: Mapping[str, float]) -> dict[str, float]:
    """part_symbolic for a model with vectors and matrices: SymPy's derivatives of the model written out
    entry by entry (`scalar`), on the part's columns with each vector input split into its entries."""
    spread = entry_columns(problem)
    split = {name: column for name, column in columns.items() if name not in spread}
    for name, names in spread.items():
        for j, entry in enumerate(names):
            split[entry] = np.asarray(columns[name])[:, j]
    if problem.target not in split:  # a vector target: as comparison.entrywise, its name stands for an entry
        split[problem.target] = split[spread[problem.target][0]]
    return part_symbolic(split, rows, scalar, derivatives, params)


def tensor_gradient_check(trainer: Any, params: Mapping[str, float], swept: Any, rtol: float,
                          atol: float) -> GradientCheck:
    """The final check of a model with vectors and matrices over every part, judged as grad judges it
    (comparison.judged): SymPy on the model written out entry by entry (made once, evaluated part by
    part) up to its size limit, else finite differences along random directions, a pass per loss."""
    problem, data, names = trainer.problem, trainer.data, trainer.names
    backprop = dict(zip(names, swept.gradient))
    symbolic: dict[str, float] = {}
    directions: dict[str, list[tuple[float, float]]] = {}
    fd_kinks: dict[str, list[str]] = {}
    left_out: dict[str, list[str]] = {}
    warnings: list[str] = []
    witness = "symbolic"
    try:
        try:
            scalar = expand(problem)
        except TooLarge as why:
            raise SymbolicTooLarge(str(why)) from None
        with sympy_limits(), time_limit(budget_seconds()):
            loss = SymbolicLoss(scalar)
            derivatives = loss.derivatives(names)
        with sympy_limits():
            means = data.map(part_symbolic_entries, problem, scalar, derivatives, dict(params))
        symbolic = {name: sum(values[name] * rows for values, rows in means) / data.rows for name in names}
    except SymbolicUnavailable as why:
        witness = f"finite differences along {FD_DIRECTIONS} random directions"
        warnings.append(fd_witness_note(why, True))
        directions, fd_kinks, left_out = directional_differences(
            trainer.graph, problem, names, params, None, data.rows, backprop,
            stencil_of=lambda points: stencil_over(data, trainer.loss_plan, points), richardson=True)
    kinks: list[Any] = []
    if data.engine == "memory" and trainer.plan.kink_nodes:  # relu or abs at (or within rounding of) a kink
        kinks = run(trainer.plan, dict(params), data.columns, data.rows, find_kinks=True).kinks
        warnings += kink_warnings(kinks)
    setup = Setup(problem, dict(params), {}, data.rows, {}, list(names), [])
    evidence = Evidence(data.rows, None, swept.loss, backprop, kinks, symbolic, {}, {},
                        ("symbolic", "backprop") if symbolic else ("backprop",), witness, bool(directions or fd_kinks),
                        warnings, directions, fd_kinks, left_out)
    report = judged(setup, evidence, rtol, atol, files=data.files, engine=data.engine)
    return checked(report, atol)
