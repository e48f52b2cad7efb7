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
from typing import Any, Callable, Iterator, Mapping

from ..errors import GradcliError, UndefinedError
from ..language.expr import CONSTANTS, Expr, Num, Sym, children, exact_number, postorder
from ..language.ops import OPS
from ..language.problem import Problem

DIGITS = 30  # precision of single-point evaluation
SIMPLIFY_MAX_OPS = 40  # only small derivatives are simplified...
SIMPLIFY_SECONDS = 0.5  # ...and only for this long each
HIGH_PRECISION_ROWS = 100  # rows redone in high precision where float64 fails
READABLE_MAX_NODES = 300  # larger derivatives are shown as they are
FREEZE_ABOVE_NODES = 200  # losses larger than this are differentiated with the constant parts frozen
PRETTY_SECONDS = 2.0  # time for making all formulas readable, together


class _OutOfTime(BaseException):
    """Raised by the timer; a BaseException so that SymPy's `except Exception` cannot swallow it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Interrupt the body after `seconds` where a timer is available (main thread, POSIX)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield False
        return
    armed = [True]

    def interrupt(signum: int, frame: Any) -> None:
        if armed[0]:
            raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, interrupt)
    # Repeat every 50 ms: an exception raised inside a garbage-collector callback is
    # swallowed by Python, and the next tick raises it again.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield True
    finally:
        while armed[0]:  # a tick may land while disarming: disarm again
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                armed[0] = False
            except _OutOfTime:
                pass
        signal.signal(signal.SIGALRM, previous)


def to_sympy(root: Expr, symbols: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Build the SymPy expression for a tree (iteratively: trees can be deep).

    `functions` may replace an operation's SymPy counterpart by name (for display:
    sigmoid as a named function rather than its formula).
    """
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
            args = (built[id(child)] for child in children(node))
            override = (functions or {}).get(op)
            built[id(node)] = override(*args) if override else OPS[op].sympy(sp, *args)
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
        self._pretty_budget = PRETTY_SECONDS
        self._printers: dict[str | None, Any] = {}
        self._nodes: int | None = None

    def derivative(self, name: str) -> Any:
        try:
            symbol = self.symbols[name]
            if self._size() <= FREEZE_ABOVE_NODES:
                return self.sp.diff(self.loss, symbol)
            frozen, originals, parts = _frozen(self.sp, self.loss, symbol)
            derivative = self.sp.diff(frozen, symbol).xreplace(originals)  # the untouched parts as they were
            left = {d: func(*args) for d, (func, args) in parts.items() if d in derivative.free_symbols}
            return derivative.xreplace(left) if left else derivative
        except RecursionError:
            raise GradcliError("the model is nested too deeply for the symbolic engine") from None

    def _size(self) -> int:
        if self._nodes is None:
            self._nodes = sum(1 for _ in self.sp.preorder_traversal(self.loss))
        return self._nodes

    def readable(self, derivative: Any) -> str:
        """A short form for people: factored, and simplified when small, under a time bound.

        Large derivatives (and everything once the time budget is spent) are
        printed as they are, without SymPy's costly term ordering.
        """
        best = self._shortest(derivative)
        return self._text(derivative, "none") if best is None else self._text(best, None)

    def _text(self, expression: Any, order: str | None) -> str:
        """sstr(expression, order=order), remembering every subexpression printed.

        The derivatives share most of their parts (d/dw of (yhat - y)**2 is 2*(yhat - y)*dyhat/dw
        for every w): printing each shared part once made 200 formulas 3x faster.
        """
        if order not in self._printers:
            self._printers[order] = _remembering_printer(self.sp, order)
        return self._printers[order].doprint(expression)

    def readable_expr(self, derivative: Any) -> Any:
        """The expression `readable` prints (for other printers, such as LaTeX)."""
        best = self._shortest(derivative)
        return derivative if best is None else best

    def _shortest(self, derivative: Any) -> Any | None:
        """The shortest of the derivative, factored and simplified; None when too large or out of time."""
        import itertools
        import time

        sp = self.sp
        size = sum(1 for _ in itertools.islice(sp.preorder_traversal(derivative), READABLE_MAX_NODES + 1))
        if size > READABLE_MAX_NODES or self._pretty_budget <= 0:
            return None
        started = time.perf_counter()
        candidates = [derivative]
        try:
            with time_limit(min(SIMPLIFY_SECONDS, self._pretty_budget)) as bounded:
                candidates.append(sp.factor_terms(derivative))
                if bounded and sp.count_ops(derivative) <= SIMPLIFY_MAX_OPS:
                    # simplify() costs ~0.1 s and an import of sympy.physics at its first call; for a
                    # polynomial (a model linear in its parameters, mse) factor_terms is as short.
                    if not derivative.is_polynomial(*self.symbols.values()):
                        candidates.append(sp.simplify(derivative))
        except (_OutOfTime, RecursionError):
            pass
        best = min(candidates, key=lambda c: (sp.count_ops(c), len(self._text(c, "none"))))
        self._pretty_budget -= time.perf_counter() - started
        return best

    def values(self, derivatives: Mapping[str, Any], params: Mapping[str, float],
               columns: Mapping[str, Any], rows: int) -> dict[str, float]:
        """Mean over rows of each derivative at the given values."""
        if rows == 1:
            point = {**params, **{name: float(col[0]) for name, col in columns.items()}}
            values = self._precise(derivatives)(point, 1)
            return dict(zip(derivatives, values))
        return self._vectorised(derivatives, params, columns, rows)

    def _compile(self, expressions: list[Any], module: str) -> Callable[..., Any]:
        """One function of every symbol (in self.symbols order) returning all expressions.

        Symbols and common subexpressions get internal names (``_a0``, ``_t0``)
        that no user name can take (user names start with a letter), so no
        name in the model can collide with the generated code.
        """
        sp = self.sp
        internal = {symbol: sp.Symbol(f"_a{i}") for i, symbol in enumerate(self.symbols.values())}
        renamed = [e.xreplace(internal) for e in expressions]

        def shared(exprs: Any) -> Any:
            return sp.cse(exprs, symbols=sp.numbered_symbols("_t"), list=False)

        modules: Any = module
        if module == "numpy":  # NumPy has no erf: lambdify would call math.erf on whole arrays
            import numpy as np

            modules = [{"erf": np.vectorize(math.erf, otypes=[np.float64])}, "numpy"]
        return sp.lambdify(list(internal.values()), renamed, modules=modules, cse=shared)

    def _precise(self, derivatives: Mapping[str, Any]) -> Callable[[Mapping[str, float], int], list[float]]:
        """All derivatives at one point in 30-digit arithmetic (mpmath), sharing subexpressions.

        Values are taken at their shortest decimal form (0.7, not the binary
        0.69999999999999995559...), the number the user wrote.
        """
        import mpmath

        names = list(self.symbols)
        function = self._compile(list(derivatives.values()), "mpmath")

        def evaluate(point: Mapping[str, float], row: int) -> list[float]:
            with mpmath.workdps(DIGITS):
                try:
                    outputs = function(*(mpmath.mpf(repr(float(point[n]))) for n in names))
                except (ZeroDivisionError, ValueError, OverflowError):
                    # Shared subexpressions are computed before any branch of a Piecewise
                    # is chosen, so a branch not taken can still divide by zero: redo exactly.
                    outputs = [None] * len(derivatives)
                numbers = []
                for (name, derivative), value in zip(derivatives.items(), outputs):
                    number = _as_float(value)
                    if not math.isfinite(number):
                        number = self._exact(derivative, point)
                    if not math.isfinite(number):
                        raise UndefinedError(
                            f"the symbolic derivative for {name} is undefined or infinite at row {row}")
                    numbers.append(number)
            return numbers

        return evaluate

    def _exact(self, derivative: Any, point: Mapping[str, float]) -> float:
        """One derivative with the decimal values put in exactly, then evaluated to DIGITS digits."""
        sp = self.sp
        exact = {self.symbols[n]: sp.Rational(repr(float(v))) for n, v in point.items() if n in self.symbols}
        try:
            return _as_float(derivative.xreplace(exact).evalf(DIGITS))
        except (ZeroDivisionError, ValueError, TypeError, RecursionError):
            return math.nan

    def _vectorised(self, derivatives: Mapping[str, Any], params: Mapping[str, float],
                    columns: Mapping[str, Any], rows: int) -> dict[str, float]:
        import numpy as np

        names = list(self.symbols)
        function = self._compile(list(derivatives.values()), "numpy")
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
            if len(bad):
                precise = self._precise({name: derivatives[name]})
            for row in bad:
                point = {**params, **{n: float(col[row]) for n, col in columns.items()}}
                per_row[row] = precise(point, int(row) + 1)[0]
            result[name] = float(np.mean(per_row))
        return result


