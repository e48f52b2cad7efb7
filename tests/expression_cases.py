"""Generated expressions (hypothesis strategies) that several test packages check the engines on."""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

from hypothesis import strategies as st

from gradcli.engines import symbolic

PARAMS = ["w1", "w2", "w3"]
INPUTS = ["x1", "x2"]
SMOOTH = ["exp", "sin", "cos", "tanh", "sigmoid", "softplus"]

_leaves = st.one_of(
    st.sampled_from(PARAMS),
    st.sampled_from(PARAMS + INPUTS),
    st.sampled_from(["0.5", "2", "1.5", "3"]),
)


def _positive(child):
    """Expressions that are positive wherever they are finite (for log, / and a base to a power)."""
    return st.one_of(
        child.map(lambda t: f"(1 + ({t})**2)"),
        child.map(lambda t: f"exp({t})"),
        child.map(lambda t: f"(2 + sin({t}))"),
        child.map(lambda t: f"(1 + sigmoid({t}))"),
        child.map(lambda t: f"(0.5 + softplus({t}))"),
    )


def _extend(child):
    return st.one_of(
        st.tuples(child, st.sampled_from(["+", "-", "*"]), child).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(child, _positive(child)).map(lambda t: f"({t[0]}) / {t[1]}"),
        st.tuples(child, st.integers(1, 3)).map(lambda t: f"({t[0]})**{t[1]}"),
        st.tuples(_positive(child), child).map(lambda t: f"{t[0]}**({t[1]})"),  # a parameter may be the exponent
        st.tuples(st.sampled_from(SMOOTH), child).map(lambda t: f"{t[0]}({t[1]})"),
        _positive(child).map(lambda t: f"log({t})"),
        child.map(lambda t: f"sqrt(1 + ({t})**2)"),
        child.map(lambda t: f"-({t})"),
    )


EXPRESSIONS = st.recursive(_leaves, _extend, max_leaves=8)
PARAM_VALUE = st.floats(-1.5, 1.5, allow_nan=False, allow_subnormal=False)
DATA_VALUE = st.floats(-2.0, 2.0, allow_nan=False, allow_subnormal=False)
PARAM_VALUES = st.fixed_dictionaries({name: PARAM_VALUE for name in PARAMS})
DATA = st.integers(1, 4).flatmap(
    lambda rows: st.fixed_dictionaries(
        {name: st.lists(DATA_VALUE, min_size=rows, max_size=rows) for name in [*INPUTS, "y"]}))
LOSSES = st.sampled_from(["mse", "mae", "huber", "(yhat-y)**4"])


@contextmanager
def plain_formulas():
    """Skip the time-bounded prettifying of formulas (it changes no number), to keep examples fast."""
    with mock.patch.object(symbolic, "PRETTY_SECONDS", 0.0):
        yield


# ---- expressions with kinks (relu, abs, max, min), for the symbolic engine's forms of them
KINKED = ["relu", "abs"]
EXACT = ["-1.5", "-1", "-0.5", "0", "0.5", "1", "2"]  # exact in binary and in decimal: a kink hit is a kink in both

_kinked_leaves = st.one_of(st.sampled_from(PARAMS), st.sampled_from(PARAMS + INPUTS), st.sampled_from(EXACT[3:]))


def _kinked_extend(child):
    return st.one_of(
        st.tuples(child, st.sampled_from(["+", "-", "*"]), child).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(KINKED), child).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["max", "min"]), child, child).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(st.sampled_from(SMOOTH + ["sqrt", "log"]), _positive(child)).map(lambda t: f"{t[0]}({t[1]})"),
        # a kinked operation where SymPy's forms used to break: under a division, a log, a power
        # (undefined where the kink's side is 0, so drawn less often)
        st.one_of(
            st.tuples(child, child).map(lambda t: f"({t[0]}) / (1 + relu({t[1]}))"),
            st.tuples(child, child).map(lambda t: f"({t[0]}) / relu({t[1]})"),
            child.map(lambda t: f"log(relu({t}))"),
            child.map(lambda t: f"log(abs({t}))"),
            st.tuples(child, st.integers(2, 3)).map(lambda t: f"relu({t[0]})**{t[1]}"),
        ),
    )


KINKED_EXPRESSIONS = st.recursive(_kinked_leaves, _kinked_extend, max_leaves=6)
EXACT_VALUE = st.sampled_from([float(v) for v in EXACT])
KINKED_PARAM_VALUES = st.fixed_dictionaries({name: EXACT_VALUE | PARAM_VALUE for name in PARAMS})
KINKED_DATA = st.integers(1, 4).flatmap(
    lambda rows: st.fixed_dictionaries(
        {name: st.lists(EXACT_VALUE | DATA_VALUE, min_size=rows, max_size=rows) for name in [*INPUTS, "y"]}))
KINKED_LOSSES = st.sampled_from(["mse", "mae", "huber", "(yhat-y)**4", "relu(yhat - y)**2 + abs(yhat - y)"])


def positive_sums_and_products(params: list[str]) -> st.SearchStrategy[str]:
    """Sums and products of positive parameters, inputs and constants: nothing in them cancels, so what
    float64 can resolve of each gradient is a few ε of it (the tests of the roundoff bound use them)."""
    leaves = st.sampled_from([*params, *INPUTS, "0.5", "2", "1.5", "3"])
    return st.recursive(
        leaves,
        lambda child: st.tuples(child, st.sampled_from(["+", "*"]), child).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        max_leaves=10)


POSITIVE = st.floats(0.05, 4.0, allow_nan=False, allow_subnormal=False)  # a value for those leaves
