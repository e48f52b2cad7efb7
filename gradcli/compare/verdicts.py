"""Verdicts: each gradient as each engine found it, the tolerances, and the judging of the evidence into
a report, with float64's resolution where rtol and atol alone would call rounding a disagreement."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..engines.differences import NOT_AT_KINK
from ..errors import show_text
from ..io.arguments import number
from ..setup import Setup
from ..shown import Shown, brief, clipped, listed, verdict_word

if TYPE_CHECKING:  # imported lazily at run time: `import gradcli` stays light
    from ..language.problem import Problem


RTOL, ATOL = 1e-9, 1e-12  # symbolic vs backprop
FD_RTOL, FD_ATOL = 1e-6, 1e-7  # finite differences vs backprop (FD_ATOL is scaled by max(1, |loss|))
RICHARDSON_HALVINGS = 5  # train's check: D(h), D(h/2), ... extrapolated until within tolerance, at most h/32
ENGINES = ("symbolic", "backprop")  # what grad runs unless asked
# every engine a caller may name: forward mode (one dual-number sweep per parameter) joins with --check-forward
KNOWN_ENGINES = (*ENGINES, "forward")


@dataclass
class ParamGradient:
    """One parameter's gradient as each engine found it."""

    param: str
    symbolic: str | None  # d loss / d param of the per-row loss, as a formula
    symbolic_value: float | None
    backprop_value: float | None
    abs_diff: float | None
    agree: bool | None  # None when only one engine ran
    fd_value: float | None = None
    fd_agree: bool | None = None
    # where |symbolic - backprop| passed rtol/atol only as rounding: what float64 can resolve of this
    # gradient (a bound on each engine's rounding, engines/resolution.py), and that bound over
    # eps x |gradient| (None where the exact gradient is 0: the terms that make it cancel exactly)
    resolution: float | None = None
    condition: float | None = None
    fd_verdict: str | None = None  # "agree", "disagree" or NOT_AT_KINK (then fd_value and fd_agree are None)
    # forward mode (engines/forward.py), with --check-forward: its value, |forward - backprop| (or - symbolic
    # where backprop did not run), and its verdict "agree", "disagree" or NOT_AT_KINK
    forward_value: float | None = None
    forward_abs_diff: float | None = None
    forward_agree: bool | None = None
    forward_verdict: str | None = None


@dataclass
class RowGradient:
    """d loss_r / d name in each row r, for an input or the target (`--wrt x1`): one value per row."""

    name: str
    role: str  # "input" or "target"
    symbolic: str | None
    symbolic_values: list[float] | None
    backprop_values: list[float]
    max_abs_diff: float | None
    agree: bool | None
    # over the rows that agree only within float64's resolution (ParamGradient's, row by row): the
    # largest bound, and the largest condition (None where one of those rows is an exact 0)
    resolution: float | None = None
    condition: float | None = None


@dataclass
class TensorGradient:
    """A parameter as written (a scalar, vector or matrix), its entries' gradients in its shape."""

    param: str
    shape: list[int]  # [] for a scalar
    entries: list[str]  # W1[1,1], W1[1,2], ...: the rows of `gradients` it gathers
    symbolic_value: Any  # nested lists in the shape (a number for a scalar); None when SymPy did not run
    backprop_value: Any
    max_abs_diff: float | None  # the largest |symbolic - backprop| over the entries
    agree: bool | None
    fd_directions: list[dict[str, Any]] | None = None  # {"fd", "gv", "agree"} per random direction v
    fd_agree: bool | None = None
    fd_max_abs_diff: float | None = None
    # over the entries that agree only within float64's resolution (ParamGradient's): the largest of each
    resolution: float | None = None
    condition: float | None = None
    fd_verdict: str | None = None  # "agree", "disagree" or NOT_AT_KINK (no direction had a clean stencil)
    fd_left_out: list[str] | None = None  # entries left out of the directions: each alone crosses a kink
    # forward mode over the model written out entry by entry (--check-forward): values in the shape,
    # the largest |forward - backprop| over the entries and the verdict, as ParamGradient's
    forward_value: Any = None
    forward_max_abs_diff: float | None = None
    forward_agree: bool | None = None
    forward_verdict: str | None = None


def agrees(a: float, b: float, rtol: float, atol: float) -> bool:
    return abs(a - b) <= atol + rtol * abs(a)


