"""Both engines over rows held in memory, judged: the evidence of `grad`, `explain` and train's final check."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..engines.finite import require_finite
from ..engines.forward import forward_gradients
from ..engines.graph import backprop, build_graph
from ..engines.sweep import compile_plan, run
from ..language.expansion import entry_columns
from ..setup import Setup
from .symbolic import SymbolicUnavailable, symbolic_derivatives, symbolic_gradient
from .verdicts import (
    ATOL,
    ENGINES,
    RTOL,
    Evidence,
    GradientReport,
    RowGradient,
    judged,
    kink_warnings,
    rows_within_resolution,
    within_warning,
)
from .witnesses import (
    clean_differences,
    directional_differences,
    entrywise,
    fd_witness_note,
    resolution,
    row_resolution,
)


def compare(setup: Setup, *, rtol: float = RTOL, atol: float = ATOL, engines: Iterable[str] = ENGINES,
            check_fd: bool = False, readable: bool = True) -> GradientReport:
    """Run the engines on a prepared problem and compare what they found."""
    graph = build_graph(setup.problem)
    evidence = memory_evidence(setup, graph, tuple(engines), check_fd, readable)
    return judged(setup, evidence, rtol, atol, lambda warnings: row_gradients(
        setup, graph, rtol, atol, "symbolic" in evidence.engines, readable, warnings),
        resolution=lambda names: resolution(setup, names, [(setup.columns, setup.rows)]))


def memory_evidence(setup: Setup, graph: Any, engines: tuple[str, ...], check_fd: bool, readable: bool) -> Evidence:
    """Each engine over the rows in memory: backprop's sweep (with its kinks), SymPy's derivatives and,
    with check_fd or where SymPy cannot be used, finite differences."""
    problem, values, columns, rows, chosen = setup.problem, setup.values, setup.columns, setup.rows, setup.chosen
    warnings = list(setup.warnings)
    plan = compile_plan(graph, chosen if "backprop" in engines else [])
    if setup.unchecked:
        for name in columns.keys() - plan.columns():
            require_finite(name, columns[name])
    swept = run(plan, values, columns, rows, diagnose=True, find_kinks=True, check_finite=setup.unchecked)
    backprop_values = dict(zip(chosen, swept.gradient)) if "backprop" in engines else {}
    warnings += kink_warnings(swept.kinks)

    symbolic_values: dict[str, float] = {}
    formulas: dict[str, str] = {}
    witness = "symbolic" if "symbolic" in engines else None
    if "symbolic" in engines:
        try:
            if problem.tensor:  # SymPy sees the model entry by entry, each entry of W1 its own symbol
                scalar, scalar_columns = entrywise(problem, columns)
                symbolic_values, formulas = symbolic_gradient(scalar, chosen, values, scalar_columns, rows, False)
            else:
                symbolic_values, formulas = symbolic_gradient(problem, chosen, values, columns, rows, readable)
        except SymbolicUnavailable as why:  # the second witness becomes finite differences, and says so
            witness, engines, check_fd = "finite differences", tuple(e for e in engines if e != "symbolic"), True
            warnings.append(fd_witness_note(why, problem.tensor))

    fd_values: dict[str, float] = {}
    directions: dict[str, list[tuple[float, float]]] = {}
    fd_kinks: dict[str, list[str]] = {}
    left_out: dict[str, list[str]] = {}
    if check_fd and problem.tensor:  # along random directions: one pass per direction, not per entry
        gradient = backprop_values or dict(zip(chosen, swept.gradient))
        directions, fd_kinks, left_out = directional_differences(graph, problem, chosen, values, columns, rows,
                                                                 gradient)
    elif check_fd:
        fd_values, fd_kinks = clean_differences(compile_plan(graph, []), chosen, values, columns, rows)
    forward_values = forward_witness(setup, graph, warnings) if "forward" in engines else {}
    point = {name: float(columns[name][0]) for name in columns if np.ndim(columns[name]) == 1} if rows == 1 else None
    if point is not None and problem.tensor:  # a vector input's entries by their columns' names, in order

        spread = entry_columns(problem)
        point = {entry: float(value) for name in columns
                 for entry, value in (zip(spread[name], columns[name][0]) if name in spread else [(name, point[name])])}
    return Evidence(rows, point, swept.loss, backprop_values, swept.kinks, symbolic_values, formulas, fd_values,
                    engines, witness, check_fd, warnings, directions, fd_kinks, left_out, forward_values)


def forward_witness(setup: Setup, graph: Any, warnings: list[str]) -> dict[str, float]:
    """Forward mode's gradients: one dual-number sweep per parameter over the graph, or, for a model with
    vectors or matrices, one per entry over the model written out entry by entry (as SymPy sees it; the
    tensor operations' table has vector-Jacobian products, not the Jacobian-vector products forward
    mode needs). Past the expansion's size a warning says the forward column is left out."""
    problem, columns = setup.problem, setup.columns
    if problem.tensor:
        try:
            problem, columns = entrywise(problem, columns)
        except SymbolicUnavailable as why:
            warnings.append("forward mode not compared: it sweeps the model written out entry by entry, as SymPy "
                            f"does, once per entry, and this one is too large ({why})")
            return {}
        graph = build_graph(problem)
    return forward_gradients(graph, setup.values, columns, setup.rows, list(setup.chosen)).gradients


def row_gradients(setup: Setup, graph: Any, rtol: float, atol: float, symbolic_too: bool, readable: bool,
                   warnings: list[str]) -> dict[str, RowGradient]:
    """d loss_r / d name for the inputs and target in --wrt: backprop's per-row adjoints of their leaves
    (times the rows: the sweep's adjoints are of the mean), and SymPy's derivative in every row."""
    names, rows = setup.row_wrt, setup.rows
    if not names:
        return {}
    swept = backprop(graph, setup.values, setup.columns, rows, names)
    backprop_rows = {}
    for name in names:
        leaf = graph.leaf(name)
        adjoint = None if leaf is None else swept.adjoints[leaf.id]
        backprop_rows[name] = np.zeros(rows) if adjoint is None else np.broadcast_to(adjoint * rows, (rows,))
    symbolic_rows: dict[str, Any] = {}
    formulas: dict[str, str] = {}
    if symbolic_too:
        try:
            symbolic_rows, formulas, _ = symbolic_derivatives(
                setup.problem, lambda symbolic: symbolic.derivatives(names),
                setup.values, setup.columns, rows, readable, per_row=True)
        except SymbolicUnavailable as why:
            warnings.append(f"the symbolic engine {why}: the inputs' derivatives are backprop's alone")
    found, within = {}, []
    bounds = functools.cache(lambda: row_resolution(setup, graph, names))  # once, and only where a row differs
    for name in names:
        b = backprop_rows[name]
        s = symbolic_rows.get(name)
        role = "target" if name == setup.problem.target else "input"
        if s is None:
            found[name] = RowGradient(name, role, None, None, b.tolist(), None, None)
            continue
        s = np.broadcast_to(np.asarray(s, dtype=float), (rows,))
        diff = np.abs(s - b)
        close = diff <= atol + rtol * np.abs(s)
        gradient = RowGradient(name, role, formulas.get(name), s.tolist(), b.tolist(), float(np.max(diff)),
                               bool(close.all()))
        if not gradient.agree:
            within += rows_within_resolution(gradient, s, diff, close, bounds)
        found[name] = gradient
    within_warning(within, warnings)
    return found
