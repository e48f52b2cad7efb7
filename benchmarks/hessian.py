"""Target 8: the Hessian of a 50-parameter model's mean loss over 1e5 rows.

Two models, b + w1*x1 + ... + w49*x49 under mse and sigmoid(b + w1*x1 + ...) under bce, the
Problem built by gradcli.setup.prepare as the API does:
- one Hessian-vector product, gradcli.engines.derivative.hessian_vector_product (backprop through
  the derivative graph of the directional derivative), against one gradient of the same loss by
  the same compiled sweep (sweep.run on compile_plan(build_graph(problem), names)): limit 4x;
- the full Hessian, derivative.hessian_rows (one sweep per parameter), against
  torch.autograd.functional.hessian and jax.jit(jax.hessian(f)) on the same per-column function of
  one float64 vector of the 50 parameters: target 1.5x JAX, PyTorch reported. The target's JAX
  is given the model as gradcli is, column by column (as in target 1); JAX given the columns as one
  matrix (z = b + X @ w, which XLA turns into matrix products) is reported beside it.
Only the evaluation is timed: gradcli's derivative graphs and plans are built by the first call and
kept (as JAX's jit compiles once); building them is its own "report" row. Before timing, H v is
checked against the full matrix times v, and each contender's matrix against gradcli's.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import Row, interleaved
from .gradient import make_data

INPUTS = 49  # with the intercept, 50 parameters


@dataclass
class Case:
    name: str
    model: str
    loss: str

    def per_row(self, theta: Any, x: list[Any], y: Any, ops: Any) -> Any:
        """The per-row loss as torch or jax would be written by hand over the columns."""
        z = theta[0]
        for i, column in enumerate(x, 1):
            z = z + theta[i] * column
        if self.loss == "mse":
            residual = z - y
            return residual * residual
        return ops.softplus(z) - y * z  # bce(sigmoid(z), y), in the stable form gradcli computes


def cases() -> list[Case]:
    linear = "b + " + " + ".join(f"w{i}*x{i}" for i in range(1, INPUTS + 1))
    return [Case("linear mse", linear, "mse"), Case("logistic bce", f"sigmoid({linear})", "bce")]


def parameters() -> dict[str, float]:
    rng = np.random.default_rng(INPUTS)
    return {"b": 0.1, **{f"w{i}": float(v) for i, v in enumerate(rng.normal(0, 0.3, INPUTS), 1)}}


def torch_hessian(case: Case, theta: np.ndarray, columns: dict[str, np.ndarray]) -> Callable[[], np.ndarray] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    x = [torch.from_numpy(columns[f"x{i}"]) for i in range(1, INPUTS + 1)]
    y = torch.from_numpy(columns["y"])
    start = torch.tensor(theta, dtype=torch.float64)

    class Ops:
        softplus = staticmethod(torch.nn.functional.softplus)

    def f(t: Any) -> Any:
        return case.per_row(t, x, y, Ops).mean()

    return lambda: torch.autograd.functional.hessian(f, start).numpy()


def jax_hessian(case: Case, theta: np.ndarray, columns: dict[str, np.ndarray],
                stacked: bool = False) -> Callable[[], np.ndarray] | None:
    """jax.jit(jax.hessian(f)); stacked: f written over one (N, 49) matrix, z = b + X @ w."""
    if importlib.util.find_spec("jax") is None:
        return None
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    names = [f"x{i}" for i in range(1, INPUTS + 1)]
    x: Any = (jnp.asarray(np.column_stack([columns[n] for n in names])) if stacked
              else [jnp.asarray(columns[n]) for n in names])
    y = jnp.asarray(columns["y"])
    start = jnp.asarray(theta, dtype=jnp.float64)

    class Ops:
        softplus = staticmethod(jax.nn.softplus)

    def f(t: Any, x: Any, y: Any) -> Any:
        if stacked:
            z = t[0] + x @ t[1:]
            per_row = (z - y) * (z - y) if case.loss == "mse" else jax.nn.softplus(z) - y * z
            return jnp.mean(per_row)
        return jnp.mean(case.per_row(t, x, y, Ops))

    hessian = jax.jit(jax.hessian(f))

    def run() -> np.ndarray:
        return np.asarray(hessian(start, x, y).block_until_ready())

    return run


def median_once(make: Callable[[], object], repeat: int) -> float:
    """The median of `repeat` timings of make(), each from nothing (for building, not cached)."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        make()
        times.append(time.perf_counter() - began)
    return float(np.median(times))


