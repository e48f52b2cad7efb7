"""Tests of the operations table (gradcli.language.ops.OPS).

Every entry is checked, by looping over the table, so a new operation is
covered as soon as it is added:

- its hand-written local derivative ``op.local(i, args, out)`` against central
  finite differences of ``op.forward`` at random points inside its domain;
- its SymPy counterpart ``op.sympy(sympy, *symbols)`` against ``op.forward``
  at the same points (the two engines must speak of the same function), and
  SymPy's own derivative of that counterpart against ``op.local``;
- its ``undefined`` and ``kink`` declarations against what ``forward`` does.

Then the numerical-stability promises: sigmoid, softplus and bce_logit at
extreme arguments, and the kink convention (derivative 0 at exactly 0).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable

import numpy as np
import pytest
import sympy as sp

from gradcli.language.ops import OPS, Op

N_POINTS = 8
FD_RTOL, FD_ATOL = 2e-6, 2e-7
SYMPY_RTOL, SYMPY_ATOL = 1e-12, 1e-13

Sampler = Callable[[np.random.Generator, int], tuple[np.ndarray, ...]]


def _uniform(lo: float, hi: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, n: rng.uniform(lo, hi, n)


def _away_from_zero(lo: float, hi: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Magnitudes in [lo, hi], both signs (for kinks and denominators)."""

    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        signs = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        return signs * rng.uniform(lo, hi, n)

    return sample


def _unit_interval_with_ends(rng: np.random.Generator, n: int) -> np.ndarray:
    """Targets in [0, 1], including exactly 0 and exactly 1 (special-cased branches)."""
    y = rng.uniform(0.0, 1.0, n)
    y[0], y[1] = 0.0, 1.0
    return y


def _args(*parts: Callable[[np.random.Generator, int], np.ndarray]) -> Sampler:
    return lambda rng, n: tuple(part(rng, n) for part in parts)


