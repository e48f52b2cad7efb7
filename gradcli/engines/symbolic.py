"""The symbolic engine: SymPy built from the Expr tree, differentiated the old-fashioned way.

SymPy expressions are *built* node by node from the parsed tree (never from
user text). Derivatives come from ``sympy.diff``; values at a single point are
evaluated in 30-digit arithmetic, and over many rows through a vectorised
function with common subexpressions eliminated (rows where float64 overflows
are redone in high precision).
"""

from __future__ import annotations

import itertools
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..errors import GradcliError, UndefinedError
from ..language.expr import CONSTANTS, Expr, Num, Sym, children, exact_number, postorder
from ..language.ops import OPS
from ..language.problem import Problem

DIGITS = 30  # precision of single-point evaluation
SIMPLIFY_MAX_OPS = 40  # only small derivatives are simplified...
SIMPLIFY_SECONDS = 0.5  # ...and only for this long each
READABLE_MAX_NODES = 300  # larger derivatives are shown as they are
FREEZE_ABOVE_NODES = 200  # losses larger than this are differentiated with the constant parts frozen
PRETTY_SECONDS = 2.0  # time for making all formulas readable, together
SYMBOLIC_SECONDS = 4.0  # the whole symbolic engine, derivatives and values; then finite differences stand in


def budget_seconds() -> float:
    """SymPy's time budget for one symbolic step, read when the step starts: SYMBOLIC_SECONDS is the one
    place it is set (a test, or a program embedding gradcli, may change it)."""
    return SYMBOLIC_SECONDS


class OutOfTime(BaseException):
    """Raised by the timer; a BaseException so that SymPy's `except Exception` cannot swallow it."""


_deadlines: list[float] = []  # the time limits in force, innermost last (never later than the outer ones)


def _interrupt(signum: int, frame: Any) -> None:

    if _deadlines and time.monotonic() >= _deadlines[-1] - 1e-3 and not _importing(frame):
        raise OutOfTime()


def _importing(frame: Any) -> bool:
    """Whether a module is being imported: interrupted there, it would stay half made in sys.modules (SymPy
    imports parts of itself on first use) and fail every later call. The next tick, 50 ms on, comes after."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Interrupt the body after `seconds` where a timer is available (main thread, POSIX).

    Limits nest: an inner one never outlasts the outer one, and the outer one is re-armed when the
    inner one ends, so a budget for the whole symbolic engine holds over its own shorter budgets.
    """

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield False
        return
    if not _deadlines:
        import sympy  # noqa: F401  (its first import, ~0.5 s, is not the expression's time: engines/fresh.py)
    now = time.monotonic()
    deadline = min([now + seconds, *_deadlines[-1:]])
    previous = signal.signal(signal.SIGALRM, _interrupt) if not _deadlines else None
    _deadlines.append(deadline)
    # Repeat every 50 ms: an exception raised inside a garbage-collector callback is
    # swallowed by Python, and the next tick raises it again.
    signal.setitimer(signal.ITIMER_REAL, max(deadline - now, 1e-3), 0.05)
    try:
        yield True
    finally:
        while True:  # a tick may land while disarming: disarm again
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                _deadlines.pop()
                if _deadlines:  # the outer limit goes on
                    signal.setitimer(signal.ITIMER_REAL, max(_deadlines[-1] - time.monotonic(), 1e-3), 0.05)
                else:
                    signal.signal(signal.SIGALRM, previous)
                break
            except OutOfTime:
                pass


def reset_budgets() -> None:
    """Forget time limits that are no longer running: a limit whose exit was cut short (Ctrl-C while it
    disarmed, in a notebook) stayed in force, and every later symbolic step in the process ran out of
    time at once. Only for when no limit can be running: the start of an outermost API call."""
    if _deadlines:
        _deadlines.clear()
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)


MAX_EXACT_BITS = 2000  # an exact number SymPy sees has at most ~600 digits; larger ones are 30-digit floats


