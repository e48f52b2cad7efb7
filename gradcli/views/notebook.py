"""Reports in Jupyter: the HTML (and a graph's SVG) that IPython shows for each report the API returns.

gradcli/shown.py's `Shown` mixin imports this module by name the first time a report is displayed;
its end registers one drawing per report type. Every drawing is plain HTML whose text is escaped
(no script, nothing from the network): the facts of the command's `table` format. A graph or an
explanation is the interactive page of `--format html` inside an <iframe srcdoc> (sandboxed: its
script runs, but cannot reach the notebook), and a graph's `_repr_svg_` is the layered drawing.

Rich is not used here: inside a Jupyter kernel a Rich console displays what it prints instead of
writing it to its file.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..compare.verdicts import FD_ATOL, FD_RTOL, GradientReport
from ..explaining.reports import Explanation, GraphView, TensorExplanation, TensorGraphView
from ..shown import register
from ..tasks.check import CheckReport
from ..tasks.diff import DiffReport
from ..tasks.hessian import HessianReport
from ..tasks.predict import PartPredictions, Predictions
from ..training.report import TrainReport
from .check import check_lines
from .common import mark, number
from .diff import verdict as diff_verdict
from .grad import summary, within_resolution
from .hessian import verdicts as hessian_verdicts
from .train import data_origin, metrics_line
from .train import verdicts as train_verdicts

GREEN, RED = "#1a7f37", "#cf222e"  # GitHub's; a mark (✓ ✗) and a word say the same, never colour only
TABLE_STYLE = "border-collapse:collapse;font-variant-numeric:tabular-nums"
CELL_STYLE = "padding:2px 10px;border-bottom:1px solid #d0d7de"
PREDICTION_ROWS = 10  # rows of a Predictions shown in its table
PAGE_HEIGHT = 680  # pixels of the iframe that holds a graph's page (the page scrolls inside it)


def escaped(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def table(headings: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[bool] = ()) -> str:
    """An HTML table of escaped text; numeric columns right-aligned. A cell that is a `Marked` is a verdict."""
    right = list(numeric) + [False] * (len(headings) - len(numeric))
    align = ["text-align:right" if r else "text-align:left" for r in right]
    head = "".join(f'<th style="{CELL_STYLE};{a}">{escaped(h)}</th>' for h, a in zip(headings, align))
    body = "".join("<tr>" + "".join(f'<td style="{CELL_STYLE};{a}">{cell_html(c)}</td>' for c, a in zip(row, align))
                   + "</tr>" for row in rows)
    return f'<table style="{TABLE_STYLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class Marked:
    """A verdict in a cell or a line: ✓ or ✗ with its colour and a word for screen readers."""

    def __init__(self, ok: bool | None, text: str = "") -> None:
        self.ok, self.text = ok, text

    def html(self) -> str:
        if self.ok is None:
            return escaped(self.text)
        word = "agree" if self.ok else "disagree"
        colour = GREEN if self.ok else RED
        said = escaped(self.text) if self.text else f'<span style="position:absolute;left:-9999px">{word}</span>'
        return f'<span style="color:{colour}" title="{word}">{mark(self.ok)}</span> {said}'.rstrip()


def cell_html(cell: object) -> str:
    return cell.html() if isinstance(cell, Marked) else escaped(cell)


def plain(markup: str) -> str:
    """A view's line without its Rich markup ('[green]✓[/] agree' -> '✓ agree')."""
    from rich.text import Text  # the markup parser only: no console (see the module's docstring)

    return Text.from_markup(markup).plain


def line(text: str | Marked, bold: str = "") -> str:
    """A paragraph: an optional bold heading word, then escaped text (a verdict: its mark coloured)."""
    head = f"<b>{escaped(bold)}</b> " if bold else ""
    body = text.html() if isinstance(text, Marked) else escaped(text)
    return f'<p style="margin:2px 0">{head}{body}</p>'


def verdict_line(markup: str) -> str:
    """A view's verdict line ('[green]✓[/] ...'): its mark coloured, the words as they are."""
    text = plain(markup)
    for ok in (True, False):
        if text.startswith(mark(ok)):
            return line(Marked(ok, text[1:].strip()))
    return line(text)


def report_box(title: str, parts: Iterable[str], warnings: Sequence[str] = ()) -> str:
    said = "".join(line(w, "warning") for w in warnings)
    return (f'<div class="gradcli-report" style="font-family:sans-serif;line-height:1.4">'
            f'<p style="margin:2px 0;color:#57606a">{escaped(title)}</p>{"".join(parts)}{said}</div>')


