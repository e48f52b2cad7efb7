"""`gradcli check`: a derivative worked out by hand, checked against both engines.

The claim is ∂loss/∂wrt of the per-row loss (the model put in for yhat), written in the model's
names, the target and `yhat` (the model's output). It is parsed by the same safe parser as the
model. Then:

1. SymPy: is claim - derivative simplified to 0 (under a time bound)? "equivalent", "not
   equivalent" (SymPy's difference is non-zero where the numbers differ) or "undecided".
2. The decisive test: the claim and the graph engine's derivative (backprop over the loss graph,
   every name a column, one sweep over every point at once) at many seeded random points inside
   the domain, and at the data's own points when data are given. Points where the derivative is
   undefined are outside the domain and are skipped; points where only the claim is undefined are
   counted and not compared.
3. When the claim is wrong: a point where it differs with both values, the correct derivative, and
   when the claim is a product, the chain-rule factors (the local derivatives along the path from
   the loss to wrt, as `explain` names them) that it is missing or has in excess.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..compare.factors import Factors, constant_ratio, missing_factors
from ..compare.symbolic import raised_outside_gradcli
from ..compare.verdicts import EPS, check_tolerances, condition_text
from ..engines.derivative import Evaluator, gradient
from ..engines.fresh import as_if_fresh
from ..engines.graph import backprop, build_graph, forward
from ..engines.reading import local_values
from ..engines.resolution import forward_errors, row_bounds
from ..engines.symbolic import OutOfTime, SymbolicLoss, budget_seconds, time_limit, to_sympy
from ..errors import GradcliError, ParseError, show_text
from ..io.arguments import names, text, whole
from ..io.sources import model_text, one_stdin
from ..language import expr
from ..language.losses import DEFAULT_DELTA
from ..language.problem import YHAT
from ..language.written import Written
from ..question import Question, ask
from ..setup import scalar_parameters_only
from ..shown import Shown, clipped

RTOL = 1e-7  # the claim agrees at a point when |claim - derivative| <= atol + rtol * max(|claim|, |derivative|)
ATOL = 1e-10
POINTS = 200  # random points, by default
MAX_POINTS = 100_000
LOW, HIGH = -2.0, 2.0  # each name uniform in [LOW, HIGH] (then in (0, HIGH] when that leaves too few points)
DECIMALS = 2  # random values are rounded, so that a point shown can be checked by hand
ROUNDS = 8  # draws of `points` candidates each, at most, to find `points` inside the domain
EQUIVALENCE_SECONDS = 3.0  # SymPy's simplification of claim - derivative
SHOWN_FORMULA = 500  # the derivative graph's text is shown up to this many characters


@dataclass
class Counterexample:
    """A point where the claim differs from the derivative (or is undefined there)."""

    source: str  # "random point 17", "data row 3" (1-based), "the point given"
    point: dict[str, float]  # every name of the model and the loss
    claim: float | None  # None where the claim is undefined
    derivative: float  # the graph engine's (backprop)
    symbolic: float | None  # SymPy's, at 30 digits (None past its time bound)
    abs_diff: float | None


@dataclass
class Sample:
    """Points of one kind (random or the data's) and what the comparison found there."""

    kind: str  # "random", "data" or "given" (the one point --params gives, without --data)
    points: int  # where both the loss and its derivative are defined
    compared: int  # ... and the claim too
    differ: int
    outside: int = 0  # drawn (or given) where the derivative is undefined: skipped
    claim_undefined: int = 0  # the derivative defined, the claim not: not compared
    # points where claim and derivative differ by more than rtol and atol, but by no more than what float64
    # can resolve there (the claim's rounding bound plus backprop's, engines/resolution.py): they agree
    within_resolution: int = 0
    condition: float | None = None  # the largest bound over eps x |claim| there (None: an exact 0 among them)


@dataclass
class CheckReport(Shown):
    """What `gradcli check` shows; `to_dict()` is its JSON document."""

    model: str
    loss: str
    loss_formula: str
    target: str
    wrt: str
    claim: str  # as given
    claim_formula: str  # as parsed
    derivative: str | None  # SymPy's ∂loss/∂wrt, readable (None past its time bound)
    graph_derivative: str | None  # the graph engine's derivative graph as text (None when long)
    symbolic: str  # "equivalent", "not equivalent" or "undecided"
    symbolic_note: str  # why, in a few words
    difference: str | None  # SymPy's simplified claim - derivative, when not 0
    points: int  # random points asked for
    random: Sample
    data: Sample | None  # the data's points (or the point --params gives), when given
    counterexample: Counterexample | None
    ratio: float | None  # claim / derivative, when that is the same number at every point (and not 1)
    factors: Factors | None
    correct: bool
    seed: int
    rtol: float
    atol: float
    params: dict[str, float]  # the values used at the data's points
    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"CheckReport({clipped(self.model, 50)}, {self.loss}: ∂loss/∂{self.wrt} = "
                f"{clipped(self.claim_formula, 50)} is {'right' if self.correct else 'wrong'}; "
                f"SymPy: {self.symbolic})")

    @property
    def failed(self) -> bool:
        return not self.correct

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.factors is not None:
            data["factors"]["matched"] = [{"claim": c, "partial": p} for c, p in self.factors.matched]
            data["factors"]["missing"] = [{**asdict(f), "text": f.text()} for f in self.factors.missing]
        return data


