"""`gradcli train` and `gradcli predict` as a user runs them: the installed program in a subprocess.

Covers the README section "`gradcli train` and `gradcli predict`": the default model and the
checks beside it (least squares, the final gradient by both engines), stdin, every optimiser,
determinism, bce, divergence (exit 1, no file written), every CSV defect (exit 2, one line,
nothing written over), the CSV variants that must read the same, unused and oddly named
columns, --save/--history/--plot (atomic, ordinary permissions), predict, and bad options.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cli_runner import Result, clean_env, gradcli_program, one_line_error, run_program, wait_until_working

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
DATA = str(SAMPLES / "data.csv")
HOUSES = str(SAMPLES / "houses.csv")
CLICKS = str(SAMPLES / "clicks.csv")

# make_data.py: y = 1.5 + 3*x1 - 2*x2 + N(0, 0.5), 300 rows.
TRUE_DATA = {"b": 1.5, "w1": 3.0, "w2": -2.0}
DATA_MODEL = "b + w1*x1 + w2*x2"
HOUSES_MODEL = "b + w_size*size + w_age*age"
CLICKS_MODEL = "sigmoid(b + w1*x1 + w2*x2)"
JSON_KEYS = {"params", "loss", "epochs", "converged", "history", "closed_form", "gradient_check"}
OPTIMIZERS = ["gd", "sgd", "momentum", "adam", "lbfgs"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OLD_BYTES = b'{"an": "old file", "keep": [1, 2, 3]}\n'


# ---------------------------------------------------------------- running the program


def _umask_022() -> None:
    os.umask(0o022)


@pytest.fixture
def gradcli(tmp_path):
    """Run the program with cwd=tmp_path and umask 022: gradcli("train", ..., stdin=b"...")."""

    def run(*args: str, stdin: bytes = b"") -> Result:
        return run_program(list(args), tmp_path, stdin, umask=0o022, timeout=120)

    return run


def trained(result: Result) -> dict:
    """The JSON document of a successful `train --format json`."""
    assert result.code == 0, result
    assert "Traceback" not in result.err, result
    return result.json()


def temp_files(directory: Path) -> list[str]:
    """Names an interrupted atomic write would leave (the temporary files start with '.')."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def write_csv_file(directory: Path, name: str, content: str | bytes) -> str:
    path = directory / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return name


def close(a: float, b: float, rel: float) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def without_seconds(text: str) -> str:
    """The JSON text with the run time (the only key that may differ between runs) removed."""
    removed, count = re.subn(r'\n\s*"seconds": [^,\n]+,?', "", text)
    assert count == 1, text
    return removed


# ---------------------------------------------------------------- the default run


class TestDefaultRun:
    def test_table_names_the_default_model(self, gradcli):
        result = gradcli("train", DATA)
        assert result.code == 0, result
        assert result.err == "", result  # stderr is a pipe: no progress bar, and nothing to warn about
        first = result.out.splitlines()[0]
        assert DATA_MODEL in first, result
        assert "default" in first, result

    def test_json_document(self, gradcli):
        doc = trained(gradcli("train", DATA, "--format", "json"))
        assert set(doc) >= JSON_KEYS, sorted(doc)
        assert doc["model"] == DATA_MODEL and doc["default_model"] is True
        assert doc["params"] == pytest.approx(TRUE_DATA, abs=0.15)
        assert doc["converged"] is True
        assert isinstance(doc["epochs"], int) and doc["epochs"] >= 1
        assert len(doc["history"]) == doc["epochs"] + 1
        assert doc["history"][0] > doc["history"][-1]
        assert doc["loss"] == doc["history"][-1]
        assert doc["loss"] == pytest.approx(0.25, rel=0.2)  # the noise variance

    def test_agrees_with_least_squares(self, gradcli):
        doc = trained(gradcli("train", DATA, "--format", "json"))
        closed = doc["closed_form"]
        assert closed is not None
        assert closed["relative_distance"] < 1e-6
        assert set(closed["params"]) == set(doc["params"])
        for name, value in doc["params"].items():
            assert close(value, closed["params"][name], 1e-6), (name, value, closed["params"][name])

    def test_final_gradient_check_agrees(self, gradcli):
        doc = trained(gradcli("train", DATA, "--format", "json"))
        check = doc["gradient_check"]
        assert check["agree"] is True
        assert set(check["gradients"]) == {"b", "w1", "w2"}
        assert all(g["agree"] is True for g in check["gradients"].values())

    def test_unscaled_houses_need_no_learning_rate(self, gradcli):
        doc = trained(gradcli("train", HOUSES, "--target", "price", "--format", "json"))
        assert doc["model"] == HOUSES_MODEL and doc["default_model"] is True
        assert doc["target"] == "price"
        assert doc["converged"] is True and doc["optimizer"] == "lbfgs"
        closed = doc["closed_form"]
        assert closed["relative_distance"] < 1e-6
        for name, value in doc["params"].items():
            assert close(value, closed["params"][name], 1e-6), (name, value, closed["params"][name])
        assert doc["gradient_check"]["agree"] is True

    def test_names_already_taken_get_a_trailing_underscore(self, gradcli, tmp_path):
        name = write_csv_file(tmp_path, "taken.csv", "b,x1,w1,y\n1,2,3,4\n2,1,4,3\n3,5,1,2\n4,4,4,9\n5,1,2,0\n")
        doc = trained(gradcli("train", name, "--format", "json"))
        assert doc["model"] == "b_ + w_b*b + w1_*x1 + w_w1*w1"
        assert doc["inputs"] == ["b", "x1", "w1"]

    def test_chosen_model_is_not_called_the_default(self, gradcli):
        result = gradcli("train", DATA, "--model", DATA_MODEL)
        assert result.code == 0, result
        first = result.out.splitlines()[0]
        assert DATA_MODEL in first and "default" not in first, first

    def test_csv_format(self, gradcli):
        doc = trained(gradcli("train", DATA, "--format", "json"))
        result = gradcli("train", DATA, "--format", "csv")
        assert result.code == 0, result
        records = result.csv()
        assert records[0] == ["param", "value", "least_squares", "gradient"]
        assert {r[0]: float(r[1]) for r in records[1:]} == doc["params"]
        assert {r[0]: float(r[2]) for r in records[1:]} == doc["closed_form"]["params"]

    def test_houses_table_names_the_model(self, gradcli):
        result = gradcli("train", HOUSES, "--target", "price")
        assert result.code == 0, result
        assert HOUSES_MODEL in result.out.splitlines()[0]

    def test_stdin_gives_the_same_params_as_the_file(self, gradcli):
        from_file = trained(gradcli("train", DATA, "--format", "json"))
        from_stdin = trained(gradcli("train", "-", "--format", "json", stdin=Path(DATA).read_bytes()))
        assert from_stdin["params"] == from_file["params"]
        assert from_stdin["rows"] == 300

    def test_quiet_run_writes_nothing_to_stderr(self, gradcli):
        for extra in ([], ["--quiet"]):
            # lbfgs reaches the optimum: no warning either (sgd for 20 epochs would rightly warn it fell short)
            result = gradcli("train", DATA, *extra)
            assert result.code == 0, result
            assert result.err == "", result  # no progress bar text when stderr is not a terminal