def diff_cell(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def defaults_text(report: GradientReport) -> str:
    """The names that took a default: a number each, or for vectors and matrices how they were drawn."""
    if not report.tensors:
        return "defaults used: " + ", ".join(f"{k}={number(v)}" for k, v in report.defaults.items())
    drawn: dict[str, list[str]] = {}
    for name, how in report.defaults.items():
        if name in report.tensors:
            drawn.setdefault(str(how), []).append(name)
    said = "; ".join(f"{', '.join(names)} {how if how != '0' else '= 0'}" for how, names in drawn.items())
    return f"parameters with no value given: {said} (--params FILE.json to give them)"


def point_text(report: GradientReport) -> str:
    if report.tensors:  # the parameters are too many to list: the table has them
        return (", ".join(f"{k}={number(v)}" for k, v in report.point.items()) if report.point is not None
                else f"{report.rows:,} rows (loss and gradients are means over rows)")
    values = ", ".join(f"{k}={number(v)}" for k, v in report.params.items())
    if report.point is not None:
        return values + (" | " if values else "") + ", ".join(f"{k}={number(v)}" for k, v in report.point.items())
    return values + f" | {report.rows:,} rows (loss and gradients are means over rows)"


def gradient_html(report: GradientReport) -> str:
    """grad's table: the model, the loss and the point, each parameter by each engine, the verdict."""
    parts = [line(report.model, "model"), line(f"{report.loss}: {report.loss_formula}  =  "
                                               f"{number(report.loss_value)}", "loss"),
             line(point_text(report), "at")]
    if report.defaults:
        parts.append(line(defaults_text(report)))
    parts.append(tensor_rows(report) if report.tensors else scalar_rows(report))
    parts += gradient_verdict(report)
    return report_box("gradcli grad", parts, report.warnings)


def gradient_verdict(report: GradientReport) -> list[str]:
    """grad's last line: all agree (by which witness, within which tolerance), or where they disagree."""
    n = len(report.tensors or report.gradients) + len(report.row_gradients)
    by, tolerance = "", f"rtol {report.rtol:g}, atol {report.atol:g}"
    if report.tensors and any(t.symbolic_value is not None for t in report.tensors.values()):
        by = " (SymPy entry by entry)"
    elif report.witness == "finite differences" and "symbolic" not in report.engines:
        by, tolerance = " with finite differences", f"rtol {FD_RTOL:g}, atol {FD_ATOL:g} x max(1, |loss|)"
    within = plain(within_resolution(report))
    if report.agree is True:
        agreed = "the gradient agrees" if n == 1 else f"all {n} gradients agree"
        return [line(Marked(True, f"{agreed}{by} ({tolerance}{within})"))]
    if report.agree is False:
        items = report.tensors.values() if report.tensors else report.gradients.values()
        bad = [g.param for g in items if g.agree is False or g.fd_agree is False]
        bad += [r.name for r in report.row_gradients.values() if r.agree is False]
        return [line(Marked(False, f"disagreement on {', '.join(bad)}{by} ({tolerance}{within})"))]
    if len(report.engines) > 1 and report.gradients:
        return [line("not compared: the loss is not differentiable at this point (see the warnings)")]
    return []


def scalar_rows(report: GradientReport) -> str:
    keys = {"symbolic_value": "symbolic", "backprop_value": "backprop", "abs_diff": "|diff|",
            "fd_value": "finite diff"}
    has = [key for key in keys if any(getattr(g, key) is not None for g in report.gradients.values())]
    rows = []
    for g in report.gradients.values():
        verdicts = [v for v in (g.agree, g.fd_agree) if v is not None]
        rows.append([g.param, g.symbolic or "", *(diff_cell(g.abs_diff) if key == "abs_diff"
                                                   else number(getattr(g, key)) for key in has),
                     Marked(None if not verdicts else all(verdicts))])
    for r in report.row_gradients.values():  # one row per name at a point, else its largest difference
        values = {"symbolic_value": r.symbolic_values[0] if report.point and r.symbolic_values else None,
                  "backprop_value": r.backprop_values[0] if report.point else None,
                  "abs_diff": r.max_abs_diff, "fd_value": None}
        rows.append([r.name, r.symbolic or "", *(diff_cell(values[key]) if key == "abs_diff"
                                                 else number(values[key]) for key in has), Marked(r.agree)])
    name = "name" if report.row_gradients else "param"
    return table([name, f"∂loss/∂{name}", *(keys[key] for key in has), "ok"], rows,
                 [False, False, *(True for _ in has)])


def tensor_rows(report: GradientReport) -> str:
    rows = []
    for t in report.tensors.values():
        verdicts = [v for v in (t.agree, t.fd_agree) if v is not None]
        rows.append([t.param, "x".join(map(str, t.shape)) or "scalar", summary(t.backprop_value),
                     diff_cell(t.max_abs_diff), Marked(None if not verdicts else all(verdicts))])
    return table(["param", "shape", "backprop", "max |diff|", "ok"], rows, [False, False, True, True])


def hessian_html(report: HessianReport) -> str:
    """hessian's table: the matrix (or H v), the verdicts, the eigenvalues and the Newton step."""
    parts = [line(report.model, "model"),
             line(f"{report.loss}, mean over {report.rows:,} rows: {number(report.loss_value)}", "loss"),
             line(", ".join(f"{name}={value:g}" for name, value in report.params.items()), "at")]
    if report.hessian is not None:
        parts.append(line("Hessian ∂²loss/∂row∂column (graph engine: backprop through the backward pass):"))
        parts.append(table(["", *report.names], ([name, *(number(v) for v in row)]
                                                 for name, row in zip(report.names, report.hessian)),
                           [False, *(True for _ in report.names)]))
    else:
        parts.append(line("Hessian-vector product H v (graph engine: backprop through the directional derivative):"))
        n = len(report.names)
        parts.append(table(["param", "v", "H v (graph)", "symbolic", "finite diff"],
                           ([name, number(v), number(p), number(s), number(f)] for name, v, p, s, f in zip(
                               report.names, report.vector or [None] * n, report.product or [None] * n,
                               report.symbolic_product or [None] * n, report.fd_product or [None] * n)),
                           [False, True, True, True, True]))
    parts += [verdict_line(text) for text in hessian_verdicts(report)]
    if report.eigenvalues is not None:
        parts.append(line(", ".join(number(v) for v in report.eigenvalues), "eigenvalues"))
        condition = "infinite (singular)" if report.condition == float("inf") else f"{report.condition:.4g}"
        parts.append(line(condition, "condition number"))
        parts.append(line("convex here: every eigenvalue is >= 0" if report.convex else
                          "not convex here: a negative eigenvalue (a saddle or a maximum in that direction)"))
    if report.newton_step is not None:
        parts.append(line(", ".join(f"{n} {number(v)}" for n, v in zip(report.names, report.newton_step)),
                          "Newton step -H⁻¹∇loss:"))
    return report_box("gradcli hessian", parts, report.warnings)


def train_html(report: TrainReport) -> str:
    """train's summary: the model, how it was trained, the parameters, the final loss and the verdicts."""
    result, problem, options = report.result, report.problem, report.options
    held = f" ({report.validation_rows:,} more kept out for validation)" if report.validation is not None else ""
    rate = f", lr {options.learning_rate:g}" if options.learning_rate is not None else ""
    parts = [line(report.model.text, "model"),
             line(f"{problem.loss_name}: {problem.loss_formula}, mean over {report.rows:,} rows{held}"
                  f"{data_origin(report)}", "loss"),
             line(f"{options.optimizer}{rate}, batch {options.batch(report.rows):,}, seed {options.seed}", "by"),
             train_rows(report)]
    loss = "diverged" if result.diverged else f"final loss {number(result.loss)}"
    if not result.diverged and report.validation_loss is not None:
        loss += f" (validation rows: {number(report.validation_loss)})"
    # the time it took is left out: the same run gives the same picture (a notebook's stored output)
    parts.append(line(f"{loss}, {result.epochs} epochs ({result.stop_reason})"))
    said = metrics_line(report)
    if said:
        parts.append(line(said))
    parts += [verdict_line(text) for text in train_verdicts(report)]
    return report_box("gradcli train", parts, report.warnings)


def train_rows(report: TrainReport) -> str:
    """One row per parameter (as written, for vectors and matrices): its value, least squares', the check."""
    result, closed, check, problem = report.result, report.closed_form, report.check, report.problem
    if problem.tensors:
        rows = [[name, "x".join(map(str, problem.tensors[name])), summary([result.params[e] for e in entries])]
                if name in problem.tensors else [name, "scalar", number(result.params[entries[0]])]
                for name, entries in problem.entries.items()]
        return table(["param", "shape", "value (entries, or ‖·‖)"], rows, [False, False, True])
    headings = ["param", "value"] + (["least squares"] if closed else [])
    checked = bool(check and check.gradients)
    headings += ["∂loss/∂param (backprop)", "symbolic", "agree"] if checked else []
    rows = []
    for name, value in result.params.items():
        cells: list[object] = [name, number(value)] + ([number(closed.params[name])] if closed else [])
        if check and checked:
            g = check.gradients[name]
            cells += [number(g["backprop_value"]), number(g["symbolic_value"]), Marked(g["agree"])]
        rows.append(cells)
    return table(headings, rows, [False] + [True] * (len(headings) - 2) + [not checked])


def check_html(report: CheckReport) -> str:
    """check's lines (model, loss, claim, SymPy, numbers, a counterexample) and its verdict."""
    rows = []
    for text in check_lines(report):
        head, _, rest = text.partition(" ")
        rows.append([head, rest.strip()] if head and not text.startswith(" ") else ["", text.strip()])
    verdict = (Marked(True, f"the claim is right: it is ∂loss/∂{report.wrt}") if report.correct
               else Marked(False, "the claim is wrong"))
    return report_box("gradcli check", [table(["", ""], rows), line(verdict)], report.warnings)


def diff_html(report: DiffReport) -> str:
    """diff's table: each derivative by SymPy, the graph engine and finite differences, and the verdict."""
    at = ", ".join(f"{name}={value:g}" for name, value in report.point.items())
    parts = [line(f"= {report.expression}   at {at}:  f = {number(report.value)}", "f")]
    size = len(report.wrt)
    parts += [line(f"= {d.symbolic}", d.label) for i, d in enumerate(report.derivatives)
              if d.symbolic is not None and (report.kind != "hessian" or i // size <= i % size)]
    rows = [[d.label, number(d.symbolic_value), number(d.graph_value), number(d.fd_value),
             "" if d.abs_diff is None else f"{d.abs_diff:.2g}", Marked(d.agree if d.agree is not None else d.fd_agree)]
            for d in report.derivatives]
    parts.append(table(["derivative", "symbolic", "graph (backprop)", "finite diff", "|diff|", "agree"], rows,
                       [False, True, True, True, True]))
    parts.append(verdict_line(diff_verdict(report)))
    return report_box("gradcli diff", parts, report.warnings)


def predictions_html(report: Predictions) -> str:
    """The first PREDICTION_ROWS rows: the data's columns and the predictions."""
    shown = min(report.rows, PREDICTION_ROWS)
    rows = [[value_text(report.columns[name][i]) for name in report.header] for i in range(shown)]
    more = [line(f"… {report.rows - shown:,} more rows (all of them: predict(..., output='FILE.csv'))")
            ] if report.rows > shown else []
    return report_box(f"gradcli predict: {report.model}, {report.rows:,} rows of {report.source}",
                      [table(report.header, rows, [True] * len(report.header)), *more], report.warnings)


def value_text(value: Any) -> str:
    return number(float(value)) if isinstance(value, int | float) or hasattr(value, "dtype") else str(value)


def part_predictions_html(report: PartPredictions) -> str:
    written = [line(", ".join(report.outputs), "written")] if report.outputs else []
    return report_box(f"gradcli predict: {report.model}",
                      [line(f"{report.rows:,} rows in {report.files:,} files of {report.source}"), *written],
                      report.warnings)


def framed(page: str, title: str, height: int = PAGE_HEIGHT) -> str:
    """The page in an <iframe srcdoc>: its own document (its CSS and ids cannot clash with the notebook's),
    its script allowed to run and nothing else (no same origin: it cannot reach the notebook)."""
    return (f'<iframe srcdoc="{escaped(page)}" sandbox="allow-scripts" title="{escaped(title)}" '
            f'style="width:100%;height:{height}px;border:1px solid #d0d7de;resize:vertical"></iframe>')


def page_frame(report: Any) -> str:
    """graph's and explain's page (--format html) in an iframe: the page view's own iframe-safe form, or the
    page framed here where that form is the page itself."""
    from .page import page_html  # the page view: its SVG, CSS and script load only when a page is drawn

    page = page_html(report, iframe_safe=True)
    if page.lstrip().startswith("<iframe"):
        return page
    view = report.view if isinstance(report, Explanation | TensorExplanation) else report
    return framed(page, f"gradcli: {view.model}")


def graph_svg_text(view: GraphView | TensorGraphView) -> str:
    from .svg import graph_svg  # the drawing view: grandalf is loaded only when a graph is drawn

    return graph_svg(view, standalone=True)


DRAWINGS: dict[type, dict[str, Callable[[Any], str]]] = {
    GradientReport: {"html": gradient_html},
    HessianReport: {"html": hessian_html},
    TrainReport: {"html": train_html},
    CheckReport: {"html": check_html},
    DiffReport: {"html": diff_html},
    Predictions: {"html": predictions_html},
    PartPredictions: {"html": part_predictions_html},
    GraphView: {"html": page_frame, "svg": graph_svg_text},
    TensorGraphView: {"html": page_frame, "svg": graph_svg_text},
    Explanation: {"html": page_frame},
    TensorExplanation: {"html": page_frame},
}

for report_type, drawings in DRAWINGS.items():
    for kind, drawing in drawings.items():
        register(report_type.__name__, kind, drawing)
