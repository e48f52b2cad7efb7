"""Reading and writing CSV tables: fast, strict, and precise about where a defect is.

Two paths read the same files the same way:

- the fast path hands the bytes to pyarrow's multi-threaded CSV reader, which
  parses the wanted columns straight to float64. pyarrow accepts a few things
  we refuse (nan, inf, 1e999 -> inf, `"1"2` read as 12), so its result is only
  used when every value is finite and every quote in the file sits where a
  strict reader expects one;
- the slow path (the csv module, then `values.parse_number` on every wanted cell)
  is the reference: it runs whenever the fast path declines or fails, and
  either finds the first defect, naming its line, row and column, or returns
  the table (when pyarrow was merely stricter, e.g. about a non-breaking space).

Rules: a header row is required and columns are matched by name; UTF-8 with
or without BOM; CRLF; quoted fields (also across lines); blank lines, and
lines holding only spaces, are skipped. Fields are separated by a comma unless
the caller names another delimiter (one character, checked in arguments.py);
every path honours it. Line numbers count every physical
line from 1; a row's line is the line where the row starts.
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from ..engines.finite import LARGEST, all_usable, unusable_reason
from ..errors import DataError, show_text
from .values import decode_utf8, finite_number, parse_number

# Smaller files skip the fast readers: the reference reader parses them in a few milliseconds,
# where importing polars and pyarrow alone takes 200-300 ms of every command's start.
FAST_MIN_BYTES = 1 << 20
# The header is looked for in this much of the file first (then in all of it).
_HEADER_PREFIX = 1 << 16
# Bytes scanned at a time when checking where the quotes are.
_SCAN_CHUNK = 1 << 20


@dataclass(frozen=True)
class CsvTable:
    """A CSV file's wanted columns as float64 arrays (in header order)."""

    source: str  # "stdin" or the path as given, for messages
    header: list[str]
    columns: dict[str, np.ndarray]
    rows: int
    text: dict[str, list[str]] | None = None  # the other columns' cell text, with keep_text=True


class _Declined(Exception):
    """The fast path cannot vouch for its result; the slow path decides."""


class NotNumeric(DataError):
    """A wanted column's cell that is not a finite number; `column` names the column, so that the
    caller can say how to leave a text column out of the model."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        """Pickled whole, so that a Dask worker's error reaches the client as it was raised."""
        return type(self), (str(self), self.column)


# ---------------------------------------------------------------- records, header, names


