"""The options that make names vectors and matrices: --shape, --dim and --input, checked.

    --shape W1=4x2          W1 is a 4x2 matrix (also 4,2; a vector: --shape b1=4)
    --shape W1=h,d --dim h=4 --dim d=2     the same with named sizes
    --input x=x1,x2         the vector input x gathers the columns x1 and x2 of every row
    --input x=*             every column but the target (and columns the model names itself)

Without --input, a name that the model uses with @ or dot and that is not a column gathers the
columns named after it with a number, in order: x gathers x1, x2, ..., x10.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engines.finite import require_finite
from ..errors import DataError, GradcliError, show_text
from ..language.columns import gathered_columns
from ..language.losses import loss_named
from ..language.shapes import parse_dims, parse_shape
from ..language.written import Written, written


def _pairs(value: Any, option: str) -> dict[str, str]:
    """NAME=VALUE items: a mapping, a list of "NAME=VALUE" texts (the CLI's repeated option), or one text."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        texts = [value] if isinstance(value, str) else list(value)
        items = []
        for text in texts:
            if not isinstance(text, str) or "=" not in text:
                raise GradcliError(f"{option} {show_text(str(text))!r} must be NAME=VALUE")
            name, _, rest = text.partition("=")
            items.append((name.strip(), rest.strip()))
    found: dict[str, str] = {}
    for name, rest in items:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise GradcliError(f"{option}: {show_text(str(name))!r} is not a name")
        if name in found:
            raise GradcliError(f"{option} gives {name!r} twice")
        found[name] = rest
    return found


def input_spec(inputs: Any) -> dict[str, str]:
    """--input as a mapping of vector input -> its columns ("x1,x2" or "*")."""
    return _pairs(inputs, "--input")


def declared_shapes(shapes: Any, dims: Any) -> dict[str, tuple[int, ...]]:
    sizes = parse_dims(_pairs(dims, "--dim"))
    declared = {}
    for name, value in _pairs(shapes, "--shape").items():
        if isinstance(value, (tuple, list)):
            value = "x".join(str(v) for v in value)
        declared[name] = parse_shape(str(value), sizes, what=f"--shape {name}=")
    return declared


@dataclass
class Layout:
    shapes: dict[str, tuple[int, ...]]
    gathered: dict[str, tuple[str, ...]]
    data_shapes: dict[str, tuple[int, ...]]
    classes: int | None

    def gather(self, problem: Any, columns: dict[str, Any], rows: int) -> dict[str, Any]:
        """The columns with each gathered vector input as one rows x d array (C order: a row's vector
        is contiguous, as the matrix products read it)."""
        out = dict(columns)
        for name, sources in problem.gathered.items():
            for source in sources:
                require_finite(source, columns[source])
            out[name] = np.column_stack([columns[source] for source in sources]) if sources else np.empty((rows, 0))
        return out


def layer_options(model: str | Written, loss: str | Written, target: str, columns: Mapping[str, Any] | None,
                  given: Mapping[str, Any], shapes: Any, dims: Any, inputs: Any, from_file: bool,
                  where: Any = None, classes: int | None = None) -> Layout:
    """Every shape the options, the data and the given values fix, and the vector inputs to gather.

    where(row) places a 1-based data row in its file, for a ce target that is no class index.
    classes: a ce target's class count, counted over all the data where `columns` are some of its rows
    (explain and graph at --row N: one row's class is not how many classes there are)."""
    model, loss = written(model, "model", from_file), written(loss, "loss")
    declared = declared_shapes(shapes, dims)
    for name, value in given.items():
        if isinstance(value, np.ndarray) and value.ndim:
            if name in declared and declared[name] != value.shape:
                raise GradcliError(f"--shape gives {name!r} {declared[name]}, but its value has shape {value.shape}")
            declared[name] = tuple(value.shape)
    data_shapes = {name: tuple(c.shape[1:]) for name, c in (columns or {}).items() if np.ndim(c) == 2}
    spec = _pairs(inputs, "--input")
    if columns is None and spec:
        raise GradcliError("--input gathers data columns: give the data with --data")
    gathered: dict[str, tuple[str, ...]] = {}
    if columns is not None and (spec or "@" in model.text or "dot" in model.text):
        gathered = gathered_columns(model.expr, [c for c in columns if c not in declared], target, spec)
    if classes is None and loss_named(loss.text).classes and columns is not None and target in columns:
        classes = class_count(columns[target], target, where)
    return Layout(declared, gathered, data_shapes, classes)


def class_count(values: Any, target: str, where: Any = None) -> int:
    """The number of classes of a ce target: its values must be class indices 0, 1, 2, ...

    where(row) may describe the 1-based row better (a CSV reader knows its line)."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise DataError(f"ce needs one class index per row in the target {target!r}, not a vector")
    bad = (values < 0) | (values != np.round(values)) | ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad)) + 1
        place = where(row) if where else f"row {row}"
        raise DataError(f"ce needs class indices 0, 1, 2, ... in the target: column {target!r} is "
                        f"{values[row - 1]:g} at {place}")
    count = int(values.max()) + 1 if len(values) else 0
    if count > 100_000:
        raise DataError(f"ce: column {target!r} has class index {count - 1}; at most 100,000 classes are taken")
    return max(count, 2)
