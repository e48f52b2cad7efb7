"""The `gradcli` program as a user runs it: the installed console script in a subprocess.

Covers the worked example of docs/worked-example.md in every output format, roles and
default values, inline/JSON/CSV values and every defect they can have, losses,
exit codes (0 agree, 1 disagree, 2 bad input), usage errors, --help/--version,
colour handling on a pipe and on a terminal, and a light start-up.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import ANSI, ANSI_COLOUR, Result, clean_env, gradcli_program, one_line_error, probe

NOTE_MODEL = "b+w1*x1+w2*x2"
NOTE_DATA = "x1=1.5,x2=2,y=1"
NOTE_PARAMS = "b=0.5,w1=2,w2=-1"
NOTE_ARGS = [NOTE_MODEL, "--loss", "mse", "--data", NOTE_DATA, "--params", NOTE_PARAMS]
NOTE_GRADIENTS = {"b": 1.0, "w1": 1.5, "w2": 2.0}

JSON_KEYS = {
    "model", "loss", "loss_formula", "target", "params", "inputs", "rows", "point", "defaults",
    "loss_value", "gradients", "agree", "rtol", "atol", "engines", "warnings", "witness", "row_gradients",
    "files", "engine",
}
GRADIENT_KEYS = {"param", "symbolic", "symbolic_value", "backprop_value", "abs_diff", "agree", "fd_value", "fd_agree",
                 "fd_verdict", "resolution", "condition", "forward_value", "forward_abs_diff", "forward_agree",
                 "forward_verdict"}  # forward_*: null without --check-forward (docs/forward-mode.md)
CSV_HEADER = ["param", "symbolic", "symbolic_value", "backprop_value", "abs_diff", "agree"]

def by_param(document: dict) -> dict[str, dict]:
    return {g["param"]: g for g in document["gradients"]}


# ---------------------------------------------------------------- the worked example


class TestWorkedExample:
    def test_json_document(self, gradcli):
        result = gradcli("grad", *NOTE_ARGS, "--format", "json")
        assert result.code == 0, result
        assert result.err == ""
        doc = result.json()  # the whole of stdout is one JSON document
        assert set(doc) == JSON_KEYS
        assert doc["model"] == NOTE_MODEL
        assert doc["loss"] == "mse"
        assert doc["loss_formula"] == "(yhat - y)**2"
        assert doc["target"] == "y"
        assert doc["params"] == {"b": 0.5, "w1": 2.0, "w2": -1.0}
        assert doc["inputs"] == ["x1", "x2"]
        assert doc["rows"] == 1
        assert doc["point"] == {"x1": 1.5, "x2": 2.0, "y": 1.0}
        assert doc["defaults"] == {}
        assert doc["loss_value"] == pytest.approx(0.25)
        assert doc["agree"] is True
        assert doc["rtol"] == 1e-9 and doc["atol"] == 1e-12
        assert doc["engines"] == ["symbolic", "backprop"]
        assert doc["warnings"] == []
        assert [g["param"] for g in doc["gradients"]] == ["b", "w1", "w2"]
        for g in doc["gradients"]:
            assert set(g) == GRADIENT_KEYS
            expected = NOTE_GRADIENTS[g["param"]]
            assert g["symbolic_value"] == pytest.approx(expected)
            assert g["backprop_value"] == pytest.approx(expected)
            assert g["abs_diff"] == pytest.approx(0.0, abs=1e-12)
            assert g["agree"] is True
            assert g["fd_value"] is None and g["fd_agree"] is None and g["fd_verdict"] is None
            assert isinstance(g["symbolic"], str) and g["symbolic"]
        # The formulas are the old-fashioned partial derivatives of the note.
        formulas = {g["param"]: g["symbolic"].replace(" ", "") for g in doc["gradients"]}
        assert "x1" in formulas["w1"] and "x2" in formulas["w2"]

    def test_csv(self, gradcli):
        result = gradcli("grad", *NOTE_ARGS, "--format", "csv")
        assert result.code == 0, result
        rows = result.csv()
        assert rows[0] == CSV_HEADER
        assert [r[0] for r in rows[1:]] == ["b", "w1", "w2"]
        for row in rows[1:]:
            record = dict(zip(rows[0], row))
            assert float(record["symbolic_value"]) == pytest.approx(NOTE_GRADIENTS[record["param"]])
            assert float(record["backprop_value"]) == pytest.approx(NOTE_GRADIENTS[record["param"]])
            assert float(record["abs_diff"]) == pytest.approx(0.0, abs=1e-12)
            assert record["agree"] == "true"

    def test_csv_with_finite_differences(self, gradcli):
        result = gradcli("grad", *NOTE_ARGS, "--format", "csv", "--check-fd")
        assert result.code == 0, result
        rows = result.csv()
        assert rows[0] == CSV_HEADER + ["fd_value", "fd_agree"]
        assert len(rows) == 4
        for row in rows[1:]:
            record = dict(zip(rows[0], row))
            assert float(record["fd_value"]) == pytest.approx(NOTE_GRADIENTS[record["param"]], rel=1e-6)
            assert record["fd_agree"] == "true" and record["agree"] == "true"

    def test_table_is_the_default_and_plain_on_a_pipe(self, gradcli):
        result = gradcli("grad", NOTE_MODEL, "--data", NOTE_DATA, "--params", NOTE_PARAMS)
        assert result.code == 0, result
        assert result.err == ""
        assert NOTE_MODEL in result.out
        assert "mse" in result.out and "(yhat - y)**2" in result.out and "0.25" in result.out
        lines = result.out.splitlines()
        for param in ("b", "w1", "w2"):
            row = [line for line in lines if line.split() and line.split()[0] == param]
            assert len(row) == 1, result.out
            assert "✓" in row[0]
        assert result.out.count("✓") == 3
        assert "agree" in result.out
        assert not ANSI.search(result.out), repr(result.out)

    def test_table_with_no_color_on_a_pipe(self, gradcli):
        result = gradcli("grad", NOTE_MODEL, "--data", NOTE_DATA, "--params", NOTE_PARAMS, env={"NO_COLOR": "1"})
        assert result.code == 0, result
        assert not ANSI.search(result.out), repr(result.out)
        assert "✓" in result.out and "agree" in result.out

    def test_parameter_reached_by_two_paths(self, gradcli):
        # d/dw of (w*x1 + w**2 - y)**2 = 2*(w*x1 + w**2 - y)*(x1 + 2w) = 2*0.89*3.4 = 6.052
        result = gradcli("grad", "w*x1 + w**2", "--data", "x1=2,y=1", "--params", "w=0.7", "--format", "json")
        assert result.code == 0, result
        (g,) = result.json()["gradients"]
        assert g["param"] == "w"
        assert g["symbolic_value"] == pytest.approx(6.052)
        assert g["backprop_value"] == pytest.approx(6.052)
        assert g["agree"] is True


# ---------------------------------------------------------------- colour on a terminal


def run_on_terminal(args: list[str], cwd: Path, **env: str) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal; returns (exit code, what reached the terminal)."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [gradcli_program(), *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
        env=clean_env(TERM="xterm-256color", COLUMNS="200", **env),
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.communicate(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


TERMINAL_ARGS = ["grad", NOTE_MODEL, "--data", NOTE_DATA, "--params", NOTE_PARAMS]


@pytest.fixture(scope="module")
def terminal_runs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("tty")
    return {
        "colour": run_on_terminal(TERMINAL_ARGS, cwd),
        "no_color": run_on_terminal(TERMINAL_ARGS, cwd, NO_COLOR="1"),
    }


class TestTerminal:
    def test_colour_on_a_terminal(self, terminal_runs):
        # A control for the harness: on a terminal Rich does decorate.
        code, out = terminal_runs["colour"]
        assert code == 0, out
        assert ANSI_COLOUR.search(out), repr(out)
        assert "✓" in out

    def test_no_color_removes_colour_on_a_terminal(self, terminal_runs):
        code, out = terminal_runs["no_color"]
        assert code == 0, out
        assert "✓" in out and "agree" in out
        assert not ANSI_COLOUR.search(out), repr(out)

    def test_no_color_means_no_escape_codes_on_a_terminal(self, terminal_runs):
        code, out = terminal_runs["no_color"]
        assert code == 0, out
        assert not ANSI.search(out), repr(out)


# ---------------------------------------------------------------- roles and defaults


class TestRoles:
    def test_defaults_without_data(self, gradcli):
        result = gradcli("grad", NOTE_MODEL, "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert doc["inputs"] == ["x1", "x2"]
        assert doc["params"] == {"b": 0.5, "w1": 0.5, "w2": 0.5}
        assert doc["defaults"] == {"b": 0.5, "w1": 0.5, "w2": 0.5, "x1": 1.0, "x2": 1.0, "y": 0.0}
        assert doc["point"] == {"x1": 1.0, "x2": 1.0, "y": 0.0}
        # yhat = 1.5, loss = 2.25, dloss/db = 3, dloss/dw1 = 3*x1, dloss/dw2 = 3*x2
        assert doc["loss_value"] == pytest.approx(2.25)
        assert {g["param"]: g["backprop_value"] for g in doc["gradients"]} == pytest.approx(
            {"b": 3.0, "w1": 3.0, "w2": 3.0})

    def test_which_names_are_inputs(self, gradcli):
        result = gradcli("grad", "c*x + w*x_foo + x1*x2 + xfoo + x1a", "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert sorted(doc["inputs"]) == ["x", "x1", "x2", "x_foo"]
        assert list(doc["params"]) == ["c", "w", "xfoo", "x1a"]
        assert doc["defaults"] == {"c": 0.5, "w": 0.5, "xfoo": 0.5, "x1a": 0.5,
                                   "x": 1.0, "x_foo": 1.0, "x1": 1.0, "x2": 1.0, "y": 0.0}
        # yhat = 0.5 + 0.5 + 1 + 0.5 + 0.5 = 3, dloss/dc = 2*3*x = 6
        assert by_param(doc)["c"]["backprop_value"] == pytest.approx(6.0)

    def test_a_name_given_as_a_parameter_stays_a_parameter(self, gradcli):
        result = gradcli("grad", "w*x1", "--params", "x1=2", "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert doc["inputs"] == []
        assert [g["param"] for g in doc["gradients"]] == ["w", "x1"]

    def test_target_renamed(self, gradcli):
        result = gradcli("grad", NOTE_MODEL, "--target", "t", "--data", "x1=1.5,x2=2,t=1",
                         "--params", NOTE_PARAMS, "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert doc["target"] == "t"
        assert doc["loss_formula"] == "(yhat - t)**2"
        assert doc["point"] == {"x1": 1.5, "x2": 2.0, "t": 1.0}
        assert {g["param"]: g["backprop_value"] for g in doc["gradients"]} == pytest.approx(NOTE_GRADIENTS)

    def test_wrt_one_parameter(self, gradcli):
        result = gradcli("grad", *NOTE_ARGS, "--wrt", "w1", "--format", "csv")
        assert result.code == 0, result
        rows = result.csv()
        assert [r[0] for r in rows[1:]] == ["w1"]
        assert float(rows[1][3]) == pytest.approx(1.5)

    def test_wrt_comma_separated_and_repeated_keeps_order(self, gradcli):
        result = gradcli("grad", *NOTE_ARGS, "--wrt", "w2,b", "--wrt", "w2", "--format", "json")
        assert result.code == 0, result
        assert [g["param"] for g in result.json()["gradients"]] == ["w2", "b"]

    def test_wrt_unknown_lists_the_parameters(self, gradcli):
        one_line_error(gradcli("grad", NOTE_MODEL, "--wrt", "nope"), "'nope'", "b, w1, w2")

    def test_parameter_with_zero_gradient_is_listed(self, gradcli):
        result = gradcli("grad", "b + 0*w", "--format", "json")
        assert result.code == 0, result
        grads = by_param(result.json())
        assert list(grads) == ["b", "w"]
        assert grads["w"]["symbolic_value"] == 0.0 and grads["w"]["backprop_value"] == 0.0
        assert grads["w"]["agree"] is True

    def test_name_both_data_and_parameter(self, gradcli):
        one_line_error(gradcli("grad", NOTE_MODEL, "--data", "x1=1,w1=2", "--params", "w1=3"), "'w1'")

    @pytest.mark.parametrize("name", ["exp", "pi", "yhat"])
    def test_data_named_like_a_function_constant_or_yhat(self, gradcli, name):
        one_line_error(gradcli("grad", NOTE_MODEL, "--data", f"x1=1,{name}=1"), f"'{name}'")

    def test_target_given_as_a_parameter(self, gradcli):
        one_line_error(gradcli("grad", NOTE_MODEL, "--params", "y=2"), "'y'")

    def test_unused_data_is_a_warning(self, gradcli):
        result = gradcli("grad", NOTE_MODEL, "--data", "x1=1,x2=2,y=0,zz=3", "--format", "json")
        assert result.code == 0, result
        assert "warning" in result.err and "'zz'" in result.err
        assert result.err.count("\n") == 1
        doc = result.json()  # the warning did not reach stdout
        assert any("zz" in w for w in doc["warnings"])

    def test_data_without_the_target_is_an_error(self, gradcli):
        one_line_error(gradcli("grad", NOTE_MODEL, "--data", "x1=1,x2=2"), "no value for the target 'y'")

    def test_unused_parameter_is_a_warning(self, gradcli):
        result = gradcli("grad", NOTE_MODEL, "--params", "zz=3", "--format", "csv")
        assert result.code == 0, result
        assert result.err.startswith("gradcli: warning:") and "'zz'" in result.err
        assert result.csv()[0] == CSV_HEADER

    @pytest.mark.parametrize(
        "args, needle",
        [
            (["b + w*x1 + y"], "'y'"),
            (["b + w*x1 + t", "--target", "t"], "'t'"),
            (["b + w*x1 + yhat"], "yhat"),
        ],
        ids=["target-y", "renamed-target", "yhat"],
    )
    def test_model_may_not_use_target_or_yhat(self, gradcli, args, needle):
        one_line_error(gradcli("grad", *args), needle)


# ---------------------------------------------------------------- inline values


class TestInlineValues:
    @pytest.mark.parametrize(
        "data, needles",
        [
            ("x1=abc", ["x1", "abc"]),
            ("x1=nan", ["x1", "nan"]),
            ("x1=-inf", ["x1", "inf"]),
            ("x1=1e999", ["x1", "1e999"]),
            ("x1=1+1", ["x1", "1+1"]),
            ("x1=", ["x1", "empty"]),
            ("=3", ["NAME=VALUE"]),
            ("x1=1,x2=2,x1=3", ["'x1'", "twice"]),
            ("x1=\u0661", ["x1", "not a decimal number"]),
            ("x1=\uff11", ["x1", "not a decimal number"]),
        ],
        ids=["text", "nan", "inf", "overflow", "expression", "empty", "no-name", "duplicate",
             "arabic-indic-digit", "fullwidth-digit"],
    )
    def test_bad_data_values(self, gradcli, data, needles):
        one_line_error(gradcli("grad", NOTE_MODEL, "--data", data), "--data", *needles)

    def test_bad_parameter_value_names_the_option(self, gradcli):
        one_line_error(gradcli("grad", NOTE_MODEL, "--params", "w1=1,w2=x"), "--params", "w2")


# ---------------------------------------------------------------- JSON parameter files


class TestParamsJson:
    def test_json_file(self, gradcli, tmp_path):
        (tmp_path / "p.json").write_text('{"w": 0.7}')
        result = gradcli("grad", "w*x1 + w**2", "--data", "x1=2,y=1", "--params", "p.json", "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert doc["params"] == {"w": 0.7}
        assert doc["gradients"][0]["backprop_value"] == pytest.approx(6.052)

    def test_json_on_stdin(self, gradcli):
        result = gradcli("grad", "w*x1 + w**2", "--data", "x1=2,y=1", "--params", "-", "--format", "csv",
                         stdin=b'{"w": 0.7}')
        assert result.code == 0, result
        assert float(result.csv()[1][3]) == pytest.approx(6.052)

    @pytest.mark.parametrize(
        "content, needles",
        [
            (b'{"w": NaN}', ["NaN"]),
            (b'{"w": "0.7"}', ["'w'", "not a number"]),
            (b'{"w": true}', ["'w'", "not a number"]),
            (b"[0.7]", ["object"]),
            (b'{"w": 0.7', ["invalid JSON", "line 1"]),
        ],
        ids=["nan", "string", "bool", "not-object", "invalid"],
    )
    def test_bad_json(self, gradcli, tmp_path, content, needles):
        (tmp_path / "bad.json").write_bytes(content)
        one_line_error(gradcli("grad", "w*x1", "--params", "bad.json"), "bad.json", *needles)

    def test_missing_file(self, gradcli):
        one_line_error(gradcli("grad", "w*x1", "--params", "missing.json"), "missing.json")

    def test_huge_integer(self, gradcli, tmp_path):
        (tmp_path / "big.json").write_text('{"w": 1' + "0" * 400 + "}")
        one_line_error(gradcli("grad", "w*x1", "--params", "big.json"), "big.json", "'w'")

    def test_duplicate_key(self, gradcli, tmp_path):
        (tmp_path / "dup.json").write_text('{"w": 1, "w": 2}')
        one_line_error(gradcli("grad", "w*x1", "--params", "dup.json"), "dup.json", "'w'")


# ---------------------------------------------------------------- CSV data

TWO_ROWS = b"x1,x2,y\n1.5,2,1\n1,1,0\n"
# Row 1 is the note's point (loss 0.25); row 2: yhat = 1.5, y = 0 (loss 2.25).
TWO_ROW_LOSS = 1.25
TWO_ROW_GRADIENTS = {"b": 2.0, "w1": 2.25, "w2": 2.5}


class TestCsvData:
    def check_two_rows(self, result: Result) -> None:
        assert result.code == 0, result
        doc = result.json()
        assert doc["rows"] == 2
        assert doc["point"] is None
        assert doc["loss_value"] == pytest.approx(TWO_ROW_LOSS)
        for name, g in by_param(doc).items():
            assert g["symbolic_value"] == pytest.approx(TWO_ROW_GRADIENTS[name])
            assert g["backprop_value"] == pytest.approx(TWO_ROW_GRADIENTS[name])
        assert doc["agree"] is True

    def test_mean_over_rows(self, gradcli, tmp_path):
        (tmp_path / "two.csv").write_bytes(TWO_ROWS)
        result = gradcli("grad", NOTE_MODEL, "--data", "two.csv", "--params", NOTE_PARAMS, "--format", "json")
        self.check_two_rows(result)
        assert result.err == ""

    def test_stdin(self, gradcli):
        self.check_two_rows(gradcli("grad", NOTE_MODEL, "--data", "-", "--params", NOTE_PARAMS, "--format", "json",
                                    stdin=TWO_ROWS))

    def test_bom_crlf_quotes_and_blank_lines(self, gradcli, tmp_path):
        content = b'\xef\xbb\xbf"x1",x2,y\r\n\r\n"1.5"," 2 ",1\r\n   \r\n\r\n1,1,"0"\r\n\r\n'
        (tmp_path / "messy.csv").write_bytes(content)
        self.check_two_rows(gradcli("grad", NOTE_MODEL, "--data", "messy.csv", "--params", NOTE_PARAMS,
                                    "--format", "json"))

    def test_unused_column_is_a_warning(self, gradcli, tmp_path):
        (tmp_path / "extra.csv").write_bytes(b"x1,x2,y,note\n1.5,2,1,hello\n")
        result = gradcli("grad", NOTE_MODEL, "--data", "extra.csv", "--params", NOTE_PARAMS, "--format", "json")
        assert result.code == 0, result
        assert "warning" in result.err and "'note'" in result.err
        assert result.json()["loss_value"] == pytest.approx(0.25)

    @pytest.mark.parametrize(
        "content, needles",
        [
            (b"x1,x2,y\n1.5,2,1\n1,2\n", ["line 3", "row 2", "2 fields", "header has 3"]),
            (b"x1,x2,y\n1,2,3,4\n", ["line 2", "row 1", "4 fields", "header has 3"]),
            (b"x1,x2,y\n1.5,2,1\n1,,3\n", ["line 3", "row 2", "column 'x2'", "empty"]),
            (b"x1,x2,y\n\n1,abc,3\n", ["line 3", "row 1", "column 'x2'", "abc"]),
            (b"x1,x2,y\n1,2,nan\n", ["line 2", "row 1", "column 'y'", "nan"]),
            (b"x1,x2,y\n-inf,2,1\n", ["line 2", "row 1", "column 'x1'", "inf"]),
            (b"x1,x2,y\n1,1e400,3\n", ["line 2", "row 1", "column 'x2'", "overflows"]),
            (b"x1,x1,y\n1,2,3\n", ["line 1", "'x1'", "twice"]),
            (b"x1,,y\n1,2,3\n", ["line 1", "column 2", "empty name"]),
            (b"x1,x2,y\n", ["no data rows"]),
            (b"", ["empty"]),
            (b"x1,x2,y\n1,2,3\n1,\xff,3\n", ["line 3", "UTF-8"]),
            (b"x1,x2\n1,2\n", ["'y'", "columns: x1, x2", "--target"]),
        ],
        ids=["ragged-short", "ragged-long", "empty-cell", "non-numeric", "nan", "inf", "overflow",
             "duplicate-header", "empty-header", "header-only", "empty-file", "invalid-utf8", "no-target"],
    )
    def test_defects(self, gradcli, tmp_path, content, needles):
        (tmp_path / "data.csv").write_bytes(content)
        one_line_error(gradcli("grad", NOTE_MODEL, "--data", "data.csv"), "data.csv", *needles)

    def test_defect_on_stdin_names_stdin(self, gradcli):
        one_line_error(gradcli("grad", NOTE_MODEL, "--data", "-", stdin=b"x1,x2,y\n1,2,3\n4,5,six\n"),
                       "stdin", "line 3", "row 2", "column 'y'", "six")

    def test_bce_target_outside_0_1(self, gradcli, tmp_path):
        (tmp_path / "labels.csv").write_bytes(b"x1,x2,y\n1,2,0\n1,2,2\n")
        one_line_error(gradcli("grad", "sigmoid(b+w1*x1+w2*x2)", "--loss", "bce", "--data", "labels.csv"),
                       "bce", "'y'", "row 2")

    def test_missing_data_file(self, gradcli):
        one_line_error(gradcli("grad", NOTE_MODEL, "--data", "nope.csv"), "nope.csv")


# ---------------------------------------------------------------- losses


class TestLosses:
    def test_losses_table(self, gradcli):
        result = gradcli("losses")
        assert result.code == 0, result
        for name, formula in [("mse", "(yhat - y)**2"), ("mae", "abs(yhat - y)"), ("huber", "delta"),
                              ("bce", "log(yhat)")]:
            line = [ln for ln in result.out.splitlines() if ln.split() and ln.split()[0] == name]
            assert line and formula in line[0], result.out
        assert not ANSI.search(result.out)

    def test_losses_json(self, gradcli):
        result = gradcli("losses", "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert isinstance(doc, list)
        assert [item["name"] for item in doc] == ["mse", "mae", "huber", "bce", "ce"]
        for item in doc:
            assert set(item) == {"name", "formula", "note"}
            assert "yhat" in item["formula"]
        assert doc[0]["formula"] == "(yhat - y)**2"

    def test_custom_loss(self, gradcli):
        # d/dp (yhat - y)**4 = 4*(yhat - y)**3 * dyhat/dp with yhat - y = 0.5
        result = gradcli("grad", NOTE_MODEL, "--loss", "(yhat-y)**4", "--data", NOTE_DATA, "--params", NOTE_PARAMS,
                         "--format", "json")
        assert result.code == 0, result
        doc = result.json()
        assert doc["loss_value"] == pytest.approx(0.0625)
        assert {g["param"]: g["backprop_value"] for g in doc["gradients"]} == pytest.approx(
            {"b": 0.5, "w1": 0.75, "w2": 1.0})
        assert doc["agree"] is True

    @pytest.mark.parametrize("loss, needle", [("(w1-y)**2", "yhat"), ("(yhat-y", "column")],
                             ids=["no-yhat", "bad-syntax"])
    def test_bad_custom_loss(self, gradcli, loss, needle):
        one_line_error(gradcli("grad", NOTE_MODEL, "--loss", loss), needle)


# ---------------------------------------------------------------- exit code 1


class TestDisagreement:
    # 3*0.1 - 0.3 is exactly 0 in decimal (SymPy's 30 digits) but 5.55e-17 in floats (backprop).
    ARGS = ["w*x1", "--data", "x1=0.1,y=0.3", "--params", "w=3"]

    @pytest.fixture
    def wrong_mul(self, monkeypatch):
        """mul's local derivative off by one part in a million: a real disagreement (the program runs in
        a fork of this process, so it sees the patched table)."""
        import dataclasses

        from gradcli.language.ops import OPS

        monkeypatch.setitem(OPS, "mul", dataclasses.replace(OPS["mul"], local=lambda i, a, o: a[1 - i] * (1 + 1e-6)))

    def test_exit_1_when_engines_disagree(self, gradcli, wrong_mul):
        result = gradcli("grad", "w*x1", "--data", "x1=1.5,y=1", "--params", "w=3", "--rtol", "1e-10", "--atol", "0",
                         "--format", "json")
        assert result.code == 1, result
        doc = result.json()  # the result is still printed
        assert doc["agree"] is False
        assert doc["gradients"][0]["agree"] is False
        assert doc["gradients"][0]["abs_diff"] > 0 and doc["gradients"][0]["resolution"] is None
        assert doc["rtol"] == 1e-10 and doc["atol"] == 0

    def test_table_shows_the_disagreement(self, gradcli, wrong_mul):
        result = gradcli("grad", "w*x1", "--data", "x1=1.5,y=1", "--params", "w=3")
        assert result.code == 1, result
        assert "✗" in result.out and "disagreement" in result.out

    def test_zero_tolerance_leaves_rounding_within_float64s_resolution(self, gradcli):
        result = gradcli("grad", *self.ARGS, "--rtol", "0", "--atol", "0", "--format", "json")
        assert result.code == 0, result
        [w] = result.json()["gradients"]
        assert w["agree"] is True and 0 < w["abs_diff"] <= w["resolution"]
        assert "within float64's resolution: w" in result.err

    def test_default_tolerance_absorbs_rounding(self, gradcli):
        result = gradcli("grad", *self.ARGS, "--format", "csv")
        assert result.code == 0, result
        assert result.csv()[1][5] == "true"


# ---------------------------------------------------------------- usage errors, help and version


class TestUsage:
    @pytest.mark.parametrize(
        "args, needle",
        [
            (["grad", NOTE_MODEL, "--bogus"], "--bogus"),
            (["grad", NOTE_MODEL, "--format", "xml"], "--format"),
            (["grad", NOTE_MODEL, "--rtol", "abc"], "--rtol"),
            (["grad"], "no model"),
            (["grad", NOTE_MODEL, "--model-file", "m.txt"], "not both"),
            (["grad", "--model-file", "-", "--data", "-"], "stdin"),
            (["grad", NOTE_MODEL, "--data", "-", "--params", "-"], "stdin"),
            (["grad", NOTE_MODEL, "extra"], "extra"),
            (["frobnicate"], "frobnicate"),
            (["grad", NOTE_MODEL, "--loss", "msee"], "unknown loss 'msee'"),
            (["grad", NOTE_MODEL, "--wrt", ""], "parameters: b, w1, w2"),
            (["grad", "w*pi + x1", "--data", "pi.csv"], "constant pi"),
        ],
        ids=["unknown-option", "bad-format", "rtol-not-a-number", "no-model",
             "model-and-file", "stdin-model-and-data", "stdin-data-and-params", "extra-argument",
             "unknown-command", "unknown-loss", "empty-wrt", "constant-column"],
    )
    def test_usage_errors(self, gradcli, tmp_path, args, needle):
        (tmp_path / "m.txt").write_text("b + w*x1\n")
        (tmp_path / "pi.csv").write_text("x1,pi,y\n1,3,2\n")
        one_line_error(gradcli(*args), needle)

    def test_model_file(self, gradcli, tmp_path):
        (tmp_path / "model.txt").write_text("b +\n  w1*x1 + w2*x2\n")
        result = gradcli("grad", "--model-file", "model.txt", "--data", NOTE_DATA, "--params", NOTE_PARAMS,
                         "--format", "json")
        assert result.code == 0, result
        assert {g["param"]: g["backprop_value"] for g in result.json()["gradients"]} == pytest.approx(NOTE_GRADIENTS)

    def test_version(self, gradcli):
        import gradcli as package

        result = gradcli("--version")
        assert result.code == 0, result
        assert result.out.strip() == f"gradcli {package.__version__}"
        assert re.fullmatch(r"gradcli \d+\.\d+\.\d+\S*\n", result.out)

    @pytest.mark.parametrize("args", [["--help"], ["grad", "--help"], ["losses", "--help"]],
                             ids=["root", "grad", "losses"])
    def test_help(self, gradcli, args):
        result = gradcli(*args)
        assert result.code == 0, result
        assert "Example" in result.out
        assert result.err == ""


# ---------------------------------------------------------------- a light start-up


class TestStartUp:
    @pytest.mark.parametrize("argv", [["--help"], ["losses"], ["--version"]],
                             ids=["help", "losses", "version"])
    def test_no_sympy_or_numpy(self, tmp_path, argv):
        found = probe(argv, tmp_path)
        assert found["code"] in (0, None)
        assert found["out"]
        assert not found["sympy"] and not found["numpy"] and not found["pyarrow"], found

    def test_probe_sees_a_real_computation(self, tmp_path):
        # A control: the probe does notice the heavy imports when a gradient is computed.
        found = probe(["grad", "w*x1", "--format", "json"], tmp_path)
        assert found["code"] == 0
        assert found["sympy"] and found["numpy"]

    def test_the_worked_example_never_imports_pydantic(self, tmp_path):
        # Typer converts option values through pydantic unless told how; gradcli tells it (cli.py).
        found = probe(["grad", *NOTE_ARGS[:1], *NOTE_ARGS[3:], "--rtol", "1e-9", "--wrt", "w1,w2"], tmp_path)
        assert found["code"] == 0 and "w1" in found["out"]
        assert not found["pydantic"], found

    def test_import_gradcli_is_light(self, tmp_path):
        proc = subprocess.run(
            [sys.executable, "-c", "import sys, gradcli; print('sympy' in sys.modules, 'numpy' in sys.modules)"],
            cwd=tmp_path, capture_output=True, timeout=60)
        assert proc.stdout.decode().split() == ["False", "False"], proc.stderr.decode()


class TestLikeAUnixTool:
    @pytest.mark.parametrize("model", ["-w*x1 + b", "-(a+b)*x1", "-2*w*x1"])
    def test_a_model_that_starts_with_a_minus_is_the_model(self, gradcli, model):
        result = gradcli("grad", model, "--data", "x1=1.5,y=1", "--format", "json")
        assert result.code == 0, result
        assert result.json()["model"] == model

    def test_options_before_the_model_still_work(self, gradcli):
        result = gradcli("grad", "-p", "w=2", "-d", "x1=1,y=0", "-w*x1", "-f", "json")
        assert result.code == 0, result
        assert result.json()["gradients"][0]["backprop_value"] == 4.0  # d (-w)^2 / dw at w = 2

    def test_offsets_in_a_minus_model_point_at_the_users_text(self, gradcli):
        one_line_error(gradcli("grad", "-w*x1 +"), "at column 8")

    def test_a_dash_reads_the_model_from_stdin(self, gradcli):
        result = gradcli("grad", "-", "--data", NOTE_DATA, "--params", NOTE_PARAMS, "--format", "json",
                         stdin=b"b + w1*x1\n + w2*x2\n")
        assert result.code == 0, result
        assert by_param(result.json())["w1"]["backprop_value"] == 1.5

    def test_shell_completion_is_offered(self, gradcli):
        result = gradcli("--help")
        assert "--install-completion" in result.out and "--show-completion" in result.out

    def test_off_a_terminal_no_line_ends_in_spaces(self, gradcli):
        for args in (["grad", *NOTE_ARGS], ["graph", *NOTE_ARGS], ["losses"]):
            result = gradcli(*args)
            assert result.code == 0, result
            assert all(line == line.rstrip() for line in result.out.splitlines()), result.out

    def test_off_a_terminal_columns_sets_the_width_and_no_number_is_cut(self, gradcli):
        wide = gradcli("grad", *NOTE_ARGS, "--params", "b=0.123456789012,w1=2,w2=-1")
        narrow = gradcli("grad", *NOTE_ARGS, "--params", "b=0.123456789012,w1=2,w2=-1", env={"COLUMNS": "50"})
        assert max(map(len, narrow.out.splitlines())) <= 50 < max(map(len, wide.out.splitlines()))
        assert "…" not in narrow.out

    def test_an_ascii_only_stream_gets_ascii_symbols(self, gradcli):
        result = gradcli("grad", *NOTE_ARGS, env={"PYTHONIOENCODING": "ascii"})
        assert result.code == 0, result
        assert result.out.isascii() and "dloss/dparam" in result.out and " ok\n" in result.out
        graph = gradcli("graph", *NOTE_ARGS, env={"PYTHONIOENCODING": "ascii"})
        assert graph.code == 0 and graph.out.isascii() and "+-- " in graph.out
