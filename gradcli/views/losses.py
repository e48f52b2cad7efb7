"""`gradcli losses`: the built-in losses as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from typing import IO

from ..language.losses import LossInfo
from .common import console_for, print_table, text_column
from .formats import offer


def losses_table(losses: list[LossInfo], stream: IO[str] | None = None) -> None:
    """`gradcli losses`: each built-in loss with its formula."""
    console = console_for(sys.stdout if stream is None else stream)  # read at call time: redirect_stdout works
    print_table(console, [text_column("loss"), text_column("per-row formula"), text_column("note")],
                [(info.name, info.formula, info.note) for info in losses])
    console.print("Or any expression in yhat and y, e.g. --loss \"(yhat - y)**4\". Over rows: the mean.")


def losses_json(losses: list[LossInfo], stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream
    json.dump([{"name": i.name, "formula": i.formula, "note": i.note} for i in losses], stream, indent=2)
    stream.write("\n")


def losses_csv(losses: list[LossInfo], stream: IO[str] | None = None) -> None:
    writer = csv.writer(sys.stdout if stream is None else stream, lineterminator="\n")
    writer.writerow(["name", "formula", "note"])
    for info in losses:
        writer.writerow([info.name, info.formula, info.note])


offer("losses", {"table": losses_table, "json": losses_json, "csv": losses_csv},
      "table for people; json or csv for programs.")
