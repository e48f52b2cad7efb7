"""`gradcli hessian`: the Hessian of the mean loss over the data, two ways and a witness.

SymPy gives the second derivatives. The graph engine gives Hessian-vector products by backprop
through its own derivative graph (reverse over reverse), one per parameter, each one sweep over
every row. Central differences of the backprop gradient are the third witness. Then what the
matrix says: its eigenvalues, condition number, whether the loss is convex there, the Newton step.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..compare.parts import read_part, symbolic_means
from ..compare.symbolic import SymbolicUnavailable, sympy_limits
from ..compare.verdicts import ENGINE_ROUNDINGS, EPS, condition_text, within_warning
from ..engines.derivative import hessian_rows, hessian_vector_product, second_derivative_graphs
from ..engines.differences import NOT_AT_KINK, gradient_differences, kink_free, step, tolerance
from ..engines.fresh import as_if_fresh
from ..engines.graph import build_graph
from ..engines.resolution import gradient_bounds
from ..engines.sweep import compile_plan, run, stencil
from ..engines.symbolic import SymbolicLoss, budget_seconds, time_limit
from ..errors import GradcliError, unused
from ..io.arguments import parameter_values
from ..io.dataset import part_bytes
from ..io.distributed import DaskRows, dask_client
from ..io.sources import param_values
from ..language.losses import DEFAULT_DELTA
from ..question import Question, ask
from ..setup import scalar_parameters_only
from ..shown import Shown, brief, clipped, listed, verdict_word

RTOL = 1e-9
ATOL = 1e-12
MAX_MATRIX = 400  # parameters: the whole matrix is this many sweeps of a graph as large; above, --hvp


@dataclass
class HessianReport(Shown):
    model: str
    loss: str
    names: list[str]
    params: dict[str, float]
    rows: int
    loss_value: float
    gradient: list[float]  # backprop's, at the point
    hessian: list[list[float]] | None  # the graph engine's (None with --hvp)
    symbolic: list[list[float]] | None  # SymPy's (None past its time bound)
    fd: list[list[float]] | None  # central differences of the backprop gradient
    vector: list[float] | None = None  # --hvp: v, and the products H v by each way
    product: list[float] | None = None
    symbolic_product: list[float] | None = None
    fd_product: list[float] | None = None
    agree: bool | None = None  # the graph engine against SymPy (or, without SymPy, finite differences)
    fd_agree: bool | None = None  # None where a stencil crossed a kink at every step (fd_verdict NOT_AT_KINK)
    fd_verdict: str | None = None  # "agree", "disagree" or NOT_AT_KINK (then the rows not compared are null)
    max_abs_diff: float | None = None
    rtol: float = RTOL
    atol: float = ATOL
    fd_rtol: float = 0.0
    witness: str = "symbolic"
    eigenvalues: list[float] | None = None
    condition: float | None = None
    # over the entries whose engines differ by more than rtol and atol but within what float64 can resolve
    # of them (engines/resolution.py, as for grad): the largest bound, and the largest bound over
    # eps x |entry| (None where one of them is an exact 0)
    resolution: float | None = None
    resolution_condition: float | None = None
    convex: bool | None = None  # positive semidefinite at this point (to rounding)
    newton_step: list[float] | None = None  # -H^-1 g; None where H is singular
    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        n = len(self.names)
        what = (f"H v over {n} parameters" if self.hessian is None
                else f"{n}x{n}, eigenvalues {listed([brief(v) for v in self.eigenvalues or []], 3)}")
        return (f"HessianReport({clipped(self.model)}, {self.loss}, loss {brief(self.loss_value)}: {what}; "
                f"{verdict_word(self.agree if self.agree is not None else self.fd_agree)})")

    @property
    def failed(self) -> bool:
        return self.agree is False

    def to_dict(self) -> dict[str, Any]:
        def finite(value: float | None) -> float | None:
            return value if value is None or math.isfinite(value) else None

        return {
            "model": self.model, "loss_name": self.loss, "wrt": self.names, "params": self.params, "rows": self.rows,
            "loss": self.loss_value, "gradient": self.gradient, "hessian": self.hessian,
            "symbolic_hessian": self.symbolic, "fd_hessian": self.fd,
            "vector": self.vector, "hvp": self.product, "symbolic_hvp": self.symbolic_product,
            "fd_hvp": self.fd_product,
            "eigenvalues": self.eigenvalues, "condition": finite(self.condition), "convex": self.convex,
            "newton_step": dict(zip(self.names, self.newton_step)) if self.newton_step is not None else None,
            "agree": self.agree, "fd_agree": self.fd_agree, "fd_verdict": self.fd_verdict,
            "max_abs_diff": self.max_abs_diff,
            "rtol": self.rtol, "atol": self.atol, "fd_rtol": self.fd_rtol, "witness": self.witness,
            "resolution": self.resolution, "resolution_condition": self.resolution_condition,
        }


@as_if_fresh
def hessian(
    model: str | None = None,
    loss: str = "mse",
    data: Mapping[str, Iterable[float]] | str | os.PathLike[str] | None = None,
    params: Mapping[str, float] | str | os.PathLike[str] | None = None,
    *,
    model_file: str | os.PathLike[str] | None = None,
    target: str = "y",
    wrt: str | Iterable[str] | None = None,
    delta: float = DEFAULT_DELTA,
    rtol: float = RTOL,
    atol: float = ATOL,
    hvp: Mapping[str, float] | str | None = None,
    delimiter: str = ",",
    dask: str | None = None,
    workers: int | None = None,
    dashboard: Callable[[str], None] | None = None,
) -> HessianReport:
    """The Hessian of the mean loss with respect to the parameters (what `gradcli hessian` does).

    Arguments as for gradcli.gradients. `hvp` (a mapping or NAME=VALUE,...; names left out are 0)
    asks for one Hessian-vector product H v instead of the whole matrix. `delimiter` separates a CSV
    file's fields. Two values agree when
    |s - g| <= atol + rtol * (|s| + the largest |entry|): entries are means of per-row terms, so
    rounding is relative to the matrix, not to each entry. `dask` computes every mean over the data
    on a Dask cluster, as gradcli.gradients does ("local" or a scheduler's address; `workers`,
    `dashboard` as there): the data is then files, each part read and evaluated on a worker.
    Raises GradcliError for bad input.
    """
    question = ask(model, loss, data, params, model_file=model_file, target=target, wrt=wrt, delta=delta, rtol=rtol,
                   atol=atol, delimiter=delimiter, dask=dask, workers=workers, dashboard=dashboard, command="hessian")
    return answer(question, hvp=hvp)


def answer(question: Question, *, hvp: Mapping[str, float] | str | None = None) -> HessianReport:
    """`hessian`'s answer to a question: its data in memory, or on Dask."""
    if question.dask is not None:
        return _on_dask(question, hvp)
    setup = question.setup()
    columns, rows = setup.columns, setup.rows
    return _hessian(setup, list(question.notes), hvp, question.rtol, question.atol,
                    lambda function, *args: function(columns, rows, *args), rows)


