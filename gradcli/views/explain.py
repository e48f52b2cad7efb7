"""Rendering `gradcli explain`: the steps as text for people, JSON for programs, a LaTeX fragment.

Rendering never computes; it takes the Explanation that explain.explain returns.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from ..explaining.reports import Explanation, ParamSteps, TensorExplanation
from .common import console_for, entries_text, formula_shown, number, operations_text, plural, tensor_text
from .cost import cost_lines
from .explain_latex import explanation_latex
from .formats import offer

ARROW = " → "


def _point_line(view: Any) -> str:
    values = ", ".join(f"{k}={number(v)}" for k, v in view.params.items())
    point = ", ".join(f"{k}={number(v)}" for k, v in view.point.items())
    return " | ".join(part for part in (values, point) if part)


def _aligned(rows: list[tuple[str, ...]], indent: str = "   ") -> list[str]:
    """Rows of cells as lines with every column but the last padded to its widest cell."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [indent + "  ".join([cell.ljust(w) for cell, w in zip(row, widths)] + [row[-1]]).rstrip()
            for row in rows]


def _check_mark(agree: bool | None) -> str:
    return {True: "✓", False: "✗ DISAGREE", None: "(not compared: within rounding of a kink)"}[agree]


# ---------------------------------------------------------------- text


def explanation_lines(ex: Explanation) -> list[str]:
    """The whole explanation as plain lines (the text format prints them)."""
    view = ex.view
    lines = [f"model {view.model}", f"loss  {view.loss}: {view.loss_formula}  =  {number(view.loss_value)}",
             f"at    {_point_line(view)}"]
    if view.defaults:
        lines.append("defaults used: " + ", ".join(f"{k}={number(v)}" for k, v in view.defaults.items()))
    if ex.order == 2:
        lines += ["", f"Second derivatives as backprop applied to the backward pass: g = ∂loss/∂{ex.first} is itself a "
                      f"graph, and backprop through it gives ∂g/∂w = ∂²loss/∂{ex.first}∂w"]
    lines += ["", "1. The old-fashioned derivatives (SymPy, from the whole formula)"]
    lines += _aligned([(ex.label(s.param), f"= {formula_shown(s.symbolic)}", f"= {number(s.symbolic_value)}")
                       for s in ex.steps])
    lines += ["", "2. The intermediate nodes"
              + (" (of the derivative graph: the backward pass)" if ex.order == 2 else "")]
    rows = []
    for node in view.nodes:
        if node.op is None:
            continue
        same = node.formula == node.text or node.id == view.prediction
        rows.append((node.name, f"= {node.formula}", f"= {number(node.value)}", "" if same else f"that is {node.text}"))
    lines += _aligned(rows)
    lines += [f"   note: {note}" for note in view.notes]
    for step in ex.steps:
        lines += ["", f"── {step.param} ──"] + _param_lines(step, ex.of)
    lines += ["", "Calculate once, use many times"] + _count_lines(ex)
    if ex.cost is not None:
        lines += ["", "Forward mode against reverse mode (arithmetic counted as the sweeps ran, at this row)"]
        lines += cost_lines(ex.cost)
    return lines


def _param_lines(step: ParamSteps, of: str = "loss") -> list[str]:
    """Steps 3-5 for one parameter; `of` is what the paths start from (the loss, or g at order 2)."""
    lines = _loss_param_lines(step)
    if of == "loss":
        return lines
    return [line.replace("∂loss/∂", f"∂{of}/∂").replace("from the loss", f"from {of}") for line in lines]


