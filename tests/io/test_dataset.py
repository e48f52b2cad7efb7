"""Data as parts: globs and directories of CSV and Parquet files, and files cut into parts, read with every
check a whole CSV file has, each message naming the file, the row counted within that file, and the column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gradcli
from gradcli.errors import DataError
from gradcli.io.dataset import open_dataset


def write_csv(path: Path, rows: list[tuple], header: str = "x1,y") -> Path:
    path.write_text(header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))
    return path


def numbers(count: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=count)
    return list(zip(x.round(6).tolist(), (2 * x + 1 + rng.normal(size=count) * 0.1).round(6).tolist()))


def test_a_glob_reads_every_file_as_one_table(tmp_path):
    a, b = numbers(40, 1), numbers(60, 2)
    write_csv(tmp_path / "part-1.csv", a), write_csv(tmp_path / "part-2.csv", b)
    write_csv(tmp_path / "all.csv", a + b)
    globbed = gradcli.train(str(tmp_path / "part-*.csv"))
    whole = gradcli.train(str(tmp_path / "all.csv"))
    assert (globbed.rows, globbed.files, globbed.engine) == (100, 2, "memory")
    assert globbed.params == pytest.approx(whole.params, rel=1e-12)
    # a directory is every data file in it
    (tmp_path / "all.csv").unlink()
    (tmp_path / "notes.md").write_text("not data\n")
    assert gradcli.train(str(tmp_path)).params == globbed.params


def test_files_whose_columns_differ_are_named_both(tmp_path):
    write_csv(tmp_path / "a.csv", numbers(5, 1))
    write_csv(tmp_path / "b.csv", numbers(5, 2), header="x2,y")
    with pytest.raises(DataError) as err:
        gradcli.train(str(tmp_path / "*.csv"))
    assert str(tmp_path / "a.csv") in str(err.value) and str(tmp_path / "b.csv") in str(err.value)
    assert "'x1'" in str(err.value)


def test_a_glob_that_matches_nothing_and_an_empty_directory_are_errors(tmp_path):
    with pytest.raises(DataError, match="matches no file"):
        gradcli.train(str(tmp_path / "nothing-*.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="directory with no"):
        gradcli.train(str(tmp_path / "empty"))


def test_a_bad_cell_in_the_second_file_names_that_file_its_line_row_and_column(tmp_path):
    write_csv(tmp_path / "a.csv", numbers(5, 1))
    rows = numbers(5, 2)
    rows[2] = (rows[2][0], "oops")
    write_csv(tmp_path / "b.csv", rows)
    with pytest.raises(DataError) as err:
        gradcli.train(str(tmp_path / "*.csv"), "b + w*x1")
    assert f"{tmp_path / 'b.csv'}: line 4 (row 3), column 'y'" in str(err.value)


def test_csv_parts_are_cut_at_record_boundaries_and_count_lines_and_rows_in_the_whole_file(tmp_path):
    # quoted fields with line breaks and doubled quotes straddle every cut
    lines = ["x1,y,note"]
    for i in range(4000):
        note = f'"line one\nline ""two"" {i}"' if i % 7 == 0 else f"n{i}"
        lines.append(f"{i},{2 * i + 1},{note}")
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(lines) + "\n")
    dataset = open_dataset(str(path))
    parts = dataset.parts(part_bytes=4096)
    assert len(parts) > 10
    tables = [part.load(["x1", "y"]) for part in parts]
    x1 = np.concatenate([t.columns["x1"] for t in tables])
    assert x1.tolist() == list(map(float, range(4000)))
    # a bad cell late in the file: its line counts the quoted line breaks before it
    lines[3500] = "3499,oops,n"
    path.write_text("\n".join(lines) + "\n")
    bad_line = 1 + 3499 + sum(1 for i in range(3499) if i % 7 == 0) + 1
    with pytest.raises(DataError) as err:
        for part in open_dataset(str(path)).parts(part_bytes=4096):
            part.load(["x1", "y"])
    assert f"line {bad_line} (row 3500), column 'y'" in str(err.value)


def test_a_parquet_null_in_a_later_row_group_is_counted_within_the_file(tmp_path):
    x = np.arange(1000.0)
    y = pa.array([None if i == 777 else 2.0 * i for i in range(1000)], type=pa.float64())
    pq.write_table(pa.table({"x1": x, "y": y}), tmp_path / "a.parquet", row_group_size=100)
    parts = open_dataset(str(tmp_path / "a.parquet")).parts(part_bytes=2000)  # a group: 1,600 bytes
    assert len(parts) == 10
    with pytest.raises(DataError, match=r"column 'y' is empty \(null\) at row 778"):
        for part in parts:
            part.load(["x1", "y"])


def test_csv_and_parquet_files_mix_in_one_glob(tmp_path):
    rows = numbers(30, 3)
    write_csv(tmp_path / "a.csv", rows[:10])
    pq.write_table(pa.table({"x1": [r[0] for r in rows[10:]], "y": [r[1] for r in rows[10:]]}), tmp_path / "b.parquet")
    write_csv(tmp_path / "all.csv", rows)
    mixed = gradcli.train(str(tmp_path / "[ab].*"))
    assert mixed.rows == 30 and mixed.params == pytest.approx(gradcli.train(str(tmp_path / "all.csv")).params,
                                                              rel=1e-12)


def test_blank_lines_before_a_later_part_count_as_lines_not_rows(tmp_path):
    lines = ["x1,y"]
    for i in range(3000):
        lines.append(f"{i},{i}")
        if i % 10 == 0:
            lines.append("   ")
    lines[-2] = "2998,bad"
    path = tmp_path / "blank.csv"
    path.write_text("\n".join(lines) + "\n")
    parts = open_dataset(str(path)).parts(part_bytes=2048)
    assert len(parts) > 5
    with pytest.raises(DataError) as err:
        for part in parts:
            part.load(["x1", "y"])
    assert f"line {len(lines) - 1} (row 2999), column 'y'" in str(err.value)


def test_a_row_group_larger_than_a_part_is_read_in_slices(tmp_path):
    """One row group of 1,000 rows (16,000 bytes and some) in parts of 3,000 bytes: slices of equal rows (the
    last fewer), equal to the whole in any order of reading, rows counted within the file."""
    x = np.arange(1000.0)
    pq.write_table(pa.table({"x1": x, "y": 3.0 * x}), tmp_path / "a.parquet", row_group_size=1000)
    parts = open_dataset(str(tmp_path / "a.parquet")).parts(part_bytes=3000)
    each = parts[0].rows
    assert len(parts) == -(-1000 // each) >= 6 and [p.first_row for p in parts] == list(range(1, 1001, each))
    in_order = [part.load(["x1", "y"]) for part in parts]
    assert [t.rows for t in in_order] == [each] * (len(parts) - 1) + [1000 - each * (len(parts) - 1)]
    assert np.array_equal(np.concatenate([t.columns["x1"] for t in in_order]), x)
    order = [5, 2, 3, 0, *range(len(parts)), 1, 1]
    backwards = {i: parts[i].load(["y"]).columns["y"] for i in order}
    assert np.array_equal(np.concatenate([backwards[i] for i in range(len(parts))]), 3.0 * x)
    assert parts[1].arrow(["x1"])[0].column("y").to_pylist() == (3.0 * x[each:2 * each]).tolist()


def test_a_null_in_a_slice_of_a_row_group_is_named_by_its_row_in_the_file(tmp_path):
    y = pa.array([None if i == 777 else 1.0 for i in range(1000)], type=pa.float64())
    pq.write_table(pa.table({"x1": np.arange(1000.0), "y": y}), tmp_path / "a.parquet", row_group_size=1000)
    parts = open_dataset(str(tmp_path / "a.parquet")).parts(part_bytes=2000)
    assert len(parts) > 1
    with pytest.raises(DataError, match=r"column 'y' is empty \(null\) at row 778"):
        for part in parts:
            part.load(["x1", "y"])


def test_training_over_slices_of_row_groups_equals_training_in_memory(tmp_path):
    rng = np.random.default_rng(5)
    x1, x2 = rng.standard_normal(60_000), rng.standard_normal(60_000)
    y = 0.5 + 2.0 * x1 - x2 + 0.1 * rng.standard_normal(60_000)
    pq.write_table(pa.table({"x1": x1, "x2": x2, "y": y}), tmp_path / "a.parquet", row_group_size=60_000)
    streamed = gradcli.train(str(tmp_path / "a.parquet"), memory="1MiB")  # a group of 1.44 MB, parts of 1 MiB
    assert streamed.engine == "stream"
    assert streamed.params == pytest.approx(gradcli.train(str(tmp_path / "a.parquet")).params, rel=1e-9)


MEASURE = """
import json, sys, tracemalloc
import pyarrow as pa
from gradcli.io.dataset import open_dataset, part_bytes
open_dataset(sys.argv[1]).parts()[0].load(["x1", "x2", "y"])  # imports and first-use state, before measuring
pool = pa.default_memory_pool()
start = pool.max_memory()
tracemalloc.start()
rows = sum(part.load(["x1", "x2", "y"]).rows for part in open_dataset(sys.argv[2]).parts(part_bytes(int(sys.argv[3]))))
print(json.dumps({"rows": rows, "peak": pool.max_memory() - start + tracemalloc.get_traced_memory()[1]}))
"""


def test_reading_a_row_group_larger_than_the_budget_stays_within_it(tmp_path):
    """A 24 MB row group under a 32 MiB budget (parts of 2 MiB): the read's peak, pyarrow's allocations and
    Python's (NumPy's) together, in a fresh process, stays under the budget. Whole, the group peaked at 62 MB:
    its column chunks pre-buffered whole, then decoded whole."""
    import json
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    n = 1_000_000
    pq.write_table(pa.table({"x1": rng.standard_normal(n), "x2": rng.standard_normal(n), "y": rng.standard_normal(n)}),
                   tmp_path / "big.parquet", row_group_size=n)
    pq.write_table(pa.table({"x1": [1.0], "x2": [2.0], "y": [3.0]}), tmp_path / "tiny.parquet")
    budget = 32 << 20
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "tiny.parquet"), str(tmp_path / "big.parquet"),
                           str(budget)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(proc.stdout)
    assert measured["rows"] == n
    assert measured["peak"] < budget, measured


def test_a_header_longer_than_the_first_block_is_read_to_its_line_break_not_to_the_end(tmp_path):
    """A header of 1.5 MB in a 61.5 MB file: opening it reads the header's blocks, not the 60 MB after it (it
    was read whole: a peak of 120 MB); a file with no line break in 64 MiB is refused, not read."""
    import tracemalloc

    names = [letter * 125_000 for letter in "abcdefghijkl"]  # 1.5 MB, each name under csv's field limit
    with open(tmp_path / "wide.csv", "w") as handle:
        handle.write(",".join(names) + "\n")
        for _ in range(30):
            handle.write("1\n" * 1_000_000)
    tracemalloc.start()
    try:
        dataset = open_dataset(str(tmp_path / "wide.csv"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert dataset.header == names and dataset.files[0].header_end == 125_001 * len(names)
    assert peak < 20 << 20, peak  # the header's text, decoded and parsed: a few copies of 1.5 MB
    with open(tmp_path / "one-line.csv", "wb") as handle:
        handle.truncate(65 << 20)
    with pytest.raises(DataError, match="no line break in its first 67,108,864 bytes"):
        open_dataset(str(tmp_path / "one-line.csv"))
