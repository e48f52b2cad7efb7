"""Unit tests of gradcli.io.values: numbers, NAME=VALUE lists, JSON parameter files, API columns (CSV: test_csv.py).

Every defect is a DataError whose message says where it is (option and name,
or source, line, row and column).
"""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from gradcli.errors import DataError, GradcliError
from gradcli.io.values import (
    as_columns,
    decode_utf8,
    is_assignment_list,
    parse_assignments,
    parse_number,
    read_params,
    read_params_json,
    read_text_source,
)


def data_error(fn, *args) -> str:
    with pytest.raises(DataError) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_data_error_is_a_gradcli_error():
    assert issubclass(DataError, GradcliError)


# ---------------------------------------------------------------- parse_number


class TestParseNumber:
    @pytest.mark.parametrize(
        "text, value",
        [("1", 1.0), ("1.", 1.0), (".5", 0.5), ("-2.5e3", -2500.0), ("+3", 3.0), (" 4 ", 4.0), ("1E-2", 0.01),
         ("-0", 0.0), ("1e-400", 0.0), ("1.7976931348623157e308", 1.7976931348623157e308)],
    )
    def test_decimal_numbers(self, text, value):
        assert parse_number(text, "here") == value

    @pytest.mark.parametrize("text", ["abc", "1+1", "0x10", "1_000", "1,5", "e5", "--1", "1e", "(1)", "2*3"])
    def test_not_decimal(self, text):
        message = data_error(parse_number, text, "--data x1")
        assert message.startswith("--data x1: ")
        assert text in message and "not a decimal number" in message

    @pytest.mark.parametrize("text", ["", "   "])
    def test_empty(self, text):
        assert data_error(parse_number, text, "f.csv: line 3 (row 2), column 'x'") == \
            "f.csv: line 3 (row 2), column 'x': empty value"

    @pytest.mark.parametrize("text", ["nan", "NaN", "-nan", "inf", "-inf", "+Infinity", "INF"])
    def test_non_finite(self, text):
        message = data_error(parse_number, text, "where")
        assert message.startswith("where: ") and text in message and "finite" in message

    @pytest.mark.parametrize("text", ["1e999", "-1e400", "2e308"])
    def test_overflow(self, text):
        message = data_error(parse_number, text, "where")
        assert message.startswith("where: ") and text in message and "overflows" in message

    def test_control_characters_are_escaped(self):
        message = data_error(parse_number, "1\x1b[2J", "where")
        assert "\x1b" not in message


# ---------------------------------------------------------------- parse_assignments


class TestParseAssignments:
    def test_values(self):
        assert parse_assignments("x1=1.5, x2 = 2 ,y=-1", "--data") == {"x1": 1.5, "x2": 2.0, "y": -1.0}

    def test_order_is_kept(self):
        assert list(parse_assignments("b=1,a=2,c=3", "--params")) == ["b", "a", "c"]

    @pytest.mark.parametrize(
        "text, needles",
        [
            ("x1=1,,y=2", ["--data at column 6", "empty item"]),
            ("x1=1,", ["--data at column 6", "empty item"]),
            ("=3", ["--data at column 1", "'=3'", "NAME=VALUE"]),
            ("x1=1,x2", ["--data at column 6", "'x2'", "NAME=VALUE"]),
            ("x1=1,x1=2", ["--data at column 6", "'x1'", "twice"]),
            ("x1=abc", ["--data x1", "'abc'"]),
            ("x1=", ["--data x1", "empty value"]),
            ("x1=1,x2=nan", ["--data x2", "nan"]),
            ("x1=1e999", ["--data x1", "overflows"]),
            ("x1=1=2", ["--data x1", "'1=2'"]),
        ],
    )
    def test_defects(self, text, needles):
        message = data_error(parse_assignments, text, "--data")
        for needle in needles:
            assert needle in message, (needle, message)

    def test_is_assignment_list(self):
        assert is_assignment_list("x=1")
        assert not is_assignment_list("data.csv")
        assert not is_assignment_list("-")


# ---------------------------------------------------------------- decode_utf8 and read_text_source


class TestDecodeAndRead:
    def test_bom_is_dropped(self):
        assert decode_utf8(b"\xef\xbb\xbfx,y\n", "f.csv") == "x,y\n"

    def test_invalid_utf8_names_the_line(self):
        message = data_error(decode_utf8, b"x,y\n1,2\n3,\xff\n", "f.csv")
        assert message.startswith("f.csv: ") and "line 3" in message and "UTF-8" in message

    def test_missing_file(self, tmp_path):
        message = data_error(read_text_source, str(tmp_path / "nope.csv"), "--data")
        assert "--data" in message and "nope.csv" in message and "does not exist" in message

    def test_directory(self, tmp_path):
        assert "is a directory" in data_error(read_text_source, str(tmp_path), "--data")

    def test_stdin_and_limit(self, monkeypatch, tmp_path):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"abcdef")))
        assert read_text_source("-", "--data", limit=3) == b"abc"
        (tmp_path / "f.txt").write_bytes(b"hello")
        assert read_text_source(str(tmp_path / "f.txt"), "--model-file") == b"hello"


# ---------------------------------------------------------------- JSON parameter files


