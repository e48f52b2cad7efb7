"""The Python API, gradcli.gradients(): the same numbers as the CLI, data as lists or NumPy arrays,
roles, defaults, warnings, the comparison rule and the errors it raises.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import gradcli
from gradcli.compare.verdicts import ATOL, RTOL, GradientReport, ParamGradient, agrees
from gradcli.errors import DataError, GradcliError, RoleError, UndefinedError
from gradcli.io.values import as_columns

NOTE_MODEL = "b+w1*x1+w2*x2"
NOTE_PARAMS = {"b": 0.5, "w1": 2.0, "w2": -1.0}
NOTE_GRADIENTS = {"b": 1.0, "w1": 1.5, "w2": 2.0}

JSON_KEYS = {
    "model", "loss", "loss_formula", "target", "params", "inputs", "rows", "point", "defaults",
    "loss_value", "gradients", "agree", "rtol", "atol", "engines", "warnings", "witness", "row_gradients",
    "files", "engine",
}


def backprop(report: GradientReport) -> dict[str, float]:
    return {name: g.backprop_value for name, g in report.gradients.items()}


def symbolic(report: GradientReport) -> dict[str, float]:
    return {name: g.symbolic_value for name, g in report.gradients.items()}


def check_note(report: GradientReport) -> None:
    assert report.agree is True
    assert report.loss_value == pytest.approx(0.25)
    assert list(report.gradients) == ["b", "w1", "w2"]
    assert backprop(report) == pytest.approx(NOTE_GRADIENTS)
    assert symbolic(report) == pytest.approx(NOTE_GRADIENTS)
    for g in report.gradients.values():
        assert isinstance(g, ParamGradient)
        assert g.agree is True
        assert g.abs_diff == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- the worked example


class TestWorkedExample:
    def test_public_names(self):
        assert gradcli.gradients is gradcli.tasks.gradients.gradients
        assert gradcli.GradcliError is GradcliError
        assert {"gradients", "GradientReport", "ParamGradient", "GradcliError", "__version__"} <= set(gradcli.__all__)

    def test_lists(self):
        report = gradcli.gradients(NOTE_MODEL, loss="mse", data={"x1": [1.5], "x2": [2.0], "y": [1.0]},
                                   params=NOTE_PARAMS)
        check_note(report)
        assert report.point == {"x1": 1.5, "x2": 2.0, "y": 1.0}
        assert report.rows == 1
        assert report.defaults == {}
        assert report.inputs == ["x1", "x2"]
        assert report.params == NOTE_PARAMS
        assert (report.rtol, report.atol) == (RTOL, ATOL) == (1e-9, 1e-12)

    def test_numpy_float64_arrays(self):
        data = {"x1": np.array([1.5]), "x2": np.array([2.0]), "y": np.array([1.0])}
        before = {name: array.copy() for name, array in data.items()}
        check_note(gradcli.gradients(NOTE_MODEL, "mse", data, NOTE_PARAMS))
        for name, array in data.items():  # the caller's arrays are not modified
            assert np.array_equal(array, before[name])

    def test_float64_arrays_are_used_without_a_copy(self):
        x1 = np.array([1.5, 1.0])
        columns, rows = as_columns({"x1": x1, "y": [1.0, 0.0]})
        assert columns["x1"] is x1 and np.shares_memory(columns["x1"], x1)
        assert rows == 2

    def test_scalars_and_numpy_params(self):
        report = gradcli.gradients(NOTE_MODEL, data={"x1": 1.5, "x2": np.float64(2.0), "y": 1},
                                   params={"b": np.float64(0.5), "w1": 2, "w2": np.int64(-1)})
        check_note(report)

    def test_json_document(self):
        report = gradcli.gradients(NOTE_MODEL, data={"x1": [1.5], "x2": [2.0], "y": [1.0]}, params=NOTE_PARAMS)
        document = json.loads(json.dumps(report.to_dict()))
        assert set(document) == JSON_KEYS
        assert document["engines"] == ["symbolic", "backprop"]
        assert [g["param"] for g in document["gradients"]] == ["b", "w1", "w2"]
        assert document["gradients"][1]["backprop_value"] == pytest.approx(1.5)

    def test_two_paths(self):
        report = gradcli.gradients("w*x1 + w**2", data={"x1": [2.0], "y": [1.0]}, params={"w": 0.7})
        assert backprop(report)["w"] == pytest.approx(6.052)
        assert symbolic(report)["w"] == pytest.approx(6.052)
        assert report.agree is True


# ---------------------------------------------------------------- several rows


class TestRows:
    def test_mean_over_rows(self):
        x1, x2, y = np.array([1.5, 1.0]), np.array([2.0, 1.0]), np.array([1.0, 0.0])
        report = gradcli.gradients(NOTE_MODEL, data={"x1": x1, "x2": x2, "y": y}, params=NOTE_PARAMS)
        assert report.rows == 2 and report.point is None
        assert report.loss_value == pytest.approx(1.25)
        assert backprop(report) == pytest.approx({"b": 2.0, "w1": 2.25, "w2": 2.5})
        assert symbolic(report) == pytest.approx({"b": 2.0, "w1": 2.25, "w2": 2.5})
        assert report.agree is True

    def test_strided_views(self):
        table = np.array([[1.5, 2.0, 1.0], [9.0, 9.0, 9.0]])
        data = {"x1": table[:1, 0], "x2": table[:1, 1], "y": table[:1, 2]}
        check_note(gradcli.gradients(NOTE_MODEL, data=data, params=NOTE_PARAMS))

    def test_huber_over_rows(self):
        # rows: residual 0.8 (quadratic, d/dw = 0.8*x1) and 3.0 (linear, d/dw = delta*x1 = 3)
        report = gradcli.gradients("w*x1", loss="huber", data={"x1": [1.0, 3.0], "y": [0.2, 0.0]}, params={"w": 1.0})
        assert report.loss_value == pytest.approx((0.32 + 2.5) / 2)
        assert backprop(report)["w"] == pytest.approx(1.9)
        assert report.agree is True

    def test_bce_on_a_sigmoid(self):
        x1, y = np.array([1.0, -2.0]), np.array([1.0, 0.0])
        w, b = 0.8, -0.3
        p = 1 / (1 + np.exp(-(b + w * x1)))
        report = gradcli.gradients("sigmoid(b+w*x1)", loss="bce", data={"x1": x1, "y": y}, params={"w": w, "b": b})
        assert report.loss_value == pytest.approx(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
        assert backprop(report) == pytest.approx({"b": np.mean(p - y), "w": np.mean((p - y) * x1)})
        assert report.agree is True


# ---------------------------------------------------------------- roles and defaults


class TestRoles:
    def test_defaults_without_data(self):
        report = gradcli.gradients(NOTE_MODEL)
        assert report.inputs == ["x1", "x2"]
        assert report.params == {"b": 0.5, "w1": 0.5, "w2": 0.5}
        assert report.defaults == {"b": 0.5, "w1": 0.5, "w2": 0.5, "x1": 1.0, "x2": 1.0, "y": 0.0}

    def test_input_names(self):
        report = gradcli.gradients("c*x + w*x_foo + x1*x2 + xfoo + x1a")
        assert sorted(report.inputs) == ["x", "x1", "x2", "x_foo"]
        assert list(report.params) == ["c", "w", "xfoo", "x1a"]

    def test_with_data_its_names_are_the_inputs(self):
        report = gradcli.gradients(NOTE_MODEL, data={"x1": [1.5], "y": [1.0]}, params={"b": 0.5, "w1": 2.0})
        assert report.inputs == ["x1"]
        assert list(report.gradients) == ["b", "w1", "w2", "x2"]
        assert report.defaults == {"w2": 0.5, "x2": 0.5}

    def test_target_renamed(self):
        report = gradcli.gradients(NOTE_MODEL, data={"x1": [1.5], "x2": [2.0], "t": [0.0]}, params=NOTE_PARAMS,
                                   target="t")
        assert report.target == "t" and report.loss_formula == "(yhat - t)**2"
        # yhat = 1.5, t = 0: dloss/db = 3
        assert backprop(report)["b"] == pytest.approx(3.0)

    def test_without_data_the_target_takes_its_default(self):
        report = gradcli.gradients(NOTE_MODEL, params=NOTE_PARAMS, target="t")
        assert report.defaults["t"] == 0.0

    @pytest.mark.parametrize("target", ["y", "t"])
    def test_data_without_the_target_is_an_error_not_a_silent_zero(self, target):
        with pytest.raises(DataError, match=f"no value for the target '{target}' \\(given: x1, x2\\)"):
            gradcli.gradients(NOTE_MODEL, data={"x1": [1.5], "x2": [2.0]}, params=NOTE_PARAMS, target=target)

    @pytest.mark.parametrize("loss", ["(yhat-y)**2 + z", "(yhat - y)**2 + 0.1*lamda*w1**2"])
    def test_a_loss_name_in_neither_model_nor_data_is_an_error(self, loss):
        with pytest.raises(RoleError, match="neither in the model nor in the data"):
            gradcli.gradients(NOTE_MODEL, loss, params=NOTE_PARAMS)

    def test_a_regularisation_parameter_given_a_value_is_a_parameter(self):
        report = gradcli.gradients(NOTE_MODEL, "(yhat - y)**2 + lamda*w1**2", params={**NOTE_PARAMS, "lamda": 0.1})
        assert report.agree is True and "lamda" in report.gradients

    def test_wrt(self):
        report = gradcli.gradients(NOTE_MODEL, params=NOTE_PARAMS, wrt=["w2", "b", "w2"])
        assert list(report.gradients) == ["w2", "b"]

    def test_wrt_unknown(self):
        with pytest.raises(GradcliError, match=r"'nope'.*b, w1, w2"):
            gradcli.gradients(NOTE_MODEL, wrt=["nope"])

    def test_zero_gradient_is_listed(self):
        report = gradcli.gradients("b + 0*w")
        assert list(report.gradients) == ["b", "w"]
        assert report.gradients["w"].backprop_value == 0.0 and report.gradients["w"].symbolic_value == 0.0

    def test_unused_names_are_warnings(self):
        report = gradcli.gradients("w*x1", data={"x1": [1.0], "y": [0.0], "zz": [2.0]}, params={"w": 1.0, "q": 1.0})
        assert any("'zz'" in w for w in report.warnings)
        assert any("'q'" in w for w in report.warnings)
        assert report.agree is True

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            (dict(model=NOTE_MODEL, data={"x1": [1.0], "w1": [2.0]}, params={"w1": 3.0}), "'w1'"),
            (dict(model=NOTE_MODEL, data={"exp": [1.0]}), "'exp'"),
            (dict(model=NOTE_MODEL, data={"pi": [1.0]}), "'pi'"),
            (dict(model=NOTE_MODEL, data={"yhat": [1.0]}), "'yhat'"),
            (dict(model=NOTE_MODEL + " + y"), "'y'"),
            (dict(model=NOTE_MODEL + " + yhat"), "yhat"),
            (dict(model=NOTE_MODEL, params={"y": 1.0}), "'y'"),
            (dict(model=NOTE_MODEL, target="exp"), "'exp'"),
        ],
        ids=["data-and-param", "function", "constant", "yhat-data", "model-uses-target", "model-uses-yhat",
             "target-as-param", "target-a-function"],
    )
    def test_role_errors(self, kwargs, match):
        with pytest.raises(RoleError, match=match):
            gradcli.gradients(**kwargs)


# ---------------------------------------------------------------- engines and the comparison rule


class TestComparison:
    @pytest.mark.parametrize(
        "s, b, rtol, atol, expected",
        [
            (1.0, 1.0, 0.0, 0.0, True),
            (1.0, 1.5, 0.5, 0.0, True),  # |s - b| == rtol*|s|: on the boundary agrees
            (1.0, 1.5, 0.25, 0.25, True),  # == atol + rtol*|s|
            (1.0, 1.5, 0.25, 0.125, False),
            (2.0, 1.0, 0.5, 0.0, True),  # relative to |s| ...
            (1.0, 2.0, 0.5, 0.0, False),  # ... not to |b|
            (0.0, 1e-12, 1e-9, 1e-12, True),
            (0.0, 2e-12, 1e-9, 1e-12, False),
            (-4.0, -4.5, 0.125, 0.0, True),
            (-4.0, 4.0, 1.0, 0.0, False),
        ],
    )
    def test_rule(self, s, b, rtol, atol, expected):
        assert agrees(s, b, rtol, atol) is expected

    # 3*0.1 - 0.3 is 0 in decimal (symbolic, 30 digits) but 5.55e-17 in floats (backprop)
    ROUNDING = dict(model="w*x1", data={"x1": [0.1], "y": [0.3]}, params={"w": 3.0})

    def test_zero_tolerance_still_allows_float64s_resolution(self):
        # the residual 3*0.1 - 0.3 cancels: 5.55e-17 is rounding float64 cannot resolve, not a disagreement
        report = gradcli.gradients(**self.ROUNDING, rtol=0.0, atol=0.0)
        g = report.gradients["w"]
        assert g.abs_diff > 0
        assert g.abs_diff == abs(g.symbolic_value - g.backprop_value)
        assert g.agree is True and report.agree is True
        assert g.abs_diff <= g.resolution < 1e-15

    def test_default_tolerance_agrees(self):
        report = gradcli.gradients(**self.ROUNDING)
        assert report.gradients["w"].agree is True and report.agree is True

    def test_abs_diff_matches_rule(self):
        report = gradcli.gradients(**self.ROUNDING, rtol=0.0, atol=1.0)
        g = report.gradients["w"]
        assert g.agree is agrees(g.symbolic_value, g.backprop_value, 0.0, 1.0) is True

    def test_backprop_alone(self):
        report = gradcli.gradients(NOTE_MODEL, data={"x1": [1.5], "x2": [2.0], "y": [1.0]}, params=NOTE_PARAMS,
                                   engines=("backprop",))
        assert report.engines == ("backprop",)
        assert report.agree is None
        for name, g in report.gradients.items():
            assert g.backprop_value == pytest.approx(NOTE_GRADIENTS[name])
            assert g.symbolic is None and g.symbolic_value is None and g.abs_diff is None and g.agree is None

    def test_symbolic_alone_with_finite_differences(self):
        report = gradcli.gradients(NOTE_MODEL, data={"x1": [1.5], "x2": [2.0], "y": [1.0]}, params=NOTE_PARAMS,
                                   engines=("symbolic",), check_fd=True)
        assert report.agree is True
        for name, g in report.gradients.items():
            assert g.backprop_value is None and g.agree is None
            assert g.symbolic_value == pytest.approx(NOTE_GRADIENTS[name])
            assert g.fd_value == pytest.approx(NOTE_GRADIENTS[name], rel=1e-6) and g.fd_agree is True

    @pytest.mark.parametrize("engines", [(), ("sympy",), ("backprop", "torch")])
    def test_unknown_engines(self, engines):
        with pytest.raises(GradcliError, match="engines"):
            gradcli.gradients(NOTE_MODEL, engines=engines)

    @pytest.mark.parametrize("kwargs", [dict(rtol=-1.0), dict(atol=-1e-12), dict(rtol=math.nan), dict(atol=math.inf)])
    def test_bad_tolerances(self, kwargs):
        with pytest.raises(GradcliError, match="rtol|atol"):
            gradcli.gradients(NOTE_MODEL, **kwargs)


# ---------------------------------------------------------------- bad input


class TestBadInput:
    @pytest.mark.parametrize(
        "params, match",
        [({"w": True}, "'w'"), ({"w": "abc"}, "'w'"), ({"w": None}, "'w'"), ({"w": math.nan}, "'w'"),
         ({"w": -math.inf}, "'w'")],
        ids=["bool", "string", "none", "nan", "inf"],
    )
    def test_bad_params(self, params, match):
        with pytest.raises(DataError, match=match):
            gradcli.gradients("w*x1", params=params)

    @pytest.mark.parametrize(
        "data, match",
        [
            ({"x1": [1.0, 2.0], "y": [1.0]}, "'y'"),
            ({"x1": [[[1.0]], [[2.0]]]}, "'x1'"),  # 2-D is a vector per row; 3-D is nothing
            ({"x1": [1.0, math.nan], "y": [0.0, 1.0]}, "row 2"),
            ({"x1": np.array([np.inf]), "y": [0.0]}, "row 1"),
            ({"x1": []}, "no rows"),
            ({"x1": ["abc"]}, "'x1'"),
        ],
        ids=["lengths", "2-d", "nan", "inf", "empty", "text"],
    )
    def test_bad_data(self, data, match):
        with pytest.raises(DataError, match=match):
            gradcli.gradients("w*x1", data=data)

    def test_bce_target_outside_0_1_names_the_row(self):
        with pytest.raises(DataError, match=r"'y'.*row 3"):
            gradcli.gradients("sigmoid(w*x1)", loss="bce", data={"x1": [1.0, 2.0, 3.0], "y": [0.0, 1.0, 2.0]})

    def test_custom_loss_without_yhat(self):
        with pytest.raises(GradcliError, match="yhat"):
            gradcli.gradients(NOTE_MODEL, loss="(w1 - y)**2")

    def test_custom_loss(self):
        report = gradcli.gradients(NOTE_MODEL, loss="(yhat-y)**4", data={"x1": [1.5], "x2": [2.0], "y": [1.0]},
                                   params=NOTE_PARAMS)
        assert backprop(report) == pytest.approx({"b": 0.5, "w1": 0.75, "w2": 1.0})
        assert report.agree is True

    def test_huber_delta(self):
        with pytest.raises(GradcliError, match="delta"):
            gradcli.gradients(NOTE_MODEL, loss="huber", delta=0.0)

    def test_undefined_point(self):
        with pytest.raises(UndefinedError, match="log"):
            gradcli.gradients("log(w)", params={"w": -1.0})

    def test_huge_integer_param(self):
        with pytest.raises(GradcliError):
            gradcli.gradients("w*x1", params={"w": 10**400})

    def test_huge_integer_data(self):
        with pytest.raises(GradcliError):
            gradcli.gradients("w*x1", data={"x1": [10**400]})


class TestManyNames:
    def test_unused_names_make_one_warning_however_many(self):
        data = {"x1": [1.0], "y": [0.0], **{f"z{i}": [1.0] for i in range(1000)}}
        report = gradcli.gradients("w*x1", data=data, params={"w": 1.0, "q": 2.0})
        assert report.warnings == ["data 'z0', 'z1', 'z2', 'z3', 'z4' and 995 more are not used by the model or "
                                   "the loss", "parameter 'q' is not used by the model or the loss"]

    def test_a_parameter_file_of_a_million_keys_is_refused_at_once(self, tmp_path):
        (tmp_path / "p.json").write_text(json.dumps({f"p{i}": 1.0 for i in range(10**6)}))
        with pytest.raises(DataError, match="1,000,000 parameters; at most 100,000"):
            gradcli.gradients("w*x1", data={"x1": [1.0], "y": [0.0]}, params=tmp_path / "p.json")
