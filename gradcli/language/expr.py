"""The safe parser, which builds the expression tree (tree.py) from user text.

User text goes through Python's ``ast`` module, then through a whitelist into
gradcli's own small immutable tree (Num, Sym, Unary, Binary, Call). Nothing is
ever evaluated from text: no eval/exec/sympify/parse_expr. Every limit is
checked before any arithmetic, and constant sub-expressions are folded in
floating point once, only to reject exponents and constants that would make
SymPy hang or overflow.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from fractions import Fraction

from ..errors import ParseError, show_text
from .ops import OPS
from .ops_numpy import np  # NumPy loads when a constant is first folded, not when the parser is imported
from .tree import (
    Binary,
    Call,
    Expr,
    Num,
    Sym,
    Unary,
    children,
    postorder,
    product_operands,
    substitute,
    symbols,
    to_text,
)

# The tree's nodes and walks, imported from here as well as from tree.py (the language's public names)
__all__ = ["Binary", "Call", "Expr", "Num", "Sym", "Unary", "children", "postorder", "product_operands",
           "substitute", "symbols", "to_text", "parse", "check_characters", "exact_number", "fold_constant",
           "CONSTANTS", "NAME_RE", "RESERVED", "FUNCTIONS", "MAX_LENGTH", "MAX_FILE_LENGTH", "MAX_NODES",
           "MAX_DEPTH", "MAX_EXPONENT", "MAX_CONSTANT", "MAX_LITERAL", "EXACT_DIGITS"]

MAX_LENGTH = 10_000  # characters of inline text
MAX_FILE_LENGTH = 65_536  # characters of a --model-file
MAX_NODES = 20_000  # operations, names and numbers together
MAX_DEPTH = 100  # nesting: parentheses, calls, powers, unary minus (not + - * / chains)
MAX_EXPONENT = 1_000  # |constant exponent|
MAX_CONSTANT = 1e300  # |value of any constant sub-expression|

CONSTANTS = {"pi": math.pi, "e": math.e}
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_DECIMAL_RE = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
# Names that would confuse a reader or collide with the loss formulas.
RESERVED = {"yhat"}


# ---------------------------------------------------------------- parsing

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow", ast.MatMult: "matmul"}


# Each function a model may call, with how many arguments it takes.
FUNCTIONS = {name: op.arity for name, op in OPS.items() if op.user}


def check_characters(text: str, allow_newlines: bool = False) -> None:
    """Reject non-ASCII and control characters on the raw text, before any parser runs.

    Python folds look-alike Unicode letters into ASCII names, so this must
    look at the string itself.
    """
    for i, ch in enumerate(text):
        if allow_newlines and ch in "\n\r\t":
            continue
        if not ch.isascii():
            raise ParseError(f"non-ASCII character {show_text(ch)!s} is not allowed", text, i)
        if not ch.isprintable():
            raise ParseError(f"control character {show_text(ch)} is not allowed", text, i)
        if ch == "#":  # Python would read the rest as a comment and drop it silently
            raise ParseError("'#' is not allowed (there are no comments in a model)", text, i)


def _check_parentheses(text: str) -> None:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise ParseError(f"parentheses nested deeper than {MAX_DEPTH}", text, i)
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ParseError("unmatched ')'", text, i)
    if depth > 0:
        raise ParseError("unclosed '('", text, text.rfind("("))


_PARTS_RE = re.compile(r"([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?\Z")
MAX_LITERAL = 300  # characters in one number; a float holds 17 significant digits anyway
_LITERAL_RE = re.compile(r"(?<![A-Za-z0-9_.])(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


_JUXTAPOSED = re.compile(r"(?<![A-Za-z0-9_.])([0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?)([A-Za-z_][A-Za-z0-9_]*)")


def _juxtaposition_hint(text: str, at: int) -> str:
    """'; did you mean 2*x1?' for `2x1`: a number written against a name, as in algebra."""
    for match in _JUXTAPOSED.finditer(text):
        if match.start() <= at <= match.end():
            return f" (did you mean {match.group(1)}*{match.group(2)}?)"
    return ""


def _check_literals(text: str, what: str) -> None:
    """No number longer than MAX_LITERAL characters (Python refuses integers over 4,300 digits with a
    syntax error that names no number)."""
    for match in _LITERAL_RE.finditer(text):
        if len(match.group()) > MAX_LITERAL:
            raise ParseError(f"{what} has a number of {len(match.group()):,} characters; the limit is "
                             f"{MAX_LITERAL}", text, match.start())


def parse(text: str, *, what: str = "expression", max_length: int = MAX_LENGTH) -> Expr:
    """Parse user text into an Expr, or raise ParseError saying what and where."""
    if len(text) > max_length:
        raise ParseError(f"{what} is {len(text):,} characters long; the limit is {max_length:,}", "", None)
    from_file = max_length > MAX_LENGTH
    check_characters(text, allow_newlines=from_file)
    if from_file:  # a file may wrap a long model over lines: newlines are spaces
        text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    if not text.strip():
        raise ParseError(f"{what} is empty", text, 0)
    _check_parentheses(text)
    _check_literals(text, what)
    # `^` means power; swap it for `**` (which has the right precedence) and
    # remember how offsets move so that errors still point into the user's text.
    source_offsets: list[int] = []
    pieces: list[str] = []
    for i, ch in enumerate(text):
        if ch == "^":
            pieces.append("**")
            source_offsets += [i, i]
        else:
            pieces.append(ch)
            source_offsets.append(i)
    source_offsets.append(len(text))
    source = "".join(pieces)
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal": the error says enough
            warnings.simplefilter("ignore")
            tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as err:
        lead = len(source) - len(source.lstrip())
        stripped = source.strip()
        col = (err.offset - 1 if err.offset else len(stripped)) + lead  # no offset: the text ended too soon
        col = min(max(col, 0), len(source))
        at = source_offsets[col]
        raise ParseError(f"invalid syntax in {what}{_juxtaposition_hint(text, at)}", text, at) from None
    except (RecursionError, MemoryError):
        raise ParseError(f"{what} is nested too deeply or is too long for the parser", text, None) from None
    except ValueError as err:  # e.g. an integer literal over Python's digit limit
        raise ParseError(f"{what} has a number that is too long ({show_text(str(err), 40)})", text, None) from None
    lead = len(source) - len(source.lstrip())
    return _Builder(text, source, source_offsets, lead, what).build(tree.body)


class _ConstantError(ValueError):
    """A constant sub-expression that is undefined or huge: the message's ending ("overflows")."""