def to_sympy(root: Expr, symbols: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None) -> Any:
    """Build the SymPy expression for a tree (iteratively: trees can be deep).

    Numbers stay exact where that is cheap (0.1 is 1/10) and are DIGITS-digit floats where exactness
    would build huge integers: a long or far-scaled literal, a power of exact numbers whose result
    would pass MAX_EXACT_BITS, a coefficient grown past it by many products. So no exact number
    SymPy sees is larger than MAX_EXACT_BITS.
    `functions` may replace an operation's SymPy counterpart by name (for display:
    sigmoid as a named function rather than its formula).
    """
    import sympy as sp

    built: dict[int, Any] = {}
    # A chain of + and - (or of *) is built as one Add (Mul) of all its operands: built pair by pair,
    # SymPy re-sorts the growing sum at each step, and a sum of 800 terms took 6 s.
    operands: dict[int, tuple[str, list[Any]]] = {}

    def value(node: Expr) -> Any:
        if id(node) not in built:
            kind, terms = operands[id(node)]
            built[id(node)] = _bounded(sp, (sp.Add if kind == "add" else sp.Mul)(*terms))
        return built[id(node)]

    def chain(node: Expr, kind: str) -> list[Any]:
        found = operands.get(id(node))
        return list(found[1]) if found and found[0] == kind and id(node) not in built else [value(node)]

    for node in postorder(root):
        if id(node) in built or id(node) in operands:
            continue
        if isinstance(node, Num):
            built[id(node)] = _literal(sp, node)
        elif isinstance(node, Sym):
            built[id(node)] = symbols[node.name]
        else:
            op = getattr(node, "op", None) or node.fn
            override = (functions or {}).get(op)
            kids = children(node)
            if not override and op in ("add", "sub", "mul") and len(kids) == 2:
                kind = "mul" if op == "mul" else "add"
                right = chain(kids[1], kind)
                if op == "sub":
                    right = [-value(kids[1])]
                operands[id(node)] = (kind, chain(kids[0], kind) + right)
                continue
            args = [value(child) for child in kids]
            if override:
                built[id(node)] = override(*args)
            elif op == "pow" and args[0].is_Number and args[1].is_Number and not _cheap_power(*args):
                built[id(node)] = sp.Float(args[0], DIGITS) ** sp.Float(args[1], DIGITS)
            else:
                built[id(node)] = _bounded(sp, OPS[op].sympy(sp, *args))
    return value(root)


def _literal(sp: Any, node: Num) -> Any:
    if node.text in CONSTANTS:
        return {"pi": sp.pi, "e": sp.E}[node.text]
    exact = exact_number(node)
    return sp.Float(node.text, DIGITS) if exact is None else sp.Rational(exact.numerator, exact.denominator)


def _bits(number: Any) -> int:
    return max(abs(int(number.p)).bit_length(), int(number.q).bit_length()) if number.is_Rational else 0


def _cheap_power(base: Any, exponent: Any) -> bool:
    """Whether base**exponent of two exact numbers stays small: an integer power of a small result, or a
    root of low degree (sqrt(2) stays sqrt(2)). Floats are always cheap."""
    if not (base.is_Rational and exponent.is_Rational):
        return True
    if exponent.is_Integer:
        return abs(int(exponent)) * max(_bits(base), 1) <= MAX_EXACT_BITS
    return int(exponent.q) <= 12 and abs(int(exponent.p)) * max(_bits(base), 1) <= MAX_EXACT_BITS


