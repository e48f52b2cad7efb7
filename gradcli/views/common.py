"""What every view shares: numbers as text, check marks, and a Rich console that suits the stream."""

from __future__ import annotations

from typing import IO, Any


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.12g}"


def mark(agree: bool | None) -> str:
    return {True: "✓", False: "✗", None: ""}[agree]


def console_for(stream: IO[str]) -> Any:
    """A Rich console; plain (no escape codes at all) when NO_COLOR is set, as no-color.org asks."""
    import os

    from rich.console import Console

    plain = {"color_system": None} if os.environ.get("NO_COLOR") else {}
    console = Console(file=stream, highlight=False, soft_wrap=False, **plain)
    if not console.is_terminal:  # a pipe or file: no wrapping at an imagined 80 columns
        console = Console(file=stream, highlight=False, soft_wrap=False, width=240)
    return console


def decorated(console: Any) -> bool:
    """Box rules and styles only for a terminal that takes colour."""
    return bool(console.is_terminal and console.color_system)
