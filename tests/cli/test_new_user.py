"""What a new user meets first: messages that name the command run, predict on a terminal with no
data, predict's Parquet trained on again, -V, completion of --loss, train's speed, and the warning
that finite differences stand in for SymPy on one line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_runner import clean_env, gradcli_program, one_line_error, run_program

ROOT = Path(__file__).resolve().parents[2]
DATA = str(ROOT / "samples" / "data.csv")


@pytest.mark.parametrize("command", ["grad", "hessian", "explain", "graph", "check"])
def test_a_missing_model_shows_the_command_that_was_run(gradcli, command):
    extra = ["--wrt", "w", "--claim", "x1"] if command == "check" else []
    err = one_line_error(gradcli(command, *extra), "no model given")
    assert f'gradcli {command} "' in err
    others = {"grad", "hessian", "explain", "graph", "check"} - {command}
    assert not any(f"gradcli {other} " in err for other in others), err


def test_predict_with_no_data_on_a_terminal_says_so(tmp_path):
    """stdin a terminal (a pty) and no data named: one line and exit 2, not a silent wait."""
    saved = tmp_path / "model.json"
    made = run_program(["train", DATA, "--save", str(saved), "-q"], tmp_path)  # the model only: a fork will do
    assert made.code == 0, made
    main, replica = os.openpty()
    try:
        proc = subprocess.run([gradcli_program(), "predict", str(saved)], stdin=replica, capture_output=True,
                              env=clean_env(), timeout=30)
    finally:
        os.close(main)
        os.close(replica)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and proc.stdout == b"", (proc.returncode, proc.stdout, err)
    assert err.startswith("gradcli: error: no data given") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_predict_with_no_data_reads_a_pipe(gradcli, tmp_path):
    assert gradcli("train", DATA, "--save", "model.json", "-q").code == 0
    result = gradcli("predict", "model.json", stdin=b"x1,x2\n1,2\n")
    assert result.code == 0 and result.csv()[0] == ["x1", "x2", "yhat"], result


def test_predict_help_calls_it_a_saved_model(gradcli):
    shown = gradcli("predict", "--help", env={"COLUMNS": "200"}).out
    assert "saved model" in shown and "parameter file" not in shown, shown
    assert "predict [OPTIONS] MODEL [DATA]" in shown, shown
    err = one_line_error(gradcli("predict", "/dev/zero", DATA))
    assert "saved model" in err and "parameter" not in err, err


def test_predictions_written_as_parquet_train_again(gradcli, tmp_path):
    """The target column (text in the CSV) comes back as numbers: the file trains as the CSV did."""
    pq = pytest.importorskip("pyarrow.parquet")
    assert gradcli("train", DATA, "--save", "model.json", "-q").code == 0
    assert gradcli("predict", "model.json", DATA, "--output", "out.parquet").code == 0
    schema = pq.read_schema(tmp_path / "out.parquet")
    assert {name: str(schema.field(name).type) for name in schema.names} == {
        "x1": "double", "x2": "double", "y": "double", "yhat": "double"}
    again = gradcli("train", "out.parquet", "--model", "b + w1*x1 + w2*x2", "--format", "json")
    first = gradcli("train", DATA, "--format", "json")
    assert again.code == 0, again
    assert again.json()["params"] == first.json()["params"]


def test_predictions_as_parquet_keep_text_as_text(gradcli, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    assert gradcli("train", DATA, "--save", "model.json", "-q").code == 0
    (tmp_path / "new.csv").write_text("x1,x2,city,y\n1,2,Oslo,3\n2,3,Rome,4.5\n")
    assert gradcli("predict", "model.json", "new.csv", "--output", "out.parquet").code == 0
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("city").to_pylist() == ["Oslo", "Rome"]
    assert table.column("y").to_pylist() == [3.0, 4.5]


def test_a_text_target_in_parquet_is_not_told_to_leave_the_model(gradcli, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x1": [1.0, 2.0], "city": ["a", "b"], "y": ["1", "2"]}), tmp_path / "t.parquet")
    err = one_line_error(gradcli("train", "t.parquet", "--model", "b + w*x1"), "column 'y'")
    assert "the target must hold numbers" in err and "--model" not in err, err
    err = one_line_error(gradcli("train", "t.parquet", "--target", "x1", "--model", "b + w*city"), "'city'")
    assert "leave it out of the model" in err, err


def test_dash_v_is_the_version(gradcli):
    short, long = gradcli("-V"), gradcli("--version")
    assert short.code == 0 and short.out == long.out and short.out.startswith("gradcli "), short


def test_loss_completes_the_built_in_losses(tmp_path):
    env = clean_env(_GRADCLI_COMPLETE="complete_bash", COMP_WORDS="gradcli train data.csv --loss ", COMP_CWORD="4")
    proc = subprocess.run([gradcli_program()], capture_output=True, env=env, timeout=60, cwd=tmp_path)
    assert proc.stdout.decode().split() == ["mse", "mae", "huber", "bce", "ce"], proc
    env.update(COMP_WORDS="gradcli grad --loss h", COMP_CWORD="3")
    proc = subprocess.run([gradcli_program()], capture_output=True, env=env, timeout=60, cwd=tmp_path)
    assert proc.stdout.decode().split() == ["huber"], proc


def test_the_speed_is_timed_from_the_first_epoch():
    """Epochs of 1.3 s each read 0.77 epochs/s, not the count over the moment since the bar appeared."""
    from gradcli.views.progress import EpochRate

    clock = iter([100.0, 101.3, 102.6, 103.9])
    rate = EpochRate(lambda: next(clock))
    assert [rate.text(epoch) for epoch in (1, 2, 3, 4)] == ["", "0.77 epochs/s", "0.77 epochs/s", "0.77 epochs/s"]
    clock = iter([0.0, 0.0, 2.0])
    rate = EpochRate(lambda: next(clock))
    assert [rate.text(epoch) for epoch in (0, 1, 1001)] == ["", "", "500 epochs/s"]


@pytest.mark.parametrize("args", [
    ["train", "samples/moons.csv", "--model", "sigmoid(W2 @ tanh(W1 @ x + b1) + b2)", "--shape", "W1=16x2",
     "--loss", "bce", "--epochs", "3", "-q"],
    ["grad", "W2 @ relu(W1 @ x + b1) + b2", "--shape", "W1=32x2", "--loss", "ce", "--target", "class",
     "--data", "samples/spiral.csv"],
], ids=["moons", "spiral"])
def test_the_finite_difference_warning_is_one_line_of_80_columns(tmp_path, args):
    from cli_runner import run_program

    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    result = run_program(args, tmp_path, env={"COLUMNS": "80"})
    lines = [line for line in result.err.splitlines() if "SymPy" in line]
    assert len(lines) == 1 and "finite differences" in lines[0], result
    assert len(lines[0]) <= 80, lines[0]
