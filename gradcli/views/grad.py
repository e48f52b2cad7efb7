"""`gradcli grad`: the side-by-side table for people, JSON or CSV for programs.

Rendering never computes; it takes the plain data the API returns.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from typing import IO

from ..compare.verdicts import FD_ATOL, FD_RTOL, GradientReport, condition_text
from .common import Column, console_for, formula_shown, mark, number, print_table, text_column, verdict_cell
from .formats import offer


def gradient_table(report: GradientReport, stream: IO[str] | None = None, entries: bool = False) -> None:
    """The side-by-side table, under a heading with the model, the loss and the point.

    A model with vectors or matrices gets one row per parameter as written, with its shape and the
    largest difference over its entries; entries=True lists every entry as well."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    if report.tensors:
        tensor_table(report, stream, entries)
        return
    from rich.markup import escape

    console = console_for(stream)
    values = ", ".join(f"{k}={number(v)}" for k, v in report.params.items())
    if report.point is not None:
        values += (" | " if values else "") + ", ".join(f"{k}={number(v)}" for k, v in report.point.items())
    else:
        values += f" | {report.rows:,} rows (loss and gradients are means over rows)"
    console.print(f"[bold]model[/] {escape(report.model)}")
    console.print(f"[bold]loss[/]  {escape(report.loss)}: {escape(report.loss_formula)}  =  "
                  f"{number(report.loss_value)}")
    console.print(f"[bold]at[/]    {escape(values)}")
    if report.defaults:
        defaults = ", ".join(f"{k}={number(v)}" for k, v in report.defaults.items())
        console.print(f"[dim]defaults used: {escape(defaults)}[/]")
    has = {key: any(getattr(g, key) is not None for g in report.gradients.values())
           for key in ("symbolic_value", "backprop_value", "abs_diff", "fd_value", "forward_value")}
    headings = {"symbolic_value": "symbolic", "backprop_value": "backprop", "abs_diff": "|diff|",
                "fd_value": "finite diff", "forward_value": "forward"}
    columns = [text_column("param" if not report.row_gradients else "name"),
               text_column("∂loss/∂param" if not report.row_gradients else "∂loss/∂name")]
    columns += [Column(heading) for key, heading in headings.items() if has[key]]
    columns.append(text_column("ok"))
    rows = []
    for g in report.gradients.values():
        cells: list[object] = [g.param, formula_shown(g.symbolic)]
        cells += [f"{g.abs_diff:.3g}" if key == "abs_diff" and g.abs_diff is not None else number(getattr(g, key))
                  for key in headings if has[key]]
        verdicts = [v for v in (g.agree, g.fd_agree, g.forward_agree) if v is not None]
        cells.append(verdict_cell(None if not verdicts else all(verdicts)))
        rows.append(cells)
    single = report.point is not None
    for r in report.row_gradients.values() if single else ():  # at one point: a row like a parameter's
        cells = [r.name, formula_shown(r.symbolic)]
        values = {"symbolic_value": r.symbolic_values[0] if r.symbolic_values else None,
                  "backprop_value": r.backprop_values[0], "abs_diff": r.max_abs_diff, "fd_value": None,
                  "forward_value": None}
        cells += [f"{values[key]:.3g}" if key == "abs_diff" and values[key] is not None else number(values[key])
                  for key in headings if has[key]]
        cells.append(verdict_cell(r.agree))
        rows.append(cells)
    if report.gradients or single:
        print_table(console, columns, rows)
    for r in report.row_gradients.values() if not single else ():
        verdict = "" if r.agree is None else f"  [{'green' if r.agree else 'red'}]{mark(r.agree)}[/]"
        diff = "" if r.max_abs_diff is None else f", max |diff| {r.max_abs_diff:.3g}"
        console.print(f"∂loss_r/∂{escape(r.name)} = {escape(r.symbolic or '(backprop only)')}: one value per row, "
                      f"{report.rows:,} rows{diff}{verdict} (each row's value: --format json or csv)")
    n = len(report.gradients) + len(report.row_gradients)
    by, tolerance = "", f"rtol {report.rtol:g}, atol {report.atol:g}"
    if report.witness == "finite differences" and "symbolic" not in report.engines:
        by, tolerance = " with finite differences", f"rtol {FD_RTOL:g}, atol {FD_ATOL:g} x max(1, |loss|)"
    within = within_resolution(report)
    if report.agree is True:
        agreed = "the gradient agrees" if n == 1 else f"all {n} gradients agree"
        if "forward" in report.engines and any(g.forward_agree for g in report.gradients.values()):
            by += ", in forward mode too"
        console.print(f"[green]{agreed}{by}[/] ({tolerance}{within})")
    elif report.agree is False:
        bad = [g.param for g in report.gradients.values() if False in (g.agree, g.fd_agree, g.forward_agree)]
        bad += [r.name for r in report.row_gradients.values() if r.agree is False]
        console.print(f"[red]disagreement on {escape(', '.join(bad))}[/] "
                      f"(rtol {report.rtol:g}, atol {report.atol:g}{within})")
    elif len(report.engines) > 1 and report.gradients:
        console.print("[yellow]not compared[/]: the loss is not differentiable at this point (see the warnings)")


