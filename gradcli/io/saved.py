"""The parameter file `train --save` writes and `predict` reads.

    {"gradcli": "0.1.0", "model": "b + w1*x1 + w2*x2", "loss": "mse", "delta": 1.0,
     "target": "y", "inputs": ["x1", "x2"], "params": {"b": 1.49, "w1": 3.02, "w2": -1.97},
     "final_loss": 0.2614, "epochs": 13, "converged": true}

The model is text, parsed again by the safe parser when the file is read.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import DataError, show_text
from ..errors import unused as unused_names
from ..language.losses import DEFAULT_DELTA
from ..version import __version__


@dataclass(frozen=True)
class SavedModel:
    model: str
    loss: str
    delta: float
    target: str
    inputs: list[str]
    params: dict[str, float]


def saved_document(report: Any) -> dict[str, Any]:
    """What --save writes for a TrainReport."""
    problem, result = report.problem, report.result
    return {"gradcli": __version__, "model": report.model.text, "loss": problem.loss_name, "delta": report.delta,
            "target": problem.target, "inputs": list(problem.inputs), "params": result.params,
            "final_loss": result.loss, "epochs": result.epochs, "converged": result.converged}


def read_saved(raw: bytes | Mapping[str, Any], source: str) -> SavedModel:
    """A --save file (its bytes, or its document as a mapping), every field checked; a defect names the
    file and the field."""
    from .values import load_json, to_finite_float

    document = dict(raw) if isinstance(raw, Mapping) else load_json(raw, source)
    if not isinstance(document, dict):
        raise DataError(f"{source}: expected the JSON object that `gradcli train --save` writes")

    def field(name: str, kind: type, default: Any = None) -> Any:
        value = document.get(name, default)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise DataError(f"{source}: field {name!r} is missing or not a {kind.__name__} "
                            "(is this a file from `gradcli train --save`?)")
        return value

    params = field("params", dict)
    inputs = field("inputs", list)
    if not all(isinstance(name, str) for name in inputs):
        raise DataError(f"{source}: field 'inputs' must be a list of column names")
    for name, value in params.items():
        if not isinstance(name, str):
            raise DataError(f"{source}: a parameter's name must be text, got {show_text(repr(name), 40)}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or to_finite_float(value) is None:
            raise DataError(f"{source}: parameter {show_text(name)!r} is not a finite number")
    delta = document.get("delta", DEFAULT_DELTA)
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 < (to_finite_float(delta) or 0):
        raise DataError(f"{source}: field 'delta' must be a positive number")
    return SavedModel(field("model", str), field("loss", str, "mse"), float(delta), field("target", str, "y"),
                      inputs, {name: float(value) for name, value in params.items()})


def saved_problem(saved: SavedModel, source: str) -> tuple[Any, list[str]]:
    """The saved model parsed again (safely), and warnings for parameters it does not use.

    Any defect is named with the file, since the file is what the user has to mend.
    """
    from ..errors import GradcliError
    from ..language.problem import build_problem

    try:
        problem = build_problem(saved.model, saved.loss, target=saved.target, data_names=saved.inputs,
                                param_names=list(saved.params), delta=saved.delta, from_file=True)
    except GradcliError as err:
        raise DataError(f"{source}: {err}") from None
    missing = [name for name in problem.params if name not in saved.params]
    if missing:
        raise DataError(f"{source}: no value for parameter {missing[0]!r} "
                        f"(inputs: {', '.join(saved.inputs) or 'none'})")
    unused = unused_names("parameter", [name for name in saved.params if name not in problem.params],
                          f"in {source} {{verb}} not used by the model")
    return problem, unused
