"""Rendering `gradcli hessian`: the matrix, what it says (eigenvalues, condition, convexity, the
Newton step), JSON and CSV."""

from __future__ import annotations

import csv
import json
import sys
from typing import IO

from ..compare.verdicts import condition_text
from ..engines.differences import NOT_AT_KINK
from ..tasks.hessian import HessianReport
from .common import Column, console_for, mark, number, print_table, text_column
from .formats import offer


def hessian_table(report: HessianReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    from rich.markup import escape

    console = console_for(stream)
    console.print(f"[bold]model[/] {escape(report.model)}")
    console.print(f"[bold]loss[/]  {escape(report.loss)}, mean over {report.rows:,} rows: {number(report.loss_value)}")
    at = ", ".join(f"{name}={value:g}" for name, value in report.params.items())
    console.print(f"[bold]at[/]    {escape(at)}")
    if report.hessian is not None:
        console.print("Hessian ∂²loss/∂row∂column (graph engine: backprop through the backward pass):")
        print_table(console, [text_column(""), *(Column(name) for name in report.names)],
                    [(name, *(number(v) for v in row)) for name, row in zip(report.names, report.hessian)])
    else:
        console.print("Hessian-vector product H v (graph engine: backprop through the directional derivative):")
        symbolic = report.symbolic_product or [None] * len(report.names)
        print_table(console, [text_column("param"), Column("v"), Column("H v (graph)"), Column("symbolic"),
                              Column("finite diff")],
                    [(name, number(v), number(p), number(s), number(f))
                     for name, v, p, s, f in zip(report.names, report.vector or [], report.product or [], symbolic,
                                                 report.fd_product or [None] * len(report.names))])
    for line in verdicts(report):
        console.print(line)
    if report.eigenvalues is not None:
        console.print(f"eigenvalues: {', '.join(number(v) for v in report.eigenvalues)}")
        condition = "infinite (singular)" if report.condition == float("inf") else f"{report.condition:.4g}"
        console.print(f"condition number: {condition}")
        shape = ("convex here: every eigenvalue is >= 0" if report.convex
                 else "not convex here: a negative eigenvalue (a saddle or a maximum in that direction)")
        console.print(shape)
    if report.newton_step is not None:
        console.print("Newton step -H⁻¹∇loss: " + ", ".join(f"{escape(n)} {number(v)}"
                                                      for n, v in zip(report.names, report.newton_step)))


def verdicts(report: HessianReport) -> list[str]:
    lines = []
    if report.witness == "symbolic":
        ok = bool(report.agree)
        diff = f"max |diff| {report.max_abs_diff:.2g}" if report.max_abs_diff is not None else ""
        within = ""
        if report.resolution is not None:

            within = f"; within float64's resolution ({condition_text(report.resolution_condition)})"
        lines.append(f"[{'green' if ok else 'red'}]{mark(ok)}[/] symbolic and graph engine "
                     f"{'agree' if ok else 'disagree'} ({diff}; rtol {report.rtol:g}, atol {report.atol:g}{within})")
    if report.fd_agree is None and report.fd_verdict == NOT_AT_KINK:
        lines.append(f"finite differences of the backprop gradient: {NOT_AT_KINK} (see the warnings)")
        return lines
    ok = bool(report.fd_agree)
    lines.append(f"[{'green' if ok else 'red'}]{mark(ok)}[/] finite differences of the backprop gradient "
                 f"{'agree' if ok else 'disagree'} to their accuracy (rtol {report.fd_rtol:.2g})")
    return lines


def hessian_json(report: HessianReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    json.dump(report.to_dict(), stream, indent=2)
    stream.write("\n")


def hessian_csv(report: HessianReport, stream: IO[str] | None = None) -> None:
    """The matrix with a header row of names and a first column of names (or, with --hvp, H v)."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    writer = csv.writer(stream, lineterminator="\n")
    if report.hessian is not None:
        writer.writerow(["param", *report.names])
        for name, row in zip(report.names, report.hessian):
            writer.writerow([name, *(repr(v) for v in row)])
    else:
        writer.writerow(["param", "v", "hvp"])
        for name, v, p in zip(report.names, report.vector or [], report.product or []):
            writer.writerow([name, repr(v), repr(p)])


offer("hessian", {"table": hessian_table, "json": hessian_json, "csv": hessian_csv},
      "table for people; json or csv for programs.")
