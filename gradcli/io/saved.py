"""The saved model: the file `train --save` writes and `predict` reads.

    {"gradcli": "0.1.0", "model": "b + w1*x1 + w2*x2", "loss": "mse", "delta": 1.0,
     "target": "y", "inputs": ["x1", "x2"], "params": {"b": 1.49, "w1": 3.02, "w2": -1.97},
     "final_loss": 0.2614, "epochs": 13, "converged": true}

The model is text, parsed again by the safe parser when the file is read.

A model with vectors and matrices also carries what its text alone does not fix: every name's
shape, the columns each vector input gathers and, for ce, the number of classes; its parameters
are nested lists in their shapes (as --params and --init take them):

    {..., "model": "W2 @ relu(W1 @ x + b1) + b2", "loss": "ce", "target": "class", "inputs": ["x"],
     "columns": ["x1", "x2"], "gathered": {"x": ["x1", "x2"]}, "classes": 3,
     "shapes": {"W2": [3, 32], "W1": [32, 2], "b1": [32], "b2": [3], "x": [2], "class": []},
     "params": {"W2": [[...], ...], "W1": [[...], ...], "b1": [...], "b2": [...]}, ...}
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import DataError, GradcliError, show_text
from ..errors import unused as unused_names
from ..language.columns import input_columns
from ..language.initial import split_given
from ..language.losses import DEFAULT_DELTA
from ..language.problem import as_written, build_problem, classes_of, shapes_of
from ..version import __version__
from .values import load_json, tensor_value, to_finite_float


@dataclass(frozen=True)
class SavedModel:
    model: str
    loss: str
    delta: float
    target: str
    inputs: list[str]
    params: dict[str, Any]  # a number, or a vector or matrix (a float64 array) of a layer's weights
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # {} for a scalar model
    gathered: dict[str, tuple[str, ...]] = field(default_factory=dict)  # vector input -> its columns
    classes: int | None = None  # ce: the number of classes


def saved_document(report: Any) -> dict[str, Any]:
    """What --save writes for a TrainReport."""
    problem, result = report.problem, report.result
    document = {"gradcli": __version__, "model": report.model.text, "loss": problem.loss_name, "delta": report.delta,
                "target": problem.target, "inputs": list(problem.inputs), "params": result.params,
                "final_loss": result.loss, "epochs": result.epochs, "converged": result.converged}
    if problem.tensor or problem.gathered:
        document.update({
            "columns": input_columns(problem),
            "gathered": {name: list(columns) for name, columns in problem.gathered.items()},
            "classes": classes_of(problem), "shapes": shapes_of(problem),
            "params": as_written(problem, result.params)})  # nested lists in each parameter's shape
    if report.validation is not None or report.metrics:
        document.update({"validation": report.validation, "validation_loss": report.validation_loss,
                         "metrics": report.metrics})
    return document


def read_saved(raw: bytes | Mapping[str, Any], source: str) -> SavedModel:
    """A --save file (its bytes, or its document as a mapping), every field checked; a defect names the
    file and the field."""
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
    values: dict[str, Any] = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise DataError(f"{source}: a parameter's name must be text, got {show_text(repr(name), 40)}")
        if isinstance(value, list):  # a vector or a matrix
            values[name] = tensor_value(value, f"{source}: parameter {show_text(name)!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or to_finite_float(value) is None:
            raise DataError(f"{source}: parameter {show_text(name)!r} is not a finite number")
        values[name] = float(value)
    delta = document.get("delta", DEFAULT_DELTA)
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not (to_finite_float(delta) or 0) > 0:
        raise DataError(f"{source}: field 'delta' must be a positive number")
    shapes = _shapes(document.get("shapes", {}), source)
    gathered = document.get("gathered", {})
    if not isinstance(gathered, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and v and all(isinstance(c, str) for c in v)
            for k, v in gathered.items()):
        raise DataError(f"{source}: field 'gathered' must map a vector input to its list of column names")
    classes = document.get("classes")
    if classes is not None:
        if not _whole(classes) or classes < 2:
            raise DataError(f"{source}: field 'classes' must be a whole number of at least 2")
        classes = int(classes)
    return SavedModel(field("model", str), field("loss", str, "mse"), float(delta), field("target", str, "y"),
                      inputs, values, shapes, {k: tuple(v) for k, v in gathered.items()}, classes)


def _shapes(value: Any, source: str) -> dict[str, tuple[int, ...]]:
    """The 'shapes' field: name -> a list of at most 2 sizes, each at least 1."""
    wrong = DataError(f"{source}: field 'shapes' must map names to lists of sizes, such as {{\"W1\": [16, 2]}}")
    if not isinstance(value, dict):
        raise wrong
    found = {}
    for name, sizes in value.items():
        if (not isinstance(name, str) or not isinstance(sizes, list) or len(sizes) > 2
                or not all(_whole(n) and 1 <= n <= 10_000_000 for n in sizes)):
            raise wrong
        found[name] = tuple(int(n) for n in sizes)
    return found


def _whole(value: Any) -> bool:
    """A whole number as JSON gives it (the reader makes every number a float)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and value == int(value))


def saved_problem(saved: SavedModel, source: str, model: Any = None) -> tuple[Any, dict[str, float], list[str]]:
    """The saved model parsed again (safely), its parameters by entry (a matrix spread over W1[1,1],
    ..., its shape checked), and warnings for parameters it does not use.

    Any defect is named with the file, since the file is what the user has to mend. `model`: its text
    with its tree (language/written.Written), when the caller keeps it.
    """
    try:
        problem = build_problem(model or saved.model, saved.loss, target=saved.target, data_names=saved.inputs,
                                param_names=list(saved.params), delta=saved.delta, from_file=True,
                                shapes=saved.shapes or None, gathered=saved.gathered or None, classes=saved.classes)
        params = dict(saved.params)
        if problem.tensor:
            params = split_given(problem, saved.params)
    except GradcliError as err:
        raise DataError(f"{source}: {err}") from None
    missing = [name for name in problem.params if name not in params]
    if missing:
        raise DataError(f"{source}: no value for parameter {missing[0]!r} "
                        f"(inputs: {', '.join(saved.inputs) or 'none'})")
    unused = unused_names("parameter", [name for name in params if name not in problem.params],
                          f"in {source} {{verb}} not used by the model")
    return problem, params, unused
