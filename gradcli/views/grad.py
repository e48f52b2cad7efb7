"""`gradcli grad`: the side-by-side table for people, JSON or CSV for programs.

Rendering never computes; it takes the plain data the API returns.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import IO

from ..comparison import FD_ATOL, FD_RTOL, GradientReport
from .common import console_for, decorated, formula_shown, mark, number


def gradient_table(report: GradientReport, stream: IO[str] | None = None, entries: bool = False) -> None:
    """The side-by-side table, under a heading with the model, the loss and the point.

    A model with vectors or matrices gets one row per parameter as written, with its shape and the
    largest difference over its entries; entries=True lists every entry as well."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    if report.tensors:
        tensor_table(report, stream, entries)
        return
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    console = console_for(stream)
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
    table.add_column("param" if not report.row_gradients else "name", overflow="fold")
    table.add_column("∂loss/∂param" if not report.row_gradients else "∂loss/∂name", overflow="fold")
    has = {key: any(getattr(g, key) is not None for g in report.gradients.values())
           for key in ("symbolic_value", "backprop_value", "abs_diff", "fd_value")}
    headings = {"symbolic_value": "symbolic", "backprop_value": "backprop", "abs_diff": "|diff|",
                "fd_value": "finite diff"}
    for key, heading in headings.items():
        if has[key]:
            table.add_column(heading, justify="right", overflow="fold")  # a number is never cut
    table.add_column("ok")
    for g in report.gradients.values():
        cells = [escape(g.param), escape(formula_shown(g.symbolic))]
        cells += [f"{g.abs_diff:.3g}" if key == "abs_diff" and g.abs_diff is not None else number(getattr(g, key))
                  for key in headings if has[key]]
        verdicts = [v for v in (g.agree, g.fd_agree) if v is not None]
        ok = None if not verdicts else all(verdicts)
        cells.append(f"[{'green' if ok else 'red'}]{mark(ok)}[/]" if ok is not None else "")
        table.add_row(*cells)
    single = report.point is not None
    for r in report.row_gradients.values() if single else ():  # at one point: a row like a parameter's
        cells = [escape(r.name), escape(r.symbolic or "")]
        values = {"symbolic_value": r.symbolic_values[0] if r.symbolic_values else None,
                  "backprop_value": r.backprop_values[0], "abs_diff": r.max_abs_diff, "fd_value": None}
        cells += [f"{values[key]:.3g}" if key == "abs_diff" and values[key] is not None else number(values[key])
                  for key in headings if has[key]]
        cells.append(f"[{'green' if r.agree else 'red'}]{mark(r.agree)}[/]" if r.agree is not None else "")
        table.add_row(*cells)
    if report.gradients or single:
        console.print(table)
    for r in report.row_gradients.values() if not single else ():
        verdict = "" if r.agree is None else f"  [{'green' if r.agree else 'red'}]{mark(r.agree)}[/]"
        diff = "" if r.max_abs_diff is None else f", max |diff| {r.max_abs_diff:.3g}"
        console.print(f"∂loss_r/∂{escape(r.name)} = {escape(r.symbolic or '(backprop only)')}: one value per row, "
                      f"{report.rows:,} rows{diff}{verdict} (each row's value: --format json or csv)")
    n = len(report.gradients) + len(report.row_gradients)
    by, tolerance = "", f"rtol {report.rtol:g}, atol {report.atol:g}"
    if report.witness == "finite differences" and "symbolic" not in report.engines:
        by, tolerance = " with finite differences", f"rtol {FD_RTOL:g}, atol {FD_ATOL:g} x max(1, |loss|)"
    if report.agree is True:
        agreed = "the gradient agrees" if n == 1 else f"all {n} gradients agree"
        console.print(f"[green]{agreed}{by}[/] ({tolerance})")
    elif report.agree is False:
        bad = [g.param for g in report.gradients.values() if g.agree is False or g.fd_agree is False]
        bad += [r.name for r in report.row_gradients.values() if r.agree is False]
        console.print(f"[red]disagreement on {', '.join(bad)}[/] (rtol {report.rtol:g}, atol {report.atol:g})")
    elif len(report.engines) > 1 and report.gradients:
        console.print("[yellow]not compared[/]: the loss is not differentiable at this point (see the warnings)")


def summary(value: object, limit: int = 4) -> str:
    """A gradient in a cell: a number, a short vector in full, else its size (the JSON has every entry)."""
    import math

    if value is None:
        return ""
    if not isinstance(value, list):
        return f"{value:.6g}"
    flat = [v for row in value for v in (row if isinstance(row, list) else [row])]
    if len(flat) <= limit and not isinstance(value[0], list):
        return "[" + ", ".join(f"{v:.4g}" for v in flat) + "]"
    return f"‖·‖ {math.sqrt(sum(v * v for v in flat)):.4g}"


