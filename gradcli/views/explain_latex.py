"""`gradcli explain --format latex`: the chain rule as LaTeX for notes and slides, a fragment or a
whole document, with long formulas broken across lines where they fit."""

from __future__ import annotations

import re
import sys
import textwrap
from typing import IO, Any

from ..engines.symbolic import to_sympy
from ..errors import ParseError
from ..explaining.reports import Explanation, ParamSteps
from ..language.expr import parse, symbols
from ..language.ops import OPS
from .common import number, operations_text, plural

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
        self.functions = {name: sp.Function(name) for name, op in OPS.items() if op.latex_by_name}

    def symbol_names(self, expr: Any) -> dict[Any, str]:
        return {s: self.names[s.name] for s in expr.free_symbols if s.name in self.names}

    def name(self, name: str) -> str:
        return self.formula(name)

    def formula(self, text: str) -> str:
        """A formula in node names, as LaTeX; text our parser does not read is set verbatim."""
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


# ---------------------------------------------------------------- long formulas, broken over lines
#
# amsmath breaks no display by itself (breqn would, but it is not in texlive-latex-base), so every
# display is an align* whose long rows are broken here: before a binary operator at the top level
# (+, -, =, \cdot, \to, or between the factors of a chain rule), never inside braces (a \frac, a
# subscript). A break inside \left( ... \right) closes the group with \right. at the end of the
# line and opens it again with \left. on the next, so each line is balanced. Widths are estimated
# in glyphs (an italic letter of 10pt maths is 1): article's 345pt text holds about 65.

TEX_LINE = 56.0  # glyphs one line of a display may take (a margin for the estimate's error)
TEX_LHS = 26.0  # a left side wider than this goes on its own line, left-aligned (a deep path)
_TOKEN = re.compile(r"\\(?:left|right)\s*(?:\\[A-Za-z]+|\\.|.)|\\[A-Za-z]+|\\.|\s+|.", re.DOTALL)
_BREAK_BEFORE = {"+", "-", "=", r"\cdot", r"\to", r"\times"}
_UNARY_AFTER = _BREAK_BEFORE | {"(", "[", ",", ":", "&", "^", "_", "/"}
_ZERO = {r"\mathrm", r"\hat", r"\operatorname", r"\mathit", r"\mathbf", r"\text", r"\textrm", r"\texttt",
         r"\displaystyle", r"\left.", r"\right."}
_SPACE = {r"\,": 0.3, r"\:": 0.4, r"\;": 0.5, r"\ ": 0.5, r"\quad": 2.0, r"\qquad": 4.0, r"\!": -0.3}
_OPERATOR = {"/": 1.2, "+": 2.4, "-": 2.4, "=": 2.8, r"\cdot": 1.4, r"\to": 3.0, r"\times": 2.4, ":": 1.6, ",": 0.9}

Piece = tuple[str, int]  # LaTeX text, and the \left groups open where it starts
_FACTOR = "\x00"  # starts a piece that is the next factor of a product: × where it starts a line


def _width(tokens: list[str], at: int = 0, stop: bool = False) -> tuple[float, int]:
    """The estimated width of tokens[at:] (to the closing brace with stop) and where it ended."""
    total = 0.0
    while at < len(tokens):
        tok = tokens[at]
        at += 1
        if tok == "}":
            if stop:
                return total, at
            continue
        if tok == "{":
            inner, at = _width(tokens, at, True)
            total += inner
        elif tok in (r"\begin", r"\end"):
            _, at = _atom(tokens, at)  # the environment's name takes no room
        elif tok == r"\frac":
            over, at = _atom(tokens, at)
            under, at = _atom(tokens, at)
            total += max(over, under) + 0.4
        elif tok in ("_", "^"):
            script, at = _atom(tokens, at)
            total += 0.7 * script
        elif tok.isspace() or tok in _ZERO:
            continue
        elif tok in _SPACE:
            total += _SPACE[tok]
        elif tok in _OPERATOR:
            total += _OPERATOR[tok]
        elif tok.startswith((r"\left", r"\right")):
            total += 0.8
        elif tok.startswith("\\") and len(tok) > 2 and tok[1:] in _NAMED_FUNCTIONS:
            total += len(tok) - 1  # \log, \tanh: upright letters
        else:
            total += 0.5 if tok in ".;'" else 1.4 if tok in "mwMW" else 1.0
    return total, at