@as_if_fresh
def check(
    model: str | None = None,
    claim: str | None = None,
    wrt: str | None = None,
    loss: str = "mse",
    data: Mapping[str, Iterable[float]] | str | os.PathLike[str] | None = None,
    params: Mapping[str, float] | str | os.PathLike[str] | None = None,
    *,
    model_file: str | os.PathLike[str] | None = None,
    claim_file: str | os.PathLike[str] | None = None,
    target: str = "y",
    delta: float = DEFAULT_DELTA,
    points: int = POINTS,
    seed: int = 0,
    rtol: float = RTOL,
    atol: float = ATOL,
    delimiter: str = ",",
) -> CheckReport:
    """Check a claimed ∂loss/∂wrt of the per-row loss against SymPy and the graph engine (`gradcli check`).

    `claim` is text in the model's names, the target and `yhat` (the model's output), or
    `claim_file` a file holding it ('-': stdin). `wrt` is one parameter. The claim is compared at
    `points` random points (seeded with `seed`) and at the data's points when `data` is given
    (`params` gives the parameters there). Model, loss, data and params as for gradcli.gradients.
    The report's `correct` says whether the claim is the derivative. Raises GradcliError for bad
    input.
    """
    check_tolerances(rtol, atol)
    points = whole(points, "--points", 0)
    if points > MAX_POINTS:
        raise GradcliError(f"--points {points:,} is more than {MAX_POINTS:,}")
    seed = whole(seed, "--seed", 0)
    chosen = names(wrt, "--wrt")
    if not chosen:
        raise GradcliError("--wrt names no parameter: give the one the claim differentiates by, e.g. --wrt w1")
    if len(chosen) > 1:
        raise GradcliError(f"--wrt takes one name; got {len(chosen)} ({show_text(', '.join(chosen))})")
    text(loss, "--loss"), text(target, "--target")
    one_stdin({"--model-file": model_file, "--claim-file": claim_file, "--data": data, "--params": params})
    claim_text, claim_from_file = model_text(claim, claim_file, what="claim", file_option="--claim-file",
                                             example='gradcli check MODEL --wrt w1 --claim "2*(yhat - y)*x1"')
    question = ask(model, loss, data, params, model_file=model_file, target=target, wrt=chosen, delta=delta,
                   rtol=rtol, atol=atol, delimiter=delimiter, command="check")
    return answer(question, Written(claim_text, "claim", claim_from_file), points=points, seed=seed)


