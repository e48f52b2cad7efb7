"""Data as parts: one file, a glob or a directory of CSV and Parquet files, each cut into parts that fit.

A part is a piece of one file that is read whole: a byte range of a CSV file cut at record
boundaries (read with the file's header put before it), or a run of a Parquet file's row groups.
Every part is read by the same checked readers as a whole file, and every message names the file,
the line or row counted within that file, and the column. Parts are plain data, so a Dask worker
can read one as well as this process can (see io/distributed.py).

Files in a dataset must have the same columns (in any order): a file that differs is an error
naming it and the first file.
"""

from __future__ import annotations

import glob
import io
import os
import re
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError, show_text
from .csv import (
    CsvTable,
    count_records,
    read_csv_table,
    read_header,
    read_header_and_offset,
    require_columns,
    row_place,
)
from .csv import text_columns as csv_text_columns
from .files import check_input, open_input, why_unreadable
from .parquet import cell_text, float_column, is_parquet
from .tables import Table
from .values import is_inline, is_spec

SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")  # what a directory's files must end with to be read
PATTERN = re.compile(r"[*?[]")
HEADER_BYTES = 1 << 20  # a CSV file's header is looked for in this much of it (then block by block)
MAX_HEADER_BYTES = 64 << 20  # a header line longer than this is refused
SCAN_BLOCK = 8 << 20  # bytes read at a time while finding where CSV parts may be cut
PARQUET_BUFFER = 1 << 20  # a column chunk is read through a buffer of this size, not whole (pre_buffer off)
BLANK_LINE = re.compile(rb"(?m)^[ \t\r\x0b\x0c]*\n")  # a line the CSV reader skips


def _open(path: str) -> Any:
    """A data file opened for reading (io/files.py: a FIFO or a device refused, never blocking)."""
    return open_input(path, f"data file {show_text(path)!r}")


def is_pattern(spec: str) -> bool:
    """A glob (holding *, ? or [) that names no file itself."""
    return bool(PATTERN.search(spec)) and not os.path.exists(spec)


def is_dataset_spec(spec: str) -> bool:
    """A glob or a directory: more than one file may be meant."""
    return spec != "-" and (is_pattern(spec) or os.path.isdir(spec))


def expand(spec: str, what: str = "data") -> list[str]:
    """The files a glob or directory names, sorted; a plain file's path as it is."""
    if os.path.isdir(spec):
        try:
            names = os.listdir(spec)
        except OSError as err:
            raise DataError(f"{what} directory {show_text(spec)!r} {why_unreadable(err)}") from None
        files = sorted(os.path.join(spec, name) for name in names
                       if name.lower().endswith(SUFFIXES) and not name.startswith(".")
                       and os.path.isfile(os.path.join(spec, name)))
        if not files:
            raise DataError(f"{what} {show_text(spec)!r} is a directory with no {', '.join(SUFFIXES)} file in it")
        return files
    if is_pattern(spec):
        files = sorted(path for path in glob.glob(spec) if os.path.isfile(path))
        if not files:
            raise DataError(f"{what} {show_text(spec)!r} matches no file")
        return files
    return [spec]


