"""What every view shares: numbers as text, check marks, and a Rich console that suits the stream."""

from __future__ import annotations

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
    import os

    from rich.console import Console

    plain = {"color_system": None} if os.environ.get("NO_COLOR") else {}
    console = Console(file=stream, highlight=False, soft_wrap=False, **plain)
    if not console.is_terminal:
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) >= 20 else PIPE_WIDTH
        console = Console(file=_Trimmed(stream), highlight=False, soft_wrap=False, width=width)
    return console


def decorated(console: Any) -> bool:
    """Box rules and styles only for a terminal that takes colour."""
    return bool(console.is_terminal and console.color_system)


def entries_text(value: object) -> str:
    """A vector or matrix in full, 4 significant digits an entry: [[0.06634, -0.3388], [0.2287, 0.8247]]."""
    if isinstance(value, list):
        return "[" + ", ".join(entries_text(part) for part in value) + "]"
    return "undefined" if value is None else f"{value:.4g}"


def tensor_text(numbers: Any) -> str:
    """A value of explanation.tensors.Numbers: a number, a small tensor in full, a large one summarised."""
    if numbers.values is not None:
        if not numbers.shape:
            return f"{numbers.values:.6g}"
        return entries_text(numbers.values)
    if not numbers.shape:
        return "undefined"
    shape = "x".join(str(n) for n in numbers.shape)
    parts = [f"{label} {value:.4g}" for label, value in (("min", numbers.min), ("max", numbers.max),
                                                          ("‖·‖", numbers.norm)) if value is not None]
    return f"{shape}: {', '.join(parts) or 'undefined'}"


TABLE_FORMULA = 300  # characters of a formula a table cell shows; json and csv carry the whole of it


def formula_shown(formula: str | None) -> str:
    """A formula for a table cell: a long one shortened in the middle, saying so. 950 derivatives of a
    sum of 950 names are 6,000 characters each, and folding 6 MB into a table took seconds."""
    if formula is None or len(formula) <= TABLE_FORMULA:
        return formula or ""
    half = TABLE_FORMULA // 2
    return f"{formula[:half]} … {formula[-half:]} ({len(formula):,} characters; --format json shows all)"