def _huber_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Half the points with |r| < delta, half with |r| > delta, both signs, none near the switch."""
    d = rng.uniform(0.5, 2.0, n)
    inside = np.arange(n) % 2 == 0
    factor = np.where(inside, rng.uniform(0.05, 0.9, n), rng.uniform(1.1, 3.0, n))
    sign = np.where((np.arange(n) // 2) % 2 == 0, 1.0, -1.0)
    r = sign * factor * d
    assert inside.any() and (~inside).any()
    return r, d


# Points strictly inside each operation's domain (and away from kinks).
DOMAINS: dict[str, Sampler] = {
    "add": _args(_uniform(-2, 2), _uniform(-2, 2), _uniform(-2, 2)),  # n-ary: three arguments
    "sub": _args(_uniform(-2, 2), _uniform(-2, 2)),
    "mul": _args(_uniform(-2, 2), _uniform(-2, 2)),
    "div": _args(_uniform(-2, 2), _away_from_zero(0.3, 2.0)),
    "pow": _args(_uniform(0.3, 2.5), _uniform(-2.0, 3.0)),  # positive base
    "neg": _args(_uniform(-2, 2)),
    "identity": _args(_uniform(-2, 2)),
    "exp": _args(_uniform(-3, 3)),
    "log": _args(_uniform(0.2, 3.0)),
    "sqrt": _args(_uniform(0.2, 3.0)),
    "abs": _args(_away_from_zero(0.1, 2.0)),
    "sin": _args(_uniform(-3, 3)),
    "cos": _args(_uniform(-3, 3)),
    "tan": _args(_uniform(-1.2, 1.2)),
    "tanh": _args(_uniform(-3, 3)),
    "sinh": _args(_uniform(-3, 3)),
    "cosh": _args(_uniform(-3, 3)),
    "asin": _args(_uniform(-0.9, 0.9)),
    "acos": _args(_uniform(-0.9, 0.9)),
    "atan": _args(_uniform(-3, 3)),
    "asinh": _args(_uniform(-3, 3)),
    "acosh": _args(_uniform(1.1, 4.0)),
    "atanh": _args(_uniform(-0.9, 0.9)),
    "log1p": _args(_uniform(-0.9, 3.0)),
    "expm1": _args(_uniform(-3, 3)),
    "erf": _args(_uniform(-2.5, 2.5)),
    "sigmoid": _args(_uniform(-5, 5)),
    "relu": _args(_away_from_zero(0.1, 2.0)),
    "softplus": _args(_uniform(-5, 5)),
    "huber": _huber_points,
    "bce": _args(_uniform(0.05, 0.95), _unit_interval_with_ends),
    "bce_logit": _args(_uniform(-5, 5), _unit_interval_with_ends),
}


def _default_domain(op: Op) -> Sampler:
    """For an operation added to the table without a domain here: small positive arguments."""
    count = 3 if op.arity == -1 else op.arity
    return lambda rng, n: tuple(rng.uniform(0.3, 1.8, n) for _ in range(count))


def points_for(op: Op) -> tuple[np.ndarray, ...]:
    sampler = DOMAINS.get(op.name) or _default_domain(op)
    rng = np.random.default_rng(zlib.crc32(op.name.encode()))  # reproducible, different per op
    args = tuple(np.asarray(a, dtype=np.float64) for a in sampler(rng, N_POINTS))
    assert len(args) == (3 if op.arity == -1 else op.arity)
    return args


def local_array(op: Op, i: int, args: tuple[np.ndarray, ...]) -> np.ndarray:
    out = op.forward(*args)
    return np.broadcast_to(np.asarray(op.local(i, args, out), dtype=np.float64), args[0].shape)


def central_difference(op: Op, i: int, args: tuple[np.ndarray, ...]) -> np.ndarray:
    h = 1e-6 * np.maximum(1.0, np.abs(args[i]))
    up = list(args)
    down = list(args)
    up[i] = args[i] + h
    down[i] = args[i] - h
    return (op.forward(*up) - op.forward(*down)) / (2 * h)


ALL_OPS = sorted(name for name, op in OPS.items() if op.elementwise)  # tensor ops: tests/language/test_tensor_ops.py


def test_the_table_has_the_operations_the_engines_need():
    for name in ["add", "sub", "mul", "div", "pow", "neg", "identity", "exp", "log", "sqrt", "abs",
                 "sin", "cos", "tan", "tanh", "sigmoid", "relu", "softplus", "huber", "bce", "bce_logit"]:
        assert name in OPS, name
    for name, op in OPS.items():
        assert op.name == name
        assert op.arity == -1 or op.arity >= 1


@pytest.mark.parametrize("name", ALL_OPS)
def test_domain_points_are_finite(name):
    """Sanity check of the chosen points: forward and local derivatives are finite there."""
    op = OPS[name]
    args = points_for(op)
    out = np.asarray(op.forward(*args), dtype=np.float64)
    assert out.shape == args[0].shape
    assert np.isfinite(out).all()
    for i in range(len(args)):
        assert np.isfinite(local_array(op, i, args)).all(), (name, i)


@pytest.mark.parametrize("name", ALL_OPS)
def test_local_derivative_matches_finite_differences(name):
    op = OPS[name]
    args = points_for(op)
    for i in range(len(args)):
        analytic = local_array(op, i, args)
        numeric = central_difference(op, i, args)
        np.testing.assert_allclose(
            analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL,
            err_msg=f"d {name} / d arg{i} disagrees with finite differences at {args}",
        )


# What the local derivatives' formulas (op.local_text, shown by explain and graph) call, in NumPy.
FORMULA_NAMES = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "sign": np.sign, "step": lambda z: (z > 0).astype(np.float64), "clip": np.clip, "max": np.maximum,
    "abs": np.abs, "pi": math.pi, "inside": lambda r, d: (np.abs(r) <= d).astype(np.float64),
}


@pytest.mark.parametrize("name", ALL_OPS)
def test_local_derivative_formula_is_the_local_derivative(name):
    """The formula explain and graph show (in the arguments' names and the output's) is the number
    the sweep uses: evaluated at the same points, op.local_text gives op.local."""
    import re

    op = OPS[name]
    args = points_for(op)
    names = [f"u{i}" for i in range(len(args))]
    out = np.asarray(op.forward(*args), dtype=np.float64)
    scope = {**FORMULA_NAMES, **dict(zip(names, args)), "v": out}
    for i in range(len(args)):
        text = op.local_text(i, names, "v")
        python = re.sub(r"\|([^|]+)\|", r"abs(\1)", text)  # |a| - d, as huber writes it
        value = eval(python, {"__builtins__": {}}, scope)  # noqa: S307 (the table's own formulas)
        np.testing.assert_allclose(np.broadcast_to(value, out.shape), local_array(op, i, args), rtol=1e-12,
                                   atol=1e-14, err_msg=f"{name} arg{i}: {text}")


def test_sigmoid_and_tanh_derivatives_are_written_in_their_output():
    # a = sigmoid(z): da/dz = a*(1 - a); a = tanh(z): da/dz = 1 - a**2, as they are taught.
    assert OPS["sigmoid"].local_text(0, ["a1"], "a2") == "a2*(1 - a2)"
    assert OPS["tanh"].local_text(0, ["a1"], "yhat") == "1 - yhat**2"


def _symbols(count: int) -> list[sp.Symbol]:
    return [sp.Symbol(f"a{i}", real=True) for i in range(count)]


def _evaluate(expr: sp.Expr, symbols: list[sp.Symbol], point: tuple[float, ...]) -> float:
    values = {s: sp.Float(repr(float(v)), 40) for s, v in zip(symbols, point)}
    value = expr.subs(values).evalf(30)
    return float(value)


@pytest.mark.parametrize("name", ALL_OPS)
def test_sympy_counterpart_is_the_same_function(name):
    """op.sympy evaluated (in high precision) where op.forward is evaluated gives the same number."""
    op = OPS[name]
    args = points_for(op)
    symbols = _symbols(len(args))
    expr = op.sympy(sp, *symbols)
    forward = np.asarray(op.forward(*args), dtype=np.float64)
    for k in range(N_POINTS):
        point = tuple(float(a[k]) for a in args)
        assert _evaluate(expr, symbols, point) == pytest.approx(forward[k], rel=SYMPY_RTOL, abs=SYMPY_ATOL), (
            name, point)


@pytest.mark.parametrize("name", ALL_OPS)
def test_sympy_derivative_of_counterpart_matches_local(name):
    """SymPy's derivative of the counterpart equals the hand-written local derivative."""
    op = OPS[name]
    args = points_for(op)
    symbols = _symbols(len(args))
    expr = op.sympy(sp, *symbols)
    for i, symbol in enumerate(symbols):
        derivative = sp.diff(expr, symbol)
        local = local_array(op, i, args)
        for k in range(N_POINTS):
            point = tuple(float(a[k]) for a in args)
            assert _evaluate(derivative, symbols, point) == pytest.approx(local[k], rel=1e-10, abs=1e-12), (
                name, i, point)


