"""Reading values: inline NAME=VALUE lists, JSON parameter files, vectors and matrices, files or stdin
(CSV tables: csv.py).

Values are decimal numbers only, never evaluated as expressions; nan, inf and
numbers that overflow are errors that name the row and column.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..engines.finite import all_usable, first_unusable, require_finite, unusable_reason
from ..errors import DataError, show_text
from .files import open_input, read_at_most

# ASCII digits only: `\d` and float() also accept other scripts' digits.
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")


def finite_number(text: str) -> float | None:
    """The finite decimal number in text (spaces around it allowed), else None; quick, no message."""
    cleaned = text.strip()
    if not _NUMBER_RE.match(cleaned):
        return None
    value = float(cleaned)
    return value if math.isfinite(value) else None


def parse_number(text: str, where: str) -> float:
    """A decimal number, or a DataError naming where it came from."""
    value = finite_number(text)
    if value is not None:
        return value
    cleaned = text.strip()
    if not _NUMBER_RE.match(cleaned):
        if not cleaned:
            raise DataError(f"{where}: empty value")
        if cleaned.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise DataError(f"{where}: {show_text(cleaned)} is not allowed (values must be finite numbers)")
        raise DataError(f"{where}: {show_text(cleaned)!r} is not a decimal number")
    raise DataError(f"{where}: {show_text(cleaned, 30)} overflows a 64-bit float")


def to_finite_float(value: int | float) -> float | None:
    """The value as a finite float, or None when it is nan, infinite or too large (10**400)."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def tensor_value(value: Any, what: str) -> Any:
    """A vector or matrix of finite real numbers (nested lists or an array) as a float64 array."""
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in "iuf" or raw.dtype == bool:
            raise TypeError
        array = np.asarray(raw, dtype=np.float64)
    except OverflowError:
        raise DataError(f"{what} has a value that overflows a 64-bit float") from None
    except (TypeError, ValueError):
        raise DataError(f"{what} is not a number, a vector or a matrix of real numbers "
                        "(rows of one length)") from None
    if array.ndim not in (1, 2) or array.size == 0:
        raise DataError(f"{what} must be a number, a vector or a matrix; got shape {array.shape}")
    if not np.isfinite(array).all():
        at = np.argwhere(~np.isfinite(array))[0]
        raise DataError(f"{what} has {array[tuple(at)]} at entry {','.join(str(i + 1) for i in at)} "
                        "(values must be finite)")
    return array


def parse_assignments(text: str, option: str) -> dict[str, float]:
    """`NAME=VALUE,NAME=VALUE` as given to --data or --params."""
    values: dict[str, float] = {}
    offset = 0
    for part in text.split(","):
        where = f"{option} at column {offset + 1}"
        offset += len(part) + 1
        if not part.strip():
            raise DataError(f"{where}: empty item (expected NAME=VALUE)")
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise DataError(f"{where}: {show_text(part.strip())!r} is not NAME=VALUE")
        if name in values:
            raise DataError(f"{where}: {show_text(name)!r} is given twice")
        values[name] = parse_number(value, f"{option} {show_text(name)}")
    return values


def is_assignment_list(text: str) -> bool:
    return "=" in text


def is_spec(value: Any) -> bool:
    """A value that names a file or stdin (or holds inline text), rather than Python data."""
    return isinstance(value, (str, os.PathLike))


def is_inline(value: Any) -> bool:
    """NAME=VALUE,... text; a pathlib.Path is always a file, whatever its name holds."""
    return isinstance(value, str) and is_assignment_list(value)


MAX_PARAMETERS = 100_000  # entries in a parameter mapping: a model has at most 20,000 parts
PARAMS_MAX_BYTES = 16 << 20  # a parameter or saved-model file: far more than 20,000 names need
STDIN_MAX_BYTES = 1 << 30  # stdin has no size to check first: larger data comes as a file