def kink_warnings(found: list[Any]) -> list[str]:
    """A warning for each abs/relu exactly at its kink (graph.Kink), where the derivative is taken as 0."""
    return [f"{k.text} is at its kink (argument exactly 0) in {k.where()}; its derivative is taken as 0 there"
            for k in found if k.exact]


def check_tolerances(rtol: float, atol: float) -> None:
    for name, value in (("rtol", rtol), ("atol", atol)):
        number(value, f"--{name}", least=0.0)


@dataclass
class Evidence:
    """What the engines found over every row, wherever the rows were (in memory, or read part by part):
    what compare's verdicts are made from."""

    rows: int
    point: dict[str, float] | None
    loss: float
    backprop: dict[str, float]  # empty when backprop did not run
    kinks: list[Any]  # graph.Kink: abs/relu at or within rounding of their kink
    symbolic: dict[str, float]  # empty when SymPy did not run (or could not)
    formulas: dict[str, str]
    fd: dict[str, float]  # central finite differences, with check_fd
    engines: tuple[str, ...]  # the engines that ran
    witness: str | None
    check_fd: bool
    warnings: list[str]
    # a vector or matrix parameter -> (central difference along v, gᵀv) per random direction v
    directions: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    # a parameter (as written) -> the kinks that every difference stencil tried crossed: not compared
    fd_kinks: dict[str, list[str]] = field(default_factory=dict)
    # a parameter (as written) -> its entries left out of every direction (each alone crosses a kink)
    fd_left_out: dict[str, list[str]] = field(default_factory=dict)
    forward: dict[str, float] = field(default_factory=dict)  # forward mode's gradients, with "forward" in engines


ENGINE_ROUNDINGS = 2  # what float64 resolves: backprop's rounding bound once for each engine


def judged(setup: Setup, evidence: Evidence, rtol: float, atol: float,
           row_gradients: Callable[[list[str]], dict[str, RowGradient]] = lambda warnings: {},
           files: int = 1, engine: str = "memory",
           resolution: Callable[[list[str]], dict[str, float]] | None = None) -> GradientReport:
    """The report: each parameter's engines compared, a kink excusing a disagreement it explains.

    row_gradients(warnings) gives the inputs' and target's per-row gradients (data in memory only).
    resolution(names), asked only for the parameters whose engines differ by more than rtol and atol,
    gives what float64 can resolve of each: a difference within it is rounding, not a disagreement."""
    problem, chosen, values = setup.problem, setup.chosen, setup.values
    warnings, check_fd = evidence.warnings, evidence.check_fd
    results: dict[str, ParamGradient] = {}
    uncompared: dict[Any, list[str]] = {}  # kink -> the parameters not compared because of it
    for name in chosen:
        s = evidence.symbolic.get(name)
        b = evidence.backprop.get(name)
        both = s is not None and b is not None
        gradient = ParamGradient(
            param=name,
            symbolic=evidence.formulas.get(name),
            symbolic_value=s,
            backprop_value=b,
            abs_diff=abs(s - b) if both else None,  # type: ignore[operator]
            agree=agrees(s, b, rtol, atol) if both else None,  # type: ignore[arg-type]
        )
        if check_fd and name in evidence.fd:
            fd = evidence.fd[name]
            reference = b if b is not None else s
            gradient.fd_value = fd
            if math.isfinite(fd) and reference is not None:
                gradient.fd_agree = agrees(reference, fd, FD_RTOL, FD_ATOL * max(1.0, abs(evidence.loss)))
            else:
                gradient.fd_agree = False
            gradient.fd_verdict = "agree" if gradient.fd_agree else "disagree"
        elif check_fd and name in evidence.fd_kinks and not problem.tensor:
            gradient.fd_verdict = NOT_AT_KINK
        near = [k for k in evidence.kinks if name in k.params]
        if gradient.agree is False and near:
            # At or within rounding of a kink the engines may fall on different sides of it: backprop's
            # argument can be exactly 0 where SymPy's 30 digits leave 1e-31, or the other way round.
            # Not a disagreement, but a point where the loss is not differentiable.
            gradient.agree = None
            uncompared.setdefault(near[0], []).append(name)
        results[name] = gradient
    for kink, names in uncompared.items():  # one line per kink, however many parameters it touches
        at = "at" if kink.exact else "within rounding of"
        warnings.append(f"not compared for {', '.join(names)}: {kink.text} is {at} its kink in {kink.where()}, "
                        "where the loss is not differentiable and the engines fell on different sides")

    if resolution is not None:
        within_resolution(results, resolution, warnings)
    if evidence.forward:
        judge_forward(results, evidence, rtol, atol, resolution, warnings)
    for name, kinks in evidence.fd_kinks.items():  # one line per parameter that no clean stencil reached
        warnings.append(f"{name}: {NOT_AT_KINK}: {', '.join(kinks)} changes sign inside every finite-difference "
                        "stencil tried (smaller steps, other directions), where the loss is not differentiable")
    for name, entries in evidence.fd_left_out.items():
        warnings.append(f"{name}: {show_text(', '.join(entries), 200)} left out of the finite-difference directions: "
                        "each moves a kink's argument across it within any step tried")
    witness = evidence.witness
    if witness is None and check_fd:
        witness = "finite differences"
    by_row = row_gradients(warnings)
    verdicts = [g.agree for g in [*results.values(), *by_row.values()] if g.agree is not None]
    verdicts += [g.fd_agree for g in results.values() if g.fd_agree is not None]
    verdicts += [g.forward_agree for g in results.values() if g.forward_agree is not None]
    tensors = tensor_gradients(problem, results, evidence) if problem.tensor else {}
    verdicts += [t.fd_agree for t in tensors.values() if t.fd_agree is not None]
    if check_fd and problem.tensor and witness == "finite differences":
        witness = f"finite differences along {FD_DIRECTIONS} random directions"
    return GradientReport(
        model=problem.model_text.strip(), loss=problem.loss_name, loss_formula=problem.loss_formula,
        target=problem.target, params=values, inputs=list(problem.inputs), rows=evidence.rows,
        point=evidence.point, defaults=setup.defaults, loss_value=evidence.loss, gradients=results,
        agree=all(verdicts) if verdicts else None, rtol=rtol, atol=atol, engines=evidence.engines,
        warnings=warnings, witness=witness, row_gradients=by_row, files=files, engine=engine, tensors=tensors,
    )


