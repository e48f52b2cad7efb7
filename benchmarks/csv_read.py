"""Time CSV readers on a 1e6 x 11 file of floats: python -m benchmarks.csv_read [ROWS] (target 6).

Compares the csv module (with float()), pyarrow alone, polars alone (each only
if installed) and gradcli's read_csv_table, which adds strict checks to
pyarrow. Prints seconds (median of 3) and the ratio to the fastest raw reader.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .common import Row, interleaved

COLUMNS = [f"x{i}" for i in range(1, 11)] + ["y"]


def make_file(path: Path, rows: int) -> bytes:
    """Standard normal values with 17 significant digits (so every float round-trips); seed 0."""
    values = np.random.default_rng(0).standard_normal((rows, len(COLUMNS)))
    with path.open("w") as out:
        out.write(",".join(COLUMNS) + "\n")
        np.savetxt(out, values, delimiter=",", fmt="%.17g")
    return path.read_bytes()


def csv_module(raw: bytes) -> object:
    reader = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""))
    next(reader)
    columns = list(zip(*reader))
    return [np.array([float(v) for v in column]) for column in columns]


def pyarrow_alone(raw: bytes) -> object:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    # told the types, as gradcli tells it: the fairest (and fastest) use of pyarrow alone
    table = pcsv.read_csv(pa.BufferReader(raw), convert_options=pcsv.ConvertOptions(
        column_types={name: pa.float64() for name in COLUMNS}))
    return [table.column(name).to_numpy() for name in COLUMNS]


def polars_alone(raw: bytes) -> object:
    import polars as pl

    frame = pl.read_csv(io.BytesIO(raw), schema={name: pl.Float64 for name in COLUMNS})  # told the types too
    return [frame[name].to_numpy() for name in COLUMNS]


def gradcli_table(raw: bytes) -> object:
    from gradcli.io.csv import read_csv_table

    return read_csv_table(raw, "bench.csv", COLUMNS)


def median_seconds(read: Callable[[bytes], object], raw: bytes, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        read(raw)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(rows: int = 1_000_000) -> None:
    readers: list[tuple[str, Callable[[bytes], object], bool]] = [("csv module + float()", csv_module, True)]
    for module, name, read in (("pyarrow", "pyarrow alone", pyarrow_alone), ("polars", "polars alone", polars_alone)):
        if importlib.util.find_spec(module):
            readers.append((name, read, True))
    readers.append(("gradcli read_csv_table", gradcli_table, False))
    with tempfile.TemporaryDirectory() as folder:
        raw = make_file(Path(folder) / "bench.csv", rows)
    print(f"{rows} rows x {len(COLUMNS)} float columns, {len(raw) / 1e6:.0f} MB")
    for _, read, _ in readers:
        read(raw[: 1 << 16].rsplit(b"\n", 1)[0] + b"\n")  # import and warm up outside the timing
    results = [(name, median_seconds(read, raw), is_raw) for name, read, is_raw in readers]
    fastest = min(seconds for _, seconds, is_raw in results if is_raw)
    print(f"{'reader':<24} {'seconds':>8} {'ratio':>6}")
    for name, seconds, _ in results:
        print(f"{name:<24} {seconds:8.2f} {seconds / fastest:6.2f}")


def csv_target(quick: bool) -> list[Row]:
    """Target 6: gradcli's strict reader against the faster of pyarrow and polars reading the same file."""
    rows = 200_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        raw = make_file(Path(folder) / "bench.csv", rows)
    contenders: dict[str, Callable[[], object]] = {"gradcli": lambda: gradcli_table(raw)}
    for module, read in (("pyarrow", pyarrow_alone), ("polars", polars_alone)):
        if importlib.util.find_spec(module):
            contenders[module] = lambda read=read: read(raw)  # type: ignore[misc]
    times = interleaved(contenders, 3 if quick else 7)
    fastest = min((name for name in times if name != "gradcli"), key=times.__getitem__)
    missing = [m for m in ("pyarrow", "polars") if m not in times]
    return [Row("6", f"CSV read, {rows:.0e} x 11 floats ({len(raw) / 1e6:.0f} MB)".replace("e+0", "e"), "s",
                times["gradcli"], f"{fastest} alone", times[fastest], 1.2,
                f"{', '.join(missing)} not installed" if missing else "")]


if __name__ == "__main__":
    main(int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000)
