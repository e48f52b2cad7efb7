"""Rendering `gradcli explain`: the steps as text for people, JSON for programs, a LaTeX fragment.

Rendering never computes; it takes the Explanation that explain.explain returns.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from ..explanation import Explanation, ParamSteps
from .common import console_for, number

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
    lines += ["", "1. The old-fashioned derivatives (SymPy, from the whole formula)"]
    lines += _aligned([(f"∂loss/∂{s.param}", f"= {s.symbolic}", f"= {number(s.symbolic_value)}") for s in ex.steps])
    lines += ["", "2. The intermediate nodes"]
    rows = []
    for node in view.nodes:
        if node.op is None:
            continue
        same = node.formula == node.text or node.id == view.prediction
        rows.append((node.name, f"= {node.formula}", f"= {number(node.value)}", "" if same else f"that is {node.text}"))
    lines += _aligned(rows)
    lines += [f"   note: {note}" for note in view.notes]
    for step in ex.steps:
        lines += ["", f"── {step.param} ──"] + _param_lines(step)
    lines += ["", "Calculate once, use many times"] + _count_lines(ex)
    return lines


def _param_lines(step: ParamSteps) -> list[str]:
    p = step.param
    lines = ["3. The chain rule: multiply the local derivatives along each path, add the paths"]
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
    lines.append(f"4. Paths from the loss back to {p}: {count}")
    lines += _aligned([(ARROW.join(path.nodes) + ":", " × ".join(number(v) for v in path.local_values),
                        f"= {number(path.product)}") for path in step.paths])
    if step.path_sum is not None:
        lines.append(f"   sum over paths = {number(step.path_sum)}")
    else:
        shown_terms = step.adjoint_terms[:len(step.paths)]
        rest = len(step.adjoint_terms) - len(shown_terms)
        more = f" + … ({_plural(rest, 'more edge')})" if rest else ""
        terms = " + ".join(f"{number(t.adjoint)} × {number(t.local_value)}" for t in shown_terms) + more
        names = " + ".join(f"∂loss/∂{t.node} · {t.partial}" for t in shown_terms) + more
        lines += [f"   instead of the sum over all {step.paths_total:,} paths, the reverse sweep's adjoint, "
                  f"formed from {p}'s own edges:",
                  f"   ∂loss/∂{p} = {names}", f"{'':>{len(p) + 11}}= {terms} = {number(step.adjoint)}"]
    what = "sum over paths" if step.path_sum is not None else "the sweep's adjoint"
    value = step.path_sum if step.path_sum is not None else step.adjoint
    lines.append(f"5. Check: {what} {number(value)} = SymPy's {number(step.symbolic_value)}  "
                 f"{_check_mark(step.agree)}")
    return lines


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _ops(counts: dict[str, int]) -> str:
    singular = {"multiplications": "multiplication", "additions": "addition", "other": "other"}
    return ", ".join(_plural(n, singular[kind]).replace("others", "other") for kind, n in counts.items() if n) or "none"


def _count_lines(ex: Explanation) -> list[str]:
    c = ex.op_counts
    n = len(ex.steps)
    lines = _aligned([
        (f"backprop, {'all ' if n > 1 else ''}{_plural(n, 'gradient')} in one sweep:", _plural(c.backprop_total, "operation")),
        ("  forward pass", _ops(c.forward)),
        ("  local derivatives", f"{c.local_derivatives:,} used, whose formulas cost {_ops(c.local)}"),
        ("  reverse sweep", f"{_plural(c.reverse['multiplications'], 'multiplication')} (adjoint × local derivative; "
                            f"a local derivative of 1 passes the adjoint on), "
                            f"{_plural(c.reverse['additions'], 'addition')} (where paths meet)"),
        ("old-fashioned, each derivative evaluated on its own:", _plural(c.symbolic_total, "operation")),
        ("  SymPy's count_ops", _ops(c.symbolic) + "  (" +
         ", ".join(f"{k} {v:,}" for k, v in c.symbolic_per_param.items()) + ")"),
    ])
    if ex.reused:
        lines.append("   computed once, reused:")
        lines += _aligned([(f"∂loss/∂{r.node} = {number(r.adjoint)}", f"by {', '.join(r.params)}")
                           for r in ex.reused], "     ")
    elif n > 1:
        lines.append("   no adjoint below the loss is shared by two of these parameters")
    return lines


def explanation_text(ex: Explanation, stream: IO[str] = sys.stdout) -> None:
    from rich.markup import escape

    console = console_for(stream)
    for line in explanation_lines(ex):
        heading = line[:2] in ("1.", "2.", "3.", "4.", "5.", "──") or line.startswith("Calculate")
        console.print(f"[bold]{escape(line)}[/]" if heading else escape(line))
    summary = {True: "[green]every check passes[/]", False: "[red]a check failed[/]",
               None: "nothing was compared"}[ex.agree]
    console.print(summary + f" (rtol {ex.rtol:g}, atol {ex.atol:g})")


def explanation_json(ex: Explanation, stream: IO[str] = sys.stdout) -> None:
    json.dump(ex.to_dict(), stream, indent=2)
    stream.write("\n")


# ---------------------------------------------------------------- LaTeX

_TEX_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "^": r"\^{}", "%": r"\%",
                 "&": r"\&", "#": r"\#", "$": r"\$", "~": r"\~{}", "|": r"\textbar{}"}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIALS.get(ch, ch) for ch in text)


def _flatten(sp: Any, expr: Any) -> Any:
    """b + a1 + a2 rather than (b + a1) + a2: unevaluated sums and products flattened, nothing else changed."""
    if not expr.args:
        return expr
    args = [_flatten(sp, a) for a in expr.args]
    if isinstance(expr, (sp.Add, sp.Mul)):
        flat = [part for a in args for part in (a.args if type(a) is type(expr) else (a,))]
        return type(expr)(*flat, evaluate=False)
    try:
        return expr.func(*args, evaluate=False)
    except TypeError:
        return expr.func(*args)


class _Latex:
    """SymPy's LaTeX printer for names, formulas (parsed by gradcli's own parser) and derivatives."""

    def __init__(self) -> None:
        import sympy as sp

        self.sp = sp
        self.names = {"yhat": r"\hat{y}", "loss": r"\mathrm{loss}"}
        named = ("sigmoid", "softplus", "relu")
        self.functions = {name: sp.Function(name) for name in named}

    def symbol_names(self, expr: Any) -> dict[Any, str]:
        return {s: self.names[s.name] for s in expr.free_symbols if s.name in self.names}

    def name(self, name: str) -> str:
        return self.formula(name)

    def formula(self, text: str) -> str:
        """A formula in node names, as LaTeX; text our parser does not read is set verbatim."""
        from ..engines.symbolic import to_sympy
        from ..errors import ParseError
        from ..language.expr import parse, symbols

        sp = self.sp
        try:
            tree = parse(text, what="formula")
        except ParseError:
            return rf"\texttt{{{_tex_escape(text)}}}"
        with sp.evaluate(False):  # keep the formula as written: a3**2, not a rearranged form
            expr = _flatten(sp, to_sympy(tree, {n: sp.Symbol(n) for n in symbols(tree)}, self.functions))
        return sp.latex(expr, order="none", symbol_names=self.symbol_names(expr))

    def expression(self, expr: Any) -> str:
        return self.sp.latex(expr, symbol_names=self.symbol_names(expr))

    def partial(self, of: str, by: str) -> str:
        return rf"\frac{{\partial {self.name(of)}}}{{\partial {self.name(by)}}}"


def _tex_number(value: float | None) -> str:
    text = number(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


def explanation_latex(ex: Explanation, stream: IO[str] = sys.stdout) -> None:
    """The steps as a LaTeX fragment (needs amsmath) for notes and slides."""
    tex = _Latex()
    view = ex.view
    model = " ".join(view.model.split())  # a --model-file may span lines; a comment may not
    out: list[str] = [
        f"% gradcli explain: {model}  (loss {view.loss})",
        "% a LaTeX fragment; needs \\usepackage{amsmath}",
        rf"\paragraph{{The model}} $\hat{{y}} = {tex.formula(model)}$, "
        rf"loss ${tex.formula(view.loss_formula)} = {_tex_number(view.loss_value)}$ at "
        + ", ".join(f"${tex.name(k)} = {_tex_number(v)}$" for k, v in {**view.params, **view.point}.items()) + ".",
        "",
        r"\paragraph{1. The old-fashioned derivatives (SymPy)}",
    ]
    rows = []
    for step in ex.steps:
        formula = tex.expression(step.derivative) if step.derivative is not None else tex.formula(step.symbolic or "")
        rows.append(rf"{tex.partial('loss', step.param)} &= {formula} = {_tex_number(step.symbolic_value)}")
    # An empty align* does not compile: a model without parameters gets a sentence instead.
    out += [r"\begin{align*}", " \\\\\n".join(rows), r"\end{align*}"] if rows else ["The model has no parameters."]
    out += ["", r"\paragraph{2. The intermediate nodes}", r"\begin{align*}"]
    out.append(" \\\\\n".join(rf"{tex.name(n.name)} &= {tex.formula(n.formula)} = {_tex_number(n.value)}"
                              for n in view.nodes if n.op is not None))
    out.append(r"\end{align*}")
    out += [_tex_escape(note) for note in view.notes]
    for step in ex.steps:
        out += ["", *_latex_param(tex, step)]
    c = ex.op_counts
    out += ["", r"\paragraph{Calculate once, use many times}",
            rf"Backprop, all {len(ex.steps)} gradients in one sweep: {c.backprop_total} operations "
            rf"(forward pass {_ops(c.forward)}; local derivatives {_ops(c.local)}; reverse sweep "
            rf"{c.reverse['multiplications']} multiplications, {c.reverse['additions']} additions). "
            rf"Each old-fashioned derivative evaluated on its own: {c.symbolic_total} operations "
            rf"({_ops(c.symbolic)})."]
    if ex.reused:
        out.append("Computed once and reused: " + "; ".join(
            rf"${tex.partial('loss', r.node)} = {_tex_number(r.adjoint)}$ by "
            + ", ".join(f"${tex.name(p)}$" for p in r.params) for r in ex.reused) + ".")
    stream.write("\n".join(out) + "\n")


def _latex_param(tex: _Latex, step: ParamSteps) -> list[str]:
    p = step.param
    out = [rf"\paragraph{{Steps 3 to 5 for ${tex.name(p)}$}}"]
    if not step.paths:
        return out + [rf"No path leads from the loss to ${tex.name(p)}$: the derivative is $0$."]
    def chain(path: Any) -> str:
        return r" \, ".join(tex.partial(n, m) for n, m in zip(path.nodes, path.nodes[1:]))
    chains = " + ".join(chain(path) for path in step.paths) + (r" + \dots" if step.paths_left_out else "")
    out += [r"The chain rule:", rf"\[ {tex.partial('loss', p)} = {chains} \]", "with the local derivatives",
            r"\begin{align*}"]
    seen: dict[str, str] = {}
    for path in step.paths:
        for (of, by), local, value in zip(zip(path.nodes, path.nodes[1:]), path.locals, path.local_values):
            seen.setdefault(f"{of}/{by}/{local}",
                            rf"{tex.partial(of, by)} &= {tex.formula(local)} = {_tex_number(value)}")
    out += [" \\\\\n".join(seen.values()), r"\end{align*}"]
    left = f" (the first {len(step.paths)} listed, {step.paths_left_out} left out)" if step.paths_left_out else ""
    out += [f"Paths from the loss back to ${tex.name(p)}$: {step.paths_total}{left}.", r"\begin{align*}"]
    out.append(" \\\\\n".join(
        r" \to ".join(tex.name(n) for n in path.nodes) + " &: "
        + r" \cdot ".join(_tex_number(v) for v in path.local_values) + f" = {_tex_number(path.product)}"
        for path in step.paths))
    out.append(r"\end{align*}")
    if step.path_sum is not None:
        out.append(rf"Sum over paths: ${_tex_number(step.path_sum)}$; SymPy: ${_tex_number(step.symbolic_value)}$.")
    else:
        shown_terms = step.adjoint_terms[:len(step.paths)]
        more = r" + \dots" if len(shown_terms) < len(step.adjoint_terms) else ""
        terms = " + ".join(rf"{_tex_number(t.adjoint)} \cdot {_tex_number(t.local_value)}" for t in shown_terms) + more
        out.append(rf"The reverse sweep's adjoint instead: ${tex.partial('loss', p)} = {terms} = "
                   rf"{_tex_number(step.adjoint)}$; SymPy: ${_tex_number(step.symbolic_value)}$.")
    out.append({True: "They agree.", False: r"\textbf{They disagree.}", None: "Not compared (within rounding of a kink)."}[step.agree])
    return out