class TestParamsJson:
    def test_object_of_numbers(self):
        assert read_params_json(b'{"w": 0.7, "b": -1, "c": 2e3}', "p.json") == {"w": 0.7, "b": -1.0, "c": 2000.0}

    def test_bom(self):
        assert read_params_json(b'\xef\xbb\xbf{"w": 1}', "p.json") == {"w": 1.0}

    @pytest.mark.parametrize(
        "content, needles",
        [
            (b'{"w": NaN}', ["NaN", "finite"]),
            (b'{"w": Infinity}', ["Infinity", "finite"]),
            (b'{"w": -Infinity}', ["-Infinity", "finite"]),
            (b'{"w": 1e999}', ["'w'", "overflows"]),
            (b'{"w": "0.7"}', ["'w'", "not a number"]),
            (b'{"w": true}', ["'w'", "not a number"]),
            (b'{"w": null}', ["'w'", "not a number"]),
            (b'{"w": [[1], [2, 3]]}', ["'w'", "rows of one length"]),  # a vector or matrix: one shape
            (b'{"w": {"v": 1}}', ["'w'", "not a number"]),
            (b"[0.7]", ["JSON object"]),
            (b"0.7", ["JSON object"]),
            (b'{"w": 0.7', ["invalid JSON", "line 1", "column"]),
            (b'{\n"w": 0.7,\n}', ["invalid JSON", "line 3", "column 1"]),
            (b"", ["invalid JSON"]),
            (b'{"w": 1, "\xff": 2}', ["invalid UTF-8", "line 1"]),
        ],
        ids=["nan", "inf", "-inf", "overflow", "string", "bool", "null", "ragged-list", "object-value",
             "list", "number", "truncated", "trailing-comma", "empty", "invalid-utf8"],
    )
    def test_defects(self, content, needles):
        message = data_error(read_params_json, content, "p.json")
        assert message.startswith("p.json: "), message
        for needle in needles:
            assert needle in message, (needle, message)

    def test_huge_integer(self):
        message = data_error(read_params_json, b'{"w": 1' + b"0" * 400 + b"}", "p.json")
        assert "'w'" in message

    def test_duplicate_key(self):
        message = data_error(read_params_json, b'{"w": 1, "w": 2}', "p.json")
        assert "'w'" in message

    def test_read_params_inline_or_file(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        assert read_params("w=0.7,b=1") == {"w": 0.7, "b": 1.0}
        (tmp_path / "p.json").write_text('{"w": 0.7}')
        assert read_params("p.json") == {"w": 0.7}
        message = data_error(read_params, "missing.json")
        assert "'missing.json'" in message and "--params" in message
        (tmp_path / "dir.json").mkdir()
        assert "dir.json" in data_error(read_params, "dir.json")

    def test_read_params_stdin(self, monkeypatch):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"w": NaN}')))
        assert data_error(read_params, "-").startswith("stdin: ")


# ---------------------------------------------------------------- as_columns (the API's data)


class TestAsColumns:
    def test_float64_array_is_not_copied(self):
        x = np.array([1.5, 1.0])
        columns, rows = as_columns({"x1": x})
        assert columns["x1"] is x
        assert np.shares_memory(columns["x1"], x)
        assert rows == 2

    def test_float64_view_is_not_copied(self):
        base = np.arange(10, dtype=np.float64)
        view = base[::2]
        columns, rows = as_columns({"x1": view})
        assert np.shares_memory(columns["x1"], base)
        assert rows == 5

    def test_lists_and_other_dtypes_become_float64(self):
        ints = np.array([1, 2], dtype=np.int64)
        columns, rows = as_columns({"a": [1, 2.5], "b": ints, "c": (3, 4)})
        assert rows == 2
        for array in columns.values():
            assert isinstance(array, np.ndarray) and array.dtype == np.float64 and array.ndim == 1
        assert columns["b"].tolist() == [1.0, 2.0] and ints.dtype == np.int64

    def test_scalar_is_one_row(self):
        columns, rows = as_columns({"x1": 2.0})
        assert rows == 1 and columns["x1"].tolist() == [2.0]

    def test_names_become_strings(self):
        columns, _ = as_columns({"x1": [1.0]})
        assert list(columns) == ["x1"]

    @pytest.mark.parametrize(
        "data, needles",
        [
            ({"x1": [1.0, float("nan")]}, ["'x1'", "row 2", "finite"]),
            ({"x1": np.array([1.0, 2.0, np.inf])}, ["'x1'", "row 3", "finite"]),
            ({"x1": [1.0, 2.0], "y": [1.0]}, ["'y'", "1 rows", "2"]),
            ({"x1": [[[1.0, 2.0]]]}, ["'x1'", "1-D", "(1, 1, 2)"]),  # 2-D is a vector per row
            ({"x1": ["abc"]}, ["'x1'", "not real numbers"]),
            ({"x1": [1j]}, ["'x1'", "not real numbers"]),
            ({"x1": []}, ["no rows"]),
        ],
        ids=["nan", "inf-array", "lengths", "3-d", "text", "complex-list", "empty"],
    )
    def test_defects(self, data, needles):
        message = data_error(as_columns, data)
        for needle in needles:
            assert needle in message, (needle, message)

    def test_huge_integer(self):
        data_error(as_columns, {"x1": [10**400]})

    def test_complex_array(self):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data_error(as_columns, {"x1": np.array([1 + 1j])})
