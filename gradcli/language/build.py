"""Building expressions in code: the constructors the derivative graph is made of.

They fold what costs nothing to fold (0 + a is a, 1 * a is a, 0 * a is 0, numbers with numbers)
so a derivative stays about as large as the chain rule says, and they never copy a subtree: a
derivative shares its parts with the expression it came from and with the other derivatives
(a DAG, walked once per node by expr.postorder).
"""

from __future__ import annotations

from fractions import Fraction

from .tree import Binary, Call, Expr, Num, Unary

ZERO = Num(0.0, "0")
ONE = Num(1.0, "1")


MAX_EXACT_BITS = 256  # a folded number larger than this (numerator or denominator) becomes a float


def number(value: float | Fraction | int) -> Num:
    """A number node: an integer keeps its exact text, anything else the shortest float text."""
    if isinstance(value, Fraction):
        if value.denominator == 1 and value.numerator.bit_length() <= MAX_EXACT_BITS:
            value = value.numerator
        else:
            value = float(value)
    if isinstance(value, int) or value.is_integer() and abs(value) < 2**53:
        whole = int(value)
        return Num(float(whole), str(whole))
    return Num(float(value), repr(float(value)))


def _exact(node: Expr) -> Fraction | None:
    """The node's exact value when it is a number written in digits (not pi or e) of bounded size."""
    if isinstance(node, Num) and len(node.text) <= 40:
        try:
            exact = Fraction(node.text)
        except ValueError:  # pi, e
            return None
        if max(exact.numerator.bit_length(), exact.denominator.bit_length()) <= MAX_EXACT_BITS:
            return exact
    return None


def _is(node: Expr, value: int) -> bool:
    return isinstance(node, Num) and node.value == value


def add(*terms: Expr) -> Expr:
    kept = [t for t in terms if not _is(t, 0)]
    if not kept:
        return ZERO
    total = kept[0]
    for term in kept[1:]:
        a, b = _exact(total), _exact(term)
        total = number(a + b) if a is not None and b is not None else Binary("add", total, term)
    return total


def neg(a: Expr) -> Expr:
    exact = _exact(a)
    if exact is not None:
        return number(-exact)
    if isinstance(a, Unary) and a.op == "neg":
        return a.operand
    return Unary("neg", a)


def sub(a: Expr, b: Expr) -> Expr:
    if _is(b, 0):
        return a
    if _is(a, 0):
        return neg(b)
    x, y = _exact(a), _exact(b)
    return number(x - y) if x is not None and y is not None else Binary("sub", a, b)


def mul(a: Expr, b: Expr) -> Expr:
    if _is(a, 0) or _is(b, 0):
        return ZERO
    if _is(a, 1):
        return b
    if _is(b, 1):
        return a
    if _is(a, -1):
        return neg(b)
    if _is(b, -1):
        return neg(a)
    x, y = _exact(a), _exact(b)
    return number(x * y) if x is not None and y is not None else Binary("mul", a, b)


def div(a: Expr, b: Expr) -> Expr:
    if _is(a, 0):
        return ZERO
    if _is(b, 1):
        return a
    x, y = _exact(a), _exact(b)
    if x is not None and y is not None and y != 0:
        return number(x / y)
    return Binary("div", a, b)


def power(a: Expr, b: Expr) -> Expr:
    if _is(b, 1):
        return a
    if _is(b, 0):
        return ONE
    return Binary("pow", a, b)


def call(fn: str, *args: Expr) -> Expr:
    return Call(fn, tuple(args))
