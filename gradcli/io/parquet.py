"""Parquet files as data: read through pyarrow with column projection (only the columns used).

Every promise the CSV reader makes holds: a wanted column that is missing, not numeric, or holds a
null, nan or inf is a DataError naming the file, the column and the row (counted from 1 within the
file). A file larger than the data budget is refused rather than loaded.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engines.finite import all_usable, first_unusable, unusable_reason
from ..errors import DataError, show_text
from .csv import CsvTable, NotNumeric, require_columns
from .files import check_input, open_input
from .tables import Table
from .values import data_max_bytes

MAGIC = b"PAR1"  # the first and last four bytes of every Parquet file


def is_parquet(path: str) -> bool:
    """A path that names a Parquet file: its suffix, or (for any other name) its first bytes."""
    if path.lower().endswith((".parquet", ".pq")):
        return True
    try:
        with open_input(path, "data") as handle:
            return handle.read(4) == MAGIC
    except (DataError, OSError):  # the reader of the file says why
        return False


@dataclass
class ParquetTable(Table):
    """A Parquet file: its schema read first, then only the wanted columns."""

    path: str = ""

    @classmethod
    def open(cls, path: str, name: str, max_bytes: int | None = None) -> ParquetTable:
        import pyarrow.parquet as pq

        size = check_input(path, name).st_size
        budget = data_max_bytes() if max_bytes is None else max_bytes
        if size > budget:
            raise DataError(f"{name}: {size:,} bytes is more than gradcli reads into memory "
                            f"({budget:,} bytes; see --memory)")
        try:
            schema = pq.read_schema(path)
        except Exception as err:  # noqa: BLE001 (pyarrow's errors have no common base but Exception)
            raise DataError(f"{name}: not a readable Parquet file ({' '.join(str(err).split())[:200]})") from None
        return cls(name, b"", list(schema.names), path=path)

    def read(self, wanted: Collection[str], keep_text: bool = False) -> CsvTable:
        """The wanted columns as checked float64 arrays (keep_text: the others as text)."""
        import pyarrow.parquet as pq

        wanted = list(dict.fromkeys(wanted))
        require_columns(self.header, wanted, self.name)
        others = [name for name in self.header if name not in wanted] if keep_text else []
        try:
            table = pq.read_table(self.path, columns=[*wanted, *others], use_threads=False)
        except Exception as err:  # noqa: BLE001
            raise DataError(f"{self.name}: cannot read its columns ({' '.join(str(err).split())[:200]})") from None
        columns = {name: float_column(table.column(name), name, self.name) for name in wanted}
        text = {name: [cell_text(v) for v in table.column(name).to_pylist()] for name in others} if keep_text else None
        return CsvTable(self.name, self.header, columns, table.num_rows, text)

    def text_columns(self, names: Collection[str]) -> list[str]:
        """The names among `names` whose Parquet type is text (for a hint)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(self.path)
        return [name for name in names if name in schema.names
                and (pa.types.is_string(schema.field(name).type) or pa.types.is_large_string(schema.field(name).type))]

    def place(self, row: int) -> str:
        return f"row {row}"


def float_column(column: Any, name: str, source: str, first_row: int = 1) -> Any:
    """A pyarrow column as float64, with the first null, nan or inf named by its row (the column's
    first value being row `first_row` of the file)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        # NotNumeric: the caller says what to do (leave an input out of the model; a target must be numbers)
        raise NotNumeric(f"{source}: column {show_text(name)!r} is not numeric (its Parquet type is {kind})", name)
    if column.null_count:
        row = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False))) + first_row
        raise DataError(f"{source}: column {show_text(name)!r} is empty (null) at row {row}")
    if not column.num_chunks:
        values = np.empty(0)
    elif pa.types.is_float64(kind):
        values = column.to_numpy()  # one copy, joining the row groups (none for a single one)
    else:
        values = pc.cast(column, pa.float64()).to_numpy()
    values = np.ascontiguousarray(values, dtype=np.float64)
    if not all_usable(values):
        at = first_unusable(values)
        raise DataError(f"{source}: column {show_text(name)!r} "
                        f"{unusable_reason(float(values[at]), f' at row {at + first_row}')}")
    return values


def cell_text(value: Any) -> str:
    """A cell of a column kept as text: None as an empty cell, a float as its repr (the same bits read back)."""
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)