def within_resolution(report: GradientReport) -> str:
    """'; w within float64's resolution (condition ~1e9)' for the gradients that agree only as rounding."""
    from rich.markup import escape

    items = report.tensors.values() if report.tensors else report.gradients.values()  # W1 as written, not W1[2,1]
    within = [f"{g.param} within float64's resolution ({condition_text(g.condition)})"
              for g in items if g.resolution is not None]
    within += [f"{r.name} within float64's resolution ({condition_text(r.condition)})"
               for r in report.row_gradients.values() if r.resolution is not None]
    return escape("; " + ", ".join(within)) if within else ""


def summary(value: object, limit: int = 4) -> str:
    """A gradient in a cell: a number, a short vector in full, else its size (the JSON has every entry)."""
    if value is None:
        return ""
    if not isinstance(value, list):
        return f"{value:.6g}"
    flat = [v for row in value for v in (row if isinstance(row, list) else [row])]
    if len(flat) <= limit and not isinstance(value[0], list):
        return "[" + ", ".join(f"{v:.4g}" for v in flat) + "]"
    return f"‖·‖ {math.sqrt(sum(v * v for v in flat)):.4g}"


def tensor_table(report: GradientReport, stream: IO[str], entries: bool) -> None:
    from rich.markup import escape

    from ..language.tensors import shown  # numpy: grad --help imports this view

    console = console_for(stream)
    console.print(f"[bold]model[/] {escape(report.model)}")
    console.print(f"[bold]loss[/]  {escape(report.loss)}: {escape(report.loss_formula)}  =  "
                  f"{number(report.loss_value)}")
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
    fd = any(t.fd_directions for t in report.tensors.values())
    forward = any(t.forward_verdict is not None for t in report.tensors.values())
    symbolic = any(t.symbolic_value is not None for t in report.tensors.values())
    columns = [text_column("param"), Column("shape"), Column("backprop")]
    columns += ([Column("max |diff|")] if symbolic else []) + ([Column("max |fd - gᵀv|")] if fd else [])
    columns += [Column("max |fwd - bp|")] if forward else []
    columns.append(text_column("ok"))
    rows = []
    for t in report.tensors.values():
        cells: list[object] = [t.param, shown(tuple(t.shape)), summary(t.backprop_value)]
        if symbolic:
            cells.append("" if t.max_abs_diff is None else f"{t.max_abs_diff:.3g}")
        if fd:
            cells.append("" if t.fd_max_abs_diff is None else f"{t.fd_max_abs_diff:.3g}")
        if forward:
            cells.append("" if t.forward_max_abs_diff is None else f"{t.forward_max_abs_diff:.3g}")
        verdicts = [v for v in (t.agree, t.fd_agree, t.forward_agree) if v is not None]
        cells.append(verdict_cell(None if not verdicts else all(verdicts)))
        rows.append(cells)
    print_table(console, columns, rows)
    if entries:
        print_table(console, [text_column("entry"), Column("symbolic"), Column("backprop"), Column("|diff|"),
                              text_column("ok")],
                    [(g.param, number(g.symbolic_value), number(g.backprop_value),
                      "" if g.abs_diff is None else f"{g.abs_diff:.3g}", verdict_cell(g.agree))
                     for g in report.gradients.values()])
    n = len(report.tensors)
    if symbolic:
        by, tolerance = " (SymPy entry by entry)", f"rtol {report.rtol:g}, atol {report.atol:g}"
    else:
        by, tolerance = f" with {report.witness}", f"rtol {FD_RTOL:g}, atol {FD_ATOL:g} x max(1, |loss|)"
    within = within_resolution(report)
    if report.agree is True:
        agreed = "the gradient agrees" if n == 1 else f"all {n} gradients agree"
        console.print(f"[green]{agreed}{by}[/] ({tolerance}{within})")
    elif report.agree is False:
        bad = [t.param for t in report.tensors.values() if False in (t.agree, t.fd_agree, t.forward_agree)]
        console.print(f"[red]disagreement on {escape(', '.join(bad))}[/]{by} "
                      f"({tolerance}{within}; --entries lists every entry)")
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
    forward = any(g.forward_value is not None for g in report.gradients.values())
    columns = CSV_COLUMNS + (["fd_value", "fd_agree"] if fd else []) + (["forward_value", "forward_agree"] if forward
                                                                        else [])
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
                     # r.resolution: every row that fails rtol and atol differs within float64's resolution
                     "agree": None if s is None else (r.agree is True and r.resolution is not None)
                     or abs(s - b) <= report.atol + report.rtol * abs(s)}
            writer.writerow([_cell(cells.get(key)) for key in columns] + [str(i + 1)])


def _cell(value: object) -> str:
    return ("" if value is None else str(value).lower() if isinstance(value, bool)
            else repr(value) if isinstance(value, float) else str(value))


offer("grad", {"table": gradient_table, "json": gradient_json, "csv": gradient_csv},
      "table for people; json or csv for programs.")