@dataclass(frozen=True)
class Part:
    """One piece of one file, read whole (see the module's docstring)."""

    path: str
    kind: str  # "csv" or "parquet"
    start: int  # csv: the byte where its records begin; parquet: its first row group
    stop: int  # csv: the byte after its last record; parquet: the row group after its last
    header_end: int = 0  # csv: the byte where the header ends
    first_row: int = 1  # parquet: the file's row number of its first row (csv: counted when a message needs it)
    delimiter: str = ","
    rows: int = 0  # parquet: 0 for whole row groups, else a slice of one row group of this many rows (fewer at its end)
    skip: int = 0  # after this many of its rows (a multiple of `rows`): a row group larger than a part is split

    @property
    def name(self) -> str:
        return self.path

    def load(self, wanted: Collection[str], keep_text: bool = False) -> CsvTable:
        """The wanted columns as checked float64 arrays; an empty part has 0 rows."""
        if self.kind == "parquet":
            return self._load_parquet(list(wanted), keep_text)
        return self._load_csv(list(wanted), keep_text)

    def _load_csv(self, wanted: list[str], keep_text: bool) -> CsvTable:
        with _open(self.path) as handle:
            header = handle.read(self.header_end)
            handle.seek(self.start)
            body = handle.read(self.stop - self.start)
        if not body.strip():
            return CsvTable(self.name, read_header(header, self.name, self.delimiter), {}, 0, {} if keep_text else None)
        if self.start == self.header_end:
            return read_csv_table(header + body, self.name, wanted, keep_text=keep_text, delimiter=self.delimiter)
        return read_csv_table(header + body, self.name, wanted, keep_text=keep_text, delimiter=self.delimiter,
                              shift=self._shift)

    def _shift(self) -> tuple[int, int]:
        """(lines, rows) to add to the numbers a part's reading gives, so that they count in the whole file.

        Only for a message: the file before the part is read in blocks of whole lines (memory stays
        bounded), lines counted by their breaks and rows as the lines holding more than spaces, or,
        where a quote comes before the part (a record may then span lines), by the csv module.
        """
        lines = blank = 0
        with _open(self.path) as handle:
            handle.seek(self.header_end)
            left, carry = self.start - self.header_end, b""
            while left > 0:
                block = handle.read(min(SCAN_BLOCK, left))
                if not block:
                    break
                left -= len(block)
                block = carry + block
                cut = block.rfind(b"\n") + 1
                block, carry = block[:cut], block[cut:]
                if b'"' in block:
                    return lines + block.count(b"\n") + self._lines_after(handle, left), self._records_before()
                lines += block.count(b"\n")
                blank += len(BLANK_LINE.findall(block))
        return lines, lines - blank

    def _lines_after(self, handle: Any, left: int) -> int:
        """Line breaks in the next `left` bytes of the open file, read in blocks."""
        count = 0
        while left > 0:
            block = handle.read(min(SCAN_BLOCK, left))
            if not block:
                break
            left -= len(block)
            count += block.count(b"\n")
        return count

    def _records_before(self) -> int:
        """Data records before the part, by the csv module over the file's text, streamed."""
        with _open(self.path) as handle:
            text = io.TextIOWrapper(io.BufferedReader(_Prefix(handle, self.start)), encoding="utf-8-sig",
                                    errors="replace", newline="")
            records = count_records(text, self.delimiter)
        return records - 1  # less the header

    def _load_parquet(self, wanted: list[str], keep_text: bool) -> CsvTable:
        table, header, columns = self._read_parquet(wanted, every_column=keep_text)
        others = [name for name in header if name not in wanted] if keep_text else []
        text = {name: [cell_text(v) for v in table.column(name).to_pylist()] for name in others} if keep_text else None
        return CsvTable(self.name, header, columns, table.num_rows, text)

    def arrow(self, wanted: Collection[str]) -> tuple[Any, dict[str, Any]]:
        """A Parquet part's rows as the file holds them (a pyarrow Table of every column, in the file's
        order and types), and the wanted columns as checked float64 arrays (predict's Parquet output)."""
        table, header, columns = self._read_parquet(list(wanted), every_column=True)
        return table.select(header), columns

    def _read_parquet(self, wanted: list[str], every_column: bool) -> tuple[Any, list[str], dict[str, Any]]:
        """(the row groups' table, the file's header, the wanted columns checked as float64)."""
        import pyarrow.parquet as pq

        check_input(self.path, f"data file {show_text(self.path)!r}")  # pyarrow opens it by name
        try:
            file = pq.ParquetFile(self.path, buffer_size=PARQUET_BUFFER, pre_buffer=False)  # not whole chunks
            header = list(file.schema_arrow.names)
            require_columns(header, wanted, self.name)
            others = [name for name in header if name not in wanted] if every_column else []
            if self.rows:
                table = _row_group_slice(file, self.path, self.start, self.skip, self.rows, [*wanted, *others])
            else:
                table = file.read_row_groups(list(range(self.start, self.stop)), columns=[*wanted, *others],
                                             use_threads=False)
        except DataError:
            raise
        except Exception as err:  # noqa: BLE001 (pyarrow's errors have no common base but Exception)
            raise DataError(f"{self.name}: cannot read its columns ({' '.join(str(err).split())[:200]})") from None
        columns = {name: float_column(table.column(name), name, self.name, self.first_row) for name in wanted}
        return table, header, columns


