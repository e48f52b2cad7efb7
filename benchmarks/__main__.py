"""Every speed target of gradcli in one table: python -m benchmarks [--quick] [--only 1,4] [--threads N].

Each row is gradcli's figure, the reference it is measured against, their ratio, the limit
on that ratio, and whether it holds. Timings are medians of interleaved repetitions.
PyTorch and JAX rows need the bench extra (pip install '.[bench]'); without it they say
"skipped". Every contender runs with the same number of threads (--threads, default 1):
BLAS, OpenMP, PyTorch, XLA, pyarrow and polars are all pinned before they are imported.
Exit code 0 when every limit holds, 1 when one is missed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

TARGETS = {
    "1": "gradient throughput",
    "2": "cheap gradient",
    "3": "symbolic side at scale",
    "4": "start-up",
    "5": "memory",
    "6": "CSV",
    "7": "training step",
    "8": "Hessian",
    "9": "data beyond memory",
    "10": "layers",
}


def pin_threads(threads: int) -> str:
    """Set every library's thread count (before any of them is imported); says what was set."""
    n = str(threads)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                     "NUMEXPR_NUM_THREADS", "POLARS_MAX_THREADS"):
        os.environ[variable] = n
    eigen = "--xla_cpu_multi_thread_eigen=false " if threads == 1 else ""
    os.environ["XLA_FLAGS"] = f"{eigen}intra_op_parallelism_threads={n}"
    import importlib.util

    if importlib.util.find_spec("torch"):
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)
    import pyarrow

    pyarrow.set_cpu_count(threads)
    return (f"threads: {threads} for every contender (BLAS and OpenMP via *_NUM_THREADS, torch.set_num_threads, "
            f"XLA intra-op, pyarrow.set_cpu_count, POLARS_MAX_THREADS)")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("gradcli", "numpy", "sympy", "pyarrow", "torch", "jax", "polars"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} absent")
    return ", ".join(found)


def runners() -> dict[str, list[Callable[[bool], list[Any]]]]:
    """Each target's functions, run(quick) -> rows (imported here: after pin_threads)."""
    from .csv_read import csv_target
    from .data import data_target
    from .gradient import cheap_gradient, throughput
    from .hessian import hessian_target
    from .layers import layers_target
    from .memory import memory
    from .startup import large_models, startup, symbolic_at_scale, symbolic_over_data
    from .train_step import training_step

    return {
        "1": [throughput], "2": [cheap_gradient], "3": [symbolic_at_scale, large_models, symbolic_over_data],
        "4": [startup], "5": [memory], "6": [csv_target], "7": [training_step], "8": [hessian_target],
        "9": [data_target], "10": [layers_target],
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller data: under a minute")
    parser.add_argument("--only", default=",".join(TARGETS), help="targets to run, e.g. 1,4 (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="threads for every contender (default 1)")
    args = parser.parse_args()
    chosen = [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in TARGETS]
    if unknown or args.threads < 1:
        parser.error(f"--only takes target numbers {','.join(TARGETS)}" if unknown else "--threads must be >= 1")

    threads = pin_threads(args.threads)
    from .common import table

    runs = runners()
    began = time.perf_counter()
    rows = []
    for target in chosen:
        print(f"running target {target}: {TARGETS[target]}...", file=sys.stderr, flush=True)
        for run in runs[target]:
            rows += run(args.quick)
    print(f"gradcli benchmarks{' (--quick)' if args.quick else ''}: medians of interleaved repetitions")
    print(f"machine: {machine()}")
    print(versions())
    print(threads)
    print()
    print(table(rows))
    print(f"\n{time.perf_counter() - began:.0f} s")
    return 1 if any(row.verdict == "MISSED" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