def data_max_bytes() -> int:
    """The most data read into memory: a quarter of this machine's memory (it is parsed beside it)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def read_text_source(spec: str, what: str, limit: int | None = None, *, max_bytes: int | None = None) -> bytes:
    """The bytes of a file, or of stdin for '-'.

    `limit`: at most this many bytes are read (the caller judges the rest). `max_bytes`: more is a
    DataError, so endless input (`yes | gradcli ...`, /dev/zero on stdin) ends at once. What is not
    a regular file (a device, a FIFO, a directory) is refused by name (io/files.py). Memory is taken
    for what is read, not for the limit.
    """
    name = "stdin" if spec == "-" else f"file {show_text(spec)!r}"
    if spec == "-" and max_bytes is not None:
        max_bytes = min(max_bytes, STDIN_MAX_BYTES)
    cap = limit if limit is not None else (max_bytes + 1 if max_bytes is not None else -1)
    try:
        if spec == "-":
            if sys.stdin is None:
                raise DataError(f"{what}: stdin is closed (nothing to read; give a file instead of '-')")
            stream = getattr(sys.stdin, "buffer", None)
            # stream None: a text stream put in place of stdin (io.StringIO in a program)
            raw = read_at_most(sys.stdin, cap).encode("utf-8") if stream is None else read_at_most(stream, cap)
        else:
            with open_input(spec, f"{what} {name}") as handle:
                size = os.fstat(handle.fileno()).st_size
                if max_bytes is not None and size > max_bytes:
                    raise DataError(f"{what} {name} is larger than {max_bytes:,} bytes, the most gradcli reads "
                                    "into memory")
                raw = read_at_most(handle, cap, size)
    except OSError as err:  # reading failed after the open (EIO, a file on a lost network share)
        raise DataError(f"{what} {name} cannot be read: {err.strerror or err}") from None
    if max_bytes is not None and len(raw) > max_bytes:
        raise DataError(f"{what} {name} is larger than {max_bytes:,} bytes, the most gradcli reads"
                        + (" from stdin (give a file)" if spec == "-" else ""))
    return raw


def decode_utf8(raw: bytes, what: str) -> str:
    """UTF-8 with or without a byte-order mark; invalid bytes named by line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(f"{what}: invalid UTF-8 at line {line} (byte {err.start})") from None