def _on_dask(question: Question, hvp: Any) -> HessianReport:
    """hessian over files whose parts are read and kept on a Dask cluster's workers (io/distributed.py):
    every mean over the rows one pass there, the parts' means added up here."""
    dataset = question.dataset
    name, columns, setup = question.part_setup()
    notes = [*question.notes, *unused("column", [n for n in dataset.header if n not in columns],
                                   f"of {name} {{verb}} not used by the model")]
    parts = dataset.parts(part_bytes(question.budget))
    with dask_client(question.dask, question.workers, question.dashboard) as client:
        held = DaskRows(client, parts, read_part, len(dataset.files), problem=setup.problem, columns=columns)
        return _hessian(setup, notes, hvp, question.rtol, question.atol, held.mean, held.rows, local=False)


# One part's share of each mean (module-level, so that a Dask worker can run them).

def _swept(columns: Mapping[str, Any], rows: int, plan: Any, at: Mapping[str, float], diagnose: bool) -> Any:
    """The mean loss and its gradient, as one array [loss, gradient...]."""
    found = run(plan, at, columns, rows, diagnose=diagnose)
    return np.array([found.loss, *found.gradient])


def _crossed(columns: Mapping[str, Any], rows: int, plan: Any, points: list[Mapping[str, float]]) -> Any:
    """1 for each kink of the plan (plan.kink_nodes) whose argument is not on one side of it at every
    point in these rows (sweep.stencil), else 0: a mean above 0 means some row crosses it."""
    crossed = set(stencil(plan, points, columns, rows).crossed)
    return np.array([float(plan.graph.nodes[node].text in crossed) for node in plan.kink_nodes])


