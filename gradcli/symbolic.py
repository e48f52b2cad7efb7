"""The symbolic engine: SymPy built from the Expr tree, differentiated the old-fashioned way.

SymPy expressions are *built* node by node from the parsed tree (never from
user text). Derivatives come from ``sympy.diff``; values at a single point are
evaluated in 30-digit arithmetic, and over many rows through a vectorised
function with common subexpressions eliminated (rows where float64 overflows
are redone in high precision).
"""

from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from .errors import GradcliError, UndefinedError
from .expr import CONSTANTS, Expr, Num, Sym, exact_number, postorder, children
from .ops import OPS
from .problem import Problem

DIGITS = 30  # precision of single-point evaluation
SIMPLIFY_MAX_OPS = 40  # only small derivatives are simplified...
SIMPLIFY_SECONDS = 0.5  # ...and only for this long each
HIGH_PRECISION_ROWS = 100  # rows redone with evalf where float64 fails


class _OutOfTime(BaseException):
    """Raised by the timer; a BaseException so that SymPy's `except Exception` cannot swallow it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Interrupt the body after `seconds` where a timer is available (main thread, POSIX)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield False
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def to_sympy(root: Expr, symbols: Mapping[str, Any]) -> Any:
    """Build the SymPy expression for a tree (iteratively: trees can be deep)."""
    import sympy as sp

    built: dict[int, Any] = {}
    for node in postorder(root):
        if id(node) in built:
            continue
        if isinstance(node, Num):
            built[id(node)] = {"pi": sp.pi, "e": sp.E}[node.text] if node.text in CONSTANTS else sp.Rational(
                exact_number(node).numerator, exact_number(node).denominator)
        elif isinstance(node, Sym):
            built[id(node)] = symbols[node.name]
        else:
            op = getattr(node, "op", None) or getattr(node, "fn")
            built[id(node)] = OPS[op].sympy(sp, *(built[id(child)] for child in children(node)))
    return built[id(root)]


class SymbolicLoss:
    """The per-row loss as a SymPy expression, with its derivatives."""

    def __init__(self, problem: Problem) -> None:
        import sympy as sp

        self.sp = sp
        names = [*problem.params, *problem.inputs, problem.target]
        self.symbols = {name: sp.Symbol(name, real=True) for name in names}
        try:
            self.loss = to_sympy(problem.loss, self.symbols)
        except RecursionError:
            raise GradcliError("the model is nested too deeply for the symbolic engine") from None

    def derivative(self, name: str) -> Any:
        try:
            return self.sp.diff(self.loss, self.symbols[name])
        except RecursionError:
            raise GradcliError("the model is nested too deeply for the symbolic engine") from None

    def readable(self, derivative: Any) -> str:
        """A short form for people: factored, and simplified when small, under a time bound."""
        sp = self.sp
        candidates = [derivative]
        try:
            with time_limit(SIMPLIFY_SECONDS) as bounded:
                candidates.append(sp.factor_terms(derivative))
                if bounded and sp.count_ops(derivative) <= SIMPLIFY_MAX_OPS:
                    candidates.append(sp.simplify(derivative))
        except (_OutOfTime, RecursionError):
            pass
        best = min(candidates, key=lambda c: (sp.count_ops(c), len(str(c))))
        return sp.sstr(best)

    def values(self, derivatives: Mapping[str, Any], params: Mapping[str, float],
               columns: Mapping[str, Any], rows: int) -> dict[str, float]:
        """Mean over rows of each derivative at the given values."""
        if rows == 1:
            point = {**params, **{name: float(col[0]) for name, col in columns.items()}}
            return {name: self._evalf(d, point, 1) for name, d in derivatives.items()}
        return self._vectorised(derivatives, params, columns, rows)

    def _evalf(self, derivative: Any, point: Mapping[str, float], row: int) -> float:
        sp = self.sp
        subs = {self.symbols[n]: sp.Float(repr(float(v)), DIGITS) for n, v in point.items() if n in self.symbols}
        try:
            value = derivative.evalf(DIGITS, subs=subs)
            number = float(value)
        except (TypeError, ValueError, ZeroDivisionError):
            number = math.nan
        if not math.isfinite(number):
            raise UndefinedError(f"the symbolic derivative is undefined or infinite at row {row}")
        return number

    def _vectorised(self, derivatives: Mapping[str, Any], params: Mapping[str, float],
                    columns: Mapping[str, Any], rows: int) -> dict[str, float]:
        import numpy as np

        sp = self.sp
        names = list(self.symbols)
        function = sp.lambdify([self.symbols[n] for n in names], list(derivatives.values()),
                               modules="numpy", cse=True, dummify=True)
        arguments = [params[n] if n in params else columns[n] for n in names]
        with np.errstate(all="ignore"):
            outputs = function(*arguments)
        result = {}
        for name, output in zip(derivatives, outputs):
            per_row = np.array(np.broadcast_to(np.asarray(output, dtype=np.float64), (rows,)))
            bad = np.flatnonzero(~np.isfinite(per_row))
            if len(bad) > HIGH_PRECISION_ROWS:
                raise UndefinedError(
                    f"the symbolic derivative for {name} is undefined or overflows at row {bad[0] + 1} "
                    f"(and {len(bad) - 1} more rows)")
            for row in bad:
                point = {**params, **{n: float(col[row]) for n, col in columns.items()}}
                per_row[row] = self._evalf(derivatives[name], point, int(row) + 1)
            result[name] = float(np.mean(per_row))
        return result