# ---------------------------------------------------------------- undefined and kink declarations


TARGET_SECOND = {"bce", "bce_logit"}


def _wide_points(op: Op) -> tuple[np.ndarray, ...]:
    """Every combination of a grid of arguments that includes 0, negatives, fractions and 1."""
    grid = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0])
    count = 3 if op.arity == -1 else op.arity
    grids = [grid] * count
    if op.name in TARGET_SECOND:  # targets outside [0, 1] are rejected with the data, before any op runs
        grids[1] = grid[(grid >= 0) & (grid <= 1)]
    mesh = np.meshgrid(*grids, indexing="ij")
    return tuple(m.ravel() for m in mesh)


@pytest.mark.parametrize("name", ALL_OPS)
def test_undefined_declaration_covers_every_non_finite_value(name):
    """Where forward gives nan or inf at modest arguments, op.undefined names a reason."""
    op = OPS[name]
    args = _wide_points(op)
    with np.errstate(all="ignore"):
        out = np.broadcast_to(np.asarray(op.forward(*args), dtype=np.float64), args[0].shape)
    bad = ~np.isfinite(out)
    if op.undefined is None:
        assert not bad.any(), f"{name} has no `undefined` rule but is not finite at {[a[bad] for a in args]}"
        return
    flagged = np.zeros_like(bad)
    for mask, reason in op.undefined(args):
        assert isinstance(reason, str) and reason
        flagged |= np.broadcast_to(mask, bad.shape)
    assert not (bad & ~flagged).any(), [a[bad & ~flagged] for a in args]