_NAMED_FUNCTIONS = {"log", "exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "max", "min", "sign", "asin",
                    "acos", "atan", "asinh", "acosh", "atanh", "erf"}


def _atom(tokens: list[str], at: int) -> tuple[float, int]:
    """The width of the next argument: a {group} or one token."""
    while at < len(tokens) and tokens[at].isspace():
        at += 1
    if at < len(tokens) and tokens[at] == "{":
        return _width(tokens, at + 1, True)
    return _width(tokens[at:at + 1])[0], at + 1


def tex_width(tex: str) -> float:
    """The estimated width of a formula, in glyphs."""
    return _width(_TOKEN.findall(tex.lstrip(_FACTOR)))[0]


# Commands whose arguments are {groups} that must stay whole, and how many each takes.
_ARGUMENTS = {r"\frac": 2, r"\dfrac": 2, r"\binom": 2, r"\sqrt": 1, "_": 1, "^": 1, r"\operatorname": 1,
              r"\mathrm": 1, r"\mathit": 1, r"\mathbf": 1, r"\mathcal": 1, r"\boldsymbol": 1, r"\hat": 1,
              r"\bar": 1, r"\tilde": 1, r"\overline": 1, r"\text": 1, r"\textrm": 1, r"\texttt": 1,
              r"\begin": 1, r"\end": 1}


TEX_FRACTION = 36.0  # a \frac whose numerator or denominator is wider is written (top) / (bottom)
TEX_EXPONENT = 20.0  # e^{...} with a wider exponent is written \exp(...): an exponent cannot break


def _group(tokens: list[str], at: int) -> tuple[int, int] | None:
    """Where the {group} that starts at tokens[at] (after spaces) opens and closes; None if none does."""
    while at < len(tokens) and tokens[at].isspace():
        at += 1
    if at >= len(tokens) or tokens[at] != "{":
        return None
    depth = 0
    for end in range(at, len(tokens)):
        depth += {"{": 1, "}": -1}.get(tokens[end], 0)
        if depth == 0:
            return at, end
    return None


def _enclosed(tokens: list[str]) -> list[str]:
    return tokens if sum(not t.isspace() for t in tokens) == 1 else [r"\left(", *tokens, r"\right)"]


def _laid_flat(tokens: list[str]) -> list[str]:
    r"""Fractions and powers of e too wide for a line, rewritten so that their insides may break:
    \frac{a + ...}{b + ...} as (a + ...) / (b + ...), e^{-b - ...} as \exp(-b - ...)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        top = _group(tokens, i + 1) if tok == r"\frac" else None
        bottom = _group(tokens, top[1] + 1) if top else None
        if top and bottom:
            over, under = _laid_flat(tokens[top[0] + 1:top[1]]), _laid_flat(tokens[bottom[0] + 1:bottom[1]])
            if max(_width(over)[0], _width(under)[0]) > TEX_FRACTION:
                out += [*_enclosed(over), " ", "/", " ", *_enclosed(under)]
            else:
                out += [r"\frac", "{", *over, "}", "{", *under, "}"]
            i = bottom[1] + 1
            continue
        power = (_group(tokens, i + 2) if tok == "e" and tokens[i + 1:i + 2] == ["^"]
                 and (i == 0 or not tokens[i - 1].isalpha()) else None)
        if power:
            exponent = _laid_flat(tokens[power[0] + 1:power[1]])
            if _width(exponent)[0] > TEX_EXPONENT:
                out += [r"\exp", r"\left(", *exponent, r"\right)"]
                i = power[1] + 1
                continue
        out.append(tok)
        i += 1
    return out


def _unwrapped(tokens: list[str]) -> list[str]:
    r"""Tokens without the braces SymPy puts around a function's argument (\log{\left(x\right)}) or
    inside a \left|...\right| pair: the same formula, but one whose insides may break over lines.
    Braces that are a command's argument (\frac{...}{...}, x^{...}) stay."""
    braces: dict[int, int] = {}
    pairs: dict[int, int] = {}  # \left at i -> its \right
    stack: list[int] = []
    lefts: list[int] = []
    for i, tok in enumerate(tokens):
        if tok == "{":
            stack.append(i)
        elif tok == "}":
            if not stack:
                return tokens
            braces[stack.pop()] = i
        elif tok.startswith(r"\left"):
            lefts.append(i)
        elif tok.startswith(r"\right") and lefts:
            pairs[lefts.pop()] = i
    if stack or lefts:
        return tokens
    argument: set[int] = set()
    for i, tok in enumerate(tokens):
        at = i + 1
        for _ in range(_ARGUMENTS.get(tok, 0)):
            while at < len(tokens) and tokens[at].isspace():
                at += 1
            if at < len(tokens) and tokens[at] == "{":
                argument.add(at)
                at = braces[at] + 1
            else:
                at += 1
    right_of = {right: left for left, right in pairs.items()}
    dropped: set[int] = set()
    for start, end in braces.items():
        if start in argument:
            continue
        inside = [i for i in range(start + 1, end) if not tokens[i].isspace()]
        whole_pair = bool(inside) and pairs.get(inside[0]) == inside[-1]  # {\left( ... \right)}
        in_pair = start - 1 in pairs and right_of.get(end + 1) == start - 1  # \left|{ ... }\right|
        if whole_pair or in_pair:
            dropped |= {start, end}
    return [tok for i, tok in enumerate(tokens) if i not in dropped]