def load_json(raw: bytes, source: str) -> Any:
    """A JSON document, strictly: no NaN or Infinity, no key given twice, any integer read as a float
    (a 5,000-digit one too), nesting bounded; a defect names the source and where."""

    def reject_constant(token: str) -> Any:
        raise DataError(f"{source}: {token} is not allowed (values must be finite numbers)")

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise DataError(f"{source}: {show_text(key)!r} is given twice")
            seen[key] = value
        return seen

    text = decode_utf8(raw, source)
    try:
        return json.loads(text, parse_constant=reject_constant, object_pairs_hook=unique_keys, parse_int=float)
    except json.JSONDecodeError as err:
        raise DataError(f"{source}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except RecursionError:
        raise DataError(f"{source}: the JSON is nested too deeply") from None


def read_params_json(raw: bytes, source: str) -> dict[str, float]:
    """A JSON object of name -> number, or a file that `gradcli train --save` wrote (its parameters)."""
    data = load_json(raw, source)
    if isinstance(data, dict) and "gradcli" in data and isinstance(data.get("params"), dict):
        data = data["params"]  # a saved model: its trained parameters
    if not isinstance(data, dict):
        raise DataError(f"{source}: expected a JSON object of name -> number")
    if len(data) > MAX_PARAMETERS:
        raise DataError(f"{source}: {len(data):,} parameters; at most {MAX_PARAMETERS:,} are read "
                        "(a model has at most 20,000 parts)")
    values: dict[str, float] = {}
    for name, value in data.items():
        if isinstance(value, list):  # a vector or a matrix (a layer's weights)
            values[name] = tensor_value(value, f"{source}: parameter {show_text(name)!r}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{source}: parameter {show_text(name)!r} is not a number")
        number = to_finite_float(value)
        if number is None:
            raise DataError(f"{source}: parameter {show_text(name)!r} overflows a 64-bit float")
        values[name] = number
    return values


def read_params(spec: str, option: str = "--params", *, inline: bool = True) -> dict[str, float]:
    """--params (or --init): inline NAME=VALUE,... (unless inline=False) or a JSON file ('-' for stdin)."""
    if inline and is_assignment_list(spec):
        return parse_assignments(spec, option)
    source = "stdin" if spec == "-" else spec
    if spec != "-":
        try:
            os.stat(spec)
        except (FileNotFoundError, NotADirectoryError, ValueError):
            raise DataError(f"{option} {show_text(spec)!r} is neither NAME=VALUE,... "
                            "nor an existing JSON file") from None
        except OSError:
            pass  # the reader says why it cannot be read (no permission, a name too long)
    return read_params_json(read_text_source(spec, option, max_bytes=PARAMS_MAX_BYTES), source)


def as_columns(data: Mapping[str, Any], check_finite: bool = True) -> tuple[dict[str, Any], int]:
    """API data (lists or arrays) as float64 arrays of one length; float64 arrays are not copied.

    check_finite=False leaves the finiteness check to the caller (the sweep checks each chunk while
    it is in cache, instead of reading all the data once more).
    """
    columns: dict[str, Any] = {}
    rows: int | None = None
    for name, values in data.items():
        _refuse_masks_and_booleans(str(name), values)
        try:
            raw = np.asarray(values)
            if raw.dtype.kind not in "iuf" and raw.dtype != object:  # complex, strings, dates, ...
                raise TypeError
            if raw.dtype == object and any(isinstance(v, (str, bytes, complex)) for v in raw.ravel()):
                raise TypeError
            array = np.asarray(raw, dtype=np.float64)
        except OverflowError:
            raise DataError(f"data {show_text(str(name))!r}: a value overflows a 64-bit float") from None
        except (TypeError, ValueError):
            raise DataError(f"data {show_text(str(name))!r}: values are not real numbers") from None
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim not in (1, 2) or (array.ndim == 2 and array.shape[1] == 0):
            raise DataError(f"data {show_text(str(name))!r}: expected one value per row (a 1-D list), or one "
                            f"vector per row (an N x d array), got shape {array.shape}")
        if array.ndim == 2 and not all_usable(array.ravel()):  # a vector input: rows x entries
            row, entry = divmod(first_unusable(array.ravel()), array.shape[1])
            raise DataError(f"data {show_text(str(name))!r} "
                            f"{unusable_reason(float(array[row, entry]), f' at row {row + 1}, entry {entry + 1}')}")
        if check_finite and array.ndim == 1:
            require_finite(str(name), array)
        if rows is None:
            rows = len(array)
        elif len(array) != rows:
            raise DataError(f"data {show_text(str(name))!r} has {len(array)} rows; other columns have {rows}")
        columns[str(name)] = array
    if rows == 0:
        raise DataError("data has no rows")
    return columns, rows or 1


def _refuse_masks_and_booleans(name: str, values: Any) -> None:
    """A masked array's hidden entries, and True/False as numbers, refused, as parameters refuse them:
    np.asarray would drop the mask (the hidden values counted as data) and read True as 1.0."""
    # no masked array exists unless numpy.ma was imported, and importing it here would cost every run 13 ms
    if "numpy.ma" in sys.modules and isinstance(values, np.ma.MaskedArray):
        hidden = np.ma.getmaskarray(values)
        if hidden.any():
            row = int(np.argwhere(hidden)[0][0]) + 1
            raise DataError(f"data {show_text(name)!r}: a masked array with {int(hidden.sum()):,} masked value(s), "
                            f"the first at row {row}; fill them or leave those rows out "
                            "(array.filled(value) or array.compressed())")
        return
    try:  # a list's cells as they are: np.asarray([True, 2.0]) would read True as 1.0 unseen
        array = np.asarray(values, dtype=object) if isinstance(values, (list, tuple)) else np.asarray(values)
    except (TypeError, ValueError):  # ragged: as_columns says so
        return
    kind = array.dtype.kind
    cells = array.ravel() if kind == "O" else ()
    if kind == "b" or any(isinstance(cell, (bool, np.bool_)) for cell in cells):
        raise DataError(f"data {show_text(name)!r}: True/False is not a number; give 1.0 and 0.0")