@pytest.mark.parametrize("name", [n for n in ALL_OPS if OPS[n].undefined is not None])
def test_undefined_declaration_is_quiet_inside_the_domain(name):
    op = OPS[name]
    args = points_for(op)
    for mask, reason in op.undefined(args):
        assert not np.broadcast_to(mask, args[0].shape).any(), (name, reason)


def test_undefined_reasons_for_typical_bad_points():
    def reasons(name, *values):
        args = tuple(np.array([v], dtype=np.float64) for v in values)
        return [why for mask, why in OPS[name].undefined(args) if np.asarray(mask).any()]

    assert reasons("log", 0.0) and reasons("log", -1.0) and not reasons("log", 1e-300)
    assert reasons("sqrt", -1e-9) and not reasons("sqrt", 0.0)
    assert reasons("div", 1.0, 0.0) and not reasons("div", 0.0, 1.0)
    assert any("fractional" in r for r in reasons("pow", -2.0, 0.5))
    assert not reasons("pow", -2.0, 3.0)
    assert any("negative power" in r for r in reasons("pow", 0.0, -1.0))
    assert any("[0, 1]" in r for r in reasons("bce", 1.5, 1.0))
    assert any("[0, 1]" in r for r in reasons("bce", -0.1, 0.0))
    assert reasons("bce", 0.0, 1.0) and reasons("bce", 1.0, 0.0)
    assert not reasons("bce", 0.0, 0.0) and not reasons("bce", 1.0, 1.0)


@pytest.mark.parametrize("name", [n for n in ALL_OPS if OPS[n].kink is not None and OPS[n].arity == 1])
def test_kink_declaration_flags_exactly_zero(name):
    op = OPS[name]
    x = np.array([-1.0, -1e-300, 0.0, -0.0, 1e-300, 2.0])
    flagged = np.broadcast_to(op.kink((x,)), x.shape)
    assert flagged.tolist() == [False, False, True, True, False, False]
    assert local_array(op, 0, (x,))[2:4].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_kink_at_a_tie_where_both_slopes_are_0(name):
    op = OPS[name]
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0])
    assert np.asarray(op.kink((a, b))).tolist() == [False, True, False]
    wins_a = [False, False, True] if name == "max" else [True, False, False]
    assert local_array(op, 0, (a, b)).tolist() == [float(w) for w in wins_a]
    assert local_array(op, 1, (a, b)).tolist() == [float(not w and i != 1) for i, w in enumerate(wins_a)]


def test_only_abs_and_relu_have_kinks():
    # sign and step are abs's and relu's derivatives, in derivative graphs: the same kinks, one order on
    assert {n for n, op in OPS.items() if op.kink is not None} == {"abs", "relu", "sign", "step", "max", "min"}


# ---------------------------------------------------------------- stability


def test_sigmoid_is_finite_and_bounded_at_extremes():
    op = OPS["sigmoid"]
    z = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # the stable form never overflows
        out = op.forward(z)
        slope = local_array(op, 0, (z,))
    assert np.isfinite(out).all() and (out >= 0).all() and (out <= 1).all()
    assert out[0] == pytest.approx(0.0, abs=1e-300) and out[-1] == 1.0
    assert out[2] == 0.5
    assert out[1] == pytest.approx(math.exp(-40) / (1 + math.exp(-40)), rel=1e-14)
    assert np.isfinite(slope).all() and (slope >= 0).all()
    assert slope[2] == 0.25
    assert slope[1] == pytest.approx(math.exp(-40), rel=1e-12)  # not rounded to 0 via s*(1-s)
    assert slope[3] == pytest.approx(math.exp(-40), rel=1e-12)