_slices = threading.local()  # per thread: the batches of the row group read last, where they stopped


def _row_group_slice(file: Any, path: str, group: int, skip: int, rows: int, columns: list[str]) -> Any:
    """Rows skip .. skip+rows of one row group, decoded in batches of `rows`, the column chunks read
    through a buffer of PARQUET_BUFFER bytes rather than whole.

    Parquet has no cheaper way to a row than decoding those before it: the batches of the group read
    last are kept open in this thread (one group at a time, a few pages per column), so that a pass
    reading the slices in order decodes each once.
    """
    import pyarrow as pa

    key = (path, os.stat(path).st_mtime_ns, group, rows, tuple(columns))
    held = getattr(_slices, "held", None)
    if held is None or held[0] != key or held[1] > skip // rows:
        batches = file.iter_batches(batch_size=rows, row_groups=[group], columns=columns, use_threads=False)
        held = [key, 0, batches]
    _slices.held = None  # dropped on an error: a later read starts afresh
    for batch in held[2]:
        held[1] += 1
        if held[1] - 1 == skip // rows:
            _slices.held = held
            return pa.Table.from_batches([batch])
    return file.schema_arrow.empty_table().select(columns)


class _Prefix(io.RawIOBase):
    """The first `size` bytes of an open binary file, as a stream."""

    def __init__(self, handle: Any, size: int) -> None:
        self.handle, self.left = handle, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.handle.read(min(len(buffer), self.left))
        self.left -= len(data)
        buffer[:len(data)] = data
        return len(data)


@dataclass(frozen=True)
class DataFile:
    """A data file as found on disk: its kind, header and layout, before any row is read."""

    path: str
    kind: str
    header: list[str]
    size: int  # bytes on disk
    header_end: int = 0  # csv
    row_groups: tuple[tuple[int, int], ...] = ()  # parquet: (rows, uncompressed bytes) of each


@dataclass
class Dataset:
    """Files with the same columns, read part by part."""

    name: str  # as given (a path, glob or directory), for messages
    files: list[DataFile]
    delimiter: str = ","

    @property
    def header(self) -> list[str]:
        return self.files[0].header

    @property
    def size(self) -> int:
        return sum(file.size for file in self.files)

    def parts(self, part_bytes: int | None = None) -> list[Part]:
        """The parts, none much over `part_bytes` where a file can be cut there (None: one per file)."""
        found: list[Part] = []
        for file in self.files:
            if file.kind == "parquet":
                found.extend(_parquet_parts(file, part_bytes))
            elif part_bytes is None or file.size <= part_bytes:
                found.append(Part(file.path, "csv", file.header_end, file.size, file.header_end, 1, self.delimiter))
            else:
                found.extend(Part(file.path, "csv", low, high, file.header_end, 1, self.delimiter)
                             for low, high in _csv_cuts(file, part_bytes))
        return found


