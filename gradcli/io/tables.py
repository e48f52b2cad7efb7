"""A table read once, its header first, then the columns a model uses: the base that the CSV, Parquet
and dataset readers share (sources.open_table picks one), and Python columns standing in for a file.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import DataError
from ..errors import unused as unused_names
from .csv import CsvTable, read_csv_table, require_columns, row_place
from .csv import text_columns as csv_text_columns
from .values import as_columns


@dataclass
class Table:
    """A CSV file (or stdin) read once: its header first, then the columns a model uses."""

    name: str  # "stdin" or the path as given, for messages
    raw: bytes
    header: list[str]
    delimiter: str = ","

    def read(self, wanted: Collection[str], keep_text: bool = False) -> CsvTable:
        """The wanted columns as checked float64 arrays (keep_text: the others as their cells' text)."""
        return read_csv_table(self.raw, self.name, list(wanted), keep_text=keep_text, delimiter=self.delimiter)

    def text_columns(self, names: Collection[str]) -> list[str]:
        """The names among `names` that are columns of text rather than numbers (for a hint)."""
        return csv_text_columns(self.raw, self.name, list(names), self.delimiter)

    def place(self, row: int) -> str:
        """'line L (row R)' for the 1-based data row R."""
        return row_place(self.raw, self.name, row, self.delimiter)

    def unused(self, used: Collection[str]) -> list[str]:
        """A warning for each column that is not used."""
        return unused_names("column", [name for name in self.header if name not in used],
                            f"of {self.name} {{verb}} not used by the model")


@dataclass
class ColumnsTable(Table):
    """Python data (column name -> values) standing in for a CSV file: train's and predict's data."""

    data: Mapping[str, Any] = field(default_factory=dict)

    def read(self, wanted: Collection[str], keep_text: bool = False) -> CsvTable:
        require_columns(self.header, list(wanted), self.name)
        columns, rows = as_columns({name: self.data[name] for name in self.header if name in wanted})
        text = None
        if keep_text:
            text = {name: [str(value) for value in self.data[name]] for name in self.header if name not in wanted}
            if any(len(cells) != rows for cells in text.values()):
                raise DataError(f"{self.name}: the columns have different lengths")
        return CsvTable(self.name, self.header, columns, rows, text)

    def text_columns(self, names: Collection[str]) -> list[str]:
        return []  # Python values that are not numbers are told by as_columns

    def place(self, row: int) -> str:
        return f"row {row}"
