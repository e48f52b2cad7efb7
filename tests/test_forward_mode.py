"""Forward mode (engines/forward.py): a fourth witness beside backprop, and `explain --cost`'s counts."""

from __future__ import annotations

import re

import pytest
from expression_cases import DATA, EXPRESSIONS, PARAM_VALUES, PARAMS
from hypothesis import HealthCheck, assume, given, note, settings

import gradcli
from gradcli.compare import memory
from gradcli.engines.forward import forward_gradients
from gradcli.engines.graph import backprop, build_graph
from gradcli.errors import GradcliError
from gradcli.explaining.reports import Cost, ModeCost
from gradcli.question import ask
from gradcli.views.cost import cost_lines, share

NOTE = "b+w1*x1+w2*x2"
POINT = {"x1": [1.5], "x2": [2.0], "y": [1.0]}
PARAMS_AT = {"b": 0.5, "w1": 2.0, "w2": -1.0}
NOTE_ARGS = [NOTE, "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]
WITH_FORWARD = ("symbolic", "backprop", "forward")


def setup_of(model: str, data: dict, params: dict, loss: str = "mse"):
    return ask(model, loss, data, params).setup(check_finite=False, rows_allowed=True)


# ---------------------------------------------------------------- the engine


def test_the_notes_point_exactly():
    # yhat = 0.5 + 2*1.5 - 1*2 = 1.5, loss (1.5 - 1)**2 = 0.25; seeding b, w1, w2 in turn, the tangent
    # of yhat is 1, x1 = 1.5, x2 = 2, and the loss's is 2*(yhat - y) = 1 times it: 1, 1.5, 2
    setup = setup_of(NOTE, POINT, PARAMS_AT)
    found = forward_gradients(build_graph(setup.problem), setup.values, setup.columns, 1, ["b", "w1", "w2"])
    assert found.gradients == {"b": 1.0, "w1": 1.5, "w2": 2.0}
    assert found.loss_value == 0.25 and found.sweeps == 3


def test_a_parameter_the_loss_does_not_use_gets_zero():
    setup = setup_of("w1*x1", POINT, {"w1": 2.0})
    found = forward_gradients(build_graph(setup.problem), setup.values, setup.columns, 1, ["w1", "nothere"])
    assert found.gradients == {"w1": 6.0, "nothere": 0.0}  # 2*(2*1.5 - 1)*1.5


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=EXPRESSIONS, params=PARAM_VALUES, data=DATA)
def test_forward_mode_equals_backprop_on_generated_expressions(model, params, data):
    used = {name: value for name, value in params.items() if re.search(rf"\b{name}\b", model)}
    assume(used)
    note(f"model={model!r} params={used} data={data}")
    setup = setup_of(model, data, used)
    graph = build_graph(setup.problem)
    try:
        reverse = backprop(graph, setup.values, setup.columns, setup.rows, list(used))
        forward = forward_gradients(graph, setup.values, setup.columns, setup.rows, list(used))
    except GradcliError:
        assume(False)  # undefined or overflowing here: not this test's business
        return
    for name in used:
        b, f = reverse.gradients[name], forward.gradients[name]
        assert f == pytest.approx(b, rel=1e-12, abs=1e-300) or abs(f - b) <= 64 * 2.0**-52 * max(
            1.0, *(abs(v) for v in reverse.gradients.values())), name  # rounding where terms cancel


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=EXPRESSIONS, params=PARAM_VALUES, data=DATA)
def test_the_api_judges_forward_mode_with_grads_machinery(model, params, data):
    used = {name: value for name, value in params.items() if re.search(rf"\b{name}\b", model)}
    assume(used)
    try:
        report = gradcli.gradients(model, data=data, params=used, engines=("backprop", "forward"), rtol=1e-12,
                                   atol=1e-15, readable=False)
    except GradcliError:
        assume(False)
        return
    for gradient in report.gradients.values():
        assert gradient.forward_verdict == "agree" and gradient.forward_agree is True, gradient
    assert report.agree is True


def test_at_a_kink_forward_mode_takes_backprops_one_sided_rule():
    # relu(w1*x1) at w1 = 0: the argument is exactly 0 and both modes take relu's derivative there as 0
    report = gradcli.gradients("relu(w1*x1) + b", data=POINT, params={"w1": 0.0, "b": 0.5},
                               engines=("backprop", "forward"))
    w1 = report.gradients["w1"]
    assert w1.forward_value == w1.backprop_value == 0.0 and w1.forward_verdict == "agree"
    assert report.gradients["b"].forward_value == report.gradients["b"].backprop_value == -1.0
    assert any("kink" in warning for warning in report.warnings)