def tex_pieces(tex: str) -> list[Piece]:
    r"""A formula cut before each binary operator at its top level (outside braces): where it may break."""
    pieces: list[Piece] = []
    current: list[str] = []
    depth = lefts = opened = 0  # depth: braces and environments (a cases of a Piecewise) around tok
    previous = "("  # at the start a sign is unary
    between = False  # a space after a factor: a product may break here
    for tok in _unwrapped(_laid_flat(_TOKEN.findall(tex))):
        if tok in ("{", r"\begin"):
            depth += 1
        elif tok in ("}", r"\end"):
            depth -= 1
            if depth == 0:
                previous = "}"
        elif depth == 0 and tok.isspace():
            if previous not in _UNARY_AFTER and not previous.startswith(r"\left") and (
                    previous[:1] != "\\" or not previous[1:].isalpha()):
                between = True  # between two factors, if an operand follows
        elif depth == 0:
            if tok in _BREAK_BEFORE and previous not in _UNARY_AFTER and not previous.startswith(r"\left"):
                pieces.append(("".join(current).strip(), opened))
                current, opened = [], lefts
            elif between and tok not in _UNARY_AFTER and not tok.startswith(r"\right"):
                pieces.append(("".join(current).strip(), opened))  # a product may break, marked with ×
                current, opened = [_FACTOR], lefts
            between = False
            if tok.startswith(r"\left"):
                lefts += 1
            elif tok.startswith(r"\right"):
                lefts -= 1
            previous = tok
        current.append(tok)
    pieces.append(("".join(current).strip(), opened))
    return [piece for piece in pieces if piece[0]]


def _filled(pieces: list[Piece], first: float, rest: float) -> list[str]:
    r"""The pieces as lines, each within its width where a piece allows; balanced \left ... \right.

    A line is broken before an operator where it can be, and between two factors only where a
    stretch of product has no operator to break at.
    """
    lines: list[list[Piece]] = [[]]
    width = 0.0
    for piece in pieces:
        size = tex_width(piece[0])
        line = lines[-1]
        if line and width + size > (first if len(lines) == 1 else rest):
            cut = len(line)  # before this piece
            hard = [j for j in range(1, len(line)) if not line[j][0].startswith(_FACTOR)]
            if piece[0].startswith(_FACTOR) and hard:
                cut = hard[-1]  # back to the last operator, rather than split a term
            lines[-1], carried = line[:cut], line[cut:]
            lines.append(carried)
            width = sum(tex_width(text) for text, _ in carried)
        lines[-1].append(piece)
        width += size
    lines = [line for line in lines if line]
    out = []
    for k, line in enumerate(lines):
        opened = line[0][1] if k else 0
        closing = lines[k + 1][0][1] if k + 1 < len(lines) else 0
        texts = [text for text, _ in line]
        if texts[0].startswith(_FACTOR) and k:
            texts[0] = r"\times " + texts[0]
        text = " ".join(texts).replace(_FACTOR, "")
        if k and text.split(" ", 1)[0] in _BREAK_BEFORE | {r"\times"}:
            text = "{}" + text  # a binary operator, spaced as one, at the start of the line
        out.append(r"\left. " * opened + text + r" \right." * closing)
    return out


