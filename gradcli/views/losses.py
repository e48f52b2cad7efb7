"""`gradcli losses`: the built-in losses as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from typing import IO

from ..language.losses import LossInfo
from .common import console_for, print_table, text_column


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
    console = console_for(stream)
    print_table(console, [text_column("loss"), text_column("per-row formula"), text_column("note")],
                [(info.name, info.formula, info.note) for info in losses])
    console.print("Or any expression in yhat and y, e.g. --loss \"(yhat - y)**4\". Over rows: the mean.")