def _is_blank(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def count_records(text: Iterable[str], delimiter: str = ",") -> int:
    """The records in CSV text (lines, or a text stream read with newline=""), blank ones not counted."""
    return sum(not _is_blank(record) for record in csv.reader(text, delimiter=delimiter))


def _records(text: str, source: str, delimiter: str = ",", line_shift: int = 0) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of each non-blank record; `line_shift` is added to every line
    number (a part of a file, read with the header put before it: see dataset.py)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not _is_blank(record):
                yield line + line_shift, reader.line_num + line_shift, record
    except csv.Error as err:
        raise DataError(f"{source}: line {start + line_shift}: malformed CSV ({err})") from None


def _check_header(record: list[str], line: int, source: str) -> list[str]:
    header = [cell.strip() for cell in record]
    seen: set[str] = set()  # a set, not header.index: 100,000 columns took minutes
    for i, name in enumerate(header):
        if not name:
            raise DataError(f"{source}: line {line}: column {i + 1} has an empty name in the header")
        if name in seen:
            raise DataError(f"{source}: line {line}: column name {show_text(name)!r} appears twice in the header")
        seen.add(name)
    return header


def _header_and_offset(raw: bytes, source: str, delimiter: str = ",") -> tuple[list[str], int]:
    """The checked header and the byte offset where the data after it begins."""
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    cut = raw.find(b"\n", _HEADER_PREFIX) + 1
    for end in ((cut, len(raw)) if 0 < cut < len(raw) else (len(raw),)):
        text = decode_utf8(raw[:end], source)
        try:
            first, last, record = next(_records(text, source, delimiter))
        except StopIteration:
            continue
        except DataError:
            if end < len(raw):
                continue  # perhaps a quoted name runs past the prefix
            raise
        header = _check_header(record, first, source)
        consumed = "".join(io.StringIO(text, newline="").readlines()[:last])
        return header, start + len(consumed.encode("utf-8"))
    raise DataError(f"{source}: the file is empty (a header row is required)")


def require_columns(header: Sequence[str], wanted: Sequence[str], source: str) -> None:
    """A DataError for the first wanted name that is not a column, listing the columns."""
    for name in wanted:
        if name not in header:
            raise DataError(
                f"{source}: no column {show_text(name)!r} (columns: {show_text(', '.join(header), 200)})"
            )


def row_place(raw: bytes, source: str, row: int, delimiter: str = ",") -> str:
    """'line L (row R)' for the 1-based data row R: for a value found wrong after reading."""
    records = _records(decode_utf8(raw, source), source, delimiter)
    next(records, None)  # the header
    for number, (first, _last, _fields) in enumerate(records, start=1):
        if number == row:
            return f"line {first} (row {row})"
    return f"row {row}"


def delimiter_name(delimiter: str) -> str:
    """How messages and options write a delimiter: 'tab' for a tab, else the character quoted."""
    return "tab" if delimiter == "\t" else repr(delimiter)


def read_header(raw: bytes, source: str, delimiter: str = ",") -> list[str]:
    """The column names (checked: none empty, none twice), without reading the rows."""
    return read_header_and_offset(raw, source, delimiter)[0]


def read_header_and_offset(raw: bytes, source: str, delimiter: str = ",") -> tuple[list[str], int]:
    """read_header's names, and the byte offset where the data after the header begins."""
    header, offset = _header_and_offset(raw, source, delimiter)
    other = next((d for d in ",;\t|" if d != delimiter and len(header) == 1 and d in header[0]), None)
    if other is not None:  # a file written with another delimiter reads as one column
        read = "comma-separated values" if delimiter == "," else f"values separated by {delimiter_name(delimiter)}"
        option = "tab" if other == "\t" else f"'{other}'"
        raise DataError(f"{source}: the header is one column {show_text(header[0], 60)!r}: the file seems to be "
                        f"separated by {delimiter_name(other)}, and gradcli reads {read}; "
                        f"give --delimiter {option}")
    return header, offset


# ---------------------------------------------------------------- reading


def read_csv_table(raw: bytes, source: str, wanted: Sequence[str] | None = None, *,
                   keep_text: bool = False, delimiter: str = ",",
                   shift: Callable[[], tuple[int, int]] | None = None) -> CsvTable:
    """The wanted columns (default: every column) as finite float64 arrays.

    Only wanted columns must be numeric; with keep_text=True the others come
    back as their cells' text. Every defect is a one-line DataError naming the
    source, line, row and column. `delimiter` separates the fields (one character).
    """
    header, offset = _header_and_offset(raw, source, delimiter)
    require_columns(header, header if wanted is None else wanted, source)
    chosen = header if wanted is None else [name for name in header if name in wanted]
    if chosen and len(raw) >= FAST_MIN_BYTES:  # no numeric column to check: blank-looking rows could be miscounted
        for read in FAST_READERS:
            try:
                return read(raw, offset, source, header, chosen, keep_text, delimiter)
            except _Declined:
                pass
    if shift is None:
        return _read_slow(raw, source, header, chosen, keep_text, delimiter)
    try:
        return _read_slow(raw, source, header, chosen, keep_text, delimiter)
    except NotNumeric as err:  # read again, numbering lines and rows as the whole file does
        column = err.column
    except DataError:
        column = None
    try:
        return _read_slow(raw, source, header, chosen, keep_text, delimiter, shift())
    except NotNumeric:
        raise
    except DataError as err:
        raise err if column is None else NotNumeric(str(err), column) from None


def _read_polars(raw: bytes, offset: int, source: str, header: list[str], wanted: list[str],
                 keep_text: bool, delimiter: str = ",") -> CsvTable:
    """The fastest path (polars parses floats ~1.4x faster than pyarrow), for the common file.

    Taken only when every column is read, without quotes or lone CRs; it declines (for pyarrow)
    when a value is null: a blank line, an empty cell, a short row (a long row is an error in
    polars). With columns left unread, short and long rows could balance out unseen.
    """
    if keep_text or len(wanted) < len(header) or importlib.util.find_spec("polars") is None:
        raise _Declined
    import polars as pl

    lone_cr = raw.find(b"\r", offset) >= 0 and raw.count(b"\r", offset) != raw.count(b"\r\n", offset)
    if raw.find(b'"', offset) >= 0 or lone_cr:
        raise _Declined  # quotes, or a lone CR (a line end to the csv module, part of a cell to polars)
    if not raw.isascii():
        decode_utf8(raw, source)
    try:
        frame = pl.read_csv(
            io.BytesIO(raw), has_header=False, skip_lines=raw.count(b"\n", 0, offset), raise_if_empty=False,
            separator=delimiter,
            schema={name: pl.Float64 for name in header},  # every column is wanted here
        )
    except Exception:  # polars raises its own ComputeError, NoDataError, ... for what it refuses
        raise _Declined from None
    rows = frame.height
    if rows == 0:
        raise _Declined
    columns = {}
    for name in wanted:
        series = frame.get_column(name)
        if series.null_count():  # a short row, an empty cell, a line of spaces
            raise _Declined
        values = np.asarray(series.to_numpy(), dtype=np.float64)  # polars' own memory: no copy
        if not all_usable(values):  # nan, inf, overflow, beyond LARGEST: the slow path says where
            raise _Declined
        columns[name] = values
    return CsvTable(source, header, columns, rows, None)


def _read_arrow(raw: bytes, offset: int, source: str, header: list[str], wanted: list[str],
               keep_text: bool, delimiter: str = ",") -> CsvTable:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if not raw.isascii():
        decode_utf8(raw, source)  # pyarrow does not check the columns it skips
    line_breaks = raw.find(b'"') >= 0 and _quoted_line_breaks(raw, delimiter)
    others = [name for name in header if name not in wanted] if keep_text else []
    types = {name: pa.float64() for name in wanted} | {name: pa.string() for name in others}
    try:
        table = pcsv.read_csv(
            pa.BufferReader(pa.py_buffer(raw).slice(offset)),
            # Arrow's thread pool can abort the process at exit ("terminate called without an active
            # exception", about 1 run in 200 under load): pyarrow reads on this thread only.
            read_options=pcsv.ReadOptions(column_names=header, use_threads=False),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=line_breaks,
                                            ignore_empty_lines=True),
            convert_options=pcsv.ConvertOptions(
                column_types=types, include_columns=[n for n in header if n in types], null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowException:
        raise _Declined from None
    if table.num_rows == 0:
        raise _Declined
    columns = {}
    for name in wanted:
        values = np.array(table.column(name).to_numpy(), dtype=np.float64)  # an owned, writable copy
        if not all_usable(values):  # nan, inf, overflow (nulls read as nan), beyond LARGEST
            raise _Declined
        columns[name] = values
    text = {name: table.column(name).to_pylist() for name in others} if keep_text else None
    return CsvTable(source, header, columns, table.num_rows, text)


FAST_READERS = (_read_polars, _read_arrow)  # tried in turn; the slow path decides when all decline


def _quoted_line_breaks(raw: bytes, delimiter: str = ",") -> bool:
    """Whether a quoted field holds a line break; _Declined unless every quote is plain.

    Each quote toggles in/out of quotes. One that opens must follow a delimiter, a
    line end, the start (or BOM) or another quote; one that closes must come
    before a delimiter, a line end, the end or another quote. The csv module
    (strict) refuses anything else, where pyarrow would read `"1"2` as 12.
    Scanned in chunks that stay in cache.
    """
    data = np.frombuffer(raw, dtype=np.uint8)
    edge = np.zeros(256, dtype=bool)
    edge[list(delimiter.encode("ascii") + b'\r\n"')] = True
    first = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    inside = 0  # 1 while within quotes at the chunk's start
    breaks_inside = False
    for low in range(0, len(data), _SCAN_CHUNK):
        chunk = data[low:low + _SCAN_CHUNK]
        at = np.flatnonzero(chunk == ord('"')) + low
        opens, closes = at[inside::2], at[1 - inside::2]
        if not (edge[data[np.maximum(opens - 1, 0)]] | (opens == first)).all():
            raise _Declined
        if not (edge[data[np.minimum(closes + 1, len(data) - 1)]] | (closes == len(data) - 1)).all():
            raise _Declined
        if not breaks_inside:
            breaks = np.flatnonzero((chunk == ord("\n")) | (chunk == ord("\r"))) + low
            breaks_inside = bool(((np.searchsorted(at, breaks) + inside) % 2).any())
        inside = (inside + len(at)) % 2
    if inside:
        raise _Declined
    return breaks_inside


def _read_slow(raw: bytes, source: str, header: list[str], wanted: list[str], keep_text: bool,
               delimiter: str = ",", shift: tuple[int, int] = (0, 0)) -> CsvTable:
    """The reference reader: record by record, cell by cell; stops at the first defect.

    shift = (lines, rows) added to the numbers in messages, for a part of a file read with its
    header put before it."""
    wanted_at = [(name, header.index(name)) for name in wanted]
    others_at = [(name, header.index(name)) for name in header if name not in wanted] if keep_text else []
    values: dict[str, list[float]] = {name: [] for name in wanted}
    text: dict[str, list[str]] = {name: [] for name, _ in others_at}
    line_shift, row_shift = shift
    records = _records(decode_utf8(raw, source), source, delimiter, line_shift)
    next(records)  # the header, checked already
    rows = 0
    for line, _, record in records:
        rows += 1
        if len(record) != len(header):
            _width_error(record, header, f"{source}: line {line} (row {rows + row_shift})")
        for name, i in wanted_at:
            value = finite_number(record[i])
            if value is None:  # parse_number raises, saying why
                try:
                    value = parse_number(record[i], f"{source}: line {line} (row {rows + row_shift}), "
                                                    f"column {show_text(name)!r}")
                except DataError as err:
                    raise NotNumeric(str(err), name) from None
            if not -LARGEST <= value <= LARGEST:
                raise DataError(f"{source}: line {line} (row {rows + row_shift}), column {show_text(name)!r} "
                                f"{unusable_reason(value)}")
            values[name].append(value)
        for name, i in others_at:
            text[name].append(record[i])
    if not rows:
        raise DataError(f"{source}: there is a header but no data rows")
    columns = {name: np.array(values[name], dtype=np.float64) for name in wanted}
    return CsvTable(source, header, columns, rows, text if keep_text else None)


def text_columns(raw: bytes, source: str, names: Sequence[str], delimiter: str = ",",
                 sample: int = 10_000) -> list[str]:
    """The names among `names` whose cells are mostly not numbers (in the first `sample` rows).

    For a message only, after a read failed: a column of city names gets a hint, a column of
    numbers with one typo does not.
    """
    try:
        records = _records(decode_utf8(raw, source), source, delimiter)
        header = [cell.strip() for cell in next(records)[2]]
        at = {name: header.index(name) for name in names if name in header}
        filled, numbers = dict.fromkeys(at, 0), dict.fromkeys(at, 0)
        for count, (_, _, record) in enumerate(records):
            if count == sample:
                break
            for name, i in at.items():
                cell = record[i] if i < len(record) else ""
                if cell.strip():
                    filled[name] += 1
                    numbers[name] += finite_number(cell) is not None
    except (DataError, StopIteration):
        return []
    return [name for name in at if filled[name] and numbers[name] * 2 < filled[name]]


def _width_error(record: list[str], header: list[str], where: str) -> None:
    fields = f"{len(record)} field{'s' if len(record) != 1 else ''}"
    if len(record) < len(header):
        detail = f"no value for column {show_text(header[len(record)])!r}"
    else:
        detail = f"values after the last column {show_text(header[-1])!r}"
    raise DataError(f"{where} has {fields}; the header has {len(header)} ({detail})")


# ---------------------------------------------------------------- writing


def write_csv(header: Sequence[str], columns: Mapping[str, np.ndarray | Sequence[str]], stream: IO[str],
              header_row: bool = True) -> None:
    """Columns in header order; floats as repr, which reads back to the same bits.

    header_row=False: the rows alone, to follow rows already written (predict, part by part)."""
    require_columns(list(columns), header, "write_csv")
    cells = []
    for name in header:
        column = columns[name]
        if isinstance(column, np.ndarray) and column.dtype.kind == "f":
            cells.append(list(map(repr, column.astype(np.float64).tolist())))
        else:
            cells.append([str(cell) for cell in column])
    lengths = {len(column) for column in cells}
    if len(lengths) > 1:
        raise ValueError(f"write_csv: columns of different lengths {sorted(lengths)}")
    writer = csv.writer(stream, lineterminator="\n")
    if header_row:
        writer.writerow(header)
    writer.writerows(zip(*cells))
