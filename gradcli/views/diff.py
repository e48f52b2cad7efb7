"""Rendering `gradcli diff`: the formula, the values side by side, JSON, CSV and LaTeX."""

from __future__ import annotations

import csv
import json
import sys
from typing import IO

from ..compare.verdicts import condition_text
from ..tasks.diff import DiffReport
from .common import Column, console_for, mark, number, print_table, text_column, verdict_cell
from .formats import offer


def diff_table(report: DiffReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    from rich.markup import escape

    console = console_for(stream)
    at = ", ".join(f"{name}={value:g}" for name, value in report.point.items())
    console.print(f"[bold]f[/] = {escape(report.expression)}   at {escape(at)}:  f = {number(report.value)}")
    size = len(report.wrt)
    for index, d in enumerate(report.derivatives):
        upper = report.kind != "hessian" or index // size <= index % size  # the Hessian is symmetric
        if d.symbolic is not None and upper:
            console.print(f"[bold]{escape(d.label)}[/] = {escape(d.symbolic)}")
    columns = [text_column("derivative"), Column("symbolic"), Column("graph (backprop)"), Column("finite diff"),
               Column("|diff|"), text_column("agree")]
    rows = []
    for d in report.derivatives:
        ok = d.agree if d.agree is not None else d.fd_agree
        rows.append((d.label, number(d.symbolic_value), number(d.graph_value), number(d.fd_value),
                     "" if d.abs_diff is None else f"{d.abs_diff:.2g}", verdict_cell(ok)))
    print_table(console, columns, rows)
    if report.kind == "hessian":
        console.print(f"Hessian (graph engine), rows and columns {escape(', '.join(report.wrt))}:")
        for row in report.matrix():
            console.print("  " + "  ".join(f"{number(v):>20}" for v in row), highlight=False)
    console.print(verdict(report))
    judged = [d.fd_agree for d in report.derivatives if d.fd_agree is not None]
    agreed = ("not compared (a kink)" if report.at_kink or not judged
              else "no" if not all(judged) else "yes" if len(judged) == len(report.derivatives)
              else "yes, where a stencil crosses no kink")
    console.print(f"graph engine: {report.graph_nodes:,} operations in its derivative graph; finite differences "
                  f"agree to their accuracy (rtol {report.fd_rtol:.2g}): {agreed}")


def verdict(report: DiffReport) -> str:
    count = len(report.derivatives)
    what = {"derivative": "the derivative", "gradient": f"all {count} partial derivatives",
            "hessian": f"all {count} second derivatives"}[report.kind]
    if count == 1 and report.kind != "derivative":
        what = "the derivative"
    if report.at_kink:
        return f"{what}: not compared, the point is at a kink (see the warnings)"
    if report.agree is None:
        return f"{what}: no second witness"
    if report.agree:
        verb = "agrees" if what.startswith("the") else "agree"
        how = (f"symbolic vs graph, rtol {report.rtol:g}, atol {report.atol:g}" if report.witness == "symbolic"
               else f"graph vs finite differences, rtol {report.fd_rtol:.2g}")
        from rich.markup import escape


        how += escape("".join(f"; {d.label} within float64's resolution ({condition_text(d.condition)})"
                              for d in report.derivatives if d.resolution is not None))
        return f"[green]{mark(True)}[/] {what} {verb} ({how})"
    return f"[red]{mark(False)}[/] the engines disagree: see the rows marked {mark(False)}"


def diff_json(report: DiffReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    json.dump(report.to_dict(), stream, indent=2)
    stream.write("\n")


def diff_csv(report: DiffReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["wrt", "symbolic_value", "graph_value", "fd_value", "abs_diff", "agree"])
    for d in report.derivatives:
        writer.writerow([" ".join(d.wrt), _cell(d.symbolic_value), repr(d.graph_value), _cell(d.fd_value),
                         _cell(d.abs_diff), "" if d.agree is None else str(d.agree).lower()])


def _cell(value: float | None) -> str:
    return "" if value is None else repr(value)


def diff_latex(report: DiffReport, stream: IO[str] | None = None) -> None:
    """One aligned equation per derivative: its formula by SymPy, and its value at the point."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    stream.write("\\begin{align*}\n")
    lines = []
    for d in report.derivatives:
        order = len(d.wrt)
        power = "" if order == 1 else f"^{{{order}}}"
        if len(set(d.wrt)) == 1:
            bottom = f"\\partial {_name(d.wrt[0])}{power}"
        else:
            bottom = " ".join(f"\\partial {_name(n)}" for n in d.wrt)
        left = f"\\frac{{\\partial{power} f}}{{{bottom}}}"
        formula = d.latex if d.latex is not None else "\\text{(no formula: SymPy ran past its time bound)}"
        lines.append(f"{left} &= {formula} = {d.graph_value:.12g}")
    stream.write(" \\\\\n".join(lines) + "\n\\end{align*}\n")


def _name(name: str) -> str:
    head, _, tail = name.partition("_")
    return f"{head}_{{{tail}}}" if tail else name


offer("diff", {"table": diff_table, "json": diff_json, "csv": diff_csv, "latex": diff_latex},
      "table for people; json or csv for programs; latex for notes.")