def judge_forward(results: Mapping[str, ParamGradient], evidence: Evidence, rtol: float, atol: float,
                  resolution: Callable[[list[str]], dict[str, float]] | None, warnings: list[str]) -> None:
    """Forward mode against backprop (or SymPy where backprop did not run), with the same tolerances and,
    where they differ by more, float64's resolution of that gradient; at a kink it is not compared.

    Both modes evaluate the same local derivatives on the same values, so they agree to rounding; only the
    order of the products and sums differs (and backprop folds a sum of products into one matrix product)."""
    differing = []
    for name, gradient in results.items():
        f = evidence.forward.get(name)
        reference = gradient.backprop_value if gradient.backprop_value is not None else gradient.symbolic_value
        if f is None or reference is None:
            continue
        gradient.forward_value, gradient.forward_abs_diff = f, abs(f - reference)
        gradient.forward_agree = math.isfinite(f) and agrees(reference, f, rtol, atol)
        if not gradient.forward_agree:
            differing.append(name)
    bounds = resolution(differing) if differing and resolution is not None else {}
    within, kinked = [], []
    for name in differing:
        gradient = results[name]
        if gradient.forward_abs_diff is not None and gradient.forward_abs_diff <= bounds.get(name, -math.inf):
            gradient.forward_agree = True
            within.append(f"{name} (|diff| {gradient.forward_abs_diff:.3g} <= {bounds[name]:.3g})")
        elif any(name in k.params for k in evidence.kinks):  # within rounding of a kink: sides may differ
            gradient.forward_agree = None
            kinked.append(name)
    for gradient in results.values():
        if gradient.forward_value is not None:
            gradient.forward_verdict = (NOT_AT_KINK if gradient.param in kinked else
                                        "agree" if gradient.forward_agree else "disagree")
    if within:
        warnings.append(f"forward mode agrees within float64's resolution: {', '.join(within[:SHOWN_WITHIN])}")
    if kinked:
        warnings.append(f"forward mode not compared for {', '.join(kinked)}: a kink's argument is within rounding "
                        "of 0, where the loss is not differentiable and the modes fell on different sides")