def _frozen(sp: Any, expr: Any, symbol: Any) -> tuple[Any, dict[Any, Any], dict[Any, tuple[Any, list[Any]]]]:
    """expr with the terms of each sum (factors of each product) that do not contain symbol
    gathered into one stand-in constant each; also the map from each rebuilt node to the original
    node, and what each stand-in stands for (as func and args, built only if needed).

    The derivative is then SymPy's own, of a much smaller expression: sympy.diff visits every term
    of a sum (~25 us each) even where the symbol is absent, which for b + w1*x1 + ... + w199*x199
    made 200 derivatives cost 40,000 term visits.
    """
    originals: dict[Any, Any] = {}
    parts: dict[Any, tuple[Any, list[Any]]] = {}

    def rebuilt(node: Any) -> Any:
        if symbol not in node.free_symbols or not node.args:
            return node
        if node.is_Add or node.is_Mul:
            args = [rebuilt(a) if symbol in a.free_symbols else a for a in node.args]
            fixed = [a for a in node.args if symbol not in a.free_symbols]
            if len(fixed) > 1:
                stand_in = sp.Dummy(real=True)  # as the symbols are: assumptions resolve quickly
                parts[stand_in] = (node.func, fixed)
                args = [a for a in args if symbol in a.free_symbols] + [stand_in]
        else:
            args = [rebuilt(a) for a in node.args]
        new = node.func(*args)
        originals[new] = node
        return new

    return rebuilt(expr), originals, parts


def _remembering_printer(sp: Any, order: str | None) -> Any:
    """A StrPrinter that prints each distinct subexpression once (the text does not depend on the parent)."""
    from sympy.printing.str import StrPrinter

    class RememberingPrinter(StrPrinter):
        def __init__(self) -> None:
            super().__init__({"order": order} if order else {})
            self.remembered: dict[Any, str] = {}

        def _print(self, expr: Any, **kwargs: Any) -> str:
            if kwargs or not isinstance(expr, sp.Basic):
                return super()._print(expr, **kwargs)
            text = self.remembered.get(expr)
            if text is None:
                text = self.remembered[expr] = super()._print(expr)
            return text

    return RememberingPrinter()


def _as_float(value: Any) -> float:
    """A real finite-or-not float, or nan for anything else (complex, zoo, unevaluated)."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
