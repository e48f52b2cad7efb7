"""The table of operations: each one declared once, all its facts side by side.

Every entry gives the operation's NumPy forward, its hand-written local partial
derivatives (the graph engine's calculus: never borrowed from SymPy), the
formula of each local derivative for people, its SymPy counterpart (for the
symbolic engine) and what makes it undefined. Adding a function to gradcli is
adding one entry here.

Conventions (documented in docs/models.md):
- At a kink (``abs`` and ``relu`` at exactly 0, ``max`` and ``min`` at a tie)
  the derivative is taken as 0, the subgradient PyTorch uses too; the SymPy
  counterparts (``Abs`` whose derivative is ``sign``, ``Max(0, z)`` for relu,
  ``Max`` and ``Min``, whose derivatives are steps taken as 0 at 0) give 0
  there as well (language/kinks.py).
- ``sigmoid``, ``softplus`` and the losses are computed in their numerically
  stable forms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType
from typing import Any

from . import build as b
from . import entrywise, kinks
from . import tensors as t  # its NumPy loads on first use too
from .tree import Binary, Call, Expr, Unary


class _NumPyOnFirstUse:
    """`np` for the table's functions, imported when one of them first runs, not when the table is read.

    The parser and the roles of names read the table (names, arity) and must stay free of NumPy.
    """

    def __getattr__(self, name: str) -> Any:
        import numpy

        global np
        np = numpy  # later calls find NumPy itself
        return getattr(numpy, name)


np: ModuleType | Any = _NumPyOnFirstUse()

Array = Any  # a float64 ndarray or a NumPy scalar; broadcasting does the rest
Forward = Callable[..., Array]
Local = Callable[[int, tuple[Array, ...], Array], Array]
LocalText = Callable[[int, list[str], str], str]
SympyBuild = Callable[..., Any]
Undefined = Callable[[tuple[Array, ...]], list[tuple[Array, str]]]


@dataclass(frozen=True)
class Op:
    """One operation: arity (-1 for n-ary), forward, local derivatives and names."""

    name: str
    arity: int
    forward: Forward
    local: Local  # local(i, args, out) = d out / d args[i]
    local_text: LocalText  # the same derivative as a formula in the argument names and the output's
    # name: local_text(i, args, out); tanh's is 1 - out**2 and sigmoid's out*(1 - out), as taught
    sympy: SympyBuild  # sympy(sp, *args) -> SymPy expression
    user: bool = True  # callable by name in a model (functions only)
    undefined: Undefined | None = None  # rows where the value is undefined, and why
    kink: Callable[[tuple[Array, ...]], Array] | None = None  # rows at a kink
    formula: str = ""  # the function itself, for `gradcli losses` and docs
    # derivative(i, args, out) = d out / d args[i] as an expression of the same language, built from
    # the argument and output expressions: what the derivative graph (engines/derivative.py) is made of
    derivative: Callable[[int, tuple[Any, ...], Any], Any] | None = None
    # Tensor operations (elementwise=False) are not applied entry by entry. Each declares its per-row
    # shape rule, a forward that knows which arguments carry the row axis (forward(*args, batched=)),
    # and its vector-Jacobian product vjp(i, g, args, out, batched) in place of a local derivative;
    # `expand` writes it entry by entry in scalar operations, for SymPy and the neuron-by-neuron graph.
    elementwise: bool = True
    shape: Callable[..., Any] | None = None
    vjp: Callable[..., Any] | None = None
    expand: Callable[..., Any] | None = None
    # demand(want, shapes, vectors): the shape an unknown operand must have for the result to have the
    # shape demanded of it (tensors.matmul_demand); shape inference's rule from the result down
    demand: Callable[..., t.Demand] | None = None
    # explain's arithmetic at one row of a tensor op, forward counts(shapes) and vjp_counts(i, shapes)
    # for the VJP to argument i (an elementwise op is counted entry by entry from its formulas)
    counts: Callable[[list[t.Shape]], t.Counts] | None = None
    vjp_counts: Callable[[int, list[t.Shape]], t.Counts] | None = None
    # batch_text((shape, rows), (shape, rows), A, B, G): the op and its VJPs over a batch as one matrix
    # product (C = X @ W1ᵀ), or None where none says it; explain's matrix form
    batch_text: Callable[..., tuple[str, ...] | None] | None = None
    # the closed-form role: the result's degree in the parameters from its operands' (0: no parameter,
    # 1: affine, 2: anything else), which tells a model linear in its parameters (training/closed_form.py)
    degree: Callable[[list[int]], int] = lambda degrees: 0 if not any(degrees) else 2
    # explain's kind of one application (additions: arity - 1 of them; multiplications: likewise; other: one;
    # "": none, for identity), for elementwise ops counted entry by entry
    arithmetic: str = "other"
    exact: bool = False  # its float64 result is exact (a sign, a choice): it rounds nothing of its own
    # explain's LaTeX writes it by its name (\operatorname{sigmoid}) where SymPy would write out its counterpart
    latex_by_name: bool = False


def linear(degrees: list[int]) -> int:
    """Linear in its operands (a + b, sum(a), transpose(a), -a): as affine as the most."""
    return max(degrees)


def product(degrees: list[int]) -> int:
    """A product (a*b, A @ B, dot(u, v)): affine when only one side holds parameters."""
    return min(2, sum(degrees))


def quotient(degrees: list[int]) -> int:
    """a / b: affine in the numerator over a constant."""
    return degrees[0] if degrees[1] == 0 else 2


def applied(name: str, args: list[Expr]) -> Expr:
    """The operation applied to the arguments, as a reader writes it: b + a1 + a2, W1 @ x, -a, tanh(a1)."""
    if name == "identity":
        return args[0]
    if OPS[name].arity == -1:  # an n-ary sum, written as a chain
        expr = args[0]
        for term in args[1:]:
            expr = Binary(name, expr, term)
        return expr
    if name in INFIX or name == "matmul":
        return Binary(name, args[0], args[1])
    return Unary(name, args[0]) if name == "neg" else Call(name, tuple(args))


def op_of(node: Expr) -> Op | None:
    """The table's entry for an expression node (None for a number or a name)."""
    if isinstance(node, (Unary, Binary)):
        return OPS[node.op]
    return OPS[node.fn] if isinstance(node, Call) else None