def answer(question: Question, claim: Written, *, points: int = POINTS, seed: int = 0) -> CheckReport:
    """`check`'s answer to a question: is `claim` the derivative of the per-row loss by the question's one --wrt?"""
    rtol, atol = question.rtol, question.atol
    setup = question.setup()
    scalar_parameters_only(setup, "check")
    problem, name = setup.problem, setup.chosen[0]
    warnings = [*question.notes, *setup.warnings]
    written, claimed = _claimed(claim, problem)
    known = [*problem.params, *problem.inputs, problem.target]
    graph = build_graph(_every_name_a_column(problem))
    evaluate = _Points(problem, graph, claimed, name)
    random, random_found, random_columns, candidates = _random_points(evaluate, known, problem, points, seed,
                                                                      warnings, rtol, atol)
    given_found, given_sample, given_columns = _given_points(question, setup, evaluate, warnings, rtol, atol)
    if not points and given_sample is None:
        raise GradcliError("--points 0 leaves no point to compare at: give --data (or --params), or --points N")
    if random.points + (given_sample.points if given_sample else 0) == 0:
        raise GradcliError("found no point where the loss and its derivative are defined"
                           + (f" among {candidates:,} random points" if points else "")
                           + (": give --data with points inside the domain" if given_sample is None else ""))
    _sample_notes((random, given_sample), warnings)
    compared = random.compared + (given_sample.compared if given_sample else 0)
    differ = random.differ + (given_sample.differ if given_sample else 0)
    correct = compared > 0 and differ == 0
    counterexample = None if correct else _counterexample(
        ((given_found, given_columns, "given"), (random_found, random_columns, "random")), known,
        question.data is not None, rtol, atol)

    # ---- SymPy: the derivative's formula, its value at the counterexample, and equivalence
    derivative_text, symbolic, note, difference = _symbolic(problem, name, claimed, counterexample, random_found,
                                                           random_columns, known)
    if symbolic == "equivalent" and not correct:
        warnings.append("SymPy finds the claim equivalent, but the numbers differ: rounding in float64 where "
                        "terms cancel (loosen --rtol/--atol), or a form that is undefined at some points")
    ratio = factors = None
    if not correct:
        check_found, check_columns = (random_found, random_columns) if random_found is not None else (
            given_found, given_columns)
        assert check_found is not None
        ratio = constant_ratio(check_found)
        factors = missing_factors(graph, problem, written, name, check_found, check_columns, known,
                                  lambda expression: _Points(problem, graph, expression, name))

    return CheckReport(
        model=problem.model_text.strip(), loss=problem.loss_name, loss_formula=problem.loss_formula,
        target=problem.target, wrt=name, claim=claim.text.strip(), claim_formula=expr.to_text(written),
        derivative=derivative_text, graph_derivative=_graph_text(problem, name), symbolic=symbolic,
        symbolic_note=note, difference=difference, points=points, random=random, data=given_sample,
        counterexample=counterexample, ratio=ratio, factors=factors, correct=correct, seed=seed, rtol=rtol,
        atol=atol, params=dict(setup.values), warnings=warnings,
    )


def _claimed(claim: Written, problem: Any) -> tuple[Any, Any]:
    """The claim's tree, checked to use the problem's names, and with the model in place of yhat."""
    try:
        written = claim.expr
    except ParseError as err:  # two expressions: say which one is wrong
        if "claim" in err.reason:
            raise
        raise ParseError(f"{err.reason} in the claim", err.text, err.offset) from None
    known = [*problem.params, *problem.inputs, problem.target]
    for used in expr.symbols(written):
        if used not in known and used != YHAT:
            raise GradcliError(f"the claim uses {show_text(used)!r}, which is not a name of the model or the loss "
                               f"(names: {', '.join(known)}, and yhat for the model's output)")
    return written, expr.substitute(written, YHAT, problem.model)