def _loss_param_lines(step: ParamSteps, numbered: tuple[str, str] = ("3. ", "4. "), check: bool = True) -> list[str]:
    """Steps 3-5 for one parameter: the chain rule, the paths and (check) the check against SymPy;
    `numbered` starts the first two headings."""
    p = step.param
    lines = [f"{numbered[0]}The chain rule: multiply the local derivatives along each path, add the paths"]
    if not step.paths:
        return lines + [f"   no path leads from the loss to {p}: ∂loss/∂{p} = 0"]
    products = [" · ".join(path.partials) for path in step.paths]
    left = step.paths_left_out
    more = [f"   + … ({left:,} more path{'s' if left != 1 else ''})"] if left else []
    lines += [f"   ∂loss/∂{p} = {products[0]}"] + [f"{'':>{len(p) + 13}}+ {text}" for text in products[1:]] + more
    lines.append("   where each local derivative is")
    seen: dict[str, tuple[str, str, str]] = {}
    for path in step.paths:
        for partial, local, value in zip(path.partials, path.locals, path.local_values):
            seen.setdefault(partial, (partial, f"= {local}", "" if local == number(value) else f"= {number(value)}"))
    lines += _aligned(list(seen.values()), "     ")
    shown = len(step.paths)
    count = f"{step.paths_total:,}" + (f" (the first {shown} listed, {step.paths_left_out:,} left out)"
                                       if step.paths_left_out else "")
    lines.append(f"{numbered[1]}Paths from the loss back to {p}: {count}")
    lines += _aligned([(ARROW.join(path.nodes) + ":", " × ".join(number(v) for v in path.local_values),
                        f"= {number(path.product)}") for path in step.paths])
    if step.path_sum is not None:
        lines.append(f"   sum over paths = {number(step.path_sum)}")
    else:
        shown_terms = step.adjoint_terms[:len(step.paths)]
        rest = len(step.adjoint_terms) - len(shown_terms)
        more = f" + … ({plural(rest, 'more edge')})" if rest else ""
        terms = " + ".join(f"{number(t.adjoint)} × {number(t.local_value)}" for t in shown_terms) + more
        names = " + ".join(f"∂loss/∂{t.node} · {t.partial}" for t in shown_terms) + more
        lines += [f"   instead of the sum over all {step.paths_total:,} paths, the reverse sweep's adjoint, "
                  f"formed from {p}'s own edges:",
                  f"   ∂loss/∂{p} = {names}", f"{'':>{len(p) + 11}}= {terms} = {number(step.adjoint)}"]
    if not check:
        return lines
    what = "sum over paths" if step.path_sum is not None else "the sweep's adjoint"
    value = step.path_sum if step.path_sum is not None else step.adjoint
    lines.append(f"5. Check: {what} {number(value)} = SymPy's {number(step.symbolic_value)}  "
                 f"{_check_mark(step.agree)}")
    return lines


def _count_lines(ex: Explanation) -> list[str]:
    c = ex.op_counts
    n = len(ex.steps)
    lines = _aligned([
        (f"backprop, {'all ' if n > 1 else ''}{plural(n, 'gradient')} in one sweep:",
         plural(c.backprop_total, "operation")),
        ("  forward pass", operations_text(c.forward)),
        ("  local derivatives", f"{c.local_derivatives:,} used, whose formulas cost {operations_text(c.local)}"),
        ("  reverse sweep", f"{plural(c.reverse['multiplications'], 'multiplication')} (adjoint × local derivative; "
                            f"a local derivative of 1 passes the adjoint on), "
                            f"{plural(c.reverse['additions'], 'addition')} (where paths meet)"),
        ("old-fashioned, each derivative evaluated on its own:", plural(c.symbolic_total, "operation")),
        ("  SymPy's count_ops", operations_text(c.symbolic) + "  (" +
         ", ".join(f"{k} {v:,}" for k, v in c.symbolic_per_param.items()) + ")"),
    ])
    if ex.reused:
        lines.append("   computed once, reused:")
        lines += _aligned([(f"∂loss/∂{r.node} = {number(r.adjoint)}", f"by {', '.join(r.params)}")
                           for r in ex.reused], "     ")
    elif n > 1:
        lines.append("   no adjoint below the loss is shared by two of these parameters")
    return lines