def fold_constant(op: str, values: tuple[float | None, ...]) -> float | None:
    """The float value of a constant sub-expression (None where some operand is not a constant, or the
    operation is a tensor's, whose shapes decide); _ConstantError where it is undefined or huge."""
    if any(v is None for v in values) or not OPS[op].elementwise:
        return None
    args = tuple(np.float64(v) for v in values)
    check = OPS[op].undefined
    for bad, reason in check(args) if check else []:
        if bool(bad):
            raise _ConstantError(f"is undefined: {reason}")
    with np.errstate(all="ignore"):
        result = float(OPS[op].forward(*args))
    if math.isnan(result):
        raise _ConstantError("is undefined")
    if math.isinf(result) or abs(result) > MAX_CONSTANT:
        raise _ConstantError("overflows")
    return result


def _constant_expr(op: str, values: tuple[float | None, ...]) -> Expr:
    """The constant as an expression of its folded operands, for an error message."""
    nums = [Num(v or 0.0, f"{v:.6g}") for v in values]
    if op in _BINOPS.values():
        return Binary(op, nums[0], nums[1])
    if op == "neg":
        return Unary("neg", nums[0])
    return Call(op, tuple(nums))


_OPERATOR_TEXT = {ast.BitXor: "^", ast.BitOr: "|", ast.BitAnd: "&", ast.FloorDiv: "//", ast.Mod: "%",
                  ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.Not: "not"}
