"""The question's options are one block (cli/options.SHARED), given to every command that takes a question.

A command declares only its own options; the shared ones reach its task in one step. So the same
flags mean the same on every command: a model from a file, a ';'-separated CSV, a target named z,
the Huber loss with delta 0.5, and the parameters, all honoured by grad, explain, graph, hessian,
check and train alike.
"""

from __future__ import annotations

import inspect
from typing import Annotated

import pytest
import typer

from gradcli.cli.options import SHARED, Asked, asks

SHARED_BLOCK = ["--model-file", "m.txt", "--delimiter", ";", "--target", "z", "--loss", "huber", "--delta", "0.5"]
PARAMS = ["--params", "b=0,w1=1"]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "d.csv").write_text("x1;z\n1;2\n2;3.5\n3;5.5\n")
    (tmp_path / "m.txt").write_text("b + w1*x1\n")


# Residuals yhat - z at b=0, w1=1: -1, -1.5, -2.5; all beyond delta 0.5, so each row's Huber loss is
# 0.5*(|r| - 0.25): 0.375, 0.625, 1.125; their mean is 2.125/3.
@pytest.mark.parametrize(("command", "extra", "key", "loss"), [
    ("grad", ["--data", "d.csv", *PARAMS], "loss_value", 2.125 / 3),
    ("hessian", ["--data", "d.csv", *PARAMS], "loss", 2.125 / 3),
    ("explain", ["--data", "d.csv", "--row", "2", *PARAMS, "--wrt", "w1"], "loss_value", 0.625),
    ("graph", ["--data", "d.csv", "--row", "2", *PARAMS], "loss_value", 0.625),
])
def test_every_question_command_honours_the_shared_block(gradcli, files, command, extra, key, loss):
    result = gradcli(command, *SHARED_BLOCK, *extra, "--format", "json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["model"] == "b + w1*x1"
    assert report[key] == pytest.approx(loss, rel=1e-12)


def test_check_and_train_take_the_shared_block_beside_options_of_their_own(gradcli, files):
    # d/dw1 of the Huber loss where every |r| > delta: delta*sign(r)*x1, here -0.5*x1.
    check = gradcli("check", *SHARED_BLOCK, "--data", "d.csv", *PARAMS, "--wrt", "w1", "--claim", "-0.5*x1",
                    "--points", "0", "--format", "json")
    assert check.code == 0, check.err
    assert (check.json()["model"], check.json()["loss"], check.json()["target"]) == ("b + w1*x1", "huber", "z")
    train = gradcli("train", "d.csv", *SHARED_BLOCK, "--epochs", "2", "--quiet", "--format", "json")
    assert train.code == 0, train.err
    assert (train.json()["model"], train.json()["loss_name"], train.json()["target"]) == ("b + w1*x1", "huber", "z")


Own = Annotated[int, typer.Option("--own")]


def test_own_options_go_where_the_command_places_them_and_the_rest_follow():
    @asks(without=("dask", "workers"), after={"first": "wrt", "last": "fmt", "wrt": "delimiter"})
    def command(asked: Asked, first: Own = 1, second: Own = 2, last: Own = 3) -> None:
        """A command."""

    names = list(inspect.signature(command).parameters)
    assert names == ["model", "model_file", "loss", "delta", "target", "data", "params", "delimiter", "wrt", "first",
                     "second", "shape", "dim", "input", "fmt", "last"]
    assert command.__doc__ == "A command." and command.__name__ == "command"


def test_an_own_option_named_like_a_shared_one_replaces_it_and_the_task_gets_the_rest():
    seen: list[tuple[Asked, str]] = []

    @asks(without=("fmt",), after={"target": "model"})
    def command(asked: Asked, target: Own = 1) -> None:
        seen.append((asked, target))

    params = inspect.signature(command).parameters
    assert [name for name in params][:2] == ["model", "target"] and params["target"].default == 1
    values = {name: param.default for name, param in params.items()}
    command(**{**values, "model": " -w*x1", "wrt": [], "shape": ["W=2x2"], "target": "t"})
    asked, target = seen[0]
    assert target == "t" and "target" not in asked.keywords
    # The model loses the space that let it start with a minus; no --wrt means every parameter.
    assert asked.keywords["model"] == "-w*x1" and asked.keywords["wrt"] is None
    assert asked.keywords["shapes"] == ["W=2x2"]
    assert set(asked.keywords) == {option.keyword for option in SHARED if option.keyword} - {"target"}


def test_an_option_placed_after_one_the_command_does_not_have_is_refused():
    with pytest.raises(TypeError, match="no option wrt"):
        @asks(without=("wrt",), after={"first": "wrt"})
        def command(asked: Asked, first: Own = 1) -> None:
            """A command."""


def test_placing_an_option_the_command_does_not_have_is_refused():
    with pytest.raises(TypeError, match="no option frist to place"):
        @asks(after={"frist": "wrt"})
        def command(asked: Asked, first: Own = 1) -> None:
            """A command."""
