"""What every view shares: numbers as text, check marks, and a Rich console that suits the stream."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.12g}"


def mark(agree: bool | None) -> str:
    return {True: "✓", False: "✗", None: ""}[agree]


PIPE_WIDTH = 240  # off a terminal with no COLUMNS: wide enough that a table is not wrapped


class _Trimmed:
    """A text stream that drops the spaces at the end of each line (Rich pads every cell, the last too)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream, self.pending = stream, ""

    def write(self, text: str) -> int:
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        if lines:
            self.stream.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.stream.write(self.pending)
            self.pending = ""
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, ...
        return getattr(self.stream, name)


def console_for(stream: IO[str]) -> Any:
    """A Rich console; plain (no escape codes at all) when NO_COLOR is set, as no-color.org asks.

    Off a terminal (a pipe or a file): as wide as COLUMNS says, else PIPE_WIDTH, and no spaces at the
    ends of lines.
    """

    from rich.console import Console

    plain = {"color_system": None} if os.environ.get("NO_COLOR") else {}
    console = Console(file=stream, highlight=False, soft_wrap=False, emoji=False, **plain)
    if not console.is_terminal:
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) >= 20 else PIPE_WIDTH
        console = Console(file=_Trimmed(stream), highlight=False, soft_wrap=False, emoji=False, width=width)
    return console


def decorated(console: Any) -> bool:
    """Box rules and styles only for a terminal that takes colour."""
    return bool(console.is_terminal and console.color_system)


def entries_text(value: object) -> str:
    """A vector or matrix in full, 4 significant digits an entry: [[0.06634, -0.3388], [0.2287, 0.8247]]."""
    if isinstance(value, list):
        return "[" + ", ".join(entries_text(part) for part in value) + "]"
    return "undefined" if value is None else f"{value:.4g}"


def tensor_text(numbers: Any, scalar_digits: int = 6) -> str:
    """A value of explanation.tensors.Numbers: a number (scalar_digits significant digits), a small tensor in
    full, a large one summarised."""
    if numbers.values is not None:
        if not numbers.shape:
            return f"{numbers.values:.{scalar_digits}g}"
        return entries_text(numbers.values)
    if not numbers.shape:
        return "undefined"
    shape = "x".join(str(n) for n in numbers.shape)
    parts = [f"{label} {value:.4g}" for label, value in (("min", numbers.min), ("max", numbers.max),
                                                          ("‖·‖", numbers.norm)) if value is not None]
    return f"{shape}: {', '.join(parts) or 'undefined'}"


# ---------------------------------------------------------------- tables that never split a number

FOLDED_WORD = 12  # a word of a text column longer than this may be folded; a number never is


@dataclass(frozen=True)
class Column:
    """A table's column: numbers (never split across lines: the column is at least as wide as its
    widest number) or text (wrapped at spaces, a very long word folded)."""

    heading: str
    numeric: bool = True
    justify: str = "right"


def text_column(heading: str) -> Column:
    return Column(heading, numeric=False, justify="left")


def verdict_cell(ok: bool | None) -> Any:
    """✓ in green, ✗ in red, or nothing."""
    from rich.text import Text

    return Text(mark(ok), style={True: "green", False: "red", None: ""}[ok])


def _text(cell: Any) -> Any:
    """A cell as Rich Text: plain text is never read as markup (a formula's yhat[y] stays as it is)."""
    from rich.text import Text

    return cell if isinstance(cell, Text) else Text("" if cell is None else str(cell))


def print_table(console: Any, columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> None:
    """Every table gradcli prints, laid out so that no number is ever split across lines.

    As a table when every numeric column can be as wide as its widest number (text columns wrap at
    spaces to make room); else stacked: each row's first cell, then one line per other column.
    Cells are plain text (never markup) or Rich Text.
    """
    from rich import box
    from rich.cells import cell_len
    from rich.measure import Measurement
    from rich.table import Table

    heads = [_text(column.heading) for column in columns]
    cells = [[_text(cell) for cell in row] for row in rows]

    def longest(texts: list[Any], split: Callable[[str], list[str]]) -> int:
        return max((cell_len(piece) for text in texts for piece in split(text.plain)), default=0)

    def table(widths: Sequence[int | None], gap: int = 2) -> Any:
        made = Table(box=box.SIMPLE_HEAD if decorated(console) else None, show_edge=False, pad_edge=False,
                     padding=(0, 1) if gap == 2 else (0, 1, 0, 0))
        for column, head, width in zip(columns, heads, widths):
            made.add_column(head, justify=column.justify, width=width,  # type: ignore[arg-type]
                            overflow="ellipsis" if column.numeric else "fold")
        for row in cells:
            made.add_row(*row)
        return made

    by_column = [[row[k] for row in cells] for k in range(len(columns))]
    high = [max(longest([head, *texts], str.splitlines), 1) for head, texts in zip(heads, by_column)]
    low = [max(longest([head, *texts], str.split) if column.numeric
               else min(longest([head, *texts], str.split), FOLDED_WORD), 1)
           for column, head, texts in zip(columns, heads, by_column)]
    for gap in (2, 1):  # the space between columns: two, or one where that makes the table fit
        probe = table([1] * len(columns), gap)
        room = console.width - (Measurement.get(console, console.options, probe).maximum - len(columns))
        if sum(high) <= room and gap == 2:
            console.print(table([None] * len(columns)))
            return
        if sum(low) <= room:
            console.print(table(_shared(low, high, room), gap))
            return
    _stacked(console, heads, cells)


def _shared(low: list[int], high: list[int], room: int) -> list[int]:
    """Column widths from `low` up towards `high`, the spare room shared in proportion to what each lacks."""
    widths, spare = list(low), room - sum(low)
    wants = [h - w for h, w in zip(high, widths)]
    total = sum(wants)
    for k, want in enumerate(wants):
        widths[k] += min(want, spare * want // total) if total else 0
    return widths


def _stacked(console: Any, heads: list[Any], cells: list[list[Any]]) -> None:
    """Too narrow for a table: each row's first cell on a line, then `heading  value` per other column."""
    from rich.cells import cell_len
    from rich.text import Text

    names = [head.plain for head in heads[1:]]
    margin = max((cell_len(name) for name in names), default=0)
    for row in cells:
        console.print(Text(row[0].plain, style="bold"))
        for name, cell in zip(names, row[1:]):
            if not cell.plain:
                continue
            if 2 + margin + 2 + cell_len(cell.plain) <= console.width:
                console.print(Text("  " + name.ljust(margin) + "  ") + cell)
            else:  # the value under its heading
                console.print(Text("  " + name))
                console.print(Text("    ") + cell)


TABLE_FORMULA = 300  # characters of a formula a table cell shows; json and csv carry the whole of it


def formula_shown(formula: str | None) -> str:
    """A formula for a table cell: a long one shortened in the middle, saying so. 950 derivatives of a
    sum of 950 names are 6,000 characters each, and folding 6 MB into a table took seconds."""
    if formula is None or len(formula) <= TABLE_FORMULA:
        return formula or ""
    half = TABLE_FORMULA // 2
    return f"{formula[:half]} … {formula[-half:]} ({len(formula):,} characters; --format json shows all)"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def operations_text(counts: dict[str, int]) -> str:
    """'3 multiplications, 1 addition' from counts by kind ('none' when all are 0)."""
    singular = {"multiplications": "multiplication", "additions": "addition", "other": "other"}
    return ", ".join(plural(n, singular[kind]).replace("others", "other") for kind, n in counts.items() if n) or "none"
