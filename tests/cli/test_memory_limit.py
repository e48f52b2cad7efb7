"""Every command runs on the samples, as README runs them, within 1 GiB of address space.

A read once reserved its limit rather than what it read (`read(max_bytes + 1)`, a quarter of the
machine's memory): a 301-row file took 6.3 GB of address space, and under `ulimit -v` or strict
overcommit every command that reads a file said "out of memory". Each command here is the installed
program in its own process under RLIMIT_AS (what `ulimit -v` sets).

BLAS and OpenMP get one thread: OpenBLAS reserves a buffer of tens of MB per thread, so on a
machine with many cores its threads alone would pass 1 GiB, whatever gradcli reads.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cli_runner import clean_env, gradcli_program

resource = pytest.importorskip("resource")

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1 << 30
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}

# (command line, stdin from this sample or None): README's examples of each command.
COMMANDS = {
    "grad": (["grad", "b+w1*x1+w2*x2", "--loss", "mse", "--data", "x1=1.5,x2=2,y=1",
              "--params", "b=0.5,w1=2,w2=-1"], None),
    "grad file": (["grad", "sigmoid(b+w*x1)", "--loss", "bce", "--data", "samples/labels.csv",
                   "--params", "w=0.8,b=-0.3"], None),
    "grad stdin": (["grad", "b+w*x1", "--data", "-", "--format", "csv"], "samples/points.csv"),
    "grad params file": (["grad", "b + w @ x", "--data", "x1=1.5,x2=2,y=1",
                          "--params", "samples/note-vector.json"], None),
    "grad model file": (["grad", "--model-file", "samples/long_model.txt", "--data", "x1=1,y=2"], None),
    "grad files": (["grad", "b + w1*x1 + w2*x2", "--data", "samples/logs/*.csv",
                    "--params", "b=1,w1=0.3,w2=-0.2"], None),
    "train": (["train", "samples/data.csv"], None),
    "train stdin": (["train", "-", "--optimizer", "sgd", "--batch-size", "32", "--seed", "7", "--quiet"],
                    "samples/data.csv"),
    "train network": (["train", "samples/moons.csv", "--model", "sigmoid(W2 @ tanh(W1 @ x + b1) + b2)", "--shape",
                       "W1=16x2", "--loss", "bce", "--validation", "0.2", "--save", "net.json"], None),
    "train streamed": (["train", "samples/logs", "--memory", "2MB", "--quiet", "--save", "logs-model.json"], None),
    "predict": (["predict", "params.json", "samples/new.csv"], None),
    "predict parquet": (["predict", "logs-model.json", "samples/logs", "--output", "predictions.parquet"], None),
    "explain": (["explain", "W2 @ tanh(W1 @ x + b1) + b2", "--shape", "W1=3x2", "--data", "x1=1,x2=2,y=0.5",
                 "--wrt", "W1"], None),
    "explain file": (["explain", "b+w1*x1+w2*x2", "--data", "samples/points.csv", "--row", "3",
                      "--format", "json"], None),
    "graph": (["graph", "b+w1*x1+w2*x2", "--loss", "mse", "--format", "dot"], None),
    "hessian": (["hessian", "b+w1*x1+w2*x2", "--data", "samples/data.csv", "--params", "b=0,w1=0,w2=0"], None),
    "check": (["check", "b+w1*x1+w2*x2", "--wrt", "w1", "--claim", "2*(yhat-y)*x1", "--data", "samples/data.csv",
               "--params", "b=0.5,w1=2,w2=-1"], None),
    "diff": (["diff", "x**2*sin(x)", "--wrt", "x", "--order", "3", "--at", "x=1.3"], None),
    "losses": (["losses"], None),
}


def run_limited(args: list[str], cwd: Path, stdin: bytes = b"") -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    return subprocess.run([gradcli_program(), *args], cwd=cwd, input=stdin, capture_output=True, timeout=120,
                          env=clean_env(**ONE_THREAD), preexec_fn=limit)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The samples, and the saved models that README's predict lines read (made without a limit)."""
    where = tmp_path_factory.mktemp("limited")
    shutil.copytree(ROOT / "samples", where / "samples")
    for args in (["train", "samples/data.csv", "--quiet", "--save", "params.json"],
                 ["train", "samples/logs", "--quiet", "--save", "logs-model.json"]):
        made = subprocess.run([gradcli_program(), *args], cwd=where, capture_output=True, timeout=120, env=clean_env())
        assert made.returncode == 0, made
    return where


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_runs_within_1_gib_of_address_space(folder, name):
    args, stdin = COMMANDS[name]
    proc = run_limited(args, folder, (folder / stdin).read_bytes() if stdin else b"")
    err = proc.stderr.decode("utf-8", "replace")
    assert "out of memory" not in err and "MemoryError" not in err, err
    assert proc.returncode == 0, err
    assert proc.stdout or name in ("train streamed", "predict parquet", "train stdin"), err