_DESCRIPTIONS = {
    ast.Attribute: "attribute access", ast.Subscript: "a subscript", ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator", ast.Compare: "a comparison", ast.BoolOp: "a boolean operator",
    ast.IfExp: "a conditional", ast.NamedExpr: "an assignment", ast.Starred: "a starred expression",
    ast.Tuple: "a tuple (a comma)", ast.List: "a list", ast.Dict: "a dict", ast.Set: "a set",
    ast.JoinedStr: "a string", ast.Await: "await", ast.Yield: "yield", ast.Slice: "a slice",
}


def _operator_text(node: ast.BinOp | ast.UnaryOp) -> str:
    return _OPERATOR_TEXT.get(type(node.op), type(node.op).__name__)


def _call_problem(node: ast.Call) -> tuple[str, ast.AST] | None:
    """What is wrong with a call, and where, or None: only a known function by name, with its number
    of plain arguments."""
    if not isinstance(node.func, ast.Name):
        return "only calls to a function by name are allowed", node
    name = node.func.id
    if name not in FUNCTIONS:
        return f"unknown function {show_text(name)!r} (functions: {', '.join(sorted(FUNCTIONS))})", node
    if node.keywords:
        return f"{name}() takes no keyword arguments", node.keywords[0].value
    wanted = FUNCTIONS[name]
    if len(node.args) != wanted:
        count = "one argument" if wanted == 1 else f"{wanted} arguments"
        return f"{name}() takes exactly {count}, got {len(node.args)}", node
    starred = [arg for arg in node.args if isinstance(arg, ast.Starred)]
    return ("a starred expression is not allowed", starred[0]) if starred else None


Built = tuple[Expr, int, float | None]  # a node's Expr, its nesting depth and its constant value (or None)


