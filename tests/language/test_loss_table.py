"""The loss table is the one place a loss is known: nothing else in gradcli compares a value with a
built-in loss's name, and what the code asks of a loss is read from its entry.

The source check reads every module of gradcli with `ast`, so that a new `if loss == "bce"` (or
`loss_name in ("bce", "ce")`) anywhere outside gradcli/language/losses.py fails here; a new loss is
then one entry in that table plus its tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gradcli.language.losses import (
    ACCURACY,
    CLASS_INDEX,
    CUSTOM_LOSS,
    LEAST_SQUARES,
    LOSSES,
    PROBABILITY,
    R2,
    loss_info,
    loss_named,
)
from gradcli.language.problem import build_problem

PACKAGE = Path(__file__).resolve().parents[2] / "gradcli"
TABLE = PACKAGE / "language" / "losses.py"
NAMES = frozenset(LOSSES)
# Operation names are compared where an operation is meant (node.op, call.fn): `ce` is an operation too.
OPERATION_FIELDS = {"op", "fn"}


def loss_names_in(node: ast.expr) -> list[str]:
    """The built-in loss names a comparison operand spells: a string, or strings in a tuple, list or set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in NAMES else []
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [name for item in node.elts for name in loss_names_in(item)]
    return []


def is_operation(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in OPERATION_FIELDS


def branches_on_loss_names(text: str) -> list[tuple[int, str]]:
    """(line, name) for every comparison or match case of a value with a built-in loss name."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(is_operation(operand) for operand in operands):
                continue
            found += [(node.lineno, name) for operand in operands for name in loss_names_in(operand)]
        elif isinstance(node, ast.MatchValue):
            found += [(node.lineno, name) for name in loss_names_in(node.value)]
    return found


class TestNoBranchOnALossName:
    def test_no_module_but_the_loss_table_compares_with_a_loss_name(self):
        offenders = []
        for path in sorted(PACKAGE.rglob("*.py")):
            if path == TABLE:
                continue
            for line, name in branches_on_loss_names(path.read_text(encoding="utf-8")):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line} compares with {name!r}")
        assert not offenders, "ask the loss's entry in language/losses.py instead:\n" + "\n".join(offenders)

    @pytest.mark.parametrize("source", [
        'if problem.loss_name == "bce":\n    pass',
        'ok = loss.strip().lower() != "ce"',
        'kind = "accuracy" if problem.loss_name in ("bce", "ce") else None',
        'ok = "mse" == name',
        'ok = name not in ["huber", "other"]',
        'match loss:\n    case "mae":\n        pass',
    ])
    def test_the_check_sees_each_way_of_writing_a_branch(self, source):
        assert branches_on_loss_names(source)

    @pytest.mark.parametrize("source", [
        'if node.op in ("softmax", "logsumexp", "ce"):\n    pass',  # the operation ce, not the loss
        'if call.fn == "bce":\n    pass',
        'def f(loss: str = "mse") -> None:\n    pass',  # a default, not a branch
        'if problem.loss_entry.classes:\n    pass',
    ])
    def test_the_check_lets_operations_and_defaults_be(self, source):
        assert not branches_on_loss_names(source)


class TestEntries:
    def test_every_built_in_loss_says_what_it_is_and_its_derivative(self):
        for info in LOSSES.values():
            assert info.formula and info.note and info.derivative, info.name
            assert info.builtin and info.never_negative

    def test_the_properties_of_the_built_in_losses(self):
        table = {name: (info.target, info.metric, info.closed_form, info.logit_of) for name, info in LOSSES.items()}
        assert table == {
            "mse": (None, R2, LEAST_SQUARES, None),
            "mae": (None, R2, None, None),
            "huber": (None, R2, None, None),
            "bce": (PROBABILITY, ACCURACY, None, "sigmoid"),
            "ce": (CLASS_INDEX, ACCURACY, None, None),
        }

    def test_a_loss_as_typed_finds_its_entry_and_an_expression_finds_none(self):
        assert loss_named("  BCE ") is LOSSES["bce"]
        assert loss_info("BCE") is CUSTOM_LOSS  # a saved model's name is taken as written
        custom = loss_named("(yhat - y)**4")
        assert custom is CUSTOM_LOSS and not custom.builtin
        assert (custom.target, custom.metric, custom.closed_form, custom.logit_of, custom.never_negative) == (
            None, None, None, None, False)

    def test_a_problem_carries_its_entry(self):
        assert build_problem("b + w*x", " MSE").loss_entry is LOSSES["mse"]
        assert build_problem("sigmoid(b + w*x)", "bce").loss_entry.probabilities
        assert build_problem("b + w*x", "(yhat - y)**4").loss_entry is CUSTOM_LOSS