def _align(rows: list[tuple[list[Piece], str, list[Piece]]]) -> list[str]:
    """An align* of rows (left side, relation, right side), long ones broken over lines.

    With every left side narrow, the relations line up and a broken right side continues
    under its first line; where one is wide, every row starts at the left margin.
    """
    lhs_width = max((sum(tex_width(t) for t, _ in lhs) for lhs, _, _ in rows), default=0.0)
    body = []
    for lhs, relation, rhs in rows:
        if lhs_width <= TEX_LHS:
            rest = TEX_LINE - lhs_width - tex_width(relation) - 2.0  # under the first line, after \quad
            lines = _filled(rhs, rest + 2.0, rest)
            left = " ".join(t for t, _ in lhs)
            body.append(f"{left} &{relation} " + " \\\\\n&\\quad ".join(lines))
        else:
            lines = _filled([*lhs, (relation, 0), *rhs], TEX_LINE, TEX_LINE - 2.0)
            body.append("&" + " \\\\\n&\\quad ".join(lines))
    return [r"\begin{align*}", " \\\\\n".join(body), r"\end{align*}"]


def _formula_pieces(tex: _Latex, text: str) -> list[Piece]:
    """A formula in node names as pieces; one our parser does not read (huber's loss) is set in
    typewriter type, and may break between its words."""
    latex = tex.formula(text)
    if not latex.startswith(r"\texttt{"):
        return tex_pieces(latex)
    return [(rf"\texttt{{{' ' if k else ''}{_tex_escape(word)}}}", 0) for k, word in enumerate(text.split())]


def _value_piece(value: float | None) -> Piece:
    return (f"= {_tex_number(value)}", 0)