def tensor_table(report: GradientReport, stream: IO[str], entries: bool) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from ..language.tensors import shown

    console = console_for(stream)
    console.print(f"[bold]model[/] {escape(report.model)}")
    console.print(f"[bold]loss[/]  {escape(report.loss)}: {escape(report.loss_formula)}  =  {number(report.loss_value)}")
    if report.point is not None:
        console.print(f"[bold]at[/]    {escape(', '.join(f'{k}={number(v)}' for k, v in report.point.items()))}")
    else:
        console.print(f"[bold]at[/]    {report.rows:,} rows (loss and gradients are means over rows)")
    drawn: dict[str, list[str]] = {}
    for name, how in report.defaults.items():
        if name in report.tensors:
            drawn.setdefault(str(how), []).append(name)
    if drawn:
        said = "; ".join(f"{', '.join(names)} {how if how != '0' else '= 0'}" for how, names in drawn.items())
        console.print(f"[dim]parameters with no value given: {escape(said)} (--params FILE.json to give them)[/]")
    table = Table(box=box.SIMPLE_HEAD if decorated(console) else None, show_edge=False, pad_edge=False)
    fd = any(t.fd_directions for t in report.tensors.values())
    symbolic = any(t.symbolic_value is not None for t in report.tensors.values())
    for heading in ["param", "shape", "backprop"] + (["max |diff|"] if symbolic else []) + (
            ["max |fd - gᵀv|"] if fd else []) + ["ok"]:
        table.add_column(heading, justify="right" if heading not in ("param", "ok") else "left", overflow="fold")
    for t in report.tensors.values():
        cells = [escape(t.param), shown(tuple(t.shape)), summary(t.backprop_value)]
        if symbolic:
            cells.append("" if t.max_abs_diff is None else f"{t.max_abs_diff:.3g}")
        if fd:
            cells.append("" if t.fd_max_abs_diff is None else f"{t.fd_max_abs_diff:.3g}")
        verdicts = [v for v in (t.agree, t.fd_agree) if v is not None]
        ok = None if not verdicts else all(verdicts)
        cells.append(f"[{'green' if ok else 'red'}]{mark(ok)}[/]" if ok is not None else "")
        table.add_row(*cells)
    console.print(table)
    if entries:
        listing = Table(box=box.SIMPLE_HEAD if decorated(console) else None, show_edge=False, pad_edge=False)
        for heading in ("entry", "symbolic", "backprop", "|diff|", "ok"):
            listing.add_column(heading, justify="left" if heading in ("entry", "ok") else "right")
        for g in report.gradients.values():
            listing.add_row(escape(g.param), number(g.symbolic_value), number(g.backprop_value),
                            "" if g.abs_diff is None else f"{g.abs_diff:.3g}",
                            "" if g.agree is None else f"[{'green' if g.agree else 'red'}]{mark(g.agree)}[/]")
        console.print(listing)
    n = len(report.tensors)
    if symbolic:
        by, tolerance = " (SymPy entry by entry)", f"rtol {report.rtol:g}, atol {report.atol:g}"
    else:
        by, tolerance = f" with {report.witness}", f"rtol {FD_RTOL:g}, atol {FD_ATOL:g} x max(1, |loss|)"
    if report.agree is True:
        agreed = "the gradient agrees" if n == 1 else f"all {n} gradients agree"
        console.print(f"[green]{agreed}{by}[/] ({tolerance})")
    elif report.agree is False:
        bad = [t.param for t in report.tensors.values() if t.agree is False or t.fd_agree is False]
        console.print(f"[red]disagreement on {', '.join(bad)}[/]{by} ({tolerance}; --entries lists every entry)")
    elif len(report.engines) > 1:
        console.print("[yellow]not compared[/]: the loss is not differentiable at this point (see the warnings)")


def gradient_json(report: GradientReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    json.dump(report.to_dict(), stream, indent=2)
    stream.write("\n")


CSV_COLUMNS = ["param", "symbolic", "symbolic_value", "backprop_value", "abs_diff", "agree"]


def gradient_csv(report: GradientReport, stream: IO[str] | None = None) -> None:
    """One line per parameter; with inputs or the target in --wrt, a `row` column and one line per row
    for each of them (empty `row` for the parameters, whose gradient is of the mean loss)."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    fd = any(g.fd_value is not None for g in report.gradients.values())
    columns = CSV_COLUMNS + (["fd_value", "fd_agree"] if fd else [])
    by_row = bool(report.row_gradients)
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns + (["row"] if by_row else []))
    for g in report.gradients.values():
        writer.writerow([_cell(getattr(g, key)) for key in columns] + ([""] if by_row else []))
    for r in report.row_gradients.values():
        for i, b in enumerate(r.backprop_values):
            s = r.symbolic_values[i] if r.symbolic_values is not None else None
            cells = {"param": r.name, "symbolic": r.symbolic, "symbolic_value": s, "backprop_value": b,
                     "abs_diff": abs(s - b) if s is not None else None,
                     "agree": None if s is None else abs(s - b) <= report.atol + report.rtol * abs(s)}
            writer.writerow([_cell(cells.get(key)) for key in columns] + [str(i + 1)])


def _cell(value: object) -> str:
    return ("" if value is None else str(value).lower() if isinstance(value, bool)
            else repr(value) if isinstance(value, float) else str(value))