def _held(columns: Mapping[str, Any], names: list[str], values: Mapping[str, float]) -> dict[str, Any]:
    """The columns, and every parameter left out of --wrt as a constant one: the Hessian with respect to
    some parameters holds the others at their values (the derivative graphs read them as data)."""
    return {**columns, **{name: np.float64(value) for name, value in values.items()
                          if name not in names and name not in columns}}


def _matrix(columns: Mapping[str, Any], rows: int, expr: Any, names: list[str], values: Mapping[str, float]) -> Any:
    return np.array(hessian_rows(expr, names, values, _held(columns, names, values), rows)[1])


def _bounds(columns: Mapping[str, Any], rows: int, expr: Any, names: list[str], vector: list[float] | None,
            values: Mapping[str, float]) -> Any:
    """What float64 can resolve of each entry of _matrix (or _product) over these rows: each row of it is one
    backprop sweep of a derivative graph, bounded as grad's gradient is (comparison.resolution)."""
    columns = _held(columns, names, values)
    data = {**columns, "_target": np.zeros(1)}
    found = [gradient_bounds(graph, values, data, rows, names)
             for graph in second_derivative_graphs(expr, names, tuple(columns), vector)]
    found_rows = np.array([[row[name] for name in names] for row in found])
    return ENGINE_ROUNDINGS * (found_rows if vector is None else found_rows[0])


def _product(columns: Mapping[str, Any], rows: int, expr: Any, names: list[str], vector: list[float],
             values: Mapping[str, float]) -> Any:
    return np.array(hessian_vector_product(expr, names, vector, values, _held(columns, names, values), rows))


Mean = Callable[..., Any]  # mean(function, *args): the mean over every row of function(columns, rows, *args)


def _within_resolution(report: HessianReport, differences: Any, plain: Any, symbolic: Any, bounds: Any,
                       warnings: list[str]) -> None:
    """comparison.within_resolution for the Hessian: where every entry that fails rtol and atol differs by no
    more than what float64 can resolve of it, the engines agree, with one line saying so."""
    bound = bounds()
    failing = ~plain
    if not bool(np.all(np.isfinite(bound[failing]) & (differences[failing] <= bound[failing]))):
        return
    exact = np.abs(symbolic[failing])
    report.agree, report.resolution = True, float(np.max(bound[failing]))
    with np.errstate(all="ignore"):
        report.resolution_condition = None if bool(np.any(exact == 0)) else min(
            float(np.max(bound[failing] / (EPS * exact))), sys.float_info.max)
    within_warning([f"{int(failing.sum())} of the {'Hessian' if symbolic.ndim == 2 else 'H v'} entries "
                    f"({condition_text(report.resolution_condition)}: |diff| {report.max_abs_diff:.3g} <= "
                    f"{report.resolution:.3g})"], warnings)


def _hessian(setup: Any, notes: list[str], hvp: Mapping[str, float] | str | None, rtol: float, atol: float,
             mean: Mean, rows: int, local: bool = True) -> HessianReport:
    """The report from the problem set up and `mean`, which evaluates a part function over the rows
    (`local`, in memory: all of them at once, SymPy's values within its time budget; on Dask: part by
    part on the workers, weighted by their rows)."""
    scalar_parameters_only(setup, "hessian")
    if not setup.chosen:
        raise GradcliError("the model has no parameters, so the loss has no Hessian with respect to them")
    run = _Curvature(setup, mean, [*notes, *setup.warnings])
    vector = run.direction(hvp)
    report = run.report(vector, rows, rtol, atol)
    if vector is None:
        graph_values, fd, compared, stopped = run.matrix(report)
    else:
        graph_values, fd, compared, stopped = run.product(report, vector)
    symbolic = run.symbolic(report, vector, local)
    scale = float(np.max(np.abs(graph_values))) if graph_values.size else 0.0
    run.judge_differences(report, graph_values, fd, compared, stopped, scale, vector)
    if symbolic is not None:
        run.judge_symbolic(report, graph_values, symbolic, scale, vector)
    else:
        report.agree = report.fd_agree
    if vector is None:
        run.curvature(report, graph_values)
    return report