def test_softplus_is_stable_at_extremes():
    op = OPS["softplus"]
    z = np.array([-800.0, 0.0, 800.0])
    out = op.forward(z)
    assert np.isfinite(out).all()
    assert out[2] == pytest.approx(800.0, rel=1e-15)
    assert 0.0 <= out[0] < 1e-300
    assert out[1] == pytest.approx(math.log(2.0), rel=1e-15)
    slope = local_array(op, 0, (z,))
    assert slope.tolist() == pytest.approx([0.0, 0.5, 1.0], abs=1e-300)


def test_bce_logit_is_stable_at_extremes():
    op = OPS["bce_logit"]
    z = np.array([40.0, -40.0, 800.0, -800.0, 40.0])
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0])
    out = op.forward(z, y)
    assert np.isfinite(out).all()
    assert out[0] == pytest.approx(40.0, rel=1e-15)
    assert out[1] == pytest.approx(40.0, rel=1e-15)
    assert out[2] == pytest.approx(800.0, rel=1e-15)
    assert out[3] == pytest.approx(800.0, rel=1e-15)
    assert out[4] == pytest.approx(math.exp(-40), rel=1e-12)  # a confident right answer: tiny, not 0
    dz = local_array(op, 0, (z, y))
    assert dz.tolist() == pytest.approx([1.0, -1.0, 1.0, -1.0, 0.0], abs=1e-15)


def test_bce_logit_equals_bce_of_sigmoid_where_both_are_accurate():
    z = np.linspace(-6, 6, 13)
    for y_value in (0.0, 0.3, 1.0):
        y = np.full_like(z, y_value)
        p = OPS["sigmoid"].forward(z)
        np.testing.assert_allclose(OPS["bce_logit"].forward(z, y), OPS["bce"].forward(p, y), rtol=1e-12)
        # chain rule through sigmoid gives bce_logit's slope
        chained = local_array(OPS["bce"], 0, (p, y)) * local_array(OPS["sigmoid"], 0, (z,))
        np.testing.assert_allclose(local_array(OPS["bce_logit"], 0, (z, y)), chained, rtol=1e-10, atol=1e-14)


def test_bce_at_its_edges_uses_the_limit_of_x_log_x():
    op = OPS["bce"]
    p = np.array([0.0, 1.0])
    y = np.array([0.0, 1.0])
    assert op.forward(p, y).tolist() == [0.0, 0.0]
    assert local_array(op, 0, (p, y)).tolist() == [1.0, -1.0]
    assert np.isnan(op.forward(np.array([1.2, -0.2]), np.array([1.0, 0.0]))).all()


@pytest.mark.parametrize("name", ["abs", "relu"])
def test_kink_local_derivative_is_zero_at_zero(name):
    op = OPS[name]
    for zero in (np.float64(0.0), np.array([0.0]), np.array([-1.0, 0.0, 1.0])):
        args = (zero,)
        value = np.asarray(op.local(0, args, op.forward(*args)))
        assert np.all(value[np.asarray(zero) == 0] == 0.0)
    assert local_array(op, 0, (np.array([-1.0, 1.0]),)).tolist() == ([-1.0, 1.0] if name == "abs" else [0.0, 1.0])


@pytest.mark.parametrize("name", ["abs", "relu"])
def test_kink_sympy_derivative_is_zero_at_zero(name):
    """The symbolic engine's counterpart follows the same convention at the kink."""
    a = sp.Symbol("a", real=True)
    derivative = sp.diff(OPS[name].sympy(sp, a), a)
    assert float(derivative.subs(a, 0)) == 0.0
    assert float(derivative.subs(a, sp.Rational(1, 2))) == 1.0


def test_pow_slope_for_a_zero_exponent_is_zero_even_at_zero_base():
    op = OPS["pow"]
    a = np.array([0.0, 2.0, -3.0])
    b = np.zeros(3)
    assert local_array(op, 0, (a, b)).tolist() == [0.0, 0.0, 0.0]
    # and integer exponents of negative or zero bases are fine
    assert local_array(op, 0, (np.array([-2.0, 0.0]), np.array([3.0, 2.0]))).tolist() == [12.0, 0.0]