def _random_points(evaluate: _Points, known: list[str], problem: Any, points: int, seed: int, warnings: list[str],
                   rtol: float, atol: float) -> tuple[Sample, _Found | None, dict[str, Any], int]:
    """The claim compared at `points` random points inside the domain (drawn in rounds, seeded)."""
    rng = np.random.default_rng(seed)
    drawn: list[dict[str, Any]] = []
    inside = 0
    for round_ in range(ROUNDS if points else 0):
        columns = _draw(rng, known, problem, points, positive=round_ % 2 == 1)
        found = evaluate(columns, points)
        keep = found.defined
        if inside + int(keep.sum()) > points:  # no more than asked for
            keep = keep & (np.cumsum(keep) <= points - inside)
        drawn.append({"columns": columns, "found": found, "keep": keep})
        inside += int(keep.sum())
        if inside >= points:
            break
    candidates = points * len(drawn)
    random_columns = {n: np.concatenate([d["columns"][n][d["keep"]] for d in drawn]) for n in known} if drawn else {}
    random_found = evaluate(random_columns, inside) if inside else None
    random = _sample("random", random_found, outside=candidates - inside if drawn else 0, rtol=rtol, atol=atol)
    if points and inside < points:
        warnings.append(f"only {inside:,} of {points:,} random points are inside the domain "
                        f"(the loss and its derivative are undefined at the other {candidates - inside:,} drawn)")
    return random, random_found, random_columns, candidates


def _given_points(question: Question, setup: Any, evaluate: _Points, warnings: list[str], rtol: float,
                  atol: float) -> tuple[_Found | None, Sample | None, dict[str, Any]]:
    """The claim compared at the data's points (or the one point --params gives)."""
    if question.data is None and not question.params:
        return None, None, {}
    problem, rows = setup.problem, setup.rows
    given_columns = {**{n: np.full(rows, setup.values[n]) for n in problem.params}, **setup.columns}
    given_found = evaluate(given_columns, rows)
    given_sample = _sample("data" if question.data is not None else "given", given_found, rtol=rtol, atol=atol)
    if given_sample.outside:
        warnings.append(f"the loss or its derivative is undefined at {given_sample.outside:,} of the "
                        f"{'data' if question.data is not None else 'given'} points; they are not compared")
    return given_found, given_sample, given_columns


def _sample_notes(samples: Iterable[Sample | None], warnings: list[str]) -> None:
    """What the samples leave out, and where they agree only within float64's resolution."""
    samples = [sample for sample in samples if sample is not None]
    for sample in samples:
        if sample.claim_undefined:
            warnings.append(f"the claim is undefined at {sample.claim_undefined:,} of the {sample.kind} points where "
                            "the derivative is defined; they are not compared")
    for sample in samples:
        if sample.within_resolution:
            kind = {"random": "random points", "data": "data points", "given": "point given"}[sample.kind]
            warnings.append(f"agree within float64's resolution at {sample.within_resolution:,} of the {kind} "
                            f"({condition_text(sample.condition)}): the claim and backprop differ there by rounding "
                            "that float64 cannot resolve, not by a wrong derivative")


def _counterexample(tried: Iterable[tuple[_Found | None, dict[str, Any], str]], known: list[str], has_data: bool,
                    rtol: float, atol: float) -> Counterexample | None:
    """A point where the claim differs: the data's own first, else the first random one."""
    for found, columns, label in tried:
        if found is None:
            continue
        bad = found.differs(rtol, atol) | (found.defined & ~found.claim_defined)
        if bad.any():
            row = int(np.argmax(bad))
            source = (f"random point {row + 1}" if label == "random"
                      else f"data row {row + 1}" if has_data else "the point given")
            value = float(found.claim[row])
            return Counterexample(
                source, {n: float(columns[n][row]) for n in known}, value if math.isfinite(value) else None,
                float(found.derivative[row]), None,
                abs(value - float(found.derivative[row])) if math.isfinite(value) else None)
    return None


def _graph_text(problem: Any, name: str) -> str | None:
    """The graph engine's derivative as a formula in yhat, where it is short enough to show."""
    try:
        shown = expr.to_text(gradient(problem.loss, [name])[name], {id(problem.model): YHAT})
    except GradcliError:  # a derivative graph too large to show
        return None
    return shown if len(shown) <= SHOWN_FORMULA else None


def _every_name_a_column(problem: Any) -> Any:
    """The problem with its parameters as columns too: every point has its own values of every name."""
    return replace(problem, params=(), inputs=(*problem.params, *problem.inputs))