def _sum(*terms: Array) -> Array:
    """An n-ary sum that allocates its result once and adds the other terms in place."""
    total = terms[0] + terms[1]
    for term in terms[2:]:
        if isinstance(total, np.ndarray) and np.shape(term) == total.shape or np.ndim(term) == 0 and np.ndim(total):
            np.add(total, term, out=total)
        else:
            total = total + term
    return total


def _exp_neg_abs(a: Array) -> Array:
    return np.exp(-np.abs(a))


def _sigmoid(a: Array) -> Array:
    e = _exp_neg_abs(a)
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_slope(a: Array) -> Array:
    # s * (1 - s) written so that it stays positive when s rounds to 0 or 1.
    e = _exp_neg_abs(a)
    return e / (1.0 + e) ** 2


def _pow_base_slope(a: Array, b: Array) -> Array:
    # b * a**(b-1); x**0 has slope 0 everywhere, including at a == 0.
    if np.ndim(b) == 0 and b in (0.0, 1.0, 2.0):  # the common constant exponents, in one pass
        return 0.0 if b == 0 else 1.0 if b == 1 else 2.0 * a
    with np.errstate(all="ignore"):
        slope = b * np.power(a, b - 1.0)
    return np.where(b == 0, 0.0, slope)


def _pow_exponent_slope(a: Array, out: Array) -> Array:
    """d a**b / db = a**b * log(a), taken as 0 where a**b is 0: 0**b is 0 for every b > 0 (a constant)."""
    with np.errstate(all="ignore"):
        return np.where(out == 0, 0.0, out * np.log(a))


def _pow_base_text(a: str, b: str) -> str:
    """b*a**(b - 1), with the arithmetic done when the exponent is a number (2*a, not 2*a**(2 - 1))."""
    try:
        n = Fraction(b)
    except ValueError:  # a name, or a constant such as pi
        return f"{b}*{a}**({b} - 1)"
    m = n - 1
    if n == 0:
        return "0"
    power = "1" if m == 0 else a if m == 1 else f"{a}**{_number_text(m)}" if m > 0 else f"{a}**({_number_text(m)})"
    return power if n == 1 else f"{b}*{power}" if power != "1" else b


def _pow_base_derivative(a: Any, exponent: Any) -> Any:
    """b*a**(b - 1) as an expression (build folds the arithmetic when the exponent is a number)."""
    return b.mul(exponent, b.power(a, b.sub(exponent, b.ONE)))