def _bounded(sp: Any, expr: Any) -> Any:
    """expr with an exact number larger than MAX_EXACT_BITS (itself, or its numeric coefficient or
    term) as a DIGITS-digit float."""
    if expr.is_Rational:
        return sp.Float(expr, DIGITS) if _bits(expr) > MAX_EXACT_BITS else expr
    if expr.is_Mul or expr.is_Add:
        big = [arg for arg in expr.args if arg.is_Rational and _bits(arg) > MAX_EXACT_BITS]
        if big:
            return expr.func(*[sp.Float(arg, DIGITS) if arg in big else arg for arg in expr.args])
    return expr


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
        self._compiled: dict[tuple[Any, ...], Callable[..., Any]] = {}
        self._depends: Dependence | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled for a Dask worker (grad and hessian --dask evaluate the derivatives there): the
        expressions and symbols, not the sympy module, the printers or the compiled functions."""
        state = dict(self.__dict__)
        del state["sp"]
        state["_printers"], state["_compiled"] = {}, {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import sympy as sp

        self.__dict__.update(state, sp=sp)

    def derivative(self, name: str) -> Any:
        return self.derivatives([name])[name]

    def derivatives(self, names: Iterable[str]) -> dict[str, Any]:
        """d loss / d name for each name. A large loss is differentiated with its constant parts
        frozen (_frozen_derivative), all names under one setting of SymPy's `distribute`: changing it
        empties SymPy's cache, which made each derivative cost 9 ms more."""
        from sympy.core.parameters import distribute

        try:
            if self._size() <= FREEZE_ABOVE_NODES:
                return {name: self.sp.diff(self.loss, self.symbols[name]) for name in names}
            depends = self._dependence()
            with distribute(False):
                return {name: _frozen_derivative(self.sp, depends, self.loss, self.symbols[name]) for name in names}
        except RecursionError:
            raise GradcliError("the model is nested too deeply for the symbolic engine") from None

    def _dependence(self) -> Dependence:
        if self._depends is None:
            self._depends = Dependence.of(self.loss)
        return self._depends

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

        sp = self.sp
        size = sum(1 for _ in itertools.islice(sp.preorder_traversal(derivative), READABLE_MAX_NODES + 1))
        if size > READABLE_MAX_NODES or self._pretty_budget <= 0:
            return None
        started = time.perf_counter()
        candidates = [derivative]
        try:
            with time_limit(min(SIMPLIFY_SECONDS, self._pretty_budget)) as bounded:
                candidates.append(sp.factor_terms(derivative))
                # simplify() costs ~0.1 s and an import of sympy.physics at its first call; for a
                # polynomial (a model linear in its parameters, mse) factor_terms is as short.
                if (bounded and sp.count_ops(derivative) <= SIMPLIFY_MAX_OPS
                        and not derivative.is_polynomial(*self.symbols.values())):
                    candidates.append(sp.simplify(derivative))
        except (OutOfTime, RecursionError):
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
        """One function of every symbol (in self.symbols order) returning all expressions (made once per
        list of expressions: a streamed pass evaluates the same derivatives on every part).

        Symbols and common subexpressions get internal names (``_a0``, ``_t0``)
        that no user name can take (user names start with a letter), so no
        name in the model can collide with the generated code.
        """
        key = (module, tuple(expressions))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._lambdify(expressions, module)
        return compiled

    def _lambdify(self, expressions: list[Any], module: str) -> Callable[..., Any]:
        """Common subexpressions first, then the internal names: the derivatives of a large loss share
        most of their parts (each d/dp_k of (p1 + ... + pn - y)**2 is 2 times the same sum), and every
        step that walks them one by one (renaming, and lambdify's own search for implemented
        functions, use_imps) walked the shared sum once per derivative: n**2 in all."""
        sp = self.sp
        internal = {symbol: sp.Symbol(f"_a{i}") for i, symbol in enumerate(self.symbols.values())}
        shared, reduced = sp.cse(expressions, symbols=sp.numbered_symbols("_t"), list=False)
        shared = [(temporary, e.xreplace(internal)) for temporary, e in shared]
        renamed = [e.xreplace(internal) for e in reduced]

        modules: Any = module
        if module == "numpy":  # NumPy has no erf: lambdify would call math.erf on whole arrays
            import numpy as np

            modules = [{"erf": np.vectorize(math.erf, otypes=[np.float64])}, "numpy"]
        return sp.lambdify(list(internal.values()), renamed, modules=modules, cse=lambda _: (shared, renamed),
                           use_imps=False)

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

        per_row = self.row_values(derivatives, params, columns, rows)
        return {name: float(np.mean(values)) for name, values in per_row.items()}

    def row_values(self, derivatives: Mapping[str, Any], params: Mapping[str, float],
                   columns: Mapping[str, Any], rows: int) -> dict[str, Any]:
        """Each derivative's value in every row (float64 arrays); overflowing rows redone in higher precision."""
        import numpy as np

        if rows == 1:
            return {name: np.array([value]) for name, value in self.values(derivatives, params, columns, 1).items()}
        names = list(self.symbols)
        function = self._compile(list(derivatives.values()), "numpy")
        arguments = [params[n] if n in params else columns[n] for n in names]
        with np.errstate(all="ignore"):
            try:
                outputs = function(*arguments)
            except (ValueError, TypeError):  # numpy.select wants every condition per row: relu(w) beside data
                outputs = function(*(np.full(rows, a) if np.ndim(a) == 0 else a for a in arguments))
        per_row = {name: np.array(np.broadcast_to(np.asarray(output, dtype=np.float64), (rows,)))
                   for name, output in zip(derivatives, outputs)}
        bad = np.flatnonzero(~np.logical_and.reduce([np.isfinite(v) for v in per_row.values()]))
        if len(bad):
            self._redo_rows(derivatives, function, arguments, params, columns, bad, per_row)
        return per_row

    def _redo_rows(self, derivatives: Mapping[str, Any], function: Callable[..., Any], arguments: list[Any],
                   params: Mapping[str, float], columns: Mapping[str, Any], bad: Any, per_row: dict[str, Any]) -> None:
        """The rows where float64 overflows, again: first all at once in extended precision (x86's long
        double reaches 1e4932, so exp(800) is no overflow), then the rows still left one distinct row
        at a time in 30-digit arithmetic. However many rows: the symbolic budget bounds the time."""
        import numpy as np

        if np.finfo(np.longdouble).maxexp > np.finfo(np.float64).maxexp:
            wide = [np.longdouble(a) if np.ndim(a) == 0 else np.asarray(a, dtype=np.longdouble)[bad] for a in arguments]
            with np.errstate(all="ignore"):  # and a value past float64 becomes inf: redone below
                try:
                    redone = function(*wide)
                except (ValueError, TypeError):
                    redone = function(*(np.full(len(bad), a) if np.ndim(a) == 0 else a for a in wide))
                for values, output in zip(per_row.values(), redone):
                    wide_output = np.asarray(output, dtype=np.longdouble)
                    values[bad] = np.broadcast_to(wide_output, (len(bad),)).astype(np.float64)
        for name, values in per_row.items():
            left = bad[~np.isfinite(values[bad])]
            if not len(left):
                continue
            precise = self._precise({name: derivatives[name]})
            known: dict[tuple[float, ...], float] = {}  # distinct rows once: 1e6 equal rows cost one evaluation
            for row in left:
                point = {**params, **{n: float(col[row]) for n, col in columns.items()}}
                key = tuple(point.values())
                if key not in known:
                    known[key] = precise(point, int(row) + 1)[0]
                values[row] = known[key]


