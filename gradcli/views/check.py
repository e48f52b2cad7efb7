"""Rendering `gradcli check`: the verdict on a claimed derivative as text for people, and JSON."""

from __future__ import annotations

import json
import sys
from typing import IO

from ..compare.verdicts import condition_text
from ..tasks.check import CheckReport, Sample
from .common import console_for, mark, number
from .formats import offer


def check_lines(report: CheckReport) -> list[str]:
    """The report as plain lines, the verdict last."""
    partial = f"∂loss/∂{report.wrt}"
    lines = [f"model    {report.model}", f"loss     {report.loss}: {report.loss_formula}  (per row)",
             f"claim    {partial} = {report.claim_formula}"]
    if report.difference is not None and report.symbolic == "not equivalent":
        lines.append(f"SymPy    not equivalent: claim - derivative = {report.difference}, "
                     "not 0 where the numbers differ")
    else:
        lines.append(f"SymPy    {report.symbolic}: {report.symbolic_note}")
    tolerance = f"(rtol {report.rtol:g}, atol {report.atol:g})"
    for sample in (report.random if report.points else None, report.data):
        if sample is not None:
            lines.append(f"numbers  {_sample_line(sample)} {tolerance}")
    example = report.counterexample
    if example is not None:
        at = ", ".join(f"{name}={number(value)}" for name, value in example.point.items())
        lines.append(f"  at {example.source}: {at}")
        claim = "undefined" if example.claim is None else number(example.claim)
        lines.append(f"    claim       {claim}")
        sympy = "" if example.symbolic is None else f"; SymPy {number(example.symbolic)}"
        lines.append(f"    derivative  {number(example.derivative)}  (backprop{sympy})")
    if not report.correct:
        if report.derivative is not None:
            graph = (f"  (in the graph's terms: {report.graph_derivative})"
                     if report.graph_derivative and report.graph_derivative != report.derivative else "")
            lines.append(f"correct  {partial} = {report.derivative}{graph}")
        elif report.graph_derivative is not None:
            lines.append(f"correct  {partial} = {report.graph_derivative}  (the graph engine's derivative graph)")
        lines += _diagnosis(report)
    return lines


def _sample_line(sample: Sample) -> str:

    kind = {"random": "random points", "data": "data points", "given": "the point given"}[sample.kind]
    if sample.kind == "given":
        verb = ("undefined at" if not sample.points else "the claim is undefined at" if not sample.compared
                else "differ at" if sample.differ else "equal at")
        within = (f" (within float64's resolution, {condition_text(sample.condition)})"
                  if sample.within_resolution else "")
        return f"{verb} {kind}{within}"
    if sample.points and not sample.compared:
        return f"none of the {sample.points:,} {kind} could be compared: the claim is undefined there"
    if sample.compared == 1:
        verb = f"{'differ' if sample.differ else 'equal'} at the one {kind[:-1]} compared"
    else:
        verb = (f"differ at {sample.differ:,} of {sample.compared:,}" if sample.differ
                else f"equal at all {sample.compared:,}") + f" {kind}"
    how_many = f"{sample.within_resolution:,} " if sample.compared > 1 else ""
    skipped = [f"{how_many}within float64's resolution ({condition_text(sample.condition)})"
               ] if sample.within_resolution else []
    skipped += [f"{sample.outside:,} outside the domain skipped"] if sample.outside else []
    skipped += [f"{sample.claim_undefined:,} where only the claim is undefined"] if sample.claim_undefined else []
    return verb + (f" ({'; '.join(skipped)})" if skipped else "")


def _diagnosis(report: CheckReport) -> list[str]:
    lines = []
    if report.ratio is not None:
        how = "the sign is wrong" if report.ratio == -1 else f"the claim is {number(report.ratio)} times the derivative"
        lines.append(f"factor   {how} (at every point)")
    factors = report.factors
    if factors is None:
        return lines
    for missing in factors.missing:
        lines.append(f"factors  missing: {missing.text()}")
    for extra in factors.extra:
        lines.append(f"factors  extra: {extra} (no local derivative on the path from the loss to {report.wrt} "
                     "matches it)")
    for path in factors.missing_paths:
        lines.append(f"paths    missing: the path {path} (the claim adds up only the other paths)")
    return lines


def check_text(report: CheckReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    from rich.markup import escape

    console = console_for(stream)
    for line in check_lines(report):
        console.print(escape(line))
    if report.correct:
        console.print(f"[green]{mark(True)}[/] the claim is right: it is ∂loss/∂{escape(report.wrt)}")
    else:
        console.print(f"[red]{mark(False)}[/] the claim is wrong")


def check_json(report: CheckReport, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    json.dump(report.to_dict(), stream, indent=2)
    stream.write("\n")


offer("check", {"table": check_text, "json": check_json}, "table for people; json for programs.")