def test_a_tensor_model_is_compared_entry_by_entry():
    data = {"x": [[1.0, 2.0], [0.5, -1.0]], "y": [1.0, 0.0]}
    report = gradcli.gradients("w @ x + b", data=data, params={"w": [0.5, -0.25], "b": 0.1}, shapes=["w=2"],
                               engines=("backprop", "forward"))
    w = report.tensors["w"]
    assert w.forward_verdict == "agree" and w.forward_max_abs_diff is not None and w.forward_max_abs_diff < 1e-15
    assert w.forward_value == pytest.approx(w.backprop_value, rel=1e-12)
    # by hand: yhat = 0.1, 0.6; residuals -0.9, 0.6; d mean (r**2)/dw = mean(2 r x) = (-1.8*[1, 2] + 1.2*[0.5, -1])/2
    assert w.forward_value == pytest.approx([-0.6, -2.4], rel=1e-12)
    assert report.to_dict()["gradients"][0]["forward_verdict"] == "agree"


def test_a_disagreement_fails_the_report(monkeypatch):
    real = memory.forward_gradients

    def wrong(*args, **kwargs):
        found = real(*args, **kwargs)
        found.gradients["w1"] += 1e-6
        return found

    monkeypatch.setattr(memory, "forward_gradients", wrong)
    report = gradcli.gradients(NOTE, data=POINT, params=PARAMS_AT, engines=WITH_FORWARD)
    assert report.gradients["w1"].forward_verdict == "disagree" and report.gradients["w1"].agree is True
    assert report.gradients["b"].forward_verdict == "agree" and report.agree is False


# ---------------------------------------------------------------- the counts


def test_explain_cost_counts_the_notes_model_by_hand():
    # The graph: a1 = w1*x1, a2 = w2*x2, yhat = b + a1 + a2, a3 = yhat - y, loss = a3**2.
    # Values: 2 multiplications, 3 additions (a 3-term sum is 2), 1 other (the power) = 6 per pass.
    # Forward mode, one sweep per parameter, each recomputing the 6 and evaluating the local derivatives
    # its tangent crosses: b: ∂yhat/∂b = 1, ∂a3/∂yhat = 1, ∂loss/∂a3 = 2*a3 (1 multiplication); one
    # tangent product (by 2*a3; a local 1 passes the tangent on): 6 + 1 + 1 = 8. w1: ∂a1/∂w1 = x1 (a value
    # at hand), then the same 3: 6 + 1 + 2 products = 9; w2 likewise 9. In all 26: 3 x 2 + 3 + 5 = 14
    # multiplications, 3 x 3 = 9 additions, 3 other; 15 values, 3 + 4 + 4 = 11 local derivatives.
    # Reverse mode, by the same rule: the 6 once, 7 local derivatives (one per edge, 1 multiplication in
    # all), 3 adjoint products (1 x 2*a3, ∂loss/∂a1 x x1, ∂loss/∂a2 x x2; ∂yhat/∂b = 1 passes yhat's adjoint
    # on to b as it is, as forward mode passes b's tangent on): 6 + 1 + 3 = 10. Reverse saves 26 - 10 = 16.
    ex = gradcli.explain(NOTE, data=POINT, params=PARAMS_AT, cost=True)
    cost = ex.cost
    assert (cost.forward.sweeps, cost.forward.values, cost.forward.local_derivatives, cost.forward.products,
            cost.forward.sums) == (3, 15, 11, 5, 0)
    assert (cost.forward.multiplications, cost.forward.additions, cost.forward.other, cost.forward.total) == (
        14, 9, 3, 26)
    assert cost.forward_per_param == {"b": 8, "w1": 9, "w2": 9}
    assert (cost.reverse.sweeps, cost.reverse.values, cost.reverse.local_derivatives, cost.reverse.products,
            cost.reverse.total) == (1, 5, 7, 3, 10)
    assert (cost.reverse.multiplications, cost.reverse.additions, cost.reverse.other) == (6, 3, 1)
    assert cost.reverse.total == ex.op_counts.backprop_total  # one source: explain's own count of backprop
    assert cost.reverse.products == ex.op_counts.reverse["multiplications"]
    assert cost.saved == 16
    assert ex.to_dict()["cost"]["saved"] == 16
    assert "cost" not in gradcli.explain(NOTE, data=POINT, params=PARAMS_AT).to_dict()


def test_a_local_derivative_of_one_costs_no_product_in_either_mode():
    # b1 + b2 + b3: yhat = b1 + b2 + b3 (2 additions), a = yhat - y (1), loss = a**2 (1 other): 4 per pass.
    # Each forward sweep: the 4, then ∂yhat/∂bi = 1, ∂a/∂yhat = 1, ∂loss/∂a = 2*a (1 multiplication) and one
    # tangent product (by 2*a): 6, so 18 in all. Reverse: the 4, 5 local derivatives (1 multiplication in
    # 2*a) and one adjoint product (by 2*a): the adjoint reaches b1, b2 and b3 across locals of 1, passed on as
    # forward mode passes the tangents on. 4 + 1 + 1 = 6; reverse saves 12 of 18: 67 %.
    ex = gradcli.explain("b1+b2+b3", data={"y": [1.0]}, params={"b1": 1.0, "b2": 2.0, "b3": 3.0}, cost=True)
    assert (ex.cost.forward.products, ex.cost.forward.total, ex.cost.forward_per_param) == (
        3, 18, {"b1": 6, "b2": 6, "b3": 6})
    assert (ex.cost.reverse.products, ex.cost.reverse.local_derivatives, ex.cost.reverse.total) == (1, 5, 6)
    assert ex.op_counts.reverse == {"multiplications": 1, "additions": 0} and ex.op_counts.backprop_total == 6
    assert ex.cost.saved == 12