class Dependence:
    """Which symbols each node of an expression holds (each node once), and for a sum or product
    which of its terms hold each symbol: so that freezing the terms without a symbol costs what
    the symbol's own terms cost, not the whole sum, for each of n parameters."""

    def __init__(self, free: dict[Any, frozenset[Any]], holders: dict[Any, dict[Any, list[int]]]) -> None:
        import sympy as sp

        self.free = free
        self.holders = holders
        self.placeholder = sp.Dummy("T", real=True)  # the parameter, in every frozen loss
        self._stand_ins: list[Any] = []  # the same stand-ins for every parameter: frozen losses repeat
        self.derivatives: dict[Any, Any] = {}  # frozen loss -> its derivative in the placeholder

    def stand_in(self, index: int) -> Any:
        import sympy as sp

        while len(self._stand_ins) <= index:
            self._stand_ins.append(sp.Dummy(f"S{len(self._stand_ins)}", real=True))
        return self._stand_ins[index]

    @classmethod
    def of(cls, expr: Any) -> Dependence:
        free: dict[Any, frozenset[Any]] = {}
        holders: dict[Any, dict[Any, list[int]]] = {}
        stack = [(expr, False)]
        while stack:  # iteratively, each distinct node once: trees can be deep
            node, ready = stack.pop()
            if node in free:
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((arg, False) for arg in node.args if arg not in free)
                continue
            if node.is_Symbol:
                free[node] = frozenset([node])
                continue
            free[node] = frozenset().union(*(free[arg] for arg in node.args))
            if node.is_Add or node.is_Mul:
                held: dict[Any, list[int]] = {}
                for position, arg in enumerate(node.args):
                    for symbol in free[arg]:
                        held.setdefault(symbol, []).append(position)
                holders[node] = held
        return cls(free, holders)