def _draw(rng: Any, known: list[str], problem: Any, count: int, positive: bool) -> dict[str, Any]:
    """`count` random points: every name uniform in [LOW, HIGH] (positive: in (0, HIGH]), rounded to
    DECIMALS (never to 0: a kink or a log there would be a point on the domain's edge); bce's target in [0, 1]."""
    step = 10.0 ** -DECIMALS
    columns = {}
    for name in known:
        low = step if positive else LOW
        if name == problem.target and problem.loss_entry.probabilities:
            low, high = 0.0, 1.0
        else:
            high = HIGH
        values = np.round(rng.uniform(low, high, count), DECIMALS)
        if not (name == problem.target and problem.loss_entry.probabilities):
            values[values == 0] = step
        columns[name] = values
    return columns


class _Found:
    """At each point: the loss, the derivative (backprop), the claim, and where each is defined."""

    def __init__(self, loss: Any, derivative: Any, claim: Any, locals_: dict[Any, Any] | None,
                 resolution: Callable[[], Any] | None = None) -> None:
        self.derivative, self.claim, self.locals = derivative, claim, locals_
        self.defined = np.isfinite(loss) & np.isfinite(derivative)
        self.claim_defined = np.isfinite(claim)
        self.resolution = functools.cache(resolution) if resolution is not None else None

    @property
    def compared(self) -> Any:
        return self.defined & self.claim_defined

    def differs(self, rtol: float, atol: float) -> Any:
        """Where the claim and the derivative differ by more than rtol and atol and by more than what
        float64 can resolve there (asked for only where rtol and atol fail: never wider elsewhere)."""
        return self.compared & ~self._plain(rtol, atol) & ~self._resolved(rtol, atol)

    def within_resolution(self, rtol: float, atol: float) -> Any:
        """Where they agree only within float64's resolution."""
        return self.compared & ~self._plain(rtol, atol) & self._resolved(rtol, atol)

    def _plain(self, rtol: float, atol: float) -> Any:
        with np.errstate(all="ignore"):
            return np.abs(self.claim - self.derivative) <= atol + rtol * np.maximum(np.abs(self.claim),
                                                                                    np.abs(self.derivative))

    def _resolved(self, rtol: float, atol: float) -> Any:
        failing = self.compared & ~self._plain(rtol, atol)
        if self.resolution is None or not failing.any():
            return np.zeros_like(failing)
        with np.errstate(all="ignore"):
            bound = self.resolution()
            return failing & np.isfinite(bound) & (np.abs(self.claim - self.derivative) <= bound)


class _Points:
    """Evaluates the loss, its derivative and the claim at many points at once (one sweep each)."""

    def __init__(self, problem: Any, graph: Any, claimed: Any, name: str) -> None:
        self.graph, self.name = graph, name
        self.claim_graph = build_graph(Evaluator.of(claimed, [], [*problem.params, *problem.inputs,
                                                                  problem.target]).problem)

    def __call__(self, columns: Mapping[str, Any], rows: int, with_locals: bool = False) -> _Found:
        sweep = backprop(self.graph, {}, columns, rows, [self.name], diagnose=False)
        leaf = self.graph.leaf(self.name)
        adjoint = sweep.adjoints[leaf.id] if leaf is not None else None
        with np.errstate(all="ignore"):
            derivative = np.zeros(rows) if adjoint is None else np.broadcast_to(adjoint * rows, (rows,)).copy()
            values = forward(self.claim_graph, {}, {**columns, "_target": np.float64(0.0)}, rows)
            claim = np.broadcast_to(values[self.claim_graph.output], (rows,)).astype(np.float64)
        loss = np.broadcast_to(sweep.loss_rows, (rows,))

        def resolution() -> Any:
            """What float64 can resolve at each point: the claim's rounding bound plus backprop's."""
            with np.errstate(all="ignore"):
                claim_error = forward_errors(self.claim_graph, values)[self.claim_graph.output]
                bound = np.broadcast_to(claim_error, (rows,)) + row_bounds(self.graph, {}, columns, rows,
                                                                           [self.name])[self.name]
            return np.where(np.isnan(bound), math.inf, bound)

        return _Found(loss, derivative, claim, local_values(self.graph, sweep.values) if with_locals else None,
                      resolution)