def explanation_latex(ex: Explanation, stream: IO[str] | None = None, *, standalone: bool = False) -> None:
    """The steps as a LaTeX fragment (needs amsmath) for notes and slides; with standalone, a whole
    document that pdflatex compiles (texlive-latex-base and amsmath are all it needs)."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    tex = _Latex()
    view = ex.view
    model = " ".join(view.model.split())  # a --model-file may span lines; a comment may not
    point = ", ".join(f"${tex.name(k)} = {_tex_number(v)}$" for k, v in {**view.params, **view.point}.items())
    out: list[str] = [f"% gradcli explain: {model}  (loss {view.loss})"]
    if standalone:
        out += ["% a LaTeX document: pdflatex compiles it", r"\documentclass{article}", r"\usepackage{amsmath}",
                r"\allowdisplaybreaks  % a long derivation may go on over a page",
                r"\setlength{\emergencystretch}{3em}  % and a sentence full of numbers over a line",
                r"\begin{document}"]
    else:
        out.append("% a LaTeX fragment; needs \\usepackage{amsmath} (and \\allowdisplaybreaks for long derivations)")
    out += [
        rf"\paragraph{{The model}} at {point or 'the defaults'} (loss {_tex_escape(view.loss)}):",
        *_align([([(r"\hat{y}", 0)], "=", _formula_pieces(tex, model)),
                 ([(tex.name("loss"), 0)], "=", [*_formula_pieces(tex, view.loss_formula),
                                                 _value_piece(view.loss_value)])]),
        "",
        r"\paragraph{1. The old-fashioned derivatives (SymPy)}",
    ]
    rows = []
    for step in ex.steps:
        formula = tex.expression(step.derivative) if step.derivative is not None else tex.formula(step.symbolic or "")
        rows.append(([(tex.partial("loss", step.param), 0)], "=", [*tex_pieces(formula),
                                                                     _value_piece(step.symbolic_value)]))
    # An empty align* does not compile: a model without parameters gets a sentence instead.
    out += _align(rows) if rows else ["The model has no parameters."]
    out += ["", r"\paragraph{2. The intermediate nodes}"]
    out += _align([([(tex.name(n.name), 0)], "=", [*_formula_pieces(tex, n.formula), _value_piece(n.value)])
                   for n in view.nodes if n.op is not None])
    out += [_tex_escape(note) for note in view.notes]
    for step in ex.steps:
        out += ["", *_latex_param(tex, step)]
    c = ex.op_counts
    n = len(ex.steps)
    out += ["", r"\paragraph{Calculate once, use many times}",
            f"Backprop, {'all ' if n > 1 else ''}{plural(n, 'gradient')} in one sweep: "
            f"{plural(c.backprop_total, 'operation')} (forward pass {operations_text(c.forward)}; local derivatives "
            f"{operations_text(c.local)}; reverse sweep {plural(c.reverse['multiplications'], 'multiplication')}, "
            f"{plural(c.reverse['additions'], 'addition')}). "
            f"{'Each old-fashioned derivative' if n > 1 else 'The old-fashioned derivative'} evaluated on its own: "
            f"{plural(c.symbolic_total, 'operation')} ({operations_text(c.symbolic)})."]
    if ex.reused:
        out.append("Computed once and reused: " + "; ".join(
            rf"${tex.partial('loss', r.node)} = {_tex_number(r.adjoint)}$ by "
            + ", ".join(f"${tex.name(p)}$" for p in r.params) for r in ex.reused) + ".")
    if standalone:
        out.append(r"\end{document}")
    stream.write("\n".join(_prose_wrapped(out)) + "\n")


def _prose_wrapped(out: list[str], width: int = 100) -> list[str]:
    """Lines of text (not comments, not displays) folded at spaces: a long source line is hard to edit."""
    folded, display = [], False
    for line in out:
        if line.startswith(r"\begin{align"):
            display = True
        if display or line.startswith("%") or len(line) <= width:
            folded.append(line)
        else:
            folded.append(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False))
        if line.startswith(r"\end{align"):
            display = False
    return folded


def _latex_param(tex: _Latex, step: ParamSteps) -> list[str]:
    p = step.param
    out = [rf"\paragraph{{Steps 3 to 5 for ${tex.name(p)}$}}"]
    if not step.paths:
        return out + [rf"No path leads from the loss to ${tex.name(p)}$: the derivative is $0$."]
    chains: list[Piece] = []
    for k, path in enumerate(step.paths):  # a break may come between two paths or two factors of one
        factors = [tex.partial(n, m) for n, m in zip(path.nodes, path.nodes[1:])]
        chains += [(("+ " if k and not i else r"\, " if i else "") + f, 0) for i, f in enumerate(factors)]
    if step.paths_left_out:
        chains.append((r"+ \dots", 0))
    out += [r"The chain rule:", *_align([([(tex.partial("loss", p), 0)], "=", chains)]), "with the local derivatives"]
    seen: dict[str, tuple[list[Piece], str, list[Piece]]] = {}
    for path in step.paths:
        for (of, by), local, value in zip(zip(path.nodes, path.nodes[1:]), path.locals, path.local_values):
            said = [] if local == number(value) else [_value_piece(value)]  # ∂yhat/∂b = 1, not = 1 = 1
            seen.setdefault(f"{of}/{by}/{local}",
                            ([(tex.partial(of, by), 0)], "=", [*_formula_pieces(tex, local), *said]))
    out += _align(list(seen.values()))
    left = f" (the first {len(step.paths)} listed, {step.paths_left_out} left out)" if step.paths_left_out else ""
    out.append(f"Paths from the loss back to ${tex.name(p)}$: {step.paths_total}{left}.")
    out += _align([
        ([((r"\to " if i else "") + tex.name(n), 0) for i, n in enumerate(path.nodes)], ":",
         [((r"\cdot " if i else "") + _tex_number(v), 0) for i, v in enumerate(path.local_values)]
         + [_value_piece(path.product)])
        for path in step.paths])
    if step.path_sum is not None:
        out.append(rf"Sum over paths: ${_tex_number(step.path_sum)}$; SymPy: ${_tex_number(step.symbolic_value)}$.")
    else:
        shown_terms = step.adjoint_terms[:len(step.paths)]
        more = r" + \dots" if len(shown_terms) < len(step.adjoint_terms) else ""
        terms = " + ".join(rf"{_tex_number(t.adjoint)} \cdot {_tex_number(t.local_value)}" for t in shown_terms) + more
        out.append(rf"The reverse sweep's adjoint instead: ${tex.partial('loss', p)} = {terms} = "
                   rf"{_tex_number(step.adjoint)}$; SymPy: ${_tex_number(step.symbolic_value)}$.")
    out.append({True: "They agree.", False: r"\textbf{They disagree.}",
                None: "Not compared (within rounding of a kink)."}[step.agree])
    return out
