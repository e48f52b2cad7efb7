"""`gradcli check` as a user relies on it: a right claim passes, a wrong one is shown where it differs with
the correct derivative and the chain-rule factor it misses, data points are checked too, and bad input
is one line."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
from cli_runner import one_line_error
from expression_cases import EXPRESSIONS, PARAMS, plain_formulas
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.errors import GradcliError
from gradcli.tasks import check as checking

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NOTE = "b+w1*x1+w2*x2"
RIGHT = "2*(b+w1*x1+w2*x2-y)*x1"
WRONG = "2*(b+w1*x1+w2*x2-y)"  # the factor ∂a1/∂w1 = x1 forgotten


class TestTheWorkedExample:
    def test_the_right_claim_is_right(self):
        report = gradcli.check(NOTE, RIGHT, "w1")
        assert report.correct and not report.failed
        assert report.symbolic == "equivalent"
        assert report.random.points == report.random.compared == 200 and report.random.differ == 0
        assert report.counterexample is None and report.factors is None

    def test_yhat_stands_for_the_model(self):
        assert gradcli.check(NOTE, "2*(yhat - y)*x1", "w1").correct

    def test_the_wrong_claim_names_the_missing_factor(self):
        report = gradcli.check(NOTE, WRONG, "w1")
        assert not report.correct and report.symbolic == "not equivalent"
        assert [(f.partial, f.formula) for f in report.factors.missing] == [("∂a1/∂w1", "x1")]
        assert report.factors.extra == [] and report.factors.matched == [("b + w1*x1 + w2*x2 - y", "∂loss/∂a3")]
        assert report.derivative == "2*x1*(b + w1*x1 + w2*x2 - y)"
        # the point shown, by hand: the claim and the derivative both worked out from its values
        example = report.counterexample
        p = example.point
        residual = p["b"] + p["w1"] * p["x1"] + p["w2"] * p["x2"] - p["y"]
        assert example.claim == pytest.approx(2 * residual, rel=1e-12)
        assert example.derivative == pytest.approx(2 * residual * p["x1"], rel=1e-12)
        assert example.symbolic == pytest.approx(example.derivative, rel=1e-12)
        assert example.abs_diff == pytest.approx(abs(example.claim - example.derivative))
        # random values are rounded to 2 decimals, so the point can be checked by hand
        assert all(round(v, 2) == v and v != 0 for v in p.values())

    def test_the_cli_says_where_by_how_much_and_which_factor(self, gradcli):
        right = gradcli("check", NOTE, "--wrt", "w1", "--claim", RIGHT)
        assert right.code == 0, right
        assert "SymPy    equivalent" in right.out and "✓ the claim is right" in right.out
        wrong = gradcli("check", NOTE, "--wrt", "w1", "--claim", WRONG)
        assert wrong.code == 1, wrong
        assert "missing: ∂a1/∂w1 = x1" in wrong.out
        assert re.search(r"at random point \d+: b=\S+, w1=\S+, w2=\S+, x1=\S+, x2=\S+, y=\S+", wrong.out)
        assert re.search(r"claim +-?[0-9.]+\n +derivative +-?[0-9.]+ +\(backprop; SymPy -?[0-9.]+\)", wrong.out)
        assert "correct  ∂loss/∂w1 = 2*x1*(b + w1*x1 + w2*x2 - y)" in wrong.out
        assert wrong.out.rstrip().endswith("✗ the claim is wrong")


class TestWhatIsWrong:
    def test_an_extra_factor(self):
        report = gradcli.check(NOTE, "2*(yhat - y)*x1*x2", "w1")
        assert not report.correct
        assert report.factors.extra == ["x2"] and report.factors.missing == []

    def test_a_missing_intermediate_factor_says_what_its_node_is(self):
        report = gradcli.check("tanh(w*x1)", "2*(yhat - y)*x1", "w")
        (missing,) = report.factors.missing
        assert missing.partial == "∂yhat/∂a1" and "yhat = tanh(a1)" in missing.where  # its formula is 1 - yhat**2
        assert missing.text().startswith("∂yhat/∂a1 = ")

    def test_a_parameter_used_twice_and_a_path_left_out(self):
        assert gradcli.check("w*x1 + w**2", "2*(yhat - y)*(x1 + 2*w)", "w").correct
        report = gradcli.check("w*x1 + w**2", "2*(yhat - y)*x1", "w")
        assert not report.correct and report.factors.paths == 2
        (path,) = report.factors.missing_paths
        assert path.startswith("loss → a3 → yhat → a2 → w") and "2*w" in path

    @pytest.mark.parametrize("claim, ratio", [("1.5*2*(yhat - y)*x1", 1.5), ("-2*(yhat - y)*x1", -1.0),
                                              ("(yhat - y)*x1", 0.5)])
    def test_a_constant_factor(self, claim, ratio):
        report = gradcli.check(NOTE, claim, "w1")
        assert not report.correct and report.ratio == pytest.approx(ratio)
        assert report.factors.missing == [] and report.factors.extra == []

    def test_nothing_is_said_about_factors_of_a_claim_that_is_not_a_product(self):
        report = gradcli.check(NOTE, "b + w1*x1 + w2*x2 - y", "w1")
        assert not report.correct and report.factors is None

    def test_a_claim_undefined_everywhere_is_wrong(self):
        report = gradcli.check(NOTE, "2*(yhat - y)*x1*sqrt(-1 - w1**2)", "w1")
        assert not report.correct and report.random.compared == 0
        assert report.counterexample.claim is None


class TestPoints:
    def test_the_domain_is_searched_for_points(self):
        report = gradcli.check("log(w)*x1", "2*(yhat - y)*x1/w", "w")
        assert report.correct and report.random.points == 200 and report.random.outside > 0

    def test_seeded(self):
        a, b = (gradcli.check(NOTE, WRONG, "w1", seed=3) for _ in range(2))
        assert a.counterexample == b.counterexample
        assert gradcli.check(NOTE, WRONG, "w1", seed=4).counterexample.point != a.counterexample.point

    def test_the_datas_points_are_checked_too(self):
        report = gradcli.check(NOTE, "2*(yhat - y)*x1", "w1", data=SAMPLES / "data.csv", params="b=0.5,w1=2,w2=-1")
        assert report.correct and report.data.kind == "data" and report.data.compared == 300

    def test_a_claim_wrong_at_the_data_is_shown_at_its_first_row(self, gradcli):
        result = gradcli("check", NOTE, "--wrt", "w1", "--claim", WRONG, "--data", str(SAMPLES / "data.csv"),
                         "--params", "b=0.5,w1=2,w2=-1", "--format", "json")
        assert result.code == 1, result
        doc = result.json()
        assert doc["data"]["points"] == 300 and doc["data"]["differ"] == 300
        example = doc["counterexample"]
        assert example["source"] == "data row 1"
        assert example["point"] == {"b": 0.5, "w1": 2.0, "w2": -1.0, "x1": -1.1169, "x2": -0.5913, "y": -1.31}

    def test_a_claim_right_only_at_the_data_is_still_wrong(self):
        # at x1 = 1 the forgotten factor x1 is 1: right at the data, wrong at random points
        report = gradcli.check(NOTE, WRONG, "w1", data="x1=1,x2=2,y=1")
        assert report.data.differ == 0 and report.random.differ > 0 and not report.correct

    def test_points_zero_checks_the_data_alone(self):
        report = gradcli.check(NOTE, RIGHT, "w1", data="x1=1.5,x2=2,y=1", params="b=0.5,w1=2,w2=-1", points=0)
        assert report.correct and report.random.points == 0 and report.data.compared == 1


class TestOutput:
    def test_json_keys(self, gradcli):
        result = gradcli("check", NOTE, "--wrt", "w1", "--claim", WRONG, "--format", "json")
        assert result.code == 1, result
        doc = result.json()
        assert {"model", "loss", "loss_formula", "target", "wrt", "claim", "claim_formula", "derivative",
                "graph_derivative", "symbolic", "symbolic_note", "difference", "points", "random", "data",
                "counterexample", "ratio", "factors", "correct", "seed", "rtol", "atol", "params",
                "warnings"} <= doc.keys()
        assert doc["correct"] is False and doc["symbolic"] == "not equivalent"
        assert set(doc["random"]) == {"kind", "points", "compared", "differ", "outside", "claim_undefined",
                                      "within_resolution", "condition"}
        assert set(doc["counterexample"]) == {"source", "point", "claim", "derivative", "symbolic", "abs_diff"}
        assert doc["factors"]["missing"] == [{"partial": "∂a1/∂w1", "formula": "x1", "where": [],
                                              "text": "∂a1/∂w1 = x1"}]
        assert doc["graph_derivative"] == "2*(yhat - y)*x1"

    def test_the_claim_from_a_file(self, gradcli, tmp_path):
        (tmp_path / "claim.txt").write_text("2*(yhat - y)\n  * x1\n")
        result = gradcli("check", NOTE, "--wrt", "w1", "--claim-file", "claim.txt")
        assert result.code == 0, result

    def test_a_claim_that_starts_with_a_minus(self, gradcli):
        result = gradcli("check", "-w*x1", "--wrt", "w", "--claim", "-2*(yhat - y)*x1")
        assert result.code == 0, result


def test_the_pages_wrong_claim_prints_what_the_page_shows(gradcli):
    """docs/check.md shows the wrong claim in a text block (run blocks must exit 0): it must not drift."""
    import shlex

    page = (SAMPLES.parent / "docs" / "check.md").read_text()
    (block,) = [b for b in re.findall(r"^```text\n(.*?)^```", page, re.DOTALL | re.MULTILINE)
                if b.startswith("$ gradcli check")]
    command, *shown = block.splitlines()
    result = gradcli(*shlex.split(command.removeprefix("$ gradcli ")))
    assert result.code == 1, result
    assert [line.rstrip() for line in result.out.splitlines()] == [line.rstrip() for line in shown]


class TestBadInput:
    @pytest.mark.parametrize("args, needles", [
        (["--claim", "2*(yhat - z)*x1"], ["'z'", "not a name of the model"]),
        (["--claim", "2*(yhat - y))*x1"], ["in the claim", "column 13"]),
        (["--claim", "2*(yhat - y)*x1 +* 3"], ["claim", "column"]),
        (["--claim", "__import__('os')"], ["claim"]),
        (["--claim", "2*loss"], ["'loss'"]),
        ([], ["no claim given"]),
        (["--claim", "x1", "--claim-file", "c.txt"], ["not both"]),
    ])
    def test_a_bad_claim_is_one_line(self, gradcli, args, needles):
        one_line_error(gradcli("check", NOTE, "--wrt", "w1", *args), *needles)

    @pytest.mark.parametrize("args, needle", [
        (["--wrt", "w1,w2"], "one name"),
        (["--wrt", "x1"], "not a parameter"),
        (["--wrt", "w1", "--points", "0"], "--points 0"),
        (["--wrt", "w1", "--data", "x1=1,x2=2"], "target"),
    ])
    def test_bad_options_are_one_line(self, gradcli, args, needle):
        one_line_error(gradcli("check", NOTE, "--claim", RIGHT, *args), needle)

    def test_wrt_is_required(self, gradcli):
        one_line_error(gradcli("check", NOTE, "--claim", RIGHT), "--wrt")

    def test_no_point_inside_the_domain(self):
        with pytest.raises(GradcliError, match="no point"):
            gradcli.check("log(-1 - w**2)*x1", "x1", "w")

    @pytest.mark.parametrize("kwargs", [{"points": -1}, {"points": 2.5}, {"seed": "a"}, {"rtol": -1.0},
                                        {"wrt": None}, {"wrt": 3}, {"points": 10**6}])
    def test_wrong_arguments_are_gradcli_errors(self, kwargs):
        with pytest.raises(GradcliError):
            gradcli.check(**{"model": NOTE, "claim": RIGHT, "wrt": "w1", **kwargs})


def _as_claim(derivative) -> str:
    """SymPy's formula as text our parser reads: E is e there."""
    import sympy as sp

    return re.sub(r"\bE\b", "e", sp.sstr(derivative))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(EXPRESSIONS, st.sampled_from(PARAMS), st.integers(0, 2**16))
def test_the_true_derivative_is_accepted_and_one_and_a_half_times_it_rejected(model, name, seed):
    from gradcli.engines.symbolic import SymbolicLoss
    from gradcli.language.expr import parse, symbols
    from gradcli.setup import prepare

    assume(name in symbols(parse(model)))
    derivative = SymbolicLoss(prepare(model, wrt=name).problem).derivative(name)
    assume(derivative != 0)
    claim = _as_claim(derivative)
    assume(len(claim) < 5_000)
    with plain_formulas(), mock.patch.object(checking, "EQUIVALENCE_SECONDS", 0.5):
        try:
            right = gradcli.check(model, claim, name, points=50, seed=seed)
        except GradcliError as err:  # every generated point overflows: nothing to compare
            assume("no point" not in str(err))
            raise
        assert right.correct, right
        wrong = gradcli.check(model, f"1.5*({claim})", name, points=50, seed=seed)
        assert not wrong.correct and wrong.counterexample is not None, wrong
