"""Which CSV columns a model uses, shared by `grad --data FILE` and `train`.

Read from the header alone, before any row is converted, so that a wrong
--target or a clash with a constant is reported first.
"""

from __future__ import annotations

from ..errors import DataError, show_text
from .expr import CONSTANTS, MAX_FILE_LENGTH, MAX_LENGTH, Num, parse, postorder, symbols
from .losses import LOSSES
from .problem import INPUT_NAME_RE


def model_columns(model_text: str, loss: str, target: str, header: list[str], source: str, *,
                  from_file: bool = False, inputs_must_exist: bool = False) -> list[str]:
    """The header names the model or the loss uses, in header order, without the target.

    Errors: no target column; a column named like a constant the model uses (pi, e); with
    inputs_must_exist, an input-like name (x, x1, x_k) that is no column.
    """
    columns = show_text(", ".join(header), 200)
    if target not in header:
        raise DataError(f"{source}: no column {target!r} for the target (columns: {columns}); "
                        "choose another with --target")
    trees = [parse(model_text, what="model", max_length=MAX_FILE_LENGTH if from_file else MAX_LENGTH)]
    if loss.strip().lower() not in LOSSES:
        trees.append(parse(loss, what="loss"))
    names = {name for tree in trees for name in symbols(tree)}
    constants = {node.text for tree in trees for node in postorder(tree)
                 if isinstance(node, Num) and node.text in CONSTANTS}
    for name in header:
        if name in constants:
            raise DataError(f"{source}: column {name!r} has the name of the constant {name} that the model uses; "
                            "rename the column")
    if inputs_must_exist:
        for name in sorted(names):
            if name not in header and name != target and INPUT_NAME_RE.match(name):
                raise DataError(f"{source}: no column {name!r} for the model's input (columns: {columns})")
    return [name for name in header if name in names and name != target]
