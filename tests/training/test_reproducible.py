"""A trained network is the same on every machine: its products never depend on the BLAS kernel.

OpenBLAS picks a kernel per CPU (and OPENBLAS_CORETYPE forces one): each adds a product's terms
in its own order, with or without fused multiply-adds. README's spiral, trained under the Haswell
and Sandybridge kernels, ended 197 and 95 epochs later with scores 40 % apart, and the
Sandybridge run's final check said "disagree". Training computes its products in a fixed order,
so every kernel and thread count must give the same bytes.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_runner import clean_env, gradcli_program

SPIRAL = Path(__file__).parents[2] / "samples" / "spiral.csv"
MODEL = ["--model", "W2 @ relu(W1 @ x + b1) + b2", "--shape", "W1=32x2", "--loss", "ce", "--target", "class"]


def trained(tmp_path: Path, name: str, **env: str) -> tuple[bytes, bytes]:
    """The saved model and the predictions for samples/new.csv, in a fresh process under `env`."""
    program = gradcli_program()
    saved = tmp_path / f"{name}.json"
    environment = clean_env(**env)
    run = subprocess.run([program, "train", str(SPIRAL), *MODEL, "--save", str(saved), "--quiet"],
                         capture_output=True, env=environment, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    predicted = subprocess.run([program, "predict", str(saved), str(SPIRAL.with_name("new.csv"))],
                               capture_output=True, env=environment, timeout=60)
    assert predicted.returncode == 0, predicted.stderr.decode()
    return saved.read_bytes(), predicted.stdout


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="OpenBLAS's x86 kernels")
def test_the_spiral_trains_to_the_same_bytes_under_every_blas_kernel_and_thread_count(tmp_path):
    assert shutil.which(gradcli_program()) or Path(gradcli_program()).exists()
    default = trained(tmp_path, "default")
    # Prescott: OpenBLAS's plain SSE3 kernels (no AVX, no FMA), present in every x86-64 build
    assert trained(tmp_path, "prescott", OPENBLAS_CORETYPE="Prescott") == default
    assert trained(tmp_path, "one-thread", OPENBLAS_NUM_THREADS="1") == default
    assert trained(tmp_path, "four-threads", OPENBLAS_NUM_THREADS="4") == default
