"""Which CSV columns a model uses, shared by `grad --data FILE` and `train`.

Read from the header alone, before any row is converted, so that a wrong
--target or a clash with a constant is reported first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import DataError, GradcliError, show_text
from .expr import CONSTANTS, Expr, Num, postorder, product_operands, symbols
from .losses import LOSSES
from .problem import INPUT_NAME_RE
from .written import Written, written


def gathered_columns(tree: Expr, header: list[str], target: str, spec: Mapping[str, Any] | None,
                     source: str = "the data") -> dict[str, tuple[str, ...]]:
    """The vector inputs and the columns each gathers, in order.

    spec (--input) maps a name to its columns (a list, "x1,x2", or "*": every column but the target
    and those the model names itself). Without one, a name the model uses with @ or dot that is no
    column gathers the columns named after it with a number: x gathers x1, x2, ..., x10.
    """
    names = set(symbols(tree))
    operands = {operand.name for _, operand in product_operands(tree)}
    found: dict[str, tuple[str, ...]] = {}
    for name, value in (spec or {}).items():
        if isinstance(value, (list, tuple)):
            wanted = [str(v) for v in value]
        elif str(value).strip() == "*":
            wanted = [c for c in header if c != target and c not in names]
        else:
            wanted = [v.strip() for v in str(value).split(",") if v.strip()]
        if not wanted:
            raise GradcliError(f"--input {name}= names no column")
        missing = [c for c in wanted if c not in header]
        if missing:
            raise DataError(f"--input {name}= names the column {missing[0]!r}, which {source} does not have "
                            f"(columns: {show_text(', '.join(header), 120)})")
        if name in header:
            raise GradcliError(f"--input {name}= would hide the column {name!r} of {source}")
        if target in wanted:
            raise GradcliError(f"--input {name}= takes the target {target!r} as an input")
        found[name] = tuple(wanted)
    for name in sorted(operands - set(found) - set(header)):
        numbered = sorted((int(m.group(1)), c) for c in header if (m := re.fullmatch(re.escape(name) + r"(\d+)", c)))
        if numbered and target not in (c for _, c in numbered):
            found[name] = tuple(c for _, c in numbered)
    return found


def model_columns(model_text: str | Written, loss: str | Written, target: str, header: list[str], source: str, *,
                  from_file: bool = False, inputs_must_exist: bool = False,
                  inputs: Mapping[str, Any] | None = None) -> list[str]:
    """The header names the model or the loss uses, in header order, without the target.

    Errors: no target column; a column named like a constant the model uses (pi, e); with
    inputs_must_exist, an input-like name (x, x1, x_k) that is no column.
    """
    columns = show_text(", ".join(header), 200)
    if target not in header and target not in (inputs or {}):  # a vector target is gathered like an input
        raise DataError(f"{source}: no column {target!r} for the target (columns: {columns}); "
                        "choose another with --target")
    model, loss = written(model_text, "model", from_file), written(loss, "loss")
    trees = [model.expr]
    if loss.text.strip().lower() not in LOSSES:
        trees.append(loss.expr)
    names = {name for tree in trees for name in symbols(tree)}
    constants = {node.text for tree in trees for node in postorder(tree)
                 if isinstance(node, Num) and node.text in CONSTANTS}
    for name in header:
        if name in constants:
            raise DataError(f"{source}: column {name!r} has the name of the constant {name} that the model uses; "
                            "rename the column")
    vectors = gathered_columns(trees[0], header, target, inputs, source)
    if inputs_must_exist:
        for name in sorted(names):
            if name not in header and name not in vectors and name != target and INPUT_NAME_RE.match(name):
                raise DataError(f"{source}: no column {name!r} for the model's input (columns: {columns})")
    gathered = {c for cs in vectors.values() for c in cs}
    return [name for name in header if (name in names or name in gathered) and name != target]


def read_columns(problem: Any) -> list[str]:
    """The data columns a problem reads: its inputs and the target, a vector's gathered columns in its
    place."""
    target = problem.gathered.get(problem.target, (problem.target,))  # a vector target may be gathered too
    return list(dict.fromkeys([*input_columns(problem), *target]))


def input_columns(problem: Any) -> list[str]:
    """The data columns the model's inputs read (what predict needs): a vector input's gathered columns
    in its place."""
    names: list[str] = []
    for name in problem.inputs:
        names += problem.gathered.get(name, (name,))
    return list(dict.fromkeys(names))