class _Curvature:
    """One Hessian (or Hessian-vector product) at the setup's point, each witness in its own method."""

    def __init__(self, setup: Any, mean: Mean, warnings: list[str]) -> None:
        self.problem, self.values, self.names = setup.problem, setup.values, setup.chosen
        self.mean, self.warnings = mean, warnings
        self.plan = compile_plan(build_graph(self.problem), self.names)
        swept = mean(_swept, self.plan, self.values, True)
        self.loss, self.gradient = float(swept[0]), [float(g) for g in swept[1:]]
        self.fd_rtol = tolerance(2)

    def direction(self, hvp: Mapping[str, float] | str | None) -> list[float] | None:
        """--hvp's vector over the parameters asked for (None: the whole matrix, if it is not too large)."""
        names = self.names
        if hvp is None:
            if len(names) > MAX_MATRIX:
                raise GradcliError(f"the Hessian of {len(names):,} parameters is {len(names):,} sweeps of "
                                   f"{len(names):,} entries each; gradcli gives the whole matrix up to {MAX_MATRIX} "
                                   "parameters: ask for one product H v with --hvp, or fewer names with --wrt")
            return None
        v = parameter_values(param_values(hvp, "--hvp"), "--hvp")
        for name in v:
            if name not in names:
                raise GradcliError(f"--hvp {name!r} is not a parameter of the derivatives asked for "
                                   f"(parameters: {', '.join(names)})")
        return [float(v.get(name, 0.0)) for name in names]

    def report(self, vector: list[float] | None, rows: int, rtol: float, atol: float) -> HessianReport:
        return HessianReport(self.problem.model_text.strip(), self.problem.loss_name, self.names, dict(self.values),
                             rows, self.loss, self.gradient, None, None, None, fd_rtol=self.fd_rtol, rtol=rtol,
                             atol=atol, warnings=self.warnings, vector=vector)

    def backprop_gradient(self, at: Mapping[str, float]) -> np.ndarray:
        return np.asarray(self.mean(_swept, self.plan, at, False))[1:]

    def crossed(self, points: list[Mapping[str, float]]) -> list[str]:
        """The kinks a difference stencil crosses in any row: there the gradient is not smooth."""
        plan = self.plan
        if not plan.kink_nodes:
            return []
        found = np.asarray(self.mean(_crossed, plan, points))
        return list(dict.fromkeys(plan.graph.nodes[node].text for node, f in zip(plan.kink_nodes, found) if f > 0))

    def matrix(self, report: HessianReport) -> tuple[Any, Any, Any, dict[str, list[str]]]:
        """Backprop's whole Hessian, and finite differences of backprop's gradient row by row."""
        names = self.names
        graph_values = np.asarray(self.mean(_matrix, self.problem.loss, names, self.values))
        fd_rows, stopped = gradient_differences(self.backprop_gradient, self.values, names, self.crossed)
        fd = np.array([row if row is not None else [np.nan] * len(names) for row in fd_rows])
        compared = np.array([[row is not None] * len(names) for row in fd_rows], dtype=bool)
        report.hessian = graph_values.tolist()
        report.fd = [row if row is not None else [None] * len(names) for row in fd_rows]
        return graph_values, fd, compared, stopped

    def product(self, report: HessianReport, vector: list[float]) -> tuple[Any, Any, Any, dict[str, list[str]]]:
        """Backprop's H v, and the central difference of backprop's gradient along v."""
        names, values = self.names, self.values
        graph_values = np.asarray(self.mean(_product, self.problem.loss, names, vector, values))
        theta, direction = np.array([values[name] for name in names]), np.array(vector)
        norm = float(np.linalg.norm(vector))
        stopped: dict[str, list[str]] = {}
        if norm == 0:
            fd = np.zeros(len(names))
        else:
            def attempt(h: float) -> tuple[Any, list[str]]:
                up = {**values, **dict(zip(names, (theta + h * direction).tolist()))}
                down = {**values, **dict(zip(names, (theta - h * direction).tolist()))}
                kinks = self.crossed([values, up, down])
                return (None if kinks else (self.backprop_gradient(up) - self.backprop_gradient(down)) / (2 * h)), kinks

            found, _, kinks = kink_free(attempt, step(float(np.linalg.norm(theta)), 1) / norm)
            fd = found if found is not None else np.full(len(names), np.nan)
            if found is None:
                stopped = {"the direction --hvp": kinks}
        report.product = graph_values.tolist()
        report.fd_product = fd.tolist() if not stopped else None
        return graph_values, fd, np.full(len(names), not stopped), stopped

    def symbolic(self, report: HessianReport, vector: list[float] | None, local: bool) -> Any:
        """SymPy's second derivatives averaged over the rows (None where SymPy ran out of its budget)."""
        names, values = self.names, self.values
        try:
            with sympy_limits(), time_limit(budget_seconds()):  # the derivatives made here, within the budget
                symbolic_loss = SymbolicLoss(self.problem)
                derivatives = _second_derivatives(symbolic_loss, names, vector)
                if local:
                    found = self.mean(symbolic_means, symbolic_loss, derivatives, values)
            if not local:  # on the workers, each under sympy_limits; the timer's signal would land in Dask's client
                found = self.mean(symbolic_means, symbolic_loss, derivatives, values)
        except SymbolicUnavailable as why:
            report.witness = "finite differences"
            self.warnings.append(f"the symbolic engine {why}; finite differences are the second witness "
                                 f"(rtol {self.fd_rtol:.2g})")
            return None
        if vector is None:
            symbolic = np.array([[found[f"{a},{b}"] if f"{a},{b}" in found else found[f"{b},{a}"] for b in names]
                                 for a in names])
            report.symbolic = symbolic.tolist()
        else:
            symbolic = np.array([found[name] for name in names])
            report.symbolic_product = symbolic.tolist()
        return symbolic

    def judge_differences(self, report: HessianReport, graph_values: Any, fd: Any, compared: Any,
                          stopped: dict[str, list[str]], scale: float, vector: list[float] | None) -> None:
        close = np.abs(fd - graph_values) <= self.fd_rtol * (np.abs(graph_values) + max(1.0, scale))
        if not np.all(close[compared]):
            report.fd_agree, report.fd_verdict = False, "disagree"
        elif stopped:  # the rows compared agree; the others are not compared
            report.fd_verdict = NOT_AT_KINK
            for name, kinks in stopped.items():
                along = name if vector is not None else f"the row of {name}"
                self.warnings.append(f"finite differences not compared for {along}: every stencil tried crosses the "
                                     f"kink of {', '.join(kinks)}, where the gradient is not smooth")
        else:
            report.fd_agree, report.fd_verdict = True, "agree"

    def judge_symbolic(self, report: HessianReport, graph_values: Any, symbolic: Any, scale: float,
                       vector: list[float] | None) -> None:
        differences = np.abs(symbolic - graph_values)
        report.max_abs_diff = float(differences.max())
        plain = differences <= report.atol + report.rtol * (np.abs(symbolic) + scale)
        report.agree = bool(np.all(plain))
        if not report.agree:
            problem, names, values = self.problem, self.names, self.values
            _within_resolution(report, differences, plain, symbolic,
                               lambda: np.asarray(self.mean(_bounds, problem.loss, names, vector, values)),
                               self.warnings)

    def curvature(self, report: HessianReport, graph_values: Any) -> None:
        """Eigenvalues, condition, convexity and the Newton step of the whole Hessian."""
        symmetric = (graph_values + graph_values.T) / 2
        eigenvalues = np.linalg.eigvalsh(symmetric)
        report.eigenvalues = eigenvalues.tolist()
        largest = float(np.max(np.abs(eigenvalues)))
        smallest = float(np.min(np.abs(eigenvalues)))
        report.condition = largest / smallest if smallest > 0 else math.inf
        report.convex = bool(eigenvalues.min() >= -1e-10 * max(largest, 1e-300))
        if smallest > 1e-12 * largest:
            report.newton_step = (-np.linalg.solve(symmetric, np.array(self.gradient))).tolist()
        else:
            self.warnings.append("the Hessian is singular here (an eigenvalue of 0), so there is no Newton step")


def _second_derivatives(symbolic: Any, names: list[str], vector: list[float] | None) -> dict[str, Any]:
    """SymPy's second derivatives: the upper triangle of the Hessian, or the rows of H v."""
    sp, symbol = symbolic.sp, symbolic.symbols
    first = symbolic.derivatives(names)
    if vector is None:
        return {f"{a},{b}": sp.diff(first[a], symbol[b]) for i, a in enumerate(names) for b in names[i:]}
    directional = sp.Add(*(v * first[name] for name, v in zip(names, vector) if v != 0))
    return {name: sp.diff(directional, symbol[name]) for name in names}
