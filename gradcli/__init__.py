"""gradcli: every gradient two ways, symbolically with SymPy and by backpropagation.

The Python API, one function per command; the CLI calls these and nothing deeper:

    gradients(model, loss, data, params, ...)   `gradcli grad`: both engines, compared
    explain(model, loss, data, params, ...)     `gradcli explain`: the chain rule step by step
    graph(model, loss, data, params, ...)       `gradcli graph`: the graph with its local derivatives
    train(data, model, ...)                     `gradcli train`: fit by gradient descent, then check
    predict(saved, data)                        `gradcli predict`: a saved model's predictions
    diff(expression, wrt, order, at)            `gradcli diff`: any order of a plain expression
    hessian(model, loss, data, params, ...)     `gradcli hessian`: the Hessian of the mean loss
    check(model, claim, wrt, loss, data, ...)   `gradcli check`: a derivative by hand, checked
    losses()                                    `gradcli losses`: the built-in losses
    recording_writes()                          a block that lists the output files put in place

Each takes what the CLI takes (text, file paths, '-' for stdin) or Python values (dicts,
lists, NumPy arrays), returns plain data (dataclasses with `to_dict()` where the CLI prints
JSON) and raises the GradcliError family for bad input. The heavy parts (NumPy, SymPy) load
only when a computation runs, so that `import gradcli` and `gradcli --help` start fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .errors import DataError, GradcliError, ParseError, RoleError, UndefinedError
from .version import __version__

# public name -> (module, attribute), imported on first use
_LAZY = {
    "gradients": ("tasks.gradients", "gradients"),
    "GradientReport": ("compare.verdicts", "GradientReport"),
    "ParamGradient": ("compare.verdicts", "ParamGradient"),
    "explain": ("tasks.explain", "explain"),
    "diff": ("tasks.diff", "diff"),
    "DiffReport": ("tasks.diff", "DiffReport"),
    "hessian": ("tasks.hessian", "hessian"),
    "HessianReport": ("tasks.hessian", "HessianReport"),
    "check": ("tasks.check", "check"),
    "CheckReport": ("tasks.check", "CheckReport"),
    "Explanation": ("explaining.reports", "Explanation"),
    "graph": ("tasks.graph", "graph_view"),
    "GraphView": ("explaining.reports", "GraphView"),
    "train": ("tasks.train", "train"),
    "TrainReport": ("training.report", "TrainReport"),
    "predict": ("tasks.predict", "predict"),
    "Predictions": ("tasks.predict", "Predictions"),
    "PartPredictions": ("tasks.predict", "PartPredictions"),
    "losses": ("language.losses", "builtin_losses"),
    "recording_writes": ("io.outputs", "recording_writes"),
}

__all__ = [*_LAZY, "GradcliError", "DataError", "ParseError", "RoleError", "UndefinedError", "__version__"]


if TYPE_CHECKING:
    from typing import Any


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        value = getattr(import_module(f".{module}", __name__), attribute)
        globals()[name] = value  # the next lookup finds it directly
        return value
    raise AttributeError(f"module 'gradcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