def within_resolution(results: Mapping[str, ParamGradient], resolution: Callable[[list[str]], dict[str, float]],
                      warnings: list[str]) -> None:
    """Each disagreement that float64 cannot resolve becomes an agreement "within float64's resolution",
    its bound and condition recorded, with one line saying which. Only there: a tolerance never widens
    for a gradient that passed, nor where the bound is no larger than rtol and atol (nothing cancels)."""
    differing = [g.param for g in results.values() if g.agree is False]
    if not differing:
        return
    found = resolution(differing)
    within = []
    for name in differing:
        gradient, bound = results[name], found.get(name, math.inf)
        if not (math.isfinite(bound) and gradient.abs_diff is not None and gradient.abs_diff <= bound):
            continue
        exact = gradient.symbolic_value or 0.0
        gradient.agree, gradient.resolution = True, bound
        gradient.condition = bound / (EPS * abs(exact)) if exact else None
        within.append(f"{name} ({condition_text(gradient.condition)}: |diff| {gradient.abs_diff:.3g} <= {bound:.3g})")
    within_warning(within, warnings)


def within_warning(within: list[str], warnings: list[str]) -> None:
    """One line naming what agrees only within float64's resolution (a few of them; JSON has each one)."""
    if within:
        more = f", and {len(within) - SHOWN_WITHIN} more" if len(within) > SHOWN_WITHIN else ""
        warnings.append(f"agree within float64's resolution: {', '.join(within[:SHOWN_WITHIN])}{more}; the engines "
                        "differ by rounding that float64 cannot resolve for this gradient, not by a wrong derivative")


SHOWN_WITHIN = 3  # parameters named in the warning (JSON has each one's resolution)
EPS = 2.0 ** -52  # float64's machine epsilon


def condition_text(condition: float | None) -> str:
    """'condition ~1e9' (the bound over eps x |gradient|), or what an exact 0 means."""
    if condition is None:
        return "an exact 0 from terms that cancel"
    return f"condition ~1e{math.floor(math.log10(condition) + 0.5)}" if condition >= 1 else "condition ~1"


def tensor_gradients(problem: Problem, results: Mapping[str, ParamGradient], evidence: Evidence
                     ) -> dict[str, TensorGradient]:
    """Each parameter as written, its entries' gradients gathered into its shape: the largest difference
    over its entries, and its directional finite differences where those were the witness."""
    grouped: dict[str, TensorGradient] = {}
    shapes = problem.shapes
    for name, entries in problem.entries.items():
        rows = [results[e] for e in entries if e in results]
        if not rows:
            continue
        shape = list(shapes.names[name]) if shapes else []

        def nested(values: list[float | None], shape: list[int] = shape) -> Any:
            return None if any(v is None for v in values) else nested_values(values, shape)  # type: ignore[arg-type]

        diffs = [r.abs_diff for r in rows if r.abs_diff is not None]
        verdicts = [r.agree for r in rows if r.agree is not None]
        gradient = TensorGradient(
            param=name, shape=shape, entries=[r.param for r in rows],
            symbolic_value=nested([r.symbolic_value for r in rows]) if len(rows) == len(entries) else None,
            backprop_value=nested([r.backprop_value for r in rows]) if len(rows) == len(entries) else None,
            max_abs_diff=max(diffs) if diffs else None,
            agree=all(verdicts) if verdicts else None,
        )
        resolved = [r for r in rows if r.resolution is not None]
        if resolved:
            gradient.resolution = max(r.resolution for r in resolved)  # type: ignore[type-var]
            gradient.condition = None if any(r.condition is None for r in resolved) else max(
                r.condition for r in resolved)  # type: ignore[type-var]
        pairs = evidence.directions.get(name)
        if pairs:
            scale = FD_ATOL * max(1.0, abs(evidence.loss))
            gradient.fd_directions = [
                {"fd": fd, "gv": gv, "agree": math.isfinite(fd) and agrees(gv, fd, FD_RTOL, scale)} for fd, gv in pairs]
            gradient.fd_agree = all(d["agree"] for d in gradient.fd_directions)
            gradient.fd_max_abs_diff = max(abs(fd - gv) for fd, gv in pairs)
            gradient.fd_verdict = "agree" if gradient.fd_agree else "disagree"
            gradient.fd_left_out = evidence.fd_left_out.get(name)
        elif name in evidence.fd_kinks:
            gradient.fd_verdict = NOT_AT_KINK
        forward_rows(gradient, rows, len(entries), nested)
        grouped[name] = gradient
    return grouped