def _frozen_derivative(sp: Any, depends: Dependence, expr: Any, symbol: Any) -> Any:
    """d expr / d symbol, with the terms of each sum (factors of each product) that do not hold symbol
    frozen into a stand-in while SymPy differentiates, and symbol itself written as one placeholder.

    sympy.diff visits every term of a sum (~25 us each) even where the symbol is absent, which for
    b + w1*x1 + ... + w199*x199 made 200 derivatives cost 40,000 term visits; and each sympy.diff
    costs milliseconds of SymPy's assumptions however small the expression. Frozen, the loss of
    each parameter of a sum of n terms looks the same ((T*S1 + S2 - y)**2, say), so SymPy
    differentiates it once and every parameter after that reuses it. Then each rebuilt node is put
    back as the original node (shared by every parameter's derivative, not copied), and each
    stand-in as what it stands for. Called with SymPy's `distribute` off: 2*(p1 + ... + pn) spread
    into 2*p1 + ... + 2*pn is a new sum of n terms for each of n parameters.
    """
    originals: dict[Any, Any] = {symbol: symbol}
    parts: dict[Any, tuple[Any, list[int]]] = {}
    done: dict[Any, Any] = {}
    free = depends.free

    def rebuilt(node: Any) -> Any:
        if node in done:
            return done[node]
        if node == symbol:
            return depends.placeholder
        if symbol not in free[node] or not node.args:
            return node
        if node.is_Add or node.is_Mul:
            held = depends.holders[node][symbol]
            args = [rebuilt(node.args[i]) for i in held]
            if len(held) < len(node.args):
                stand_in = depends.stand_in(len(parts))
                parts[stand_in] = (node, held)
                args.append(stand_in)
        else:
            args = [rebuilt(a) for a in node.args]
        new = done[node] = node.func(*args)
        originals[new] = node
        return new

    frozen = rebuilt(expr)
    generic = depends.derivatives.get(frozen)
    if generic is None:
        generic = depends.derivatives[frozen] = sp.diff(frozen, depends.placeholder)
    back = {new: original for new, original in originals.items()}
    back[depends.placeholder] = symbol

    def restore(node: Any, memo: dict[Any, Any]) -> Any:
        if node in memo:
            return memo[node]
        if node in back:
            found = back[node]
        elif node in parts:
            whole, held = parts[node]
            keep = set(held)
            rest = [a for i, a in enumerate(whole.args) if i not in keep]
            found = rest[0] if len(rest) == 1 else whole.func(*rest)
        elif node.args:
            args = [restore(a, memo) for a in node.args]
            found = node if all(a is b for a, b in zip(args, node.args)) else node.func(*args)
        else:
            found = node
        memo[node] = found
        return found

    return restore(generic, {})


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