def test_the_cost_lines_never_round_to_100_percent_and_cap_the_parameters():
    # A sum of 300 parameters: forward 300 sweeps of 303 = 90,900; reverse 303: saves 90,597, 99.67 %.
    per_param = {f"b{i}": 303 for i in range(300)}
    mode = {"values": 0, "local_derivatives": 0, "products": 0, "sums": 0, "multiplications": 0, "additions": 0,
            "other": 0}
    cost = Cost(params=list(per_param), forward=ModeCost(sweeps=300, total=90_900, **mode),
                reverse=ModeCost(sweeps=1, total=303, **mode), forward_per_param=per_param, saved=90_597)
    lines = cost_lines(cost)
    assert lines[-1].startswith("   reverse saves 90,597 operations (over 99 %)")
    assert "100 %" not in "\n".join(lines)
    per = next(line for line in lines if line.startswith("     per parameter:"))
    assert per == "     per parameter: " + ", ".join(f"b{i} 303" for i in range(10)) + ", … 290 more"
    assert [share(*pair) for pair in [(1, 1), (199, 200), (1, 2), (1, 1000), (0, 5)]] == [
        "100 %", "over 99 %", "50 %", "under 1 %", "0 %"]


def test_sums_where_tangents_meet_are_counted():
    # w*x1 + w**2: w's tangent reaches the sum along two paths, added once
    ex = gradcli.explain("w*x1 + w**2", data={"x1": [2.0], "y": [1.0]}, params={"w": 0.7}, cost=True)
    assert ex.cost.forward.sums == 1 and ex.cost.reverse.sums == 1


# ---------------------------------------------------------------- the commands


def test_grad_check_forward_table_json_and_csv(gradcli):
    table = gradcli("grad", *NOTE_ARGS, "--check-forward")
    assert table.code == 0, table
    header = next(line for line in table.out.splitlines() if line.startswith("param"))
    assert header.split()[-2:] == ["forward", "ok"]
    assert "in forward mode too" in table.out
    doc = gradcli("grad", *NOTE_ARGS, "--check-forward", "--format", "json").json()
    assert [(g["forward_value"], g["forward_verdict"], g["forward_agree"]) for g in doc["gradients"]] == [
        (1.0, "agree", True), (1.5, "agree", True), (2.0, "agree", True)]
    assert doc["engines"] == list(WITH_FORWARD)
    rows = gradcli("grad", *NOTE_ARGS, "--check-forward", "--format", "csv").csv()
    assert rows[0][-2:] == ["forward_value", "forward_agree"] and rows[2][-2:] == ["1.5", "true"]
    plain = gradcli("grad", *NOTE_ARGS, "--format", "json").json()
    assert plain["gradients"][0]["forward_verdict"] is None and "forward" not in plain["engines"]


def test_explain_cost_command(gradcli):
    result = gradcli("explain", *NOTE_ARGS, "--cost")
    assert result.code == 0, result
    assert "forward mode: 3 sweeps, one per parameter: 26 operations" in result.out
    assert "reverse saves 16 operations (62 %)" in result.out  # 16 of 26 is 61.5 %


def test_streamed_data_is_refused(tmp_path):
    path = tmp_path / "large.csv"
    path.write_text("x1,x2,y\n" + "1,2,3\n" * 200_000)  # over 1MiB, the smallest --memory
    with pytest.raises(GradcliError, match="--check-forward works on data in memory"):
        gradcli.gradients(NOTE, data=str(path), memory="1MiB", engines=WITH_FORWARD)


@pytest.mark.parametrize("args, message", [
    (["explain", "w @ x", "--shape", "w=2", "--data", "x1=1,x2=2,y=1", "--input", "x=x1,x2", "--cost"],
     "explain --cost counts forward and reverse mode on a scalar model"),
])
def test_bad_input(gradcli, args, message):
    result = gradcli(*args)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err, result


def test_forward_alone_is_refused():
    with pytest.raises(GradcliError, match="forward mode is checked against backprop or symbolic"):
        gradcli.gradients(NOTE, data=POINT, params=PARAMS_AT, engines=("forward",))
    with pytest.raises(GradcliError, match="engines must be chosen from symbolic, backprop, forward"):
        gradcli.gradients(NOTE, data=POINT, params=PARAMS_AT, engines=("reverse",))


assert set(PARAMS) >= {"w1", "w2"}  # the generated expressions' names, which `used` filters on