def _parquet_parts(file: DataFile, part_bytes: int | None) -> Iterator[Part]:
    """Runs of whole row groups up to part_bytes; a row group larger than that is split into slices of
    rows, each about part_bytes (by its uncompressed size)."""
    groups = file.row_groups
    if not groups:
        yield Part(file.path, "parquet", 0, 0, first_row=1)
        return
    low, size, first, row = 0, 0, 1, 1
    for i, (rows, nbytes) in enumerate(groups):
        if part_bytes is not None and nbytes > part_bytes and rows > 1:
            if i > low:
                yield Part(file.path, "parquet", low, i, first_row=first)
            pieces = -(-nbytes // part_bytes)
            each = -(-rows // pieces)
            for skip in range(0, rows, each):
                yield Part(file.path, "parquet", i, i + 1, first_row=row + skip, rows=each, skip=skip)
            low, size, first, row = i + 1, 0, row + rows, row + rows
            continue
        if i > low and part_bytes is not None and size + nbytes > part_bytes:
            yield Part(file.path, "parquet", low, i, first_row=first)
            low, size, first = i, 0, row
        size += nbytes
        row += rows
    if low < len(groups):
        yield Part(file.path, "parquet", low, len(groups), first_row=first)


def _csv_cuts(file: DataFile, part_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges of about part_bytes each, cut just after a line break outside quotes.

    A line break is a record boundary when an even number of quotes comes before it (a doubled quote
    inside a quoted field adds two). A file with no such break within a range stays uncut there.
    """
    cuts, low = [], file.header_end
    quotes = 0  # quotes before `position`, mod 2
    position = file.header_end
    with _open(file.path) as handle:
        handle.seek(position)
        while position < file.size:
            target = min(file.size, low + part_bytes)
            block = handle.read(target - position)
            if not block:
                break
            quotes_here = block.count(b'"')
            end = position + len(block)
            cut = None
            if end < file.size:
                at = block.rfind(b"\n")
                while at >= 0:
                    if (quotes + block.count(b'"', 0, at)) % 2 == 0:
                        cut = position + at + 1
                        break
                    at = block.rfind(b"\n", 0, at)
            quotes = (quotes + quotes_here) % 2
            position = end
            if cut is not None and cut > low:
                cuts.append((low, cut))
                low = cut
                handle.seek(cut)
                quotes, position = 0, cut
    if low < file.size:
        cuts.append((low, file.size))
    return cuts


def part_bytes(budget: int) -> int:
    """How large a part read from disk is: a sixteenth of the memory budget (a part is resident two or
    three times over while it is parsed), between 1 MiB and 64 MiB (train, grad and predict alike)."""
    return max(1 << 20, min(64 << 20, budget // 16))


def files_of(data: Any, delimiter: str, budget: int, always: bool = False) -> Dataset | None:
    """The Dataset that `data` names where it may be read part by part: a glob or a directory, or a
    regular file larger than `budget` (any regular file, with `always`). None for what is read whole:
    stdin, Python data, NAME=VALUE text, a smaller file, and what is not a regular file (a device is
    refused by the reader of whole files, with its own message)."""
    if not is_spec(data) or is_inline(data) or os.fspath(data) == "-":
        return None
    path = os.fspath(data)
    if is_dataset_spec(path) or (os.path.isfile(path) and (always or os.path.getsize(path) > budget)):
        return open_dataset(path, "data", delimiter)
    return None


def open_dataset(spec: str, what: str = "data", delimiter: str = ",") -> Dataset:
    """The files a path, glob or directory names, each with its columns read and checked to agree."""
    files = [_open_file(path, delimiter) for path in expand(spec, what)]
    first = files[0]
    for other in files[1:]:
        if set(other.header) != set(first.header):
            missing = next((name for name in first.header if name not in other.header), None)
            detail = (f"no column {show_text(missing)!r}" if missing is not None else
                      f"a column {show_text(next(n for n in other.header if n not in first.header))!r} that it has not")
            raise DataError(f"{other.path}: its columns differ from {first.path}'s ({detail}); "
                            "every file of the data must have the same columns")
    return Dataset(spec, files, delimiter)


def _open_file(path: str, delimiter: str) -> DataFile:
    size = check_input(path, f"data file {show_text(path)!r}").st_size
    if is_parquet(path):
        return _open_parquet(path, size)
    with _open(path) as handle:
        prefix = _header_prefix(handle, path)
    header, header_end = read_header_and_offset(prefix, path, delimiter)
    return DataFile(path, "csv", header, size, header_end)


def _header_prefix(handle: Any, path: str) -> bytes:
    """The file's first whole lines, HEADER_BYTES of them or more: read in blocks until a line break
    (a header line longer than MAX_HEADER_BYTES is refused rather than read to the end of the file)."""
    blocks = [handle.read(HEADER_BYTES)]
    while len(blocks[-1]) == HEADER_BYTES and b"\n" not in blocks[-1]:
        if len(blocks) * HEADER_BYTES >= MAX_HEADER_BYTES:
            raise DataError(f"{show_text(path)}: no line break in its first {MAX_HEADER_BYTES:,} bytes "
                            "(a CSV file's header is one line)")
        blocks.append(handle.read(HEADER_BYTES))
    prefix = b"".join(blocks)
    if len(blocks[-1]) < HEADER_BYTES:  # the whole file
        return prefix
    return prefix[:prefix.rfind(b"\n") + 1]


def _open_parquet(path: str, size: int) -> DataFile:
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(path).metadata
        header = list(pq.read_schema(path).names)
    except Exception as err:  # noqa: BLE001
        raise DataError(f"{path}: not a readable Parquet file ({' '.join(str(err).split())[:200]})") from None
    groups = tuple((metadata.row_group(i).num_rows, metadata.row_group(i).total_byte_size)
                   for i in range(metadata.num_row_groups))
    return DataFile(path, "parquet", header, size, row_groups=groups)


@dataclass
class PartsTable(Table):
    """A dataset read into memory: every part's columns, one after another (train's and grad's data).

    Messages about a row name its file and its row within that file.
    """

    parts: list[Part] = field(default_factory=list)
    files: int = 1
    bounds: list[tuple[Part, int, int]] = field(default_factory=list)  # (part, first row, rows) once read

    def read(self, wanted: Collection[str], keep_text: bool = False) -> CsvTable:
        wanted = list(dict.fromkeys(wanted))
        tables, self.bounds, low = [], [], 0
        for part in self.parts:
            table = part.load(wanted, keep_text)
            if table.rows:
                tables.append(table)
                self.bounds.append((part, low, table.rows))
                low += table.rows
        if not low:
            raise DataError(f"{self.name}: there are no data rows")
        columns = (tables[0].columns if len(tables) == 1 else  # one file: no copy
                   {name: np.concatenate([t.columns[name] for t in tables]) for name in wanted})
        text = ({name: [cell for t in tables for cell in t.text[name]] for name in tables[0].text}
                if keep_text and tables[0].text is not None else None)
        return CsvTable(self.name, self.header, columns, low, text)

    def text_columns(self, names: Collection[str]) -> list[str]:
        first = self.parts[0]
        if first.kind != "csv":
            return []
        with _open(first.path) as handle:
            raw = handle.read(HEADER_BYTES)
        return csv_text_columns(raw[:raw.rfind(b"\n") + 1] or raw, first.name, list(names), self.delimiter)

    def place(self, row: int) -> str:
        """'FILE row R' for the 1-based row R of all the data, R counted within FILE."""
        for part, low, rows in self.bounds:
            if low < row <= low + rows:
                return f"in {part.name} {part_place(part, row - low)}"
        return f"row {row}"


def part_place(part: Part, row: int) -> str:
    """Where the part's 1-based row `row` is in its file: 'row R' (Parquet), 'line L (row R)' (CSV)."""
    if part.kind == "parquet":
        return f"row {part.first_row + row - 1}"
    with _open(part.path) as handle:
        header = handle.read(part.header_end)
        handle.seek(part.start)
        body = handle.read(part.stop - part.start)
    place = row_place(header + body, part.name, row, part.delimiter)
    if part.start == part.header_end:
        return place
    lines, rows = part._shift()
    found = re.fullmatch(r"line (\d+) \(row (\d+)\)", place)
    if found is None:
        return f"row {rows + row}"
    return f"line {int(found.group(1)) + lines} (row {int(found.group(2)) + rows})"


def dataset_table(dataset: Dataset) -> PartsTable:
    """The dataset read into memory, one part per file."""
    name = dataset.name if len(dataset.files) > 1 else dataset.files[0].path
    return PartsTable(name, b"", dataset.header, dataset.delimiter, parts=dataset.parts(),
                      files=len(dataset.files))


