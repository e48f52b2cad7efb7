"""Targets 3 and 4: whole `gradcli` commands as a user runs them, timed as processes.

- 3: `gradcli grad` on a 200-parameter linear model with every value given, end to end;
- 4: `gradcli --help` against the --help of a minimal Typer app with two commands, and
  `gradcli grad` on the worked example against `python -c "import typer, rich, numpy, sympy"`.
Runs are interleaved; the figure is the median wall time of the process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import Row, interleaved

MINIMAL_APP = '''import typer

app = typer.Typer(help="A minimal app with two commands.")


@app.command()
def hello(name: str) -> None:
    """Say hello."""
    print(f"hello {name}")


@app.command()
def bye(name: str) -> None:
    """Say goodbye."""
    print(f"bye {name}")


if __name__ == "__main__":
    app()
'''

# The imports, then a Typer command with two options run once: Typer (0.2x) coerces every
# parameter through pydantic, which it imports on the first command run.
TYPER_FLOOR = """
import sys
import typer, rich, numpy, sympy
app = typer.Typer()
@app.command()
def grad(model: str, data: str = "", params: str = "") -> None:
    pass
sys.argv = ["app", "b + w*x", "--data", "x=1", "--params", "w=2"]
app()
"""

NOTE = ["grad", "b + w1*x1 + w2*x2", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]


def gradcli_command() -> list[str]:
    """The installed console script beside this Python, as a user runs it; else python -m gradcli."""
    script = Path(sys.executable).with_name("gradcli")
    found = str(script) if script.exists() else shutil.which("gradcli")
    return [found] if found else [sys.executable, "-m", "gradcli"]


def process(command: list[str], expect: int = 0):  # type: ignore[no-untyped-def]
    def run() -> None:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode != expect:
            raise SystemExit(f"benchmark: {' '.join(command)[:80]} exited {done.returncode}: {done.stderr[-300:]!r}")
    return run


def startup(quick: bool) -> list[Row]:
    repeat = 5 if quick else 15
    gradcli = gradcli_command()
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder) / "app.py"
        app.write_text(MINIMAL_APP)
        times = interleaved({
            "gradcli --help": process([*gradcli, "--help"]),
            "typer --help": process([sys.executable, str(app), "--help"]),
            "gradcli grad": process([*gradcli, *NOTE]),
            "imports": process([sys.executable, "-c", "import typer, rich, numpy, sympy"]),
            "imports, frozen": process([sys.executable, "-c", "import typer, rich, numpy, sympy, gc; gc.freeze()"]),
            "typer floor": process([sys.executable, "-c", TYPER_FLOOR]),
        }, repeat)
    return [
        Row("4", "start-up: gradcli --help", "ms", times["gradcli --help"],
            "minimal Typer app --help", times["typer --help"], 1.2),
        Row("4", "start-up: gradcli grad on the worked example", "ms", times["gradcli grad"],
            "import typer, rich, numpy, sympy", times["imports"], 1.3),
        Row("4", "floor: those imports + a Typer command run (pydantic)", "ms", times["typer floor"],
            "import typer, rich, numpy, sympy", times["imports"], None,
            "what any Typer command with options pays before doing anything"),
        Row("4", "gradcli grad against the imports ending as gradcli ends (gc.freeze)", "ms", times["gradcli grad"],
            "those imports, then gc.freeze()", times["imports, frozen"], None,
            "gradcli's own work: parsing, both engines, the table"),
    ]


def symbolic_at_scale(quick: bool) -> list[Row]:
    """`gradcli grad` on b + w1*x1 + ... + w199*x199 at one point with every value given (limit 3 s)."""
    inputs = 199
    model = "b + " + " + ".join(f"w{i}*x{i}" for i in range(1, inputs + 1))
    params = {"b": 0.5, **{f"w{i}": round(0.01 * i - 1, 2) for i in range(1, inputs + 1)}}
    point = ",".join(f"x{i}={round(1 + 0.1 * i, 1)}" for i in range(1, inputs + 1)) + ",y=3"
    with tempfile.TemporaryDirectory() as folder:
        params_file = Path(folder) / "params.json"
        params_file.write_text(json.dumps(params))
        command = [*gradcli_command(), "grad", model, "--data", point, "--params", str(params_file), "--format", "json"]
        times = interleaved({"grad": process(command)}, 2 if quick else 5, warmup=0 if quick else 1)
    return [Row("3", "gradcli grad, 200-parameter linear model, end to end", "s", times["grad"],
                "limit 3 s", 3.0, 1.0)]


def large_models(quick: bool) -> list[Row]:
    """`gradcli grad` of a sum of 950 names and `gradcli explain` of a product of 2,400 factors, end to end
    (the issue's sizes; each must finish, or be refused, within 10 s)."""
    sum_model = "+".join(f"p{i}" for i in range(1, 951))
    product = "*".join(f"p{i}" for i in range(1, 2401))
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for name, text in (("sum", sum_model), ("product", product)):
            files[name] = Path(folder) / f"{name}.txt"
            files[name].write_text(text)
        grad = [*gradcli_command(), "grad", "--model-file", str(files["sum"]), "--data", "y=1"]
        explain = [*gradcli_command(), "explain", "--model-file", str(files["product"]), "--data", "y=1"]
        times = interleaved({"grad": process(grad), "explain": process(explain, expect=2)},
                            1 if quick else 3, warmup=0)
    return [Row("3", "gradcli grad, a sum of 950 names (table), end to end", "s", times["grad"],
                "limit 10 s", 10.0, 1.0),
            Row("3", "gradcli explain, a product of 2,400 factors (refused: too long to list)", "s",
                times["explain"], "limit 10 s", 10.0, 1.0)]


def symbolic_over_data(quick: bool) -> list[Row]:
    """The symbolic engine's derivatives over a data set, compiled by lambdify with cse, against the
    loss alone through the compiled sweep; the one-off derivation and compilation are noted apart."""
    import time

    import numpy as np

    from gradcli.engines.graph import build_graph
    from gradcli.engines.sweep import compile_plan, run
    from gradcli.engines.symbolic import SymbolicLoss
    from gradcli.setup import prepare

    from .gradient import linear_case, make_data

    rows_out = []
    for d in (50,) if quick else (50, 200):
        case = linear_case(d)
        data = make_data(10_000, d, case.params)
        setup = prepare(case.model, "mse", data.columns, case.params)
        began = time.perf_counter()
        symbolic = SymbolicLoss(setup.problem)
        derivatives = {name: symbolic.derivative(name) for name in setup.chosen}
        function = symbolic._compile(list(derivatives.values()), "numpy")
        compiled = time.perf_counter() - began
        arguments = [setup.values[n] if n in setup.values else setup.columns[n] for n in symbolic.symbols]
        loss_plan = compile_plan(build_graph(setup.problem), [])
        # timed in this iteration; the defaults bind this iteration's values (late binding would not bite here)
        times = interleaved({
            "symbolic": lambda setup=setup, function=function, arguments=arguments: [
                np.mean(np.broadcast_to(v, (setup.rows,))) for v in function(*arguments)],
            "loss": lambda loss_plan=loss_plan, setup=setup: run(loss_plan, setup.values, setup.columns, setup.rows),
        }, 3 if quick else 7)
        rows_out.append(Row("3", f"symbolic derivatives over data (cse), d={d}, N=1e4", "ms", times["symbolic"],
                            "the loss alone", times["loss"], None,
                            f"deriving and compiling: {compiled:.2f} s once"))
    return rows_out