class _Builder:
    """Turns a whitelisted ast into an Expr, checking limits as it goes."""

    def __init__(self, text: str, source: str, offsets: list[int], lead: int, what: str) -> None:
        self.text = text
        self.source = source.strip()
        self.offsets = offsets
        self.lead = lead
        self.what = what
        self.count = 0

    def where(self, node: ast.AST) -> int:
        col = getattr(node, "col_offset", 0) + self.lead
        return self.offsets[min(col, len(self.offsets) - 1)]

    def fail(self, message: str, node: ast.AST) -> ParseError:
        return ParseError(message, self.text, self.where(node))

    def build(self, root: ast.AST) -> Expr:
        # Iterative post-order over the ast; done[id] holds each node built.
        done: dict[int, Built] = {}
        stack: list[tuple[ast.AST, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if not expanded:
                self.count += 1
                if self.count > MAX_NODES:
                    raise self.fail(f"{self.what} has more than {MAX_NODES:,} parts", node)
                stack.append((node, True))
                for child in reversed(self.ast_children(node)):
                    stack.append((child, False))
            else:
                done[id(node)] = self.convert(node, done)
        return done[id(root)][0]

    def ast_children(self, node: ast.AST) -> list[ast.AST]:
        """The node's operands, once the whitelist lets it through."""
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise self.fail(f"operator {_operator_text(node)!r} is not allowed", node)
            return [node.left, node.right]
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise self.fail(f"operator {_operator_text(node)!r} is not allowed", node)
            return [node.operand]
        if isinstance(node, ast.Call):
            problem = _call_problem(node)
            if problem:
                raise self.fail(*problem)
            return list(node.args)
        if isinstance(node, (ast.Name, ast.Constant)):
            return []
        description = _DESCRIPTIONS.get(type(node), type(node).__name__)
        raise self.fail(f"{description} is not allowed in the {self.what}", node)

    def convert(self, node: ast.AST, done: dict[int, Built]) -> Built:
        at = self.where(node)
        if isinstance(node, ast.Constant):
            return self.number(node, at)
        if isinstance(node, ast.Name):
            return self.name(node, at)
        if isinstance(node, ast.UnaryOp):
            inner, depth, value = done[id(node.operand)]
            if isinstance(node.op, ast.UAdd):
                return inner, depth, value
            return Unary("neg", inner, at), self.deeper(depth + 1, node), None if value is None else -value
        if isinstance(node, ast.Call):
            built = [done[id(arg)] for arg in node.args]
            fn = node.func.id  # type: ignore[attr-defined]
            expr = Call(fn, tuple(inner for inner, _, _ in built), at)
            depth = max(depth for _, depth, _ in built) + 1
            return expr, self.deeper(depth, node), self.fold(fn, tuple(value for _, _, value in built), node)
        assert isinstance(node, ast.BinOp)
        return self.binary(node, done, at)

    def binary(self, node: ast.BinOp, done: dict[int, Built], at: int) -> Built:
        op = _BINOPS[type(node.op)]
        left, ldepth, lvalue = done[id(node.left)]
        right, rdepth, rvalue = done[id(node.right)]
        if op == "pow" and rvalue is not None and abs(rvalue) > MAX_EXPONENT:
            raise ParseError(
                f"exponent {rvalue:.6g} is too large (the limit is {MAX_EXPONENT:,} in absolute value)",
                self.text, self.where(node.right))
        # Chains of + - * / do not nest in a reader's mind (or in SymPy's tree).
        chain = op in ("add", "sub", "mul", "div", "matmul")
        depth = max(ldepth if chain else ldepth + 1, rdepth + 1)
        return Binary(op, left, right, at), self.deeper(depth, node), self.fold(op, (lvalue, rvalue), node)

    def deeper(self, depth: int, node: ast.AST) -> int:
        if depth > MAX_DEPTH:
            raise self.fail(f"{self.what} is nested deeper than {MAX_DEPTH} levels", node)
        return depth

    def number(self, node: ast.Constant, at: int) -> Built:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a string" if isinstance(value, (str, bytes)) else show_text(repr(value), 20)
            raise ParseError(f"{kind} is not allowed in the {self.what}", self.text, at)
        segment = ast.get_source_segment(self.source, node) or ""
        if not _DECIMAL_RE.match(segment):
            raise ParseError(f"number {show_text(segment)!r} is not a decimal number", self.text, at)
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number) or abs(number) > MAX_CONSTANT:
            raise ParseError(f"number {show_text(segment, 20)} is too large", self.text, at)
        return Num(number, segment, at), 0, number

    def name(self, node: ast.Name, at: int) -> Built:
        name = node.id
        if name in CONSTANTS:
            return Num(CONSTANTS[name], name, at), 0, CONSTANTS[name]
        if not NAME_RE.match(name):
            raise ParseError(f"name {show_text(name)!r} is not allowed (names start with a letter)", self.text, at)
        if name in FUNCTIONS:
            raise ParseError(f"{name!r} is a function; call it as {name}(...)", self.text, at)
        return Sym(name, at), 0, None

    def fold(self, op: str, values: tuple[float | None, ...], node: ast.AST) -> float | None:
        """The float value of a constant sub-expression, or an error if it is undefined or huge."""
        try:
            return fold_constant(op, values)
        except _ConstantError as err:
            raise self.fail(f"constant {to_text(_constant_expr(op, values))} {err}", node) from None


EXACT_DIGITS = 40  # a literal is exact (0.1 is 1/10) up to this many digits and this power of ten


def exact_number(num: Num) -> Fraction | None:
    """A decimal literal as an exact fraction, or None where exactness would cost a huge number.

    `0.1` is 1/10, so that 0.1 + 0.2 - 0.3 is exactly 0 for SymPy. Beyond EXACT_DIGITS significant
    digits or a power of ten beyond EXACT_DIGITS (`1e-9999999`, `0e999999999`: Fraction would build
    10**9999999), the symbolic engine takes the literal as a 30-digit float instead.
    """
    match = _PARTS_RE.match(num.text)
    if match is None:  # not a plain literal (pi, e): the caller knows it
        return None
    whole, fraction, exponent = match.group(1) or "", match.group(2) or "", int(match.group(3) or 0)
    digits = (whole + fraction).lstrip("0")
    if not digits:
        return Fraction(0)
    if len(digits) > EXACT_DIGITS or abs(exponent - len(fraction)) > EXACT_DIGITS:
        return None
    return Fraction(num.text)
