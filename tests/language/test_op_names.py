"""Each operation has one place, the operations table: no module outside gradcli/language/ branches on an
operation's name. What an op means to shape inference, explain, the closed form or the engines' rounding
is a field of its entry (language/ops.py), which the code outside asks.

Read with `ast`: a comparison (==, !=, in, not in) between an expression that reads an operation (`.op`,
`.fn`, or a variable `op` or `fn`) and a string, or a collection of strings, naming an entry of the table.
The arithmetic operators (add, sub, mul, div, pow, neg) are the expression tree's own syntax, the kinds
of its Binary and Unary nodes (language/tree.py), and are not counted here.
"""

from __future__ import annotations

import ast
from pathlib import Path

from gradcli.language.ops import INFIX, OPS

PACKAGE = Path(__file__).resolve().parents[2] / "gradcli"
SYNTAX = {*INFIX, "neg"}  # operators written with symbols: the tree's node kinds
NAMED = set(OPS) - SYNTAX
READS_AN_OP = {"op", "fn"}


def _reads_an_op(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr in READS_AN_OP) or (
        isinstance(node, ast.Name) and node.id in READS_AN_OP)


def _op_names(node: ast.expr) -> set[str]:
    """The table's op names a string constant, or a tuple, list or set of them, spells."""
    items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return {item.value for item in items if isinstance(item, ast.Constant) and item.value in NAMED}


def branches_on_op_names(source: str) -> list[tuple[int, str]]:
    """(line, op name) for every comparison of an operation against a name of the table."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if not any(_reads_an_op(o) for o in operands):
            continue
        for operand in operands:
            found += [(node.lineno, name) for name in sorted(_op_names(operand))]
    return found


def test_the_check_finds_a_branch_on_an_op_name() -> None:
    source = 'if node.op in ("matmul", "dot"):\n    pass\nif op == "sigmoid" or expr.fn != "softmax":\n    pass\n'
    assert branches_on_op_names(source) == [(1, "dot"), (1, "matmul"), (3, "sigmoid"), (3, "softmax")]
    assert branches_on_op_names('if loss_name == "bce" or kind == "add":\n    pass\n') == []


def test_no_module_outside_the_language_package_branches_on_an_op_name() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "language") in path.parents:
            continue
        found += [f"{path.relative_to(PACKAGE.parent)}:{line} compares with {name!r}"
                  for line, name in branches_on_op_names(path.read_text())]
    assert not found, "ask the operations table's entry instead:\n" + "\n".join(found)
