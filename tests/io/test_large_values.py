"""One bound on data values for every reader and every command: a value float64 cannot square (beyond
finite.LARGEST, 1.34e154) is refused, naming its column and row, exactly as a nan is; up to it, every
command works, and no raw NumPy warning reaches stderr."""

from __future__ import annotations

import math

import numpy as np
import pytest
from cli_runner import one_line_error

import gradcli
from gradcli.engines.finite import LARGEST, all_usable, require_finite
from gradcli.errors import DataError

ABOVE = math.nextafter(LARGEST, math.inf)
# A RuntimeWarning becomes an error, so one is an internal error (exit 70), not a line on stderr.
STRICT = {"PYTHONWARNINGS": "error::RuntimeWarning"}


def test_the_bound_is_the_largest_value_whose_square_is_finite():
    assert math.isfinite(LARGEST * LARGEST) and not math.isfinite(ABOVE * ABOVE)


@pytest.mark.parametrize("size", [3, 5000])  # the exact check, and the one-dot check of large arrays
@pytest.mark.parametrize("value", [ABOVE, -ABOVE, 1.7976931348623157e308, math.nan, math.inf])
def test_a_value_past_the_bound_anywhere_is_named_by_row(size, value):
    for where in {0, size // 2, size - 1}:
        column = np.ones(size)
        column[where] = value
        assert not all_usable(column)
        with pytest.raises(DataError, match=rf"data 'x1': row {where + 1} is "):
            require_finite("x1", column)


def test_values_up_to_the_bound_are_usable_even_when_their_squares_sum_past_it():
    assert all_usable(np.full(10_000, LARGEST)) and all_usable(np.full(3, -LARGEST)) and all_usable(np.zeros(0))


HUGE_CSV = "x1,x2,y\n1,1.7976931348623157e308,2\n2,0,4\n3,0,6.5\n4,0,8\n"
BOUNDED_CSV = "x1,x2,y\n1,1e150,2\n2,0,4\n3,-1e150,6.5\n4,0,8\n"
PARAMS = "b=0,w1=0,w2=0"
MODEL = "b + w1*x1 + w2*x2"
COMMANDS = [
    ("train", "DATA"),
    ("train", "DATA", "--optimizer", "adam", "--epochs", "5"),
    ("grad", MODEL, "--data", "DATA", "--params", PARAMS),
    ("hessian", MODEL, "--data", "DATA", "--params", PARAMS),
    ("explain", MODEL, "--data", "DATA", "--params", PARAMS, "--row", "1"),
    ("graph", MODEL, "--data", "DATA", "--params", PARAMS, "--row", "1"),
    ("check", MODEL, "--wrt", "w2", "--claim", "2*(b + w1*x1 + w2*x2 - y)*x2", "--data", "DATA"),
    ("predict", "model.json", "DATA"),
]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_every_command_refuses_a_value_float64_cannot_square(gradcli, tmp_path, args, suffix):
    """The column once trained to "at the optimum" with two RuntimeWarnings on stderr, while grad refused it."""
    if args[0] == "predict":
        assert gradcli("train", _data(tmp_path, BOUNDED_CSV, ".csv"), "--save", "model.json", "-q").code == 0
    data = _data(tmp_path, HUGE_CSV, suffix)
    result = gradcli(*(data if a == "DATA" else a for a in args), env=STRICT)
    message = one_line_error(result, "column 'x2'", "1.79769e+308", "beyond ±1.34e+154", "rescale the column")
    assert "row 1" in message and "RuntimeWarning" not in message


@pytest.mark.parametrize("args", COMMANDS[:-1], ids=lambda a: " ".join(a[:3]))
def test_every_command_runs_with_values_up_to_the_bound_and_no_warning(gradcli, tmp_path, args):
    data = _data(tmp_path, BOUNDED_CSV, ".csv")
    result = gradcli(*(data if a == "DATA" else a for a in args), env=STRICT)
    assert result.code in (0, 1), result  # 1: a check that failed is a verdict, not a crash
    assert "Warning" not in result.err and "internal error" not in result.err, result


def test_training_with_values_up_to_the_bound_reaches_least_squares(gradcli, tmp_path):
    result = gradcli("train", _data(tmp_path, BOUNDED_CSV, ".csv"), "--format", "json", env=STRICT)
    assert result.code == 0, result
    report = result.json()
    assert report["at_optimum"] is True and report["converged"] is True
    for name, value in report["closed_form"]["params"].items():
        assert report["params"][name] == pytest.approx(value, rel=1e-9)
    assert report["params"]["w2"] == pytest.approx(-3.333333333333e-151, rel=1e-9)


@pytest.mark.parametrize("column", [[1.0, ABOVE], np.array([1.0, -ABOVE]), np.array([[1.0, 2.0], [ABOVE, 1.0]])],
                         ids=["list", "array", "vector input"])
def test_the_api_refuses_it_as_the_readers_do(column):
    model = "dot(w, x1)" if np.ndim(column) == 2 else "w*x1"
    with pytest.raises(DataError, match=r"data 'x1'.* row 2.*beyond ±1.34e\+154"):
        gradcli.gradients(model, data={"x1": column, "y": [1.0, 2.0]},
                          params={"w": 1e-160} if model == "w*x1" else None)
    with pytest.raises(DataError, match=r"data 'x1'.* row 2.*beyond ±1.34e\+154"):
        gradcli.train({"x1": column, "y": [1.0, 2.0]}, model=model)


def _data(folder, text: str, suffix: str) -> str:
    path = folder / f"d{suffix}"
    if suffix == ".csv":
        path.write_text(text)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        lines = [line.split(",") for line in text.strip().splitlines()]
        pq.write_table(pa.table({name: [float(row[i]) for row in lines[1:]] for i, name in enumerate(lines[0])}), path)
    return path.name
