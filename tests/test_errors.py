"""GradcliError and its subclasses survive pickling: a Dask worker's error reaches the client whole."""

from __future__ import annotations

import importlib
import pickle
import pkgutil

import pytest

import gradcli
from gradcli.errors import DataError, GradcliError, ParseError, RoleError, TooLargeToDraw, UndefinedError
from gradcli.io.csv import NotNumeric

SAMPLES = [
    GradcliError("bad"),
    ParseError("unexpected ')'", "b + w*)", 6),
    DataError("data.csv: line 3, column 'x1': not a number"),
    RoleError("'y' is the target"),
    UndefinedError("log(x1) is undefined at row 2"),
    NotNumeric("data.csv: line 3, column 'x1': 'abc' is not a number", "x1"),
    TooLargeToDraw("graph has 2,500 nodes, more than 2,000 to lay out"),
]


def every_subclass(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(every_subclass(sub) for sub in found))


def test_the_samples_cover_every_subclass():
    for module in pkgutil.walk_packages(gradcli.__path__, "gradcli."):
        if module.name not in ("gradcli.__main__",):
            importlib.import_module(module.name)
    assert every_subclass(GradcliError) | {GradcliError} == {type(error) for error in SAMPLES}


@pytest.mark.parametrize("error", SAMPLES, ids=lambda e: type(e).__name__)
def test_pickling_keeps_the_message_and_the_attributes(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert vars(copy) == vars(error)
