"""Rendering `gradcli train` and `gradcli predict`: the result table, the loss curve, JSON and CSV."""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from .common import Column, console_for, mark, number, print_table, text_column, verdict_cell
from .formats import offer
from .grad import summary

if TYPE_CHECKING:  # train --help imports this view for its formats: no numpy (training.fit) then
    from ..training.report import TrainReport

BLOCKS = " ▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class LossCurve:
    lines: list[str]  # top to bottom
    top: float  # the loss at the top row and at the bottom row (means over the epochs a column covers)
    bottom: float
    log: bool  # rows are evenly spaced in log10(loss)


def loss_curve(history: list[float], width: int = 60, height: int = 8) -> LossCurve | None:
    """The loss per epoch as columns of block characters, log-scaled when it spans over 100x.

    Each column is the mean of the epochs it covers (of their log10 on a log scale).
    """
    values = [v for v in history if math.isfinite(v)]
    if len(values) < 2:
        return None
    log = min(values) > 0 and max(values) / min(values) > 100
    scaled = [math.log10(v) for v in values] if log else values
    columns = min(width, len(scaled))
    buckets = [scaled[i * len(scaled) // columns:(i + 1) * len(scaled) // columns] for i in range(columns)]
    points = [sum(b) / len(b) for b in buckets]
    low, high = min(points), max(points)
    span = high - low or 1.0
    eighths = [round((p - low) / span * (height * 8 - 1)) + 1 for p in points]  # 1 .. height*8
    lines = []
    for row in range(height - 1, -1, -1):
        lines.append("".join(BLOCKS[max(0, min(8, e - row * 8))] for e in eighths))
    value = (lambda s: 10.0 ** s) if log else (lambda s: s)  # noqa: E731
    return LossCurve(lines, value(high), value(low), log)


def data_origin(report: Any) -> str:
    """Where the rows were, when not one file in memory: ' in 3 files', ', streamed from disk ...'."""
    files = f" in {report.files:,} files" if report.files > 1 else ""
    engine = {"memory": "", "stream": ", streamed from disk (a pass per evaluation)",
              "dask": ", on a Dask cluster"}.get(report.engine, "")
    return files + engine


def train_table(report: TrainReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    from rich.markup import escape

    console = console_for(stream)
    result, problem = report.result, report.problem
    how = " (default: linear in every column but the target)" if report.model.default else ""
    console.print(f"[bold]model[/] {escape(report.model.text)}{escape(how)}")
    held = f" ({report.validation_rows:,} more kept out for validation)" if report.validation is not None else ""
    console.print(f"[bold]loss[/]  {escape(problem.loss_name)}: {escape(problem.loss_formula)}, "
                  f"mean over {report.rows:,} rows{held}{data_origin(report)}")
    rate = f", lr {report.options.learning_rate:g}" if report.options.learning_rate is not None else ""
    plain = ("; not preconditioned (a network: see docs/train.md#preconditioning)"
             if problem.tensor and report.options.precondition and not result.preconditioned else "")
    console.print(f"[bold]by[/]    {report.options.optimizer}{rate}, batch {report.options.batch(report.rows):,}, "
                  f"seed {report.options.seed}{plain}")
    if report.drawn:
        drawn: dict[str, list[str]] = {}
        for name, way in report.drawn.items():
            drawn.setdefault(way, []).append(name)
        said = "; ".join(f"{', '.join(names)} {way if way != '0' else '= 0'}" for way, names in drawn.items())
        console.print(f"[bold]start[/] {escape(said)}")
    if problem.tensors:
        _tensor_rows(report, console)
    else:
        _scalar_rows(report, console)
    loss = "" if result.diverged else f"final loss {number(result.loss)}"
    if not result.diverged and report.validation_loss is not None:
        loss += f" (validation rows: {number(report.validation_loss)})"
    console.print(f"{loss}{', ' if loss else ''}{result.epochs} epochs in {result.seconds:.3g} s "
                  f"({escape(result.stop_reason)})")
    said = metrics_line(report)
    if said:
        console.print(said)
    for line in verdicts(report):
        console.print(line)
    # each on its own scale: a network can drive the training loss to 1e-28 while the validation
    # rows' loss climbs, and one scale would flatten the second curve
    _curve(console, "training loss per epoch" if report.validation_history else "loss per epoch", result.history)
    if report.validation_history:
        _curve(console, "validation loss per epoch", report.validation_history)


METRIC_NAMES = {"accuracy": "accuracy", "r2": "R²"}


def metrics_line(report: TrainReport) -> str:
    """'accuracy 0.995 on the 480 training rows, 0.983 on the 120 validation rows' (or R²)."""
    train, held = report.metrics.get("train") or {}, report.metrics.get("validation") or {}
    parts = []
    for key, value in train.items():
        text = f"{METRIC_NAMES.get(key, key)} {_metric(value)} on the {report.rows:,} training rows"
        if key in held:
            text += f", {_metric(held[key])} on the {report.validation_rows:,} validation rows"
        parts.append(text)
    return "; ".join(parts)


def _metric(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


def _curve(console: Any, title: str, history: list[float]) -> None:
    curve = loss_curve(history, width=max(10, min(60, console.width - 14)))  # 14: the margin, labels up to 9 wide
    if not curve:
        return
    finite = [v for v in history if math.isfinite(v)]
    scale = ", log scale" if curve.log else ""
    console.print(f"\n{title} ({number(finite[0])} → {number(finite[-1])}{scale})")
    top, bottom = f"{curve.top:.3g}", f"{curve.bottom:.3g}"
    margin = max(len(top), len(bottom))
    for row, line in enumerate(curve.lines):
        label = top if row == 0 else bottom if row == len(curve.lines) - 1 else ""
        console.print(f"  {label:>{margin}} │{line}", highlight=False)
    epochs = len(history) - 1
    console.print(f"  {'':>{margin}} └{'─' * len(curve.lines[0])}")
    console.print(f"  {'':>{margin}}  0{f'{epochs}':>{max(len(curve.lines[0]) - 1, 1)}} epochs", highlight=False)


def _tensor_rows(report: TrainReport, console: Any) -> None:
    """One row per parameter as written: its shape, its trained value (a short vector in full, else
    its norm), its final gradient by backprop and the check's largest difference over its entries."""
    from ..language.tensors import shown  # numpy

    problem, result, check = report.problem, report.result, report.check
    fd = bool(check and any(t.get("fd_directions") for t in check.tensors.values()))
    columns = [text_column("param"), Column("shape"), Column("value")]
    if check and check.tensors:
        columns += [Column("∂loss/∂param (backprop)"),
                    Column("max |fd - gᵀv|" if fd else "max |symbolic - backprop|"), text_column("agree")]
    rows = []
    for name, entries in problem.entries.items():
        shape = problem.tensors.get(name, ())
        values = [result.params[e] for e in entries]
        value = _nested(values, shape)
        cells: list[object] = [name, shown(tuple(shape)), summary(value)]
        t = check.tensors.get(name) if check and check.tensors else None
        if t is not None:
            diff = t.get("fd_max_abs_diff") if fd else t.get("max_abs_diff")
            verdicts = [v for v in (t.get("agree"), t.get("fd_agree")) if v is not None]
            cells += [summary(t.get("backprop_value")), "" if diff is None else f"{diff:.3g}",
                      verdict_cell(None if not verdicts else all(verdicts))]
        elif check and check.tensors:
            cells += ["", "", ""]
        rows.append(cells)
    print_table(console, columns, rows)
    console.print("[dim](every entry: --format json, or --save FILE)[/]")


def _nested(values: list[float], shape: tuple[int, ...]) -> Any:
    if not shape:
        return values[0]
    if len(shape) == 1:
        return list(values)
    return [list(values[i * shape[1]:(i + 1) * shape[1]]) for i in range(shape[0])]


def _scalar_rows(report: TrainReport, console: Any) -> None:
    result, closed, check = report.result, report.closed_form, report.check
    columns = [text_column("param"), Column("value")]
    if closed:
        columns.append(Column("least squares"))
    if check and check.gradients:
        columns += [Column("∂loss/∂param (backprop)"), Column("symbolic"), text_column("agree")]
    rows = []
    for name, value in result.params.items():
        cells: list[object] = [name, number(value)]
        if closed:
            cells.append(number(closed.params[name]))
        if check and check.gradients:
            g = check.gradients[name]
            cells += [number(g["backprop_value"]), number(g["symbolic_value"]), verdict_cell(g["agree"])]
        rows.append(cells)
    print_table(console, columns, rows)


def verdicts(report: TrainReport) -> list[str]:
    """One line per question, each with its own mark: did the fit reach a minimum, is it the
    optimum (where a closed form says), and do the two engines agree on the final gradient."""
    from rich.markup import escape

    from ..training.loop import OPTIMAL  # numpy

    result, lines = report.result, []

    def line(ok: bool, text: str) -> None:
        lines.append(f"[{'green' if ok else 'red'}]{mark(ok)}[/] {escape(text)}")

    if result.diverged:
        line(False, "diverged")
        return lines
    how = f"the largest gradient is {result.optimality:.2g} of the per-row terms it sums (a minimum: <= {OPTIMAL:g})"
    if result.converged and result.optimality is not None and result.optimality > OPTIMAL:
        how = "the loss fell to rounding of 0, an exact fit (where the gradient's ratio to its terms says nothing)"
    line(result.converged, f"{'converged' if result.converged else 'not converged'}: {how}")
    closed = report.closed_form
    if closed:
        where = "at the optimum" if report.at_optimum else "short of the optimum"
        above = (f"the loss is {report.excess_loss:.2g} (relative) above least squares' {number(closed.loss)}"
                 if not report.exact_fit else
                 f"an exact fit, the loss {number(report.result.loss)} beside least squares' {number(closed.loss)}")
        line(bool(report.at_optimum), f"{where}: {above} (numpy.linalg.lstsq); the parameters "
                                      f"{closed.distance:.3g} apart (relative {closed.relative_distance:.3g})")
    check = report.check
    if check and check.agree is not None:
        verdict = "engines agree" if check.agree else "engines disagree"
        witness = check.witness or "symbolic"
        if report.problem.tensor and witness == "symbolic":
            witness = "symbolic (SymPy entry by entry)"
        line(check.agree, f"{verdict} on the final gradient over all rows, {witness} vs backprop "
                          f"(rtol {check.rtol:g}, atol {check.atol:.3g})")
    return lines


def train_json(report: TrainReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    json.dump(report.to_dict(), stream, indent=2, allow_nan=True)
    stream.write("\n")


def train_csv(report: TrainReport, stream: IO[str] | None = None) -> None:
    """One row per parameter: its trained value, the least-squares value and the final gradient."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["param", "value", "least_squares", "gradient"])
    for name, value in report.result.params.items():
        closed = report.closed_form.params[name] if report.closed_form else ""
        gradient = report.check.gradients[name]["backprop_value"] if report.check and report.check.gradients else ""
        writer.writerow([name, repr(value), repr(closed) if closed != "" else "",
                         repr(gradient) if gradient != "" else ""])


offer("train", {"table": train_table, "json": train_json, "csv": train_csv},
      "table for people; json or csv for programs.")