def _sample(kind: str, found: _Found | None, outside: int = 0, *, rtol: float, atol: float) -> Sample:
    if found is None:
        return Sample(kind, 0, 0, 0, outside, 0)

    defined = int(found.defined.sum())
    sample = Sample(kind, defined, int(found.compared.sum()), int(found.differs(rtol, atol).sum()),
                    outside + len(found.defined) - defined, int((found.defined & ~found.claim_defined).sum()))
    within = found.within_resolution(rtol, atol)
    if within.any():
        sample.within_resolution = int(within.sum())
        exact, bound = np.abs(found.claim[within]), found.resolution()[within]  # type: ignore[misc]
        with np.errstate(all="ignore"):  # past float64's range (a subnormal claim): its largest number
            sample.condition = None if bool(np.any(exact == 0)) else min(float(np.max(bound / (EPS * exact))),
                                                                         sys.float_info.max)
    return sample


def _symbolic_value(symbolic: Any, true: Any, name: str, counterexample: Counterexample, problem: Any,
                    known: list[str]) -> None:
    """SymPy's value of the derivative at the counterexample (left out where its form is undefined there)."""
    point = counterexample.point
    params = {n: point[n] for n in problem.params}
    rows = {n: [point[n]] for n in known if n not in params}
    with contextlib.suppress(GradcliError):  # SymPy's form is undefined there: its value is left out
        counterexample.symbolic = symbolic.values({name: true}, params, rows, 1)[name]


def _symbolic(problem: Any, name: str, claimed: Any, counterexample: Counterexample | None, found: _Found | None,
              columns: Mapping[str, Any], known: list[str]) -> tuple[str | None, str, str, str | None]:
    """(SymPy's derivative as text, the verdict on equivalence, why, the simplified difference)."""
    limits = (ArithmeticError, LookupError, TypeError, ValueError, NotImplementedError, RecursionError)
    try:
        with time_limit(budget_seconds()):
            symbolic = SymbolicLoss(problem)
            true = symbolic.derivative(name)
            text = symbolic.readable(true)
            if counterexample is not None:
                _symbolic_value(symbolic, true, name, counterexample, problem, known)
            claim = to_sympy(claimed, symbolic.symbols)
    except OutOfTime:
        return None, "undecided", f"SymPy needed more than {budget_seconds():g} s for the derivative", None
    except GradcliError as err:
        return None, "undecided", f"SymPy cannot take this expression ({err})", None
    except limits as err:
        if not raised_outside_gradcli(err):
            raise
        return None, "undecided", f"SymPy cannot take this expression ({type(err).__name__})", None

    sp = symbolic.sp
    difference = None
    try:
        with time_limit(EQUIVALENCE_SECONDS):
            raw = claim - true
            names = list(symbolic.symbols.values())
            # A polynomial or a rational function is 0 exactly when expand or cancel makes it 0, and they
            # cost far less than simplify (whose first call also imports sympy.physics, ~2 s)
            if raw == 0:
                simplified = raw
            elif raw.is_polynomial(*names):
                simplified = sp.expand(raw)
            elif raw.is_rational_function(*names):
                simplified = sp.cancel(raw)
            else:
                simplified = sp.simplify(raw)
            if simplified == 0:
                return text, "equivalent", "SymPy simplifies claim - derivative to 0", None
            shorter = sp.factor(simplified) if simplified.is_polynomial(*names) else simplified
            difference = symbolic.readable(min((simplified, shorter), key=sp.count_ops))
            value = None
            if counterexample is not None:  # the difference at the point where the numbers differ, at 30 digits
                exact = {symbolic.symbols[n]: sp.Rational(repr(v)) for n, v in counterexample.point.items()}
                value = complex(simplified.xreplace(exact).evalf(30))
    except OutOfTime:
        return text, "undecided", f"SymPy could not simplify claim - derivative within {EQUIVALENCE_SECONDS:g} s", None
    except limits as err:
        if not raised_outside_gradcli(err):
            raise
        return text, "undecided", f"SymPy cannot simplify claim - derivative ({type(err).__name__})", None
    if value is not None and math.isfinite(abs(value)) and abs(value) > 1e-20:
        return text, "not equivalent", "claim - derivative is not 0 where the numbers differ", difference
    return text, "undecided", "SymPy does not simplify claim - derivative to 0", difference
