"""A question is read once: every command parses its model text exactly once (issue 24, item 1).

The safe parser (gradcli.language.expr.parse) is wrapped wherever gradcli holds it, and the parses of
the model (or diff's expression, or a saved model) are counted while each command runs through the
public API."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections import Counter

import numpy as np
import pytest

import gradcli
from gradcli.language import expr


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts of parser calls by what was parsed ("model", "loss", "expression", ...)."""
    for found in pkgutil.walk_packages(gradcli.__path__, "gradcli."):  # every holder of `parse` loaded first
        importlib.import_module(found.name)
    counts: Counter[str] = Counter()
    real = expr.parse

    def counting(text: str, *, what: str = "expression", **options: object) -> expr.Expr:
        counts[what] += 1
        return real(text, what=what, **options)

    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("gradcli") and getattr(module, "parse", None) is real:
            monkeypatch.setattr(module, "parse", counting)
    return counts


@pytest.fixture
def points(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,y\n1,2,3\n2,1,4\n0.5,3,2\n3,3,5\n")
    return path


@pytest.fixture
def large(tmp_path):
    """Over 1MiB, the smallest --memory: read part by part."""
    path = tmp_path / "large.csv"
    path.write_text("x1,x2,y\n" + "".join(f"{i % 7},{i % 5},{i % 11}\n" for i in range(200_000)))
    return path


LINEAR = "b + w1*x1 + w2*x2"


def test_grad_in_memory(parses):
    gradcli.gradients(LINEAR, data={"x1": [1.0, 2.0], "x2": [0.5, 1.0], "y": [1.0, 2.0]})
    assert parses["model"] == 1


def test_grad_from_a_csv_file(parses, points):
    gradcli.gradients(LINEAR, data=str(points))
    assert parses["model"] == 1


def test_grad_streamed(parses, large):
    report = gradcli.gradients(LINEAR, data=str(large), memory="1MiB")
    assert report.engine == "stream"
    assert parses["model"] == 1


def test_grad_tensor_model_with_shape_and_input(parses, points):
    report = gradcli.gradients("b + w @ x", data=str(points), shapes=["w=2"], inputs={"x": "x1,x2"})
    assert set(report.tensors) >= {"w"}
    assert parses["model"] == 1


def test_grad_custom_loss_parsed_once(parses, points):
    gradcli.gradients(LINEAR, loss="(yhat - y)**4", data=str(points))
    assert (parses["model"], parses["loss"]) == (1, 1)


def test_explain(parses, points):
    gradcli.explain(LINEAR, data=str(points), row=2)
    assert parses["model"] == 1


def test_explain_tensor_model(parses, points):
    gradcli.explain("b + w @ x", data=str(points), row=1, shapes=["w=2"], inputs={"x": "x1,x2"})
    assert parses["model"] == 1


def test_graph(parses, points):
    gradcli.graph(LINEAR, data=str(points), row=1)
    assert parses["model"] == 1


def test_hessian(parses, points):
    gradcli.hessian(LINEAR, data=str(points))
    assert parses["model"] == 1


def test_check(parses, points):
    gradcli.check("w1*x1 + w2*x2", "2*x1*(w1*x1 + w2*x2 - y)", wrt="w1", data=str(points))
    assert (parses["model"], parses["claim"]) == (1, 1)


def test_diff(parses):
    gradcli.diff("x**3 + sin(x)*y", wrt="x,y", order=2, at="x=1,y=2")
    assert parses["expression"] == 1


def test_train_in_memory(parses, points):
    gradcli.train(str(points), LINEAR, epochs=5)
    assert parses["model"] == 1


def test_train_streamed(parses, large):
    gradcli.train(str(large), LINEAR, epochs=1, memory="1MiB")
    assert parses["model"] == 1


def test_predict(parses, points):
    saved = gradcli.train(str(points), LINEAR, epochs=2)
    parses.clear()
    result = gradcli.predict(saved, {"x1": [1.0], "x2": [2.0]})
    assert np.isfinite(result.yhat).all()
    assert parses["model"] == 1


@pytest.mark.parametrize("call, needle", [
    (lambda: gradcli.gradients("b +", params={"b": "x"}), "parameter 'b' is not a real number"),
    (lambda: gradcli.gradients("b +", data={"x1": ["a"], "y": [1.0]}), "data 'x1': values are not real numbers"),
    (lambda: gradcli.hessian("b +", params={"b": "x"}), "parameter 'b' is not a real number"),
    (lambda: gradcli.explain("b +", params={"b": "x"}), "parameter 'b' is not a real number"),
], ids=["grad-params", "grad-data", "hessian-params", "explain-params"])
def test_the_parse_is_where_it_was_first_needed(call, needle):
    """Read once, parsed when first needed: a bad value is still told before a model that does not parse."""
    with pytest.raises(gradcli.GradcliError, match=needle):
        call()


def test_a_question_is_immutable():
    from dataclasses import FrozenInstanceError

    from gradcli.question import ask

    question = ask(LINEAR, data="x1=1,x2=2,y=3")
    with pytest.raises(FrozenInstanceError):
        question.target = "z"  # type: ignore[misc]
    assert question.model.expr is question.model.expr  # parsed once, kept


def test_what_a_question_holds_cannot_be_changed_through_it():
    """A task that wrote into the question's parameters or columns would change what the next is asked."""
    from gradcli.question import ask

    question = ask(LINEAR, data="x1=1,x2=2,y=3", params="b=0.5")
    with pytest.raises(TypeError):
        question.params["b"] = 9.0  # type: ignore[index]
    with pytest.raises(TypeError):
        question.data["x1"] = [5.0]  # type: ignore[index]
    assert dict(question.params) == {"b": 0.5} and list(question.data["x1"]) == [1.0]