def compare(case: Case, rows: int, repeat: int) -> list[Row]:
    from gradcli.engines import derivative
    from gradcli.engines.graph import build_graph
    from gradcli.engines.sweep import compile_plan, run
    from gradcli.language import build
    from gradcli.setup import prepare

    data = make_data(rows, INPUTS, parameters())
    setup = prepare(case.model, case.loss, data.columns, data.params)
    expr, names, values, columns = setup.problem.loss, setup.chosen, setup.values, setup.columns
    assert len(names) == INPUTS + 1
    label = f"{case.name}, 50 params, N={rows:.0e}".replace("e+0", "e")
    vector = list(np.random.default_rng(3).normal(size=len(names)))
    theta = np.array([values[name] for name in names])

    plan = compile_plan(build_graph(setup.problem), names)
    gradient = lambda: run(plan, values, columns, rows)  # noqa: E731
    hvp = lambda: derivative.hessian_vector_product(expr, names, vector, values, columns, rows)  # noqa: E731
    hessian = lambda: derivative.hessian_rows(expr, names, values, columns, rows)[1]  # noqa: E731

    # building: the derivative graph, the directional derivative, its graph and plan (uncached)
    def build_hvp() -> None:
        derivatives = derivative.gradient(expr, names)
        directional = build.add(*(build.mul(build.number(v), derivatives[n]) for n, v in zip(names, vector)))
        derivative.Evaluator.of(directional, names, list(columns)).compile()

    def build_hessian() -> None:
        derivatives = derivative.gradient(expr, names)
        for name in names:
            derivative.Evaluator.of(derivatives[name], names, list(columns)).compile()

    matrix = np.array(hessian())  # also builds and keeps the plans
    scale = float(np.abs(matrix).max())
    product = np.array(hvp())
    if not np.allclose(product, matrix @ np.array(vector), rtol=1e-9, atol=1e-12 * scale):
        raise SystemExit(f"benchmark {label}: the Hessian-vector product differs from the matrix times v")
    if not np.allclose(matrix, matrix.T, rtol=1e-9, atol=1e-12 * scale):
        raise SystemExit(f"benchmark {label}: gradcli's Hessian is not symmetric")

    calls: dict[str, Callable[[], Any]] = {"gradient": gradient, "hvp": hvp, "hessian": hessian}
    skipped = []
    makers = {"torch": torch_hessian, "jax": jax_hessian,
              "jax X": lambda *args: jax_hessian(*args, stacked=True)}
    for name, make in makers.items():
        call = make(case, theta, columns)
        if call is None:
            skipped.append(name)
            continue
        theirs = call()
        if theirs.shape != matrix.shape or not np.allclose(theirs, matrix, rtol=1e-8, atol=1e-11 * scale):
            worst = float(np.abs(theirs - matrix).max()) if theirs.shape == matrix.shape else float("nan")
            raise SystemExit(f"benchmark {label}: {name}'s Hessian differs from gradcli's (max |diff| {worst:.3g})")
        calls[name] = call
    times = interleaved(calls, repeat)
    built_hvp = median_once(build_hvp, repeat)
    built_hessian = median_once(build_hessian, max(1, repeat // 2))

    missing = "not installed: pip install '.[bench]'"
    return [
        Row("8", f"one Hessian-vector product, {label}", "ms", times["hvp"], "one gradient", times["gradient"], 4.0),
        Row("8", "  building its derivative graph and plan (once; kept after)", "ms", built_hvp,
            "one gradient", times["gradient"]),
        Row("8", f"full Hessian (50 sweeps), {label}", "ms", times["hessian"], "JAX jit(hessian)",
            times.get("jax"), 1.5, missing if "jax" in skipped else ""),
        Row("8", "  the same", "ms", times["hessian"], "torch.autograd.functional.hessian",
            times.get("torch"), None, missing if "torch" in skipped else ""),
        Row("8", "  the same (JAX given the columns stacked: z = b + X @ w)", "ms", times["hessian"],
            "JAX jit(hessian), X @ w", times.get("jax X"), None, missing if "jax X" in skipped else ""),
        Row("8", "  building its 50 derivative graphs and plans (once; kept after)", "ms", built_hessian,
            "the 50 sweeps", times["hessian"]),
    ]


def hessian_target(quick: bool) -> list[Row]:
    rows, repeat = (10_000, 3) if quick else (100_000, 7)
    return [row for case in cases() for row in compare(case, rows, repeat)]
