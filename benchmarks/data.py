"""Target 9: data beyond memory: Parquet reading, and one L-BFGS evaluation in memory, streamed and on Dask.

The data: 2e7 rows x 10 float64 columns (x1..x9 and y, 1.6 GB in memory; --quick: 2e6), written once
as Parquet (row groups of 1e6 rows) and as CSV in the cache folder (benchmarks/.cache, or
$GRADCLI_BENCH_CACHE). Each engine runs in its own process, so that its peak resident size (VmHWM)
is its own; a Dask run also reports each worker's peak.

One evaluation is what every L-BFGS step and line-search trial costs: the mean loss and its gradient
over every row, i.e. one pass. In memory it is one compiled sweep over NumPy columns; streamed it
reads every part from disk again (a Parquet file: its row groups); on Dask the parts stay in the
workers' memory and only the parameters go out and the sums come back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .common import Row

COLUMNS = 10
MODEL = "b + " + " + ".join(f"w{i}*x{i}" for i in range(1, COLUMNS))


def cache_folder() -> Path:
    folder = Path(os.environ.get("GRADCLI_BENCH_CACHE", Path(__file__).parent / ".cache"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def data_files(rows: int) -> tuple[Path, Path]:
    """The Parquet and CSV files of `rows` rows, written on first use (seeded: the same bytes every time)."""
    folder = cache_folder()
    parquet, csv = folder / f"rows-{rows}.parquet", folder / f"rows-{rows}.csv"
    if parquet.exists() and csv.exists():
        return parquet, csv
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    writer, step = None, 1_000_000
    temporary = parquet.with_suffix(".parquet.tmp")
    csv_temporary = csv.with_suffix(".csv.tmp")
    with open(csv_temporary, "wb") as text:
        text.write((",".join([*(f"x{i}" for i in range(1, COLUMNS)), "y"]) + "\n").encode())
        for low in range(0, rows, step):
            size = min(step, rows - low)
            x = rng.standard_normal((size, COLUMNS - 1))
            y = 0.5 + x @ (np.arange(1, COLUMNS) / 10) + rng.standard_normal(size) * 0.1
            table = pa.table({**{f"x{i}": x[:, i - 1] for i in range(1, COLUMNS)}, "y": y})
            writer = writer or pq.ParquetWriter(temporary, table.schema)
            writer.write_table(table, row_group_size=step)
            import pyarrow.csv as pcsv

            sink = pa.BufferOutputStream()
            pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=False))
            text.write(sink.getvalue().to_pybytes())
    writer.close()
    temporary.rename(parquet)
    csv_temporary.rename(csv)
    return parquet, csv


CHILD = r'''
import json, sys, time
engine, path, workers, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
import numpy as np
import gradcli
from gradcli.io.dataset import open_dataset, dataset_table
from gradcli.training.models import problem_for
from gradcli.training.reading import streamed_rows
from gradcli.training.passes import MemoryRows
from gradcli.engines.graph import build_graph
from gradcli.engines.sweep import compile_plan

def peak() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

dataset = open_dataset(path)
problem = problem_for(sys.argv[5], "mse", "y", dataset.header, path)
plan = compile_plan(build_graph(problem), list(problem.params))
params = {name: 0.01 for name in problem.params}
began = time.perf_counter()
workers_peak = []
if engine == "memory":
    table = dataset_table(dataset).read([*problem.inputs, "y"])
    rows = MemoryRows(table.columns, table.rows)
elif engine == "stream":
    rows = streamed_rows(dataset, problem, 1 << 30)
else:
    from gradcli.io.distributed import dask_client
    from gradcli.training.distributed import TrainingRows
    from gradcli.training.reading import training_parts
    context = dask_client("local", workers)
    client = context.__enter__()
    rows = TrainingRows(client, training_parts(dataset, 1 << 30), problem, len(dataset.files))
load = time.perf_counter() - began
times = []
for _ in range(repeat):
    began = time.perf_counter()
    result = rows.sweep(plan, params)
    times.append(time.perf_counter() - began)
if engine == "dask":
    workers_peak = list(client.run(peak).values())
    context.__exit__(None, None, None)
print(json.dumps({"seconds": sorted(times)[len(times) // 2], "load": load, "peak": peak(),
                  "workers": workers_peak, "loss": result.loss, "rows": rows.rows}))
'''


def evaluation(engine: str, path: Path, workers: int = 0, repeat: int = 5) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, engine, str(path), str(workers), str(repeat), MODEL],
                          capture_output=True, text=True)
    if done.returncode:
        why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode
        raise RuntimeError(f"{engine}: {why}")
    return json.loads(done.stdout)


def parquet_read(path: Path, repeat: int) -> tuple[float, float]:
    """gradcli reading every part's columns (with every check) against pyarrow reading them to NumPy."""
    import pyarrow.parquet as pq

    from gradcli.io.dataset import dataset_table, open_dataset

    from .common import interleaved

    names = [*(f"x{i}" for i in range(1, COLUMNS)), "y"]

    def ours() -> None:
        dataset_table(open_dataset(str(path))).read(names)

    def theirs() -> None:
        table = pq.read_table(path, columns=names, use_threads=False)
        [table.column(name).to_numpy() for name in names]

    found = interleaved({"gradcli": ours, "pyarrow": theirs}, repeat)
    return found["gradcli"], found["pyarrow"]


