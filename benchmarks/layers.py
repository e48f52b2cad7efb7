"""Target 10: layers: the gradient of a one-hidden-layer tanh network's mean loss, its matrices as parameters.

The model yhat = W2 @ tanh(W1 @ x + b1) + b2 under mse, float64, over seeded data X (N, d) and y (N,),
with W1 (h, d), b1 (h,), W2 (h,) and b2 a scalar; two shapes: d=32, h=64, N=1e5 and d=10, h=16,
N=1e6 (--quick: N/10). Every contender computes the mean loss and its gradient:
- gradcli: gradcli.gradients(MODEL, "mse", data={"x": X, "y": y}, params={"W1": ..., ...},
  engines=("backprop",)), the whole API call; W1's gradient is report.tensors["W1"].backprop_value,
  a nested list (h x d). Until gradcli takes matrix parameters its rows say "skipped" with the reason;
- hand-written NumPy: the forward pass and the backward pass worked out by hand (`hand` below);
- PyTorch eager and jax.jit(jax.value_and_grad(...)) with float64 enabled, on the same matrices.
Before timing, every contender's loss and gradient are checked against the hand-written NumPy ones
(rtol 1e-10; gradcli's too). Also: the gradient against the forward pass alone, for the hand-written
NumPy (reported) and for gradcli (the API call against its sweep of the loss alone), and the peak resident size
of a fresh process taking gradcli's gradient against the size of the data (as target 5 measures it).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import Row, interleaved

MODEL = "W2 @ tanh(W1 @ x + b1) + b2"
NAMES = ("W1", "b1", "W2", "b2")
RTOL = 1e-10
NOT_INSTALLED = "not installed: pip install '.[bench]'"

Result = tuple[float, dict[str, np.ndarray]]  # the mean loss and each parameter's gradient


@dataclass
class Data:
    X: np.ndarray  # (N, d)
    y: np.ndarray  # (N,)
    params: dict[str, Any]  # W1 (h, d), b1 (h,), W2 (h,), b2 a float

    @property
    def label(self) -> str:
        rows, inputs = self.X.shape
        return f"tanh layer d={inputs} h={len(self.params['b1'])}, N={rows:.0e}".replace("e+0", "e")


def make_data(rows: int, inputs: int, hidden: int, seed: int = 1) -> Data:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, inputs))
    y = rng.uniform(size=rows)
    params = {"W1": rng.normal(0, 1 / np.sqrt(inputs), (hidden, inputs)), "b1": rng.normal(0, 0.1, hidden),
              "W2": rng.normal(0, 1 / np.sqrt(hidden), hidden), "b2": 0.1}
    return Data(X, y, params)


def hand(data: Data) -> Result:
    """The forward and backward pass by hand: the reference every contender is checked against."""
    p, X = data.params, data.X
    H = np.tanh(X @ p["W1"].T + p["b1"])
    r = H @ p["W2"] + p["b2"] - data.y
    g = (2.0 / len(r)) * r
    dZ = np.outer(g, p["W2"]) * (1.0 - H * H)
    return float(r @ r) / len(r), {"W1": dZ.T @ X, "b1": dZ.sum(axis=0), "W2": H.T @ g, "b2": np.float64(g.sum())}


def hand_forward(data: Data) -> float:
    p = data.params
    r = np.tanh(data.X @ p["W1"].T + p["b1"]) @ p["W2"] + p["b2"] - data.y
    return float(r @ r) / len(r)


def gradcli_call(data: Data, forward_only: bool = False) -> Callable[[], Result]:
    """The API call; forward_only: the engine's sweep of the loss alone at the same point (the API always
    returns gradients, so the gradient/forward ratio compares the sweep with and without its backward half,
    on the problem the API call prepared)."""
    import gradcli

    columns = {"x": data.X, "y": data.y}
    if forward_only:
        from gradcli.engines.graph import build_graph
        from gradcli.engines.sweep import compile_plan, run
        from gradcli.setup import prepare

        setup = prepare(MODEL, "mse", columns, data.params)
        plan = compile_plan(build_graph(setup.problem), [])

        def forward() -> Result:
            return run(plan, setup.values, setup.columns, setup.rows).loss, {}

        return forward

    def call() -> Result:
        report = gradcli.gradients(MODEL, "mse", data=columns, params=data.params, engines=("backprop",))
        grads = report.tensors.items()  # each parameter as written, its gradient in its shape
        return report.loss_value, {name: np.asarray(g.backprop_value, dtype=float) for name, g in grads}

    return call


def torch_call(data: Data) -> Callable[[], Result] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    X, y = torch.from_numpy(data.X), torch.from_numpy(data.y)
    leaves = [torch.tensor(np.asarray(data.params[name]), dtype=torch.float64, requires_grad=True) for name in NAMES]

    def run() -> Result:
        W1, b1, W2, b2 = leaves
        residual = torch.tanh(X @ W1.T + b1) @ W2 + b2 - y
        loss = (residual * residual).mean()
        grads = torch.autograd.grad(loss, leaves)
        return loss.item(), {name: g.numpy() for name, g in zip(NAMES, grads)}

    return run


def jax_call(data: Data) -> Callable[[], Result] | None:
    if importlib.util.find_spec("jax") is None:
        return None
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)
    params = {name: jnp.asarray(data.params[name], dtype=jnp.float64) for name in NAMES}

    def loss(p: dict[str, Any], X: Any, y: Any) -> Any:
        residual = jnp.tanh(X @ p["W1"].T + p["b1"]) @ p["W2"] + p["b2"] - y
        return jnp.mean(residual * residual)

    step = jax.jit(jax.value_and_grad(loss))

    def run() -> Result:
        value, grads = step(params, X, y)
        value.block_until_ready()
        return float(value), {name: np.asarray(g) for name, g in grads.items()}

    return run


def agree(found: Result, expected: Result, rtol: float = RTOL) -> bool:
    """Loss and every gradient within rtol (an entry near zero: within rtol of its parameter's largest)."""
    (loss, grads), (loss_expected, grads_expected) = found, expected
    if set(grads) != set(grads_expected) or not np.isclose(loss, loss_expected, rtol=rtol, atol=0):
        return False
    for name, want in grads_expected.items():
        got, want = np.asarray(grads[name], dtype=float), np.asarray(want, dtype=float)
        if got.shape != want.shape or not np.allclose(got, want, rtol=rtol, atol=rtol * float(np.abs(want).max())):
            return False
    return True


def refused(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"[:100]


def compare(data: Data, repeat: int, limits: dict[str, float | None]) -> list[Row]:
    """Rows for one shape: gradcli against each reference, and each gradient against its forward pass."""
    expected = hand(data)
    calls: dict[str, Callable[[], Any]] = {"numpy": lambda: hand(data), "numpy forward": lambda: hand_forward(data)}
    skipped = {}
    for name, build in (("torch", torch_call), ("jax", jax_call)):
        call = build(data)
        if call is None:
            skipped[name] = NOT_INSTALLED
            continue
        if not agree(call(), expected):
            raise SystemExit(f"benchmark {data.label}: {name}'s loss or gradient differs from hand NumPy's")
        calls[name] = call
    for name, forward_only in (("gradcli", False), ("gradcli forward", True)):
        call = gradcli_call(data, forward_only)
        try:
            found = call()
        except Exception as err:  # noqa: BLE001 - matrix parameters (or wrt=[]) not taken yet: the row says why
            skipped[name] = f"gradcli: {refused(err)}"
            continue
        if not forward_only and not agree(found, expected):
            raise SystemExit(f"benchmark {data.label}: gradcli's loss or gradient differs from hand NumPy's")
        if forward_only and not np.isclose(found[0], expected[0], rtol=RTOL, atol=0):
            raise SystemExit(f"benchmark {data.label}: gradcli's loss alone differs from hand NumPy's")
        calls[name] = call
    times = interleaved(calls, repeat)
    references = {"numpy": "hand NumPy", "torch": "PyTorch eager", "jax": "JAX jit"}
    rows = []
    for name, reference in references.items():
        note = skipped.get(name) or skipped.get("gradcli", "")
        rows.append(Row("10", f"gradient {data.label} vs {reference}", "ms", times.get("gradcli"), reference,
                        times.get(name), limits.get(name), note))
    rows.append(Row("10", f"forward+backward vs forward, hand NumPy, {data.label}", "ms", times["numpy"],
                    "forward alone", times["numpy forward"]))
    rows.append(Row("10", f"forward+backward vs forward, gradcli, {data.label}", "ms", times.get("gradcli"),
                    "forward alone", times.get("gradcli forward"), limits.get("forward"),
                    skipped.get("gradcli") or skipped.get("gradcli forward", "")))
    return rows


CHILD = r'''
import json, resource, sys
import numpy as np
import gradcli

engine, rows, inputs, hidden = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model = "W2 @ tanh(W1 @ x + b1) + b2"
rng = np.random.default_rng(0)
params = {"W1": rng.normal(0, inputs ** -0.5, (hidden, inputs)), "b1": rng.normal(0, 0.1, hidden),
          "W2": rng.normal(0, hidden ** -0.5, hidden), "b2": 0.1}

def gradient(X, y):
    if engine == "numpy":
        p = params
        H = np.tanh(X @ p["W1"].T + p["b1"])
        r = H @ p["W2"] + p["b2"] - y
        g = (2.0 / len(r)) * r
        dZ = np.outer(g, p["W2"]) * (1.0 - H * H)
        return float(r @ r) / len(r), dZ.T @ X
    report = gradcli.gradients(model, "mse", data={"x": X, "y": y}, params=params, engines=("backprop",))
    return report.loss_value, report.tensors["W1"].backprop_value

try:
    gradient(np.ones((3, inputs)), np.zeros(3))  # every lazy import done before the count
except Exception as err:
    print(json.dumps({"refused": f"{type(err).__name__}: {str(err).strip().splitlines()[0]}"[:100]}))
    sys.exit(0)

def resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()

before = resident()
X = rng.standard_normal((rows, inputs))
y = rng.standard_normal(rows)
loss, _ = gradient(X, y)
with open("/proc/self/status") as status:  # VmHWM: the peak of this process's own memory map
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"before": before, "peak": peak, "data": X.nbytes + y.nbytes, "loss": loss}))
'''


def peak_memory(engine: str, rows: int, inputs: int, hidden: int) -> dict[str, Any]:
    """The child's figures: peak, resident size before the data, the data's bytes; or why gradcli refused."""
    done = subprocess.run([sys.executable, "-c", CHILD, engine, str(rows), str(inputs), str(hidden)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def memory_rows(rows: int, inputs: int, hidden: int, limit: float | None = 2.0, note: str = "") -> list[Row]:
    label = f"d={inputs} h={hidden}, N={rows:.0e}".replace("e+0", "e")
    if not sys.platform.startswith("linux"):
        return [Row("10", f"peak memory of a tanh-layer gradient, {label}", "MB", None, "the data", None, 2.0,
                    "needs Linux /proc")]
    found = []
    for engine, what, most in (("gradcli", "gradcli", limit), ("numpy", "hand NumPy", None)):
        figures = peak_memory(engine, rows, inputs, hidden)
        what = f"peak memory of a tanh-layer gradient, {what}, {label} (+ target)"
        if "refused" in figures:
            found.append(Row("10", what, "MB", None, "the data", None, most, f"gradcli: {figures['refused']}"))
            continue
        found.append(Row("10", what, "MB", (figures["peak"] - figures["before"]) / 1e6, "the data",
                         figures["data"] / 1e6, most, note if engine == "gradcli" else ""))
    return found


def training_step(data: Data, repeat: int) -> Row:
    """One full-batch gradient-descent step of the network: gradcli's Trainer.objective (the tensor
    sweep over the flat vector of entries) and the update, against the hand-written step."""
    from gradcli.setup import prepare
    from gradcli.training.loop import Trainer

    setup = prepare(MODEL, "mse", {"x": data.X, "y": data.y}, data.params)
    trainer = Trainer(setup.problem, setup.columns, setup.rows)
    theta = np.array([setup.values[name] for name in trainer.names])
    lr = 0.1
    _, grad = trainer.objective(theta)
    _, expected = hand(data)
    if not np.allclose(grad[:len(data.params["W2"])], expected["W2"], rtol=RTOL):
        raise SystemExit(f"benchmark {data.label}: the trainer's gradient differs from hand NumPy's")

    def numpy_step() -> None:
        _, g = hand(data)
        {name: np.asarray(data.params[name]) - lr * g[name] for name in NAMES}

    def gradcli_step() -> None:
        _, g = trainer.objective(theta)
        theta - lr * g

    times = interleaved({"numpy": numpy_step, "gradcli": gradcli_step}, repeat)
    return Row("10", f"training step (gradient + update), {data.label}", "ms", times["gradcli"], "hand NumPy step",
               times["numpy"], 1.2)


def layers_target(quick: bool) -> list[Row]:
    scale = 10 if quick else 1
    repeat = 5 if quick else 15
    limits = {"numpy": 1.2, "torch": 1.0, "jax": 1.5, "forward": 2.5}
    rows = compare(make_data(100_000 // scale, 32, 64), repeat, limits)
    rows += compare(make_data(1_000_000 // scale, 10, 16), repeat if quick else 7, limits)
    rows.append(training_step(make_data(100_000 // scale, 32, 64), repeat))
    if quick:  # a tenth of the data is too little for the limit: the interpreter's own noise shows
        return rows + memory_rows(100_000, 10, 16, None, "--quick: no limit at N=1e5")
    return rows + memory_rows(1_000_000, 10, 16)