def forward_rows(gradient: TensorGradient, rows: list[ParamGradient], entries: int,
                 nested: Callable[[list[float | None]], Any]) -> None:
    """A parameter as written: its entries' forward-mode values in its shape, their largest difference and
    one verdict (disagree if any entry does, not compared if any entry is at a kink and none disagrees)."""
    compared = [r for r in rows if r.forward_value is not None]
    if not compared:
        return
    gradient.forward_value = nested([r.forward_value for r in rows]) if len(rows) == entries else None
    gradient.forward_max_abs_diff = max(r.forward_abs_diff or 0.0 for r in compared)
    verdicts = [r.forward_verdict for r in compared]
    gradient.forward_verdict = ("disagree" if "disagree" in verdicts else NOT_AT_KINK if NOT_AT_KINK in verdicts
                                else "agree")
    gradient.forward_agree = {"agree": True, "disagree": False}.get(gradient.forward_verdict)


def rows_within_resolution(gradient: RowGradient, exact: Any, diff: Any, close: Any,
                           bounds: Callable[[], dict[str, Any]]) -> list[str]:
    """within_resolution row by row: where every row that fails rtol and atol differs by no more than what
    float64 can resolve of that row's derivative, the name agrees within float64's resolution."""
    bound = bounds().get(gradient.name)
    if bound is None:
        return []
    failing = ~close
    if not bool(np.all(np.isfinite(bound[failing]) & (diff[failing] <= bound[failing]))):
        return []
    gradient.agree, gradient.resolution = True, float(np.max(bound[failing]))
    exact_rows = np.abs(exact[failing])
    with np.errstate(all="ignore"):  # past float64's range (a subnormal value): its largest number
        gradient.condition = None if bool(np.any(exact_rows == 0)) else min(
            float(np.max(bound[failing] / (EPS * exact_rows))), sys.float_info.max)
    return [f"{gradient.name} ({condition_text(gradient.condition)}: |diff| {gradient.max_abs_diff:.3g} <= "
            f"{gradient.resolution:.3g})"]


@dataclass
class GradientReport(Shown):
    """What `gradcli grad` shows; `to_dict()` is its JSON document."""

    model: str
    loss: str
    loss_formula: str
    target: str
    params: dict[str, float]
    inputs: list[str]
    rows: int
    point: dict[str, float] | None  # inputs and target, when there is a single row
    defaults: dict[str, float]  # names that took a default value
    loss_value: float
    gradients: dict[str, ParamGradient]
    agree: bool | None
    rtol: float
    atol: float
    engines: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)
    witness: str | None = "symbolic"  # what backprop was checked against: "symbolic" or "finite differences"
    row_gradients: dict[str, RowGradient] = field(default_factory=dict)  # inputs and the target in --wrt
    files: int = 1  # the data's files (a glob or a directory names several)
    engine: str = "memory"  # where the rows were: "memory", "stream" (read part by part, past --memory) or "dask"
    # a model with vectors or matrices: each parameter as written, its gradient in its shape
    tensors: dict[str, TensorGradient] = field(default_factory=dict)

    def __repr__(self) -> str:
        if self.tensors:
            values = [f"∂{t.param} {'x'.join(map(str, t.shape)) or 'scalar'}" for t in self.tensors.values()]
        else:
            values = [f"∂{g.param} {brief(g.backprop_value if g.backprop_value is not None else g.symbolic_value)}"
                      for g in self.gradients.values()]
        return (f"GradientReport({clipped(self.model)}, {self.loss}, loss {brief(self.loss_value)}: "
                f"{listed(values)}; {verdict_word(self.agree)}{self._where_not()})")

    def _where_not(self) -> str:
        """' on w1, w2': the names whose engines disagree."""
        items = self.tensors.values() if self.tensors else self.gradients.values()
        bad = [g.param for g in items if g.agree is False or g.fd_agree is False]
        return f" on {listed(bad, 3)}" if self.agree is False and bad else ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("tensors")
        data["engines"] = list(self.engines)
        data["gradients"] = [asdict(g) for g in self.gradients.values()]
        if self.tensors:  # one item per parameter as written, its values as nested lists
            data["gradients"] = [asdict(t) for t in self.tensors.values()]
            data["params"] = {t.param: nested_values([self.params[e] for e in t.entries], t.shape)
                              for t in self.tensors.values()}
        data["row_gradients"] = [asdict(g) for g in self.row_gradients.values()]
        return data


def nested_values(values: list[float], shape: list[int]) -> Any:
    return np.array(values).reshape(shape).tolist() if shape else values[0]


FD_DIRECTIONS = 3  # random directions per vector or matrix parameter