def explanation_text(ex: Explanation | TensorExplanation, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    from rich.markup import escape

    console = console_for(stream)
    lines = tensor_lines(ex) if isinstance(ex, TensorExplanation) else explanation_lines(ex)
    for line in lines:
        heading = line[:2] in ("1.", "2.", "3.", "4.", "5.", "──") or line.startswith(("Calculate", "Forward mode"))
        console.print(f"[bold]{escape(line)}[/]" if heading else escape(line))
    summary = {True: "[green]every check passes[/]", False: "[red]a check failed[/]",
               None: "nothing was compared"}[ex.agree]
    console.print(summary + f" (rtol {ex.rtol:g}, atol {ex.atol:g})")


def explanation_json(ex: Explanation | TensorExplanation, stream: IO[str] | None = None) -> None:
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    json.dump(ex.to_dict(), stream, indent=2)
    stream.write("\n")


# ---------------------------------------------------------------- vectors and matrices


def _shape(shape: list[int]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def tensor_lines(ex: TensorExplanation) -> list[str]:
    """explain on a model with vectors and matrices: the layers, the backward pass as matrix products at
    the point and over the batch, one entry as the sum over paths, the checks and the counts."""
    view = ex.view
    point = ", ".join(f"{k}={number(v)}" for k, v in view.point.items())
    gathered = "; ".join(f"{name} = [{', '.join(columns)}]" for name, columns in view.gathered.items())
    lines = [f"model {view.model}", f"loss  {view.loss}: {view.loss_formula}  =  {number(view.loss_value)}",
             f"at    {point}" + (f"  ({gathered})" if gathered else "")]
    for name, value in view.params.items():
        shape = _shape(view.shapes[name])
        drawn = view.defaults.get(name)
        how = f"{shape}; no value given: {drawn}" if drawn is not None else shape
        shown = f"{value:.6g}" if not isinstance(value, list) else _entries(value)
        lines.append(f"      {name} = {shown}  ({how})")

    lines += ["", "1. The layers, forward: one node per tensor operation, with its shape"]
    rows = [(s.name, f"= {s.formula}", _shape(s.shape), f"= {tensor_text(s.value)}",
             "" if s.formula == s.text or s.id == view.prediction else f"that is {s.text}") for s in ex.forward]
    lines += _aligned(rows)

    chosen = [g.param for g in ex.gradients]
    lines += ["", "2. The backward pass, layer by layer as matrix products: δa = ∂loss/∂a, in a's shape",
              "   (the sum of the vector-Jacobian products from the nodes that use a; ⊙ is entry by entry, "
              "ᵀ transposes)"]
    lines += _aligned([(s.label, f"= {s.formula}", _shape(s.shape), f"= {tensor_text(s.value)}")
                       for s in ex.backward])

    data = ", ".join(f"{name} is {shape}" for name, shape in ex.batch_leaves.items())
    lines += ["", f"3. The same sweep over the batch: the N rows of the data stacked (here N = {ex.rows:,})",
              f"   {data}: one row per data row; Δa holds each row's ∂loss/∂a, and a parameter's gradient",
              "   sums over the rows (Σₙ, or inside a matrix product); the numbers are over the N rows",
              "   forward"]
    lines += _aligned([(s.batch_name, f"= {s.batch_formula}", s.batch_shape) for s in ex.forward], "     ")
    lines.append("   backward")
    lines += _aligned([(s.batch_label, f"= {s.batch_formula}", s.batch_shape,
                        f"= {tensor_text(s.batch_value)}" if s.label.startswith("∂") else "")
                       for s in ex.backward], "     ")

    entry = ex.entry
    if entry is not None:
        lines += ["", f"4. One entry, {entry.param}, by the sum over paths of the scalar graph: the model "
                      f"written out neuron by neuron ({entry.graph_nodes} nodes)"]
        lines += ["   " + line if not line.startswith("   ") else "  " + line
                  for line in _loss_param_lines(entry.steps, ("", ""), check=False)]
        what = "sum over paths" if entry.steps.path_sum is not None else "the sweep's adjoint"
        value = entry.steps.path_sum if entry.steps.path_sum is not None else entry.steps.adjoint
        lines += ["", "5. Check",
                  f"   {what} {number(value)} = the matrix form's ∂loss/∂{entry.param} "
                  f"{number(entry.matrix_value)}  {_check_mark(entry.agree)}"]
        if entry.symbolic_value is not None:
            lines += [f"   SymPy's derivative of the written-out model {number(entry.symbolic_value)} = the matrix "
                      f"form's  {_check_mark(entry.symbolic_agree)}",
                      f"     ∂loss/∂{entry.param} = {entry.symbolic}"]
    else:
        lines += ["", "5. Check"]
    for g in ex.gradients:
        if g.symbolic_values is None:
            continue
        many = f"all {len(g.entries)} entries" if len(g.entries) > 1 else g.entries[0]
        lines.append(f"   ∂loss/∂{g.param} ({_shape(g.shape)}), {many}: the matrix form against SymPy's derivatives "
                     f"entry by entry, largest |diff| {g.max_abs_diff:.3g}  {_check_mark(g.agree)}")
    lines += [f"   note: {note}" for note in ex.notes + view.notes]

    c = ex.op_counts
    n = len(ex.chosen)
    which = f"{'all ' if n > 1 else ''}{plural(n, 'gradient')} of {', '.join(chosen)}"
    rows = [(f"the matrix sweep, {which} in one sweep:", plural(c.total, "operation")),
            ("  forward pass", operations_text(c.forward)),
            ("  local derivatives", operations_text(c.local)),
            ("  reverse sweep", operations_text(c.reverse)),
            ("  of which in matrix products", plural(c.multiply_adds, "multiply-add") + " (forward and back)")]
    if c.scalar is not None:
        rows.append(("the same sweep on the scalar graph, neuron by neuron:", plural(c.scalar.backprop_total,
                                                                                       "operation")))
    if c.scalar is not None and c.symbolic:
        rows.append(("old-fashioned, each derivative evaluated on its own:",
                     plural(c.scalar.symbolic_total, "operation") + f" (SymPy's count_ops over {plural(n, 'entry')})"
                     .replace("entrys", "entries")))
    lines += ["", "Calculate once, use many times"] + _aligned(rows)
    return lines


def _entries(value: Any) -> str:
    return entries_text(value)


# explain's table was called "text" before: scripts that ask for it still get it
offer("explain", {"table": explanation_text, "json": explanation_json, "latex": explanation_latex,
                   "html": "page:page_format"},  # the page and its drawing: imported when a page is drawn
      "table for people; json for programs; latex for notes and slides; html, a page to step through (no network "
      "needed).", aliases={"text": "table"}, asks={"html": {"neuron_view": True}})
