"""Targets 1 and 2: gradient throughput against hand-written NumPy, PyTorch eager and jitted JAX,
and the cost of the backward sweep relative to the forward pass.

Every contender computes the gradient of the same mean loss over the same float64 data:
- gradcli: gradcli.gradients(model, "mse", data=columns, params=..., engines=("backprop",)),
  the whole API call (parsing, checks, graph, sweep);
- hand-written NumPy: the gradient worked out by hand over a matrix X (X @ w, X.T @ r);
- PyTorch eager and jax.jit(jax.value_and_grad(...)) on the per-column expression as the user
  writes it (b + w1*x1 + ...), columns as separate arrays.
Before timing, each contender's gradient is checked against gradcli's.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import Row, interleaved

HIDDEN = 4  # tanh units in the non-linear model


@dataclass
class Case:
    name: str
    model: str  # gradcli's text
    expression: Callable[[dict[str, Any], list[Any], Any], Any]  # the same model over columns, for torch/jax
    hand: Callable[[Data], tuple[float, dict[str, float]]]  # the hand-written NumPy loss and gradient
    params: dict[str, float]


@dataclass
class Data:
    columns: dict[str, np.ndarray]  # x1..xd and y, each its own contiguous array
    X: np.ndarray  # the same inputs as one (N, d) matrix, for the hand-written gradient
    y: np.ndarray
    params: dict[str, float]


def make_data(rows: int, inputs: int, params: dict[str, float], seed: int = 1) -> Data:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, inputs))
    y = rng.uniform(size=rows)
    columns = {f"x{i + 1}": np.ascontiguousarray(X[:, i]) for i in range(inputs)}
    columns["y"] = y
    return Data(columns, X, y, params)


def linear_case(inputs: int) -> Case:
    rng = np.random.default_rng(inputs)
    params = {"b": 0.1, **{f"w{i + 1}": float(v) for i, v in enumerate(rng.normal(0, 0.3, inputs))}}

    def expression(p: dict[str, Any], x: list[Any], ops: Any) -> Any:
        yhat = p["b"]
        for i, column in enumerate(x):
            yhat = yhat + p[f"w{i + 1}"] * column
        return yhat

    def hand(data: Data) -> tuple[float, dict[str, float]]:
        w = np.array([data.params[f"w{i + 1}"] for i in range(inputs)])
        r = data.X @ w + data.params["b"] - data.y
        grad_w = (2.0 / len(r)) * (data.X.T @ r)
        return float(r @ r) / len(r), {"b": 2.0 * float(r.mean()),
                                       **{f"w{i + 1}": float(g) for i, g in enumerate(grad_w)}}

    model = "b + " + " + ".join(f"w{i + 1}*x{i + 1}" for i in range(inputs))
    return Case(f"linear d={inputs}", model, expression, hand, params)


def nonlinear_case(inputs: int) -> Case:
    """sigmoid(c + sum_j v_j * tanh(a_j + sum_i u_j_i * x_i)): a tanh layer, then a sigmoid."""
    rng = np.random.default_rng(7)
    params = {"c": 0.1}
    for j in range(1, HIDDEN + 1):
        params[f"a{j}"] = float(rng.normal(0, 0.1))
        params.update({f"u{j}_{i}": float(rng.normal(0, 0.3)) for i in range(1, inputs + 1)})
        params[f"v{j}"] = float(rng.normal(0, 0.5))

    def expression(p: dict[str, Any], x: list[Any], ops: Any) -> Any:
        z = p["c"]
        for j in range(1, HIDDEN + 1):
            s = p[f"a{j}"]
            for i, column in enumerate(x, 1):
                s = s + p[f"u{j}_{i}"] * column
            z = z + p[f"v{j}"] * ops.tanh(s)
        return ops.sigmoid(z)

    def hand(data: Data) -> tuple[float, dict[str, float]]:
        p = data.params
        U = np.array([[p[f"u{j}_{i}"] for i in range(1, inputs + 1)] for j in range(1, HIDDEN + 1)])
        a = np.array([p[f"a{j}"] for j in range(1, HIDDEN + 1)])
        v = np.array([p[f"v{j}"] for j in range(1, HIDDEN + 1)])
        T = np.tanh(data.X @ U.T + a)
        z = T @ v + p["c"]
        s = 1.0 / (1.0 + np.exp(-z))
        r = s - data.y
        dz = (2.0 / len(r)) * r * s * (1.0 - s)
        dS = np.outer(dz, v) * (1.0 - T * T)
        dU, da, dv = dS.T @ data.X, dS.sum(axis=0), T.T @ dz
        grads = {"c": float(dz.sum())}
        for j in range(HIDDEN):
            grads[f"a{j + 1}"] = float(da[j])
            grads.update({f"u{j + 1}_{i + 1}": float(dU[j, i]) for i in range(inputs)})
            grads[f"v{j + 1}"] = float(dv[j])
        return float(r @ r) / len(r), grads

    hidden = " + ".join(
        f"v{j}*tanh(a{j} + " + " + ".join(f"u{j}_{i}*x{i}" for i in range(1, inputs + 1)) + ")"
        for j in range(1, HIDDEN + 1))
    return Case(f"tanh-sigmoid net d={inputs}", f"sigmoid(c + {hidden})", expression, hand, params)


def gradcli_call(case: Case, data: Data) -> Callable[[], dict[str, float]]:
    import gradcli

    def run() -> dict[str, float]:
        report = gradcli.gradients(case.model, "mse", data.columns, case.params, engines=("backprop",))
        return {name: g.backprop_value for name, g in report.gradients.items()}  # type: ignore[misc]

    return run


def torch_call(case: Case, data: Data) -> Callable[[], dict[str, float]] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    names = list(case.params)
    x = [torch.from_numpy(data.columns[f"x{i + 1}"]) for i in range(data.X.shape[1])]
    y = torch.from_numpy(data.y)
    leaves = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in case.params.items()}

    def run() -> dict[str, float]:
        residual = case.expression(leaves, x, torch) - y
        loss = (residual * residual).mean()
        grads = torch.autograd.grad(loss, [leaves[n] for n in names])
        return dict(zip(names, (float(g) for g in grads)))

    return run


def jax_call(case: Case, data: Data) -> Callable[[], dict[str, float]] | None:
    if importlib.util.find_spec("jax") is None:
        return None
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    class Ops:
        tanh = staticmethod(jnp.tanh)
        sigmoid = staticmethod(jax.nn.sigmoid)

    x = [jnp.asarray(data.columns[f"x{i + 1}"]) for i in range(data.X.shape[1])]
    y = jnp.asarray(data.y)
    params = {name: jnp.float64(value) for name, value in case.params.items()}

    def loss(p: dict[str, Any], x: list[Any], y: Any) -> Any:
        residual = case.expression(p, x, Ops) - y
        return jnp.mean(residual * residual)

    step = jax.jit(jax.value_and_grad(loss))

    def run() -> dict[str, float]:
        value, grads = step(params, x, y)
        value.block_until_ready()
        return {name: float(g) for name, g in grads.items()}

    return run


def agree(a: dict[str, float], b: dict[str, float]) -> bool:
    return all(np.isclose(a[n], b[n], rtol=1e-7, atol=1e-12) for n in a)


def compare(case: Case, rows: int, inputs: int, repeat: int, limits: dict[str, float | None],
            contenders: tuple[str, ...] = ("numpy", "torch", "jax")) -> list[Row]:
    """Rows for one case: gradcli against each available contender, every gradient checked first."""
    data = make_data(rows, inputs, case.params)
    ours = gradcli_call(case, data)
    expected = ours()
    calls: dict[str, Callable[[], Any]] = {"gradcli": ours}
    skipped = []
    builders = {"numpy": lambda: (lambda: case.hand(data)[1]), "torch": lambda: torch_call(case, data),
                "jax": lambda: jax_call(case, data)}
    for name in contenders:
        call = builders[name]()
        if call is None:
            skipped.append(name)
            continue
        if not agree(expected, call()):
            raise SystemExit(f"benchmark {case.name}: {name}'s gradient differs from gradcli's")
        calls[name] = call
    times = interleaved(calls, repeat)
    label = f"{case.name}, N={rows:.0e}".replace("e+0", "e")
    reference_names = {"numpy": "hand NumPy", "torch": "PyTorch eager", "jax": "JAX jit"}
    rows_out = []
    for name in contenders:
        rows_out.append(Row("1", f"gradient {label} vs {reference_names[name]}", "ms", times["gradcli"],
                            reference_names[name], times.get(name), limits.get(name),
                            "not installed: pip install '.[bench]'" if name in skipped else ""))
    return rows_out


def throughput(quick: bool) -> list[Row]:
    repeat = 5 if quick else 15
    rows = compare(linear_case(10), 1_000_000, 10, repeat, {"numpy": 1.2, "torch": 1.0, "jax": 2.0})
    if not quick:
        rows += compare(linear_case(10), 100_000, 10, repeat, {})
    for d in (2, 50, 200):
        contenders = ("numpy",) if quick else ("numpy", "torch", "jax")
        rows += compare(linear_case(d), 100_000, d, repeat, {}, contenders=contenders)
    rows += compare(nonlinear_case(10), 100_000 if quick else 1_000_000, 10, 3 if quick else 7, {})
    return rows


def cheap_gradient(quick: bool) -> list[Row]:
    """Forward + reverse sweep against the forward pass alone, through the same compiled sweep."""
    from gradcli.engines.graph import build_graph
    from gradcli.engines.sweep import compile_plan, run
    from gradcli.setup import prepare

    rows_out = []
    n = 100_000 if quick else 400_000
    for case, d in [*((linear_case(d), d) for d in (2, 10, 50, 200)), (nonlinear_case(10), 10)]:
        data = make_data(n, d, case.params)
        setup = prepare(case.model, "mse", data.columns, case.params)
        graph = build_graph(setup.problem)
        both, alone = compile_plan(graph, setup.chosen), compile_plan(graph, [])
        # timed in this iteration; the defaults bind this iteration's values (late binding would not bite here)
        times = interleaved({
            "both": lambda both=both, setup=setup: run(both, setup.values, setup.columns, n),
            "forward": lambda alone=alone, setup=setup: run(alone, setup.values, setup.columns, n),
        }, 5 if quick else 15)
        rows_out.append(Row("2", f"forward+backward vs forward, {case.name}, N={n:.0e}".replace("e+0", "e"), "ms",
                            times["both"], "forward alone", times["forward"], 2.0))
    return rows_out
