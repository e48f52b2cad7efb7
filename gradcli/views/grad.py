"""Rendering results: a Rich table for people, JSON or CSV for programs.

Rendering never computes; it takes the plain data the API returns.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import IO, Any

from ..comparison import GradientReport
from ..language.losses import LOSSES


def number(value: float | None) -> str:
    return "" if value is None else f"{value:.12g}"


def _mark(agree: bool | None) -> str:
    return {True: "✓", False: "✗", None: ""}[agree]


def _console(stream: IO[str]) -> Any:
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


def gradient_table(report: GradientReport, stream: IO[str] = sys.stdout) -> None:
    """The side-by-side table, under a heading with the model, the loss and the point."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    console = _console(stream)
    values = ", ".join(f"{k}={number(v)}" for k, v in report.params.items())
    if report.point is not None:
        values += (" | " if values else "") + ", ".join(f"{k}={number(v)}" for k, v in report.point.items())
    else:
        values += f" | {report.rows:,} rows (loss and gradients are means over rows)"
    console.print(f"[bold]model[/] {escape(report.model)}")
    console.print(f"[bold]loss[/]  {escape(report.loss)}: {escape(report.loss_formula)}  =  {number(report.loss_value)}")
    console.print(f"[bold]at[/]    {escape(values)}")
    if report.defaults:
        defaults = ", ".join(f"{k}={number(v)}" for k, v in report.defaults.items())
        console.print(f"[dim]defaults used: {escape(defaults)}[/]")
    table = Table(box=box.SIMPLE_HEAD if decorated(console) else None, show_edge=False, pad_edge=False)
    table.add_column("param")
    table.add_column("∂loss/∂param", overflow="fold")
    has = {key: any(getattr(g, key) is not None for g in report.gradients.values())
           for key in ("symbolic_value", "backprop_value", "abs_diff", "fd_value")}
    headings = {"symbolic_value": "symbolic", "backprop_value": "backprop", "abs_diff": "|diff|",
                "fd_value": "finite diff"}
    for key, heading in headings.items():
        if has[key]:
            table.add_column(heading, justify="right")
    table.add_column("ok")
    for g in report.gradients.values():
        cells = [escape(g.param), escape(g.symbolic or "")]
        cells += [f"{g.abs_diff:.3g}" if key == "abs_diff" and g.abs_diff is not None else number(getattr(g, key))
                  for key in headings if has[key]]
        verdicts = [v for v in (g.agree, g.fd_agree) if v is not None]
        ok = None if not verdicts else all(verdicts)
        cells.append(f"[{'green' if ok else 'red'}]{_mark(ok)}[/]" if ok is not None else "")
        table.add_row(*cells)
    console.print(table)
    n = len(report.gradients)
    if report.agree is True:
        console.print(f"[green]all {n} gradients agree[/] (rtol {report.rtol:g}, atol {report.atol:g})")
    elif report.agree is False:
        bad = [g.param for g in report.gradients.values() if g.agree is False or g.fd_agree is False]
        console.print(f"[red]disagreement on {', '.join(bad)}[/] (rtol {report.rtol:g}, atol {report.atol:g})")


def gradient_json(report: GradientReport, stream: IO[str] = sys.stdout) -> None:
    json.dump(report.to_dict(), stream, indent=2)
    stream.write("\n")


CSV_COLUMNS = ["param", "symbolic", "symbolic_value", "backprop_value", "abs_diff", "agree"]


def gradient_csv(report: GradientReport, stream: IO[str] = sys.stdout) -> None:
    fd = any(g.fd_value is not None for g in report.gradients.values())
    columns = CSV_COLUMNS + (["fd_value", "fd_agree"] if fd else [])
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for g in report.gradients.values():
        row = []
        for key in columns:
            value = getattr(g, key)
            row.append("" if value is None else str(value).lower() if isinstance(value, bool)
                       else repr(value) if isinstance(value, float) else value)
        writer.writerow(row)


def losses_table(fmt: str, stream: IO[str] = sys.stdout) -> None:
    """`gradcli losses`: each built-in loss with its formula."""
    if fmt == "json":
        json.dump([{"name": i.name, "formula": i.formula, "note": i.note} for i in LOSSES.values()], stream, indent=2)
        stream.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["name", "formula", "note"])
        for info in LOSSES.values():
            writer.writerow([info.name, info.formula, info.note])
        return
    from rich import box
    from rich.table import Table

    console = _console(stream)
    table = Table(box=box.SIMPLE_HEAD if decorated(console) else None, show_edge=False, pad_edge=False)
    for heading in ("loss", "per-row formula", "note"):
        table.add_column(heading, overflow="fold")
    for info in LOSSES.values():
        table.add_row(info.name, info.formula, info.note)
    console.print(table)
    console.print("Or any expression in yhat and y, e.g. --loss \"(yhat - y)**4\". Over rows: the mean.")