def stderr_on_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal: (exit code, stdout, what reached the terminal)."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    env = clean_env()
    env.update(TERM="xterm-256color", COLUMNS="120")
    proc = subprocess.Popen([gradcli_program(), *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave, env=env)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 120
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
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out.decode("utf-8"), b"".join(chunks).decode("utf-8", "replace")


class TestProgressOnATerminal:
    ARGS = ["train", DATA, "--optimizer", "sgd", "--epochs", "300", "--tol", "0"]

    def test_progress_bar_on_a_terminal(self, tmp_path):
        # A control for the harness: without --quiet, the bar does reach a terminal.
        code, out, terminal = stderr_on_terminal(self.ARGS, tmp_path)
        assert code == 0, terminal
        assert re.search(r"epoch \S*\s*\d+/300", terminal), repr(terminal)
        assert out.startswith("model " + DATA_MODEL), out

    def test_quiet_means_no_progress_bar_on_a_terminal(self, tmp_path):
        code, out, terminal = stderr_on_terminal([*self.ARGS, "--quiet"], tmp_path)
        assert code == 0, terminal
        # sgd stops short of least squares, which is worth a warning line; but no bar, no escape codes
        assert not re.search(r"epoch \S*\s*\d+/300", terminal) and "\x1b" not in terminal, repr(terminal)
        assert all(line.startswith("gradcli: warning:") for line in terminal.splitlines()), repr(terminal)
        assert out.startswith("model " + DATA_MODEL), out


# ---------------------------------------------------------------- optimisers, determinism, bce


class TestOptimisers:
    @pytest.mark.parametrize("optimizer", OPTIMIZERS)
    def test_every_optimiser_lowers_the_loss(self, gradcli, optimizer):
        doc = trained(gradcli("train", DATA, "--optimizer", optimizer, "--epochs", "50", "--format", "json"))
        assert doc["optimizer"] == optimizer
        assert doc["diverged"] is False
        assert 1 <= doc["epochs"] <= 50
        history = doc["history"]
        assert history[-1] < history[0], history
        assert doc["loss"] == history[-1]

    def test_sgd_with_a_seed_is_deterministic(self, gradcli):
        args = ["train", DATA, "--optimizer", "sgd", "--epochs", "30", "--format", "json"]
        first = gradcli(*args, "--seed", "7")
        second = gradcli(*args, "--seed", "7")
        other = gradcli(*args, "--seed", "8")
        for result in (first, second, other):
            assert result.code == 0, result
        assert without_seconds(first.out) == without_seconds(second.out)
        assert first.json()["seed"] == 7
        assert first.json()["params"] != other.json()["params"]
        assert first.json()["history"] != other.json()["history"]

    def test_lbfgs_on_separable_bce_data(self, gradcli, tmp_path):
        # Perfectly separable labels: the loss falls towards 0 as the weights grow without bound.
        name = write_csv_file(tmp_path, "sep.csv", "x1,y\n-2,0\n-1,0\n1,1\n2,1\n")
        result = gradcli("train", name, "--model", "sigmoid(b + w1*x1)", "--loss", "bce", "--format", "json")
        assert "Traceback" not in result.err, result
        doc = trained(result)
        assert doc["loss"] < doc["history"][0]

    def test_bce_beats_the_constant_predictor(self, gradcli):
        with open(CLICKS, newline="") as handle:
            targets = [float(row["y"]) for row in csv.DictReader(handle)]
        p = sum(targets) / len(targets)
        constant = -(p * math.log(p) + (1 - p) * math.log(1 - p))
        doc = trained(gradcli("train", CLICKS, "--model", CLICKS_MODEL, "--loss", "bce", "--format", "json"))
        assert doc["loss_name"] == "bce"
        assert doc["default_model"] is False
        assert doc["closed_form"] is None  # not linear in its parameters, and not mse
        assert doc["loss"] < constant, (doc["loss"], constant)
        assert doc["history"][-1] < doc["history"][0]
        assert doc["gradient_check"]["agree"] is True


# ---------------------------------------------------------------- divergence


class TestDivergence:
    DIVERGE = ["train", HOUSES, "--target", "price", "--optimizer", "gd", "--lr", "1", "--no-precondition"]

    def test_exit_1_suggests_lr_and_writes_nothing(self, gradcli, tmp_path):
        result = gradcli(*self.DIVERGE, "--save", "p.json", "--history", "h.csv", "--plot", "loss.png")
        assert result.code == 1, result
        assert "--lr" in result.err, result
        assert "Traceback" not in result.err, result
        for name in ("p.json", "h.csv", "loss.png"):
            assert not (tmp_path / name).exists(), name
        assert temp_files(tmp_path) == []

    def test_json_reports_the_divergence(self, gradcli):
        result = gradcli(*self.DIVERGE, "--format", "json")
        assert result.code == 1, result
        doc = result.json()
        assert doc["diverged"] is True and doc["converged"] is False
        assert doc["loss"] is None

    def test_an_existing_save_file_is_left_as_it_was(self, gradcli, tmp_path):
        (tmp_path / "p.json").write_bytes(OLD_BYTES)
        result = gradcli(*self.DIVERGE, "--save", "p.json")
        assert result.code == 1, result
        assert "--lr" in result.err, result
        assert (tmp_path / "p.json").read_bytes() == OLD_BYTES
        assert temp_files(tmp_path) == []


# ---------------------------------------------------------------- CSV defects

HEADER = "x1,x2,y\n"
GOOD_ROWS = "1,2,3\n2,1,4\n3,5,1\n"

# id -> (file content, extra options, needles the one error line must contain)
DEFECTS = {
    "ragged-long": (HEADER + "1,2,3\n4,5,6,7\n", [], ["line 3", "row 2", "4 fields"]),
    "ragged-short": (HEADER + "1,2,3\n4,5\n", [], ["line 3", "row 2", "'y'"]),
    "empty-cell": (HEADER + "1,2,3\n4,,6\n", [], ["line 3", "row 2", "'x2'", "empty"]),
    "non-numeric": (HEADER + "1,2,3\n4,abc,6\n", [], ["line 3", "row 2", "'x2'", "abc"]),
    "nan": (HEADER + "1,2,3\nnan,5,6\n", [], ["line 3", "row 2", "'x1'", "nan"]),
    "inf": (HEADER + "1,2,3\n4,5,inf\n", [], ["line 3", "row 2", "'y'", "inf"]),
    "minus-infinity": (HEADER + "1,2,3\n4,-Infinity,6\n", [], ["line 3", "row 2", "'x2'", "Infinity"]),
    "overflow": (HEADER + "1,2,3\n1e999,5,6\n", [], ["line 3", "row 2", "'x1'", "overflow"]),
    "blank-line-counted": (HEADER + "1,2,3\n\n4,x,6\n", [], ["line 4", "row 2", "'x2'"]),
    "duplicate-header": ("x1,x1,y\n1,2,3\n", [], ["line 1", "'x1'", "twice"]),
    "empty-header-name": ("x1,,y\n1,2,3\n", [], ["line 1", "column 2", "empty name"]),
    "missing-model-input": (HEADER + GOOD_ROWS, ["--model", "b + w*x3"], ["'x3'", "x1, x2, y"]),
    "missing-target": ("x1,x2,z\n" + GOOD_ROWS, [], ["'y'", "x1, x2, z", "--target"]),
    "header-only": (HEADER, [], ["no data rows"]),
    "empty-file": ("", [], ["empty"]),
    "invalid-utf8": (HEADER.encode() + b"1,2,3\n4,\xff5,6\n", [], ["invalid UTF-8", "line 3"]),
    "bce-target-outside-0-1": (HEADER + "1,2,1\n2,1,0\n3,5,2\n", ["--model", CLICKS_MODEL, "--loss", "bce"],
                               ["bce", "row 3", "'y'", "2"]),
}


class TestCsvDefects:
    @pytest.mark.parametrize("name", list(DEFECTS))
    def test_one_line_error(self, gradcli, tmp_path, name):
        content, options, needles = DEFECTS[name]
        bad = write_csv_file(tmp_path, "bad.csv", content)
        one_line_error(gradcli("train", bad, *options), "bad.csv", *needles)

    @pytest.mark.parametrize("name", list(DEFECTS))
    def test_save_file_left_as_it_was(self, gradcli, tmp_path, name):
        content, options, needles = DEFECTS[name]
        bad = write_csv_file(tmp_path, "bad.csv", content)
        (tmp_path / "out.json").write_bytes(OLD_BYTES)
        one_line_error(gradcli("train", bad, *options, "--save", "out.json"), *needles)
        assert (tmp_path / "out.json").read_bytes() == OLD_BYTES
        assert temp_files(tmp_path) == []

    def test_bce_target_outside_0_1_names_the_line(self, gradcli, tmp_path):
        bad = write_csv_file(tmp_path, "bad.csv", HEADER + "1,2,0\n\n\n4,5,-1\n")
        one_line_error(gradcli("train", bad, "--model", CLICKS_MODEL, "--loss", "bce"), "row 2", "'y'", "line 5")

    def test_defect_on_stdin_names_stdin(self, gradcli):
        content, _, needles = DEFECTS["non-numeric"]
        one_line_error(gradcli("train", "-", stdin=content.encode()), "stdin", *needles)

    def test_missing_data_file(self, gradcli):
        one_line_error(gradcli("train", "nope.csv"), "nope.csv", "does not exist")


# ---------------------------------------------------------------- CSV variants that read the same


def rewrite(text: str, variant: str) -> bytes:
    lines = text.splitlines()
    if variant == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    if variant == "crlf":
        return ("\r\n".join(lines) + "\r\n").encode()
    if variant == "quoted-numbers":
        quoted = [lines[0]] + [",".join(f'"{cell}"' for cell in line.split(",")) for line in lines[1:]]
        return ("\n".join(quoted) + "\n").encode()
    if variant == "blank-lines":
        spaced = lines[:50] + [""] + lines[50:120] + ["", ""] + lines[120:] + ["", "", ""]
        return ("\n".join(spaced) + "\n").encode()
    if variant == "columns-reordered":
        rows = [line.split(",") for line in lines]
        return ("\n".join(",".join([r[2], r[1], r[0]]) for r in rows) + "\n").encode()
    raise AssertionError(variant)


@pytest.fixture(scope="module")
def clean_params(tmp_path_factory) -> dict[str, float]:
    """The parameters trained from samples/data.csv as it is."""
    result = run_program(["train", DATA, "--format", "json"], tmp_path_factory.mktemp("clean"), timeout=120)
    assert result.code == 0, result
    return result.json()["params"]


class TestCsvVariants:
    @pytest.mark.parametrize("variant", ["bom", "crlf", "quoted-numbers", "blank-lines", "columns-reordered"])
    def test_same_params_as_the_clean_file(self, gradcli, tmp_path, clean_params, variant):
        name = write_csv_file(tmp_path, "variant.csv", rewrite(Path(DATA).read_text(), variant))
        doc = trained(gradcli("train", name, "--format", "json"))
        assert doc["rows"] == 300
        assert set(doc["params"]) == set(clean_params)
        for param, value in clean_params.items():
            assert close(doc["params"][param], value, 1e-9), (param, doc["params"][param], value)

    def test_variants_together_on_stdin(self, gradcli, clean_params):
        raw = rewrite(rewrite(Path(DATA).read_text(), "quoted-numbers").decode(), "crlf")
        doc = trained(gradcli("train", "-", "--format", "json", stdin=b"\xef\xbb\xbf" + raw))
        for param, value in clean_params.items():
            assert close(doc["params"][param], value, 1e-9), (param, doc["params"][param], value)


# ---------------------------------------------------------------- columns the model does not use


class TestColumns:
    def test_unused_column_is_a_warning(self, gradcli, tmp_path):
        name = write_csv_file(tmp_path, "extra.csv", "x1,x2,z,y\n1,2,9,3\n2,1,8,4\n3,5,7,1\n4,4,6,2\n")
        result = gradcli("train", name, "--model", "b + w1*x1 + w2*x2", "--format", "json")
        assert result.code == 0, result
        assert "gradcli: warning:" in result.err and "'z'" in result.err, result
        assert "Traceback" not in result.err
        assert result.json()["inputs"] == ["x1", "x2"]

    def test_model_using_some_columns_warns_about_the_rest(self, gradcli):
        result = gradcli("train", DATA, "--model", "b + w1*x1", "--format", "json")
        assert result.code == 0, result
        assert "'x2'" in result.err and "not used" in result.err, result
        assert result.json()["inputs"] == ["x1"]

    def test_non_identifier_column_with_the_default_model(self, gradcli, tmp_path):
        name = write_csv_file(tmp_path, "sq.csv", "x1,sq ft,y\n1,2,3\n2,3,4\n3,3,7\n")
        one_line_error(gradcli("train", name), "sq.csv", "'sq ft'", "--model")

    def test_non_identifier_column_left_out_by_the_model(self, gradcli, tmp_path):
        name = write_csv_file(tmp_path, "sq.csv", "x1,sq ft,y\n1,2,3\n2,3,4\n3,3,7\n")
        result = gradcli("train", name, "--model", "b + w1*x1", "--format", "json")
        assert result.code == 0, result
        assert "gradcli: warning:" in result.err and "'sq ft'" in result.err, result
        assert "error" not in result.err
        assert result.json()["params"] == pytest.approx({"b": 2 / 3, "w1": 2.0}, rel=1e-9)


# ---------------------------------------------------------------- save and predict


NEW_CSV = "x1,x2\n0,0\n1.5,-2\n-0.25,3.75\n1e-3,12345.678\n"


@pytest.fixture(scope="module")
def pyplot_preloaded() -> None:
    """matplotlib.pyplot, which a --plot run imports (~0.6 s), imported once in this process, of which the
    runs are forks: what cli_runner's preload does for gradcli itself. The import the program makes is the
    same one (matplotlib.use("Agg") then pyplot), only it finds the module in place."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401


@pytest.fixture(scope="module")
def saved_bytes(tmp_path_factory) -> bytes:
    """What `train data.csv --save p.json` writes: trained once for the module (the training is deterministic,
    and the tests that use it read p.json; the one that checks --save itself trains again)."""
    folder = tmp_path_factory.mktemp("saved")
    result = run_program(["train", DATA, "--save", "p.json"], folder, umask=0o022, timeout=120)
    assert result.code == 0, result
    return (folder / "p.json").read_bytes()


@pytest.fixture
def saved(saved_bytes, tmp_path) -> dict:
    """p.json from `train data.csv --save p.json`, and new.csv to predict."""
    (tmp_path / "p.json").write_bytes(saved_bytes)
    write_csv_file(tmp_path, "new.csv", NEW_CSV)
    return json.loads((tmp_path / "p.json").read_text())


def expected_yhat(params: dict, csv_text: str) -> list[float]:
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    return [params["b"] + params["w1"] * float(r["x1"]) + params["w2"] * float(r["x2"]) for r in rows]


def check_predictions(records: list[list[str]], params: dict) -> None:
    assert records[0] == ["x1", "x2", "yhat"], records
    rows = records[1:]
    expected = expected_yhat(params, NEW_CSV)
    assert len(rows) == len(expected)
    source = list(csv.reader(io.StringIO(NEW_CSV)))[1:]
    for row, want, given in zip(rows, expected, source):
        assert [float(v) for v in row[:2]] == [float(v) for v in given]
        assert close(float(row[2]), want, 1e-12), (row, want)


class TestSave:
    def test_save_file_contents(self, gradcli, tmp_path, saved):
        doc = trained(gradcli("train", DATA, "--format", "json"))
        assert saved["model"] == DATA_MODEL
        assert saved["loss"] == "mse" and saved["target"] == "y"
        assert saved["inputs"] == ["x1", "x2"]
        assert saved["params"] == doc["params"]
        assert saved["final_loss"] == doc["loss"] and saved["epochs"] == doc["epochs"]
        assert saved["converged"] is True
        assert temp_files(tmp_path) == []

    def test_save_refuses_to_write_over_the_input(self, gradcli, tmp_path):
        shutil.copy(DATA, tmp_path / "data.csv")
        before = (tmp_path / "data.csv").read_bytes()
        one_line_error(gradcli("train", "data.csv", "--save", "data.csv"), "--save", "input")
        assert (tmp_path / "data.csv").read_bytes() == before
        assert temp_files(tmp_path) == []

    def test_save_into_a_missing_directory(self, gradcli, tmp_path):
        # Refused before training: with a defect in the data, the directory is still what is reported.
        bad = write_csv_file(tmp_path, "bad.csv", HEADER + "1,x,3\n")
        for data in (DATA, bad):
            one_line_error(gradcli("train", data, "--save", "nodir/p.json"), "--save", "nodir", "does not exist")
        assert not (tmp_path / "nodir").exists()

    def test_two_options_naming_the_same_file(self, gradcli, tmp_path):
        one_line_error(gradcli("train", DATA, "--save", "x.json", "--history", "x.json"), "--save", "--history")
        assert not (tmp_path / "x.json").exists()


class TestPredict:
    def test_csv_on_stdout(self, gradcli, saved):
        result = gradcli("predict", "p.json", "new.csv")
        assert result.code == 0, result
        assert result.err == "", result
        check_predictions(result.csv(), saved["params"])

    def test_output_file(self, gradcli, tmp_path, saved):
        result = gradcli("predict", "p.json", "new.csv", "--output", "pred.csv")
        assert result.code == 0, result
        assert result.out == "", result
        text = (tmp_path / "pred.csv").read_text()
        check_predictions(list(csv.reader(io.StringIO(text))), saved["params"])
        assert (tmp_path / "pred.csv").stat().st_mode & 0o777 == 0o644
        assert temp_files(tmp_path) == []

    def test_data_on_stdin(self, gradcli, saved):
        for args in (["p.json", "-"], ["p.json"]):  # the data argument defaults to stdin
            result = gradcli("predict", *args, stdin=NEW_CSV.encode())
            assert result.code == 0, result
            check_predictions(result.csv(), saved["params"])

    def test_extra_text_column_is_kept(self, gradcli, tmp_path, saved):
        name = write_csv_file(tmp_path, "named.csv", "id,x1,x2\nfirst,1,2\nsecond,3,-1\n")
        result = gradcli("predict", "p.json", name)
        assert result.code == 0, result
        records = result.csv()
        assert records[0] == ["id", "x1", "x2", "yhat"]
        assert [r[0] for r in records[1:]] == ["first", "second"]
        p = saved["params"]
        assert close(float(records[2][3]), p["b"] + 3 * p["w1"] - p["w2"], 1e-12)

    def test_missing_input_column(self, gradcli, tmp_path, saved):
        name = write_csv_file(tmp_path, "half.csv", "x1,z\n1,2\n")
        one_line_error(gradcli("predict", "p.json", name), "half.csv", "'x2'")

    def test_file_that_already_has_yhat(self, gradcli, tmp_path, saved):
        name = write_csv_file(tmp_path, "has.csv", "x1,x2,yhat\n1,2,3\n")
        one_line_error(gradcli("predict", "p.json", name), "has.csv", "yhat")

    def test_data_defect(self, gradcli, tmp_path, saved):
        name = write_csv_file(tmp_path, "bad.csv", "x1,x2\n1,2\n3,nan\n")
        (tmp_path / "pred.csv").write_bytes(OLD_BYTES)
        one_line_error(gradcli("predict", "p.json", name, "--output", "pred.csv"), "line 3", "row 2", "'x2'")
        assert (tmp_path / "pred.csv").read_bytes() == OLD_BYTES
        assert temp_files(tmp_path) == []

    @pytest.mark.parametrize("content", ["[1, 2]", '{"model": 3}', '{"params": {"b": 1}}', "not json",
                                         '{"model": "b + w1*x1", "inputs": ["x1"], "params": {"b": "one"}}'])
    def test_not_a_save_file(self, gradcli, tmp_path, content):
        write_csv_file(tmp_path, "new.csv", NEW_CSV)
        write_csv_file(tmp_path, "bogus.json", content)
        one_line_error(gradcli("predict", "bogus.json", "new.csv"), "bogus.json")

    def test_missing_params_file(self, gradcli, tmp_path):
        write_csv_file(tmp_path, "new.csv", NEW_CSV)
        one_line_error(gradcli("predict", "nope.json", "new.csv"), "nope.json")

    def test_threshold_on_a_bce_model(self, gradcli, tmp_path):
        write_csv_file(tmp_path, "m.json", '{"model": "sigmoid(b + w1*x1)", "loss": "bce", "inputs": ["x1"], '
                                           '"params": {"b": 0.0, "w1": 1.0}}')
        write_csv_file(tmp_path, "q.csv", "id,x1\na,-1\nb,0\nc,2\n")
        result = gradcli("predict", "m.json", "q.csv", "--threshold", "0.5")
        assert result.code == 0 and result.err == "", result
        records = result.csv()
        assert records[0] == ["id", "x1", "yhat", "class"]
        assert [(r[0], r[3]) for r in records[1:]] == [("a", "0"), ("b", "1"), ("c", "1")]  # sigmoid(0) = 0.5
        assert [float(r[2]) for r in records[1:]] == [1 / (1 + math.exp(1)), 0.5, 1 / (1 + math.exp(-2))]
        one_line_error(gradcli("predict", "m.json", "q.csv", "--threshold", "1"), "--threshold", "between 0 and 1")
        one_line_error(gradcli("predict", "m.json", "q.csv", "--threshold", "half"), "--threshold")

    def test_threshold_on_a_model_not_trained_with_bce(self, gradcli, saved):
        one_line_error(gradcli("predict", "p.json", "new.csv", "--threshold", "0.5"), "--threshold", "p.json",
                       "'mse'", "--loss bce")

    def test_output_over_the_data_file(self, gradcli, tmp_path, saved):
        one_line_error(gradcli("predict", "p.json", "new.csv", "--output", "new.csv"), "--output")
        assert (tmp_path / "new.csv").read_text() == NEW_CSV


# ---------------------------------------------------------------- --history and --plot


class TestHistoryAndPlot:
    def test_history_csv_matches_the_json(self, gradcli, tmp_path):
        doc = trained(gradcli("train", DATA, "--format", "json", "--history", "h.csv"))
        with open(tmp_path / "h.csv", newline="") as handle:
            records = list(csv.reader(handle))
        assert records[0] == ["epoch", "loss"]
        assert len(records) - 1 == doc["epochs"] + 1
        assert [int(r[0]) for r in records[1:]] == list(range(doc["epochs"] + 1))
        assert [float(r[1]) for r in records[1:]] == doc["history"]

    def test_png_and_svg(self, gradcli, tmp_path, pyplot_preloaded):
        result = gradcli("train", DATA, "--plot", "loss.png")
        assert result.code == 0, result
        assert (tmp_path / "loss.png").read_bytes()[:8] == PNG_SIGNATURE
        result = gradcli("train", DATA, "--plot", "loss.svg")
        assert result.code == 0, result
        svg = (tmp_path / "loss.svg").read_text()
        assert svg.startswith("<?xml") or "<svg" in svg
        assert temp_files(tmp_path) == []

    def test_plot_needs_png_or_svg(self, gradcli, tmp_path):
        one_line_error(gradcli("train", DATA, "--plot", "loss.jpg"), "loss.jpg", ".png")
        assert not (tmp_path / "loss.jpg").exists()

    def test_written_files_get_ordinary_permissions(self, gradcli, tmp_path, pyplot_preloaded):
        outputs = ["p.json", "h.csv", "loss.png"]
        result = gradcli("train", DATA, "--save", outputs[0], "--history", outputs[1], "--plot", outputs[2])
        assert result.code == 0, result
        for name in outputs:
            mode = (tmp_path / name).stat().st_mode & 0o777
            assert mode == 0o644, (name, oct(mode))  # umask 022, not tempfile's 0600
        assert temp_files(tmp_path) == []

    def test_overwritten_file_keeps_its_permissions(self, gradcli, tmp_path):
        (tmp_path / "p.json").write_bytes(OLD_BYTES)
        os.chmod(tmp_path / "p.json", 0o640)
        result = gradcli("train", DATA, "--save", "p.json")
        assert result.code == 0, result
        assert (tmp_path / "p.json").read_bytes() != OLD_BYTES
        assert (tmp_path / "p.json").stat().st_mode & 0o777 == 0o640


# ---------------------------------------------------------------- help and bad options


class TestOptions:
    @pytest.mark.parametrize("command", ["train", "predict"])
    def test_help_has_an_example(self, gradcli, command):
        result = gradcli(command, "--help")
        assert result.code == 0, result
        assert "Example:" in result.out, result

    @pytest.mark.parametrize("options, needle", [
        (["--lr", "0"], "--lr"),
        (["--lr", "-1"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--tol", "-1"], "--tol"),
        (["--epochs", "0"], "--epochs"),
        (["--optimizer", "foo"], "--optimizer"),
        (["--batch-size", "0"], "--batch-size"),
    ])
    def test_bad_option(self, gradcli, tmp_path, options, needle):
        (tmp_path / "out.json").write_bytes(OLD_BYTES)
        one_line_error(gradcli("train", DATA, *options, "--save", "out.json"), needle)
        assert (tmp_path / "out.json").read_bytes() == OLD_BYTES


# ---------------------------------------------------------------- found in review


class TestReviewFindings:
    def test_save_onto_a_fifo_is_refused_and_the_fifo_kept(self, gradcli, tmp_path):
        os.mkfifo(tmp_path / "fifo")
        one_line_error(gradcli("train", DATA, "--save", "fifo"), "--save", "not a regular file")
        assert (tmp_path / "fifo").is_fifo()

    def test_save_through_a_symlink_replaces_its_target(self, gradcli, tmp_path):
        (tmp_path / "real.json").write_bytes(OLD_BYTES)
        (tmp_path / "link.json").symlink_to("real.json")
        assert gradcli("train", DATA, "-q", "--save", "link.json").code == 0
        assert (tmp_path / "link.json").is_symlink()
        assert json.loads((tmp_path / "real.json").read_text())["model"] == DATA_MODEL

    def test_outputs_are_all_or_nothing(self, gradcli, tmp_path):
        (tmp_path / "dir").mkdir()
        result = gradcli("train", DATA, "-q", "--save", "ok.json", "--history", "dir")
        one_line_error(result, "--history", "directory")
        assert not (tmp_path / "ok.json").exists() and not temp_files(tmp_path)

    def test_undefined_at_the_start_is_bad_input_naming_the_line(self, gradcli, tmp_path):
        name = write_csv_file(tmp_path, "neg.csv", "x1,y\n1,1\n\n-2,3\n4,5\n")
        one_line_error(gradcli("train", name, "--model", "b + w*log(x1)"), "log", "neg.csv line 4 (row 2)")

    def test_predict_names_the_file_with_the_defect(self, gradcli, tmp_path):
        (tmp_path / "m.json").write_text('{"model": "__import__(1)", "inputs": ["x1"], "params": {}}')
        one_line_error(gradcli("predict", "m.json", DATA), "m.json", "__import__")
        (tmp_path / "log.json").write_text('{"model": "b + w*log(x1)", "inputs": ["x1"], "params": {"b": 1, "w": 2}}')
        name = write_csv_file(tmp_path, "neg.csv", "x1\n1\n-2\n")
        one_line_error(gradcli("predict", "log.json", name), "neg.csv line 3 (row 2)")

    def test_huge_integer_in_a_saved_file(self, gradcli, tmp_path):
        (tmp_path / "big.json").write_text('{"model": "b", "inputs": [], "params": {"b": 1' + "0" * 400 + "}}")
        one_line_error(gradcli("predict", "big.json", DATA), "big.json", "'b'")

    def test_lbfgs_says_it_ignores_lr_and_batch_size(self, gradcli):
        result = gradcli("train", DATA, "--lr", "0.5", "--batch-size", "10", "--format", "json")
        doc = trained(result)
        assert doc["lr"] is None and doc["batch_size"] == 300
        assert "--lr is ignored" in result.err and "--batch-size is ignored" in result.err

    def test_diverged_json_is_strict_json(self, gradcli):
        result = gradcli("train", HOUSES, "--target", "price", "--optimizer", "gd", "--lr", "1", "--no-precondition",
                         "--format", "json")
        assert result.code == 1
        doc = json.loads(result.out, parse_constant=lambda token: pytest.fail(f"{token} in JSON"))
        assert doc["diverged"] is True

    def test_stopping_short_of_least_squares_is_said(self, gradcli, tmp_path):
        # A timestamp-like input far from 0: badly conditioned for any gradient method.
        rows = "".join(f"{1.7e9 + 1e5 * i},{5 + i / 100}\n" for i in range(200))
        name = write_csv_file(tmp_path, "ts.csv", "t,y\n" + rows)
        result = gradcli("train", name, "--format", "json", "--no-precondition")
        doc = trained(result)
        assert doc["closed_form"]["loss"] < doc["loss"]
        assert doc["at_optimum"] is False and doc["converged"] is False
        assert "short of the optimum" in result.err

    def test_svg_plot_is_deterministic(self, gradcli, tmp_path, pyplot_preloaded):
        for name in ("a.svg", "b.svg"):
            assert gradcli("train", DATA, "-q", "--plot", name).code == 0
        assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()

    def test_ctrl_c_says_interrupted_and_leaves_no_file(self, tmp_path):
        proc = subprocess.Popen([gradcli_program(), "train", DATA, "--optimizer", "sgd", "--tol", "0",
                                 "--epochs", "1000000", "--save", "p.json"], cwd=tmp_path, env=clean_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_until_working(proc)  # well into training
        proc.send_signal(2)  # SIGINT, as Ctrl-C sends
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert err.decode().strip().endswith("gradcli: interrupted") and b"Traceback" not in err
        assert not (tmp_path / "p.json").exists() and not temp_files(tmp_path)

    def test_a_closed_pipe_ends_quietly(self, gradcli, tmp_path):
        rows = "".join(f"{i},{i % 7}\n" for i in range(200_000))
        name = write_csv_file(tmp_path, "many.csv", "x1,x2\n" + rows)
        (tmp_path / "m.json").write_text('{"model": "b + w1*x1", "inputs": ["x1"], "params": {"b": 1, "w1": 2}}')
        proc = subprocess.Popen([gradcli_program(), "predict", "m.json", name], cwd=tmp_path, env=clean_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.read(100)
        proc.stdout.close()  # as `| head` does
        err = proc.stderr.read()
        proc.wait(timeout=60)
        assert proc.returncode in (-13, 141), err  # killed by SIGPIPE, like cat or grep
        assert b"Traceback" not in err


class TestHints:
    def test_a_semicolon_separated_file_names_its_delimiter(self, gradcli, tmp_path):
        (tmp_path / "semi.csv").write_text("x1;x2;y\n1;2;3\n")
        one_line_error(gradcli("train", "semi.csv"), "seems to be separated by ';'")

    def test_bce_without_a_sigmoid_says_to_wrap_it(self, gradcli):
        one_line_error(gradcli("grad", "w*x1", "--loss", "bce", "--data", "x1=3,y=1", "--params", "w=1"),
                       "wrap the model in sigmoid(...)")


class TestLossCurve:
    def test_axes_are_labelled_with_values(self, gradcli):
        result = gradcli("train", DATA)
        curve = result.out[result.out.index("loss per epoch"):].splitlines()
        assert re.match(r"\s+[0-9.e+-]+ │", curve[1]) and re.match(r"\s+[0-9.e+-]+ │", curve[8])
        assert curve[9].strip().startswith("└") and re.fullmatch(r"0\s+\d+ epochs", curve[10].strip())
        assert "log scale" not in curve[0]

    def test_a_log_scale_is_said(self, gradcli, tmp_path):
        (tmp_path / "wide.csv").write_text("x1,y\n" + "".join(f"{i},{3 * i + 1}\n" for i in range(50)))
        result = gradcli("train", "wide.csv", "--optimizer", "gd", "--lr", "0.0001", "--epochs", "200",
                         "--no-precondition")
        assert "log scale)" in result.out, result.out


class TestDelimiter:
    """--delimiter on every command that reads CSV: a semicolon or a tab file reads as the comma file."""

    def test_train_grad_and_predict_read_a_semicolon_and_a_tab_file_as_the_comma_file(self, gradcli, tmp_path):
        comma = (SAMPLES / "houses.csv").read_text()
        (tmp_path / "semi.csv").write_text(comma.replace(",", ";"))
        (tmp_path / "tab.tsv").write_text(comma.replace(",", "\t"))
        expected = trained(gradcli("train", HOUSES, "--target", "price", "--format", "json"))
        semi = trained(gradcli("train", "semi.csv", "--delimiter", ";", "--target", "price", "--format", "json"))
        assert {**semi, "seconds": None} == {**expected, "seconds": None}
        grad = gradcli("grad", HOUSES_MODEL, "--data", "tab.tsv", "--delimiter", "tab", "--target", "price",
                       "--params", "b=1,w_size=100,w_age=-5", "--format", "csv")
        assert grad.code == 0, grad
        assert grad.out == gradcli("grad", HOUSES_MODEL, "--data", HOUSES, "--target", "price",
                                   "--params", "b=1,w_size=100,w_age=-5", "--format", "csv").out
        (tmp_path / "m.json").write_text('{"model": "b + w*size", "inputs": ["size"], "params": {"b": 1, "w": 2}}')
        predicted = gradcli("predict", "m.json", "tab.tsv", "--delimiter", "\\t")
        assert predicted.code == 0, predicted
        assert predicted.out == gradcli("predict", "m.json", HOUSES).out  # written comma-separated

    @pytest.mark.parametrize("value, needle", [("", "one character"), (";;", "one character"),
                                               ('"', "quote"), ("\n", "line break")],
                             ids=["empty", "two", "quote", "newline"])
    def test_a_bad_delimiter_is_one_line(self, gradcli, value, needle):
        one_line_error(gradcli("train", DATA, "--delimiter", value), "--delimiter", needle)


class TestTextColumnHint:
    """A text column that the model uses: exit 2, one line naming the file, line, row and column, with a hint."""

    CITIES = "x1,city,size,y\n1,Lyon,3,2\n2,Paris,4,3\n3,Nice,5,4\n"

    def test_the_default_model_suggests_itself_without_the_text_columns(self, gradcli, tmp_path):
        (tmp_path / "t.csv").write_text(self.CITIES)
        err = one_line_error(gradcli("train", "t.csv"), "t.csv: line 2 (row 1), column 'city': 'Lyon'")
        assert err.rstrip().endswith('leave it out with --model, e.g. --model "b + w1*x1 + w_size*size"'), err
        suggested = err.rstrip().split("--model ")[-1].strip('"')
        assert trained(gradcli("train", "t.csv", "--model", suggested, "--format", "json"))["model"] == suggested

    def test_a_given_model_is_told_to_leave_it_out(self, gradcli, tmp_path):
        (tmp_path / "t.csv").write_text(self.CITIES)
        for args in (["train", "t.csv", "--model", "b + w*city"], ["grad", "b + w*city", "--data", "t.csv"]):
            err = one_line_error(gradcli(*args), "t.csv: line 2 (row 1), column 'city'")
            assert err.rstrip().endswith("the column holds text: leave it out of the model"), err


def test_the_suggestion_leaves_out_every_text_column_and_takes_no_columns_name(tmp_path):
    import gradcli
    from gradcli import DataError

    (tmp_path / "w.csv").write_text("x1,w_city,city,note,y\n1,a,Lyon,n,2\n2,b,Paris,3,3\n3,c,Nice,m,4\n")
    with pytest.raises(DataError) as info:
        gradcli.train(tmp_path / "w.csv")
    assert str(info.value).endswith('leave it out with --model, e.g. --model "b + w1*x1"'), info.value


def test_a_typo_in_a_number_column_gets_no_hint(tmp_path):
    import gradcli
    from gradcli import DataError

    (tmp_path / "typo.csv").write_text("x1,c,y\n1,2,3\n2,x,3\n3,4,5\n")
    with pytest.raises(DataError) as info:
        gradcli.train(tmp_path / "typo.csv")
    assert str(info.value) == f"{tmp_path / 'typo.csv'}: line 3 (row 2), column 'c': 'x' is not a decimal number"
    (tmp_path / "labels.csv").write_text("x1,y\n1,yes\n2,no\n")
    with pytest.raises(DataError) as info:  # the target: no hint about --model
        gradcli.train(tmp_path / "labels.csv")
    assert "--model" not in str(info.value)