def streamed_peak(csv: Path, budget: str) -> tuple[float, float]:
    """Peak resident size (VmHWM, via /usr/bin/time's %M or the child's own) of `gradcli train CSV
    --memory BUDGET`, and its seconds."""
    import time

    program = Path(sys.executable).parent / "gradcli"
    script = ("import resource, subprocess, sys, json; p = subprocess.run(sys.argv[1:], capture_output=True); "
              "assert p.returncode == 0, p.stderr[-500:]; "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)")
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, str(program), "train", str(csv), "--memory", budget,
                           "--quiet", "--format", "json"], capture_output=True, text=True, check=True)
    return float(done.stdout.strip()), time.perf_counter() - began


def data_target(quick: bool) -> list[Row]:
    if not sys.platform.startswith("linux"):
        return [Row("9", "data beyond memory", "s", None, "", None, None, "needs Linux /proc")]
    rows = 2_000_000 if quick else 20_000_000
    parquet, csv = data_files(rows)
    label = f"{rows:.0e} x {COLUMNS}".replace("e+0", "e")
    ours, theirs = parquet_read(parquet, 3 if quick else 5)
    found = [Row("9", f"reading {label} Parquet (every check; all row groups)", "s", ours, "pyarrow alone", theirs,
                 1.2)]
    budget = 120e6 if quick else 300e6
    peak, seconds = streamed_peak(csv, f"{budget:.0f}")
    found.append(Row("9", f"peak RSS of `gradcli train` on the {csv.stat().st_size / 1e9:.1f} GB CSV, --memory "
                     f"{budget / 1e6:.0f}MB ({csv.stat().st_size / budget:.0f}x; {seconds:.0f} s)", "MB",
                     peak / 1e6, "the budget", budget / 1e6, None if quick else 1.0,
                     "gradcli alone is ~125 MB: --quick's budget is below what holds" if quick else ""))
    memory = evaluation("memory", parquet)
    stream = evaluation("stream", parquet)
    found += [
        Row("9", f"one L-BFGS evaluation, {label}, streamed from Parquet (peak {stream['peak'] / 1e6:.0f} MB)", "s",
            stream["seconds"], f"in memory (peak {memory['peak'] / 1e6:.0f} MB)", memory["seconds"]),
    ]
    try:
        one, two = evaluation("dask", parquet, 1), evaluation("dask", parquet, 2)
    except (RuntimeError, ImportError) as err:
        return found + [Row("9", "one evaluation on Dask", "s", None, "", None, None, f"skipped: {err}")]
    workers = lambda run: "/".join(f"{p / 1e6:.0f}" for p in run["workers"])  # noqa: E731
    found += [
        Row("9", f"one evaluation on Dask, 1 worker (client {one['peak'] / 1e6:.0f} MB, worker {workers(one)} MB)",
            "s", one["seconds"], "in memory", memory["seconds"]),
        Row("9", f"one evaluation on Dask, 2 workers (client {two['peak'] / 1e6:.0f} MB, workers {workers(two)} MB)",
            "s", two["seconds"], "1 worker", one["seconds"], 1 / 1.6, "speed-up >= 1.6"),
        Row("9", "Dask's overhead per evaluation (1 worker minus in memory)", "ms",
            one["seconds"] - memory["seconds"], "the in-memory pass", memory["seconds"]),
    ]
    return found
