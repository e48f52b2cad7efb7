"""`gradcli losses`: the built-in losses as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from typing import IO

from ..language.losses import LossInfo
from .common import console_for, decorated


def losses_table(losses: list[LossInfo], fmt: str, stream: IO[str] | None = None) -> None:
    """`gradcli losses`: each built-in loss with its formula."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    if fmt == "json":
        json.dump([{"name": i.name, "formula": i.formula, "note": i.note} for i in losses], stream, indent=2)
        stream.write("\n")
        return
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["name", "formula", "note"])
        for info in losses:
            writer.writerow([info.name, info.formula, info.note])
        return
    from rich import box
    from rich.table import Table

    console = console_for(stream)
    table = Table(box=box.SIMPLE_HEAD if decorated(console) else None, show_edge=False, pad_edge=False)
    for heading in ("loss", "per-row formula", "note"):
        table.add_column(heading, overflow="fold")
    for info in losses:
        table.add_row(info.name, info.formula, info.note)
    console.print(table)
    console.print("Or any expression in yhat and y, e.g. --loss \"(yhat - y)**4\". Over rows: the mean.")