def _number_text(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else repr(float(q))


def _pow_undefined(args: tuple[Array, ...]) -> list[tuple[Array, str]]:
    a, b = args
    fractional = np.asarray(b) != np.round(b)
    return [
        ((np.asarray(a) < 0) & fractional, "negative base to a fractional power"),
        ((np.asarray(a) == 0) & (np.asarray(b) < 0), "zero to a negative power (division by zero)"),
    ]


def _xlogy(x: Array, y: Array) -> Array:
    """x*log(y), taken as 0 where x == 0 (the limit), as in a cross-entropy."""
    with np.errstate(all="ignore"):
        return np.where(x == 0, 0.0, x * np.log(y))


def _bce(p: Array, y: Array) -> Array:
    # Outside [0, 1] the loss is undefined; say so with nan (diagnosed by the graph engine).
    loss = -(_xlogy(y, p) + _xlogy(1.0 - y, 1.0 - p))
    return np.where((p < 0) | (p > 1), np.nan, loss)


def _bce_slope(p: Array, y: Array) -> Array:
    with np.errstate(all="ignore"):
        return np.where(y == 0, 0.0, -y / p) + np.where(y == 1, 0.0, (1.0 - y) / (1.0 - p))


def _bce_undefined(args: tuple[Array, ...]) -> list[tuple[Array, str]]:
    p, y = (np.asarray(v) for v in args)
    return [
        ((p < 0) | (p > 1), "prediction outside [0, 1] (bce needs a probability: wrap the model in sigmoid(...))"),
        (((p == 0) & (y > 0)) | ((p == 1) & (y < 1)), "prediction of exactly 0 or 1 for the other class (log of 0)"),
    ]


def _sympy_bce(sp: Any, p: Any, y: Any) -> Any:
    # At p == 0 (or 1) the term y*log(p) (or (1-y)*log(1-p)) is finite only when its
    # weight is 0, and then it is 0, as in the NumPy forward; leave it out there.
    full = -(y * sp.log(p) + (1 - y) * sp.log(1 - p))
    return sp.Piecewise((-(1 - y) * sp.log(1 - p), sp.Eq(p, 0)), (-y * sp.log(p), sp.Eq(p, 1)), (full, True))


def _bce_logit(z: Array, y: Array) -> Array:
    # bce(sigmoid(z), y) = softplus(z) - y*z, with softplus in its stable form.
    return np.maximum(z, 0.0) - z * y + np.log1p(_exp_neg_abs(z))


def _inside(r: Array, d: Array) -> Array:
    """1 where |r| <= d (Huber's quadratic part), else 0."""
    return (np.abs(r) <= d).astype(np.float64)


def _huber(r: Array, d: Array) -> Array:
    ar = np.abs(r)
    return np.where(ar <= d, 0.5 * r * r, d * (ar - 0.5 * d))


def _sympy_huber(sp: Any, r: Any, d: Any) -> Any:
    abs_r = kinks.forms().Abs(r)
    return sp.Piecewise((r**2 / 2, abs_r <= d), (d * (abs_r - d / 2), True))


def _unary(
    name: str,
    forward: Forward,
    slope: Callable[[Array, Array], Array],
    slope_text: Callable[[str, str], str],
    sympy: SympyBuild,
    **extra: Any,
) -> Op:
    """A one-argument function: slope(a, out) is its derivative."""
    return Op(
        name=name,
        arity=1,
        forward=forward,
        local=lambda i, args, out: slope(args[0], out),
        local_text=lambda i, a, out: slope_text(a[0], out),
        sympy=sympy,
        **extra,
    )


def _nonpositive(reason: str) -> Undefined:
    return lambda args: [(np.asarray(args[0]) <= 0, reason)]


def _negative(reason: str) -> Undefined:
    return lambda args: [(np.asarray(args[0]) < 0, reason)]


def _outside(low: float, high: float, reason: str, *, closed: bool = True) -> Undefined:
    """Undefined outside [low, high] (closed) or (low, high) (open)."""
    if closed:
        return lambda args: [((np.asarray(args[0]) < low) | (np.asarray(args[0]) > high), reason)]
    return lambda args: [((np.asarray(args[0]) <= low) | (np.asarray(args[0]) >= high), reason)]


def _erf(a: Array) -> Array:
    """The error function, elementwise (NumPy has none; math.erf is exact to the last bit)."""
    values = np.asarray(a, dtype=np.float64)
    out = np.asarray(np.frompyfunc(math.erf, 1, 1)(values), dtype=np.float64)  # a 0-d input gives a float
    return out if values.ndim else np.float64(out)


def _at_zero(args: tuple[Array, ...]) -> Array:
    return np.asarray(args[0]) == 0



def _no_local(i: int, args: tuple[Array, ...], out: Array) -> Array:
    raise TypeError("a tensor operation has a vector-Jacobian product, not a local derivative")


def _no_sympy(sp: Any, *args: Any) -> Any:
    raise TypeError("a tensor operation reaches SymPy entry by entry (language/expansion.py)")


def _tensor(name: str, arity: int, forward: Forward, vjp: Callable[..., Any], vjp_text: LocalText,
            shape: Callable[..., Any], expand: Callable[..., Any], **extra: Any) -> Op:
    """A tensor operation: its per-row shape rule, forward over rows, VJP and entry-by-entry expansion."""
    return Op(name=name, arity=arity, forward=forward, local=_no_local, local_text=vjp_text, sympy=_no_sympy,
              elementwise=False, shape=shape, vjp=vjp, expand=expand, **extra)


def _max_slope(i: int, a: tuple[Array, ...], pick: Callable[[Array, Array], Array]) -> Array:
    """d max(a, b)/da is 1 where a wins, 0 where b does; at a tie 0 for both (a kink, as relu's at 0)."""
    first, second = np.asarray(a[0]), np.asarray(a[1])
    wins = pick(first, second) if i == 0 else pick(second, first)
    return wins.astype(np.float64)


TENSOR_OPS = [
    _tensor("matmul", 2, lambda a, b, batched=(False, False): t.matmul(a, b, batched),
            lambda i, g, a, o, batched: t.matmul_vjp(i, g, a, batched),
            lambda i, a, o: f"G @ {a[1]}ᵀ" if i == 0 else f"{a[0]}ᵀ @ G", t.matmul_shape, entrywise.matmul,
            user=False, formula="matrix product; backward G @ Bᵀ and Aᵀ @ G",
            demand=t.matmul_demand, counts=t.matmul_counts, vjp_counts=t.matmul_vjp_counts,
            batch_text=t.matmul_batch_text, degree=product),
    _tensor("transpose", 1, lambda a, batched=(False,): t.transpose(a, batched),
            lambda i, g, a, o, batched: t.transpose_vjp(i, g, a, batched),
            lambda i, a, o: "transpose(G)", t.transpose_shape, entrywise.transpose,
            formula="Aᵀ (a vector stays as it is)", counts=t.no_counts, vjp_counts=t.no_counts, degree=linear),
    _tensor("sum", 1, lambda a, batched=(False,): t.total(a, batched),
            lambda i, g, a, o, batched: t.total_vjp(i, g, a, batched),
            lambda i, a, o: "G (copied to every entry)", t.reduction_shape("sum"), entrywise.total,
            formula="the sum of the entries", counts=t.reduction_counts("sum"), vjp_counts=t.no_counts,
            degree=linear),
    _tensor("mean", 1, lambda a, batched=(False,): t.average(a, batched),
            lambda i, g, a, o, batched: t.average_vjp(i, g, a, batched),
            lambda i, a, o: "G/n (to every entry)", t.reduction_shape("mean"), entrywise.average,
            formula="the mean of the entries", counts=t.reduction_counts("mean"),
            vjp_counts=t.scaled_vjp_counts(1), degree=linear),
    _tensor("dot", 2, lambda a, b, batched=(False, False): t.dot(a, b, batched),
            lambda i, g, a, o, batched: t.dot_vjp(i, g, a, batched),
            lambda i, a, o: f"G*{a[1 - i]}", t.dot_shape, entrywise.dot, formula="u·v, the sum of u*v",
            demand=t.dot_demand, counts=t.dot_counts, vjp_counts=t.scaled_vjp_counts(1),
            batch_text=t.matmul_batch_text, degree=product),  # dot(w, x) is w @ x of two vectors
    _tensor("softmax", 1, lambda a, batched=(False,): t.softmax(a, batched),
            lambda i, g, a, o, batched: t.softmax_vjp(i, g, a, batched, o),
            lambda i, a, o: f"{o}*(G - sum(G*{o}))", t.vector_shape("softmax"), entrywise.softmax,
            formula="e**z / sum(e**z), computed stably", counts=t.vector_counts("softmax"),
            vjp_counts=t.scaled_vjp_counts(2, 1)),
    _tensor("logsumexp", 1, lambda a, batched=(False,): t.logsumexp(a, batched),
            lambda i, g, a, o, batched: t.logsumexp_vjp(i, g, a, batched),
            lambda i, a, o: f"G*softmax({a[0]})", lambda a: t.vector_shape("logsumexp")(a) and (),
            entrywise.logsumexp, formula="log(sum(e**z)), computed stably", counts=t.vector_counts("logsumexp"),
            vjp_counts=t.scaled_vjp_counts(1)),
    # ce: softmax cross-entropy on a class index (the loss `ce`; not callable from a model)
    _tensor("ce", 2, lambda z, y, batched=(False, False): t.cross_entropy(z, y, batched),
            lambda i, g, a, o, batched: t.cross_entropy_vjp(i, g, a, batched),
            lambda i, a, o: f"G*(softmax({a[0]}) - onehot({a[1]}))" if i == 0 else "0", t.ce_shape,
            entrywise.cross_entropy, user=False, formula="logsumexp(z) - z[y]", counts=t.vector_counts("ce"),
            vjp_counts=t.scaled_vjp_counts(2)),
]

OPS: dict[str, Op] = {
    op.name: op
    for op in [*TENSOR_OPS,
        # ---- arithmetic (written with operators) ----
        Op("add", -1, _sum, lambda i, a, o: 1.0,
           lambda i, a, o: "1", lambda sp, *a: sp.Add(*a), user=False,
           derivative=lambda i, a, o: b.ONE, degree=linear, arithmetic="additions"),
        Op("sub", 2, lambda a, b: np.subtract(a, b), lambda i, a, o: 1.0 if i == 0 else -1.0,
           lambda i, a, o: "1" if i == 0 else "-1", lambda sp, a, b: a - b, user=False,
           derivative=lambda i, a, o: b.ONE if i == 0 else b.number(-1), degree=linear, arithmetic="additions"),
        Op("mul", 2, lambda a, b: np.multiply(a, b), lambda i, a, o: a[1 - i],
           lambda i, a, o: a[1 - i], lambda sp, a, b: a * b, user=False,
           derivative=lambda i, a, o: a[1 - i], degree=product, arithmetic="multiplications"),
        Op("div", 2, lambda a, b: np.divide(a, b),
           lambda i, a, o: 1.0 / a[1] if i == 0 else -o / a[1],
           lambda i, a, o: f"1/{a[1]}" if i == 0 else f"-{a[0]}/{a[1]}**2",
           lambda sp, a, b: a / b, user=False,
           undefined=lambda a: [(np.asarray(a[1]) == 0, "division by zero")],
           derivative=lambda i, a, o: b.div(b.ONE, a[1]) if i == 0 else b.neg(b.div(a[0], b.power(a[1], b.number(2)))),
           degree=quotient, arithmetic="multiplications"),
        Op("pow", 2, lambda a, b: np.power(a, b),
           lambda i, a, o: _pow_base_slope(a[0], a[1]) if i == 0 else _pow_exponent_slope(a[0], o),
           lambda i, a, o: _pow_base_text(a[0], a[1]) if i == 0 else f"{o}*log({a[0]})",
           lambda sp, a, b: a**b, user=False, undefined=_pow_undefined,
           derivative=lambda i, a, o: _pow_base_derivative(a[0], a[1]) if i == 0 else b.call("xlogy", o, a[0])),
        Op("neg", 1, lambda a: np.negative(a), lambda i, a, o: -1.0, lambda i, a, o: "-1",
           lambda sp, a: -a, user=False,
           derivative=lambda i, a, o: b.number(-1), degree=linear, exact=True),
        Op("identity", 1, lambda a: a, lambda i, a, o: 1.0, lambda i, a, o: "1",
           lambda sp, a: a, user=False,
           derivative=lambda i, a, o: b.ONE, degree=linear, arithmetic="", exact=True),
        # ---- functions a model may call ----
        _unary("exp", lambda a: np.exp(a), lambda a, o: o, lambda a, o: f"exp({a})", lambda sp, a: sp.exp(a),
               formula="e**z",
           derivative=lambda i, a, o: o),
        _unary("log", lambda a: np.log(a), lambda a, o: 1.0 / a, lambda a, o: f"1/{a}", lambda sp, a: sp.log(a),
               undefined=_nonpositive("log of a non-positive number"), formula="natural logarithm",
           derivative=lambda i, a, o: b.div(b.ONE, a[0])),
        _unary("sqrt", lambda a: np.sqrt(a), lambda a, o: 0.5 / o, lambda a, o: f"1/(2*sqrt({a}))",
               lambda sp, a: sp.sqrt(a), undefined=_negative("square root of a negative number"),
               formula="z**0.5",
           derivative=lambda i, a, o: b.div(b.number(0.5), o)),
        _unary("abs", lambda a: np.abs(a), lambda a, o: np.sign(a), lambda a, o: f"sign({a})",
               lambda sp, a: kinks.forms().Abs(a), kink=_at_zero, exact=True, formula="|z| (derivative 0 at z = 0)",
           derivative=lambda i, a, o: b.call("sign", a[0])),
        _unary("sin", lambda a: np.sin(a), lambda a, o: np.cos(a), lambda a, o: f"cos({a})", lambda sp, a: sp.sin(a),
           derivative=lambda i, a, o: b.call("cos", a[0])),
        _unary("cos", lambda a: np.cos(a), lambda a, o: -np.sin(a), lambda a, o: f"-sin({a})", lambda sp, a: sp.cos(a),
           derivative=lambda i, a, o: b.neg(b.call("sin", a[0]))),
        _unary("tan", lambda a: np.tan(a), lambda a, o: 1.0 + o * o, lambda a, o: f"1 + tan({a})**2",
               lambda sp, a: sp.tan(a),
           derivative=lambda i, a, o: b.add(b.ONE, b.power(o, b.number(2)))),
        _unary("tanh", lambda a: np.tanh(a), lambda a, o: 1.0 - o * o, lambda a, o: f"1 - {o}**2",
               lambda sp, a: sp.tanh(a),
           derivative=lambda i, a, o: b.sub(b.ONE, b.power(o, b.number(2)))),
        _unary("sinh", lambda a: np.sinh(a), lambda a, o: np.cosh(a), lambda a, o: f"cosh({a})",
               lambda sp, a: sp.sinh(a),
           derivative=lambda i, a, o: b.call("cosh", a[0])),
        _unary("cosh", lambda a: np.cosh(a), lambda a, o: np.sinh(a), lambda a, o: f"sinh({a})",
               lambda sp, a: sp.cosh(a),
           derivative=lambda i, a, o: b.call("sinh", a[0])),
        _unary("asin", lambda a: np.arcsin(a), lambda a, o: 1.0 / np.sqrt(1.0 - a * a),
               lambda a, o: f"1/sqrt(1 - {a}**2)", lambda sp, a: sp.asin(a),
               undefined=_outside(-1.0, 1.0, "arcsine of a number outside [-1, 1]"), formula="inverse sine",
           derivative=lambda i, a, o: b.div(b.ONE, b.call("sqrt", b.sub(b.ONE, b.power(a[0], b.number(2)))))),
        _unary("acos", lambda a: np.arccos(a), lambda a, o: -1.0 / np.sqrt(1.0 - a * a),
               lambda a, o: f"-1/sqrt(1 - {a}**2)", lambda sp, a: sp.acos(a),
               undefined=_outside(-1.0, 1.0, "arccosine of a number outside [-1, 1]"), formula="inverse cosine",
           derivative=lambda i, a, o: b.neg(b.div(b.ONE, b.call("sqrt", b.sub(b.ONE, b.power(a[0], b.number(2))))))),
        _unary("atan", lambda a: np.arctan(a), lambda a, o: 1.0 / (1.0 + a * a), lambda a, o: f"1/(1 + {a}**2)",
               lambda sp, a: sp.atan(a), formula="inverse tangent",
           derivative=lambda i, a, o: b.div(b.ONE, b.add(b.ONE, b.power(a[0], b.number(2))))),
        _unary("asinh", lambda a: np.arcsinh(a), lambda a, o: 1.0 / np.sqrt(a * a + 1.0),
               lambda a, o: f"1/sqrt({a}**2 + 1)", lambda sp, a: sp.asinh(a), formula="inverse hyperbolic sine",
           derivative=lambda i, a, o: b.div(b.ONE, b.call("sqrt", b.add(b.power(a[0], b.number(2)), b.ONE)))),
        _unary("acosh", lambda a: np.arccosh(a), lambda a, o: 1.0 / (np.sqrt(a - 1.0) * np.sqrt(a + 1.0)),
               lambda a, o: f"1/sqrt({a}**2 - 1)", lambda sp, a: sp.acosh(a),
               undefined=_outside(1.0, math.inf, "inverse hyperbolic cosine of a number below 1"),
               formula="inverse hyperbolic cosine",
           derivative=lambda i, a, o: b.div(b.ONE, b.mul(b.call("sqrt", b.sub(a[0], b.ONE)),
                                                         b.call("sqrt", b.add(a[0], b.ONE))))),
        _unary("atanh", lambda a: np.arctanh(a), lambda a, o: 1.0 / (1.0 - a * a), lambda a, o: f"1/(1 - {a}**2)",
               lambda sp, a: sp.atanh(a),
               undefined=_outside(-1.0, 1.0, "inverse hyperbolic tangent of a number outside (-1, 1)", closed=False),
               formula="inverse hyperbolic tangent",
           derivative=lambda i, a, o: b.div(b.ONE, b.sub(b.ONE, b.power(a[0], b.number(2))))),
        _unary("log1p", lambda a: np.log1p(a), lambda a, o: 1.0 / (1.0 + a), lambda a, o: f"1/(1 + {a})",
               lambda sp, a: sp.log(1 + a),
               undefined=_outside(-1.0, math.inf, "log1p of a number at or below -1", closed=False),
               formula="log(1 + z), exact for small z",
           derivative=lambda i, a, o: b.div(b.ONE, b.add(b.ONE, a[0]))),
        _unary("expm1", lambda a: np.expm1(a), lambda a, o: o + 1.0, lambda a, o: f"exp({a})",
               lambda sp, a: sp.exp(a) - 1, formula="e**z - 1, exact for small z",
           derivative=lambda i, a, o: b.add(o, b.ONE)),
        _unary("erf", _erf, lambda a, o: 2.0 / math.sqrt(math.pi) * np.exp(-a * a),
               lambda a, o: f"2*exp(-{a}**2)/sqrt(pi)", lambda sp, a: sp.erf(a), formula="the error function",
           derivative=lambda i, a, o: b.mul(b.number(2 / math.sqrt(math.pi)),
                                            b.call("exp", b.neg(b.power(a[0], b.number(2)))))),
        _unary("sigmoid", _sigmoid, lambda a, o: _sigmoid_slope(a),
               lambda a, o: f"{o}*(1 - {o})",
               lambda sp, a: 1 / (1 + sp.exp(-a)), formula="1/(1 + e**-z)", latex_by_name=True,
           derivative=lambda i, a, o: b.call("sigmoid_slope", a[0])),
        _unary("relu", lambda a: np.maximum(a, 0.0), lambda a, o: (a > 0).astype(np.float64),
               lambda a, o: f"step({a})",
               lambda sp, a: kinks.forms().Max(0, a), kink=_at_zero, exact=True,
               formula="max(z, 0) (derivative 0 at z = 0)", latex_by_name=True,
           derivative=lambda i, a, o: b.call("step", a[0])),
        _unary("softplus", lambda a: np.logaddexp(0.0, a), lambda a, o: _sigmoid(a),
               lambda a, o: f"sigmoid({a})", lambda sp, a: sp.log(1 + sp.exp(a)),
               formula="log(1 + e**z)", latex_by_name=True,
           derivative=lambda i, a, o: b.call("sigmoid", a[0])),
        Op("max", 2, lambda a, b: np.maximum(a, b), lambda i, a, o: _max_slope(i, a, np.greater),
           lambda i, a, o: f"({a[i]} > {a[1 - i]})", lambda sp, a, b: kinks.forms().Max(a, b),
           kink=lambda a: np.asarray(a[0]) == np.asarray(a[1]), exact=True,
           formula="the larger of a and b, elementwise (derivative 0 to both at a tie)",
           derivative=lambda i, a, o: b.call("step", b.sub(a[i], a[1 - i]))),
        Op("min", 2, lambda a, b: np.minimum(a, b), lambda i, a, o: _max_slope(i, a, np.less),
           lambda i, a, o: f"({a[i]} < {a[1 - i]})", lambda sp, a, b: kinks.forms().Min(a, b),
           kink=lambda a: np.asarray(a[0]) == np.asarray(a[1]), exact=True,
           formula="the smaller of a and b, elementwise (derivative 0 to both at a tie)",
           derivative=lambda i, a, o: b.call("step", b.sub(a[1 - i], a[i]))),
        # ---- what derivatives are made of (derivative graphs only; not callable from a model) ----
        Op("onehot", 2, lambda y, k: (np.asarray(y) == k).astype(np.float64), lambda i, a, o: 0.0,
           lambda i, a, o: "0", lambda sp, y, k: sp.Piecewise((1, sp.Eq(y, k)), (0, True)), user=False,
           derivative=lambda i, a, o: b.ZERO),
        Op("sign", 1, lambda a: np.sign(a), lambda i, a, o: 0.0, lambda i, a, o: "0",
           lambda sp, a: kinks.forms().sign(a),
           user=False, kink=_at_zero, exact=True, derivative=lambda i, a, o: b.ZERO),
        Op("step", 1, lambda a: (np.asarray(a) > 0).astype(np.float64), lambda i, a, o: 0.0, lambda i, a, o: "0",
           lambda sp, a: kinks.forms().Heaviside(a, 0), user=False, kink=_at_zero, exact=True,
           derivative=lambda i, a, o: b.ZERO),
        Op("sigmoid_slope", 1, _sigmoid_slope, lambda i, a, o: o * (1.0 - 2.0 * _sigmoid(a[0])),
           lambda i, a, o: f"{o}*(1 - 2*sigmoid({a[0]}))", lambda sp, a: sp.exp(-a) / (1 + sp.exp(-a)) ** 2,
           user=False,
           derivative=lambda i, a, o: b.mul(o, b.sub(b.ONE, b.mul(b.number(2), b.call("sigmoid", a[0]))))),
        Op("huber_slope", 2, lambda r, d: np.clip(r, -d, d),
           lambda i, a, o: _inside(a[0], a[1]) if i == 0 else np.sign(a[0]) * (1.0 - _inside(a[0], a[1])),
           lambda i, a, o: f"inside({a[0]}, {a[1]})" if i == 0 else f"sign({a[0]})*(1 - inside({a[0]}, {a[1]}))",
           lambda sp, r, d: sp.Piecewise((r, kinks.forms().Abs(r) <= d), (d * kinks.forms().sign(r), True)), user=False,
           derivative=lambda i, a, o: (b.call("inside", a[0], a[1]) if i == 0 else
                                       b.mul(b.call("sign", a[0]), b.sub(b.ONE, b.call("inside", a[0], a[1]))))),
        Op("inside", 2, lambda r, d: _inside(r, d), lambda i, a, o: 0.0, lambda i, a, o: "0",
           lambda sp, r, d: sp.Piecewise((1, kinks.forms().Abs(r) <= d), (0, True)), user=False,
           derivative=lambda i, a, o: b.ZERO),
        Op("xlogy", 2, _xlogy, lambda i, a, o: np.log(a[1]) if i == 0 else a[0] / a[1],
           lambda i, a, o: f"log({a[1]})" if i == 0 else f"{a[0]}/{a[1]}", lambda sp, x, y: x * sp.log(y), user=False,
           undefined=lambda a: [((np.asarray(a[0]) != 0) & (np.asarray(a[1]) <= 0), "log of a non-positive number")],
           derivative=lambda i, a, o: b.call("log", a[1]) if i == 0 else b.div(a[0], a[1])),
        # ---- losses' own operations (not callable from a model) ----
        Op("huber", 2, _huber,
           lambda i, a, o: (np.clip(a[0], -a[1], a[1]) if i == 0
                            else np.where(np.abs(a[0]) <= a[1], 0.0, np.abs(a[0]) - a[1])),
           lambda i, a, o: f"clip({a[0]}, -{a[1]}, {a[1]})" if i == 0 else f"max(|{a[0]}| - {a[1]}, 0)",
           _sympy_huber, user=False,
           derivative=lambda i, a, o: (b.call("huber_slope", a[0], a[1]) if i == 0
                                       else b.call("relu", b.sub(b.call("abs", a[0]), a[1])))),
        Op("bce", 2, _bce,
           lambda i, a, o: _bce_slope(a[0], a[1]) if i == 0 else np.log1p(-a[0]) - np.log(a[0]),
           lambda i, a, o: f"({a[0]} - {a[1]})/({a[0]}*(1 - {a[0]}))" if i == 0 else f"log(1 - {a[0]}) - log({a[0]})",
           _sympy_bce, user=False,
           undefined=_bce_undefined,
           derivative=lambda i, a, o: (b.div(b.sub(a[0], a[1]), b.mul(a[0], b.sub(b.ONE, a[0]))) if i == 0
                                       else b.sub(b.call("log1p", b.neg(a[0])), b.call("log", a[0])))),
        Op("bce_logit", 2, _bce_logit,
           lambda i, a, o: _sigmoid(a[0]) - a[1] if i == 0 else -a[0],
           lambda i, a, o: f"sigmoid({a[0]}) - {a[1]}" if i == 0 else f"-{a[0]}",
           lambda sp, z, y: sp.log(1 + sp.exp(z)) - y * z, user=False,
           derivative=lambda i, a, o: b.sub(b.call("sigmoid", a[0]), a[1]) if i == 0 else b.neg(a[0])),
    ]
}

# Binary operators as Python's ast spells them; `^` is power, never XOR.
INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
