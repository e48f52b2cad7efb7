"""The expression tree: its nodes, the walks over it, and its display as text.

The bottom of the language package: the parser (expr.py) builds these nodes, the operations table
(ops.py) and the code that builds derivatives (build.py) are made of them, and nothing here
imports another module of gradcli.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Num:
    """A number as written; `offset` is its character in the text (in every node: errors point there)."""

    value: float
    text: str  # as written ("0.5", "pi"), for display and exact SymPy numbers
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Sym:
    """A name: a parameter, an input, the target or a constant."""

    name: str
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary:
    """A unary minus."""

    op: str  # "neg"
    operand: Expr
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Binary:
    """An infix operation: + - * / ^ @."""

    op: str  # "add" | "sub" | "mul" | "div" | "pow" | "matmul"
    left: Expr
    right: Expr
    offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """A function applied to its arguments (one entry of the operations table)."""

    fn: str  # a name in ops.OPS
    args: tuple[Expr, ...]
    offset: int = field(default=0, compare=False)


Expr = Num | Sym | Unary | Binary | Call


def children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, Unary):
        return (e.operand,)
    if isinstance(e, Binary):
        return (e.left, e.right)
    if isinstance(e, Call):
        return e.args
    return ()


def postorder(root: Expr) -> Iterator[Expr]:
    """Every node once, after its children, without recursion (trees can be deep).

    A subtree shared by several parents (the model inside a custom loss, the parts a derivative
    shares with its expression) is visited once: walking it once per path would be exponential.
    """
    stack: list[tuple[Expr, bool]] = [(root, False)]
    seen: set[int] = set()
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child in reversed(children(node)):
            if id(child) not in seen:
                stack.append((child, False))


def product_operands(root: Expr) -> Iterator[tuple[int, Sym]]:
    """(position, name) for every name that is an operand of @ or dot: the weights and vector inputs
    whose shapes a product fixes (initial values, shape errors and the columns a vector gathers)."""
    for node in postorder(root):
        if isinstance(node, Binary) and node.op == "matmul":
            pair: tuple[Expr, ...] = (node.left, node.right)
        elif isinstance(node, Call) and node.fn == "dot":
            pair = node.args
        else:
            continue
        for position, operand in enumerate(pair):
            if isinstance(operand, Sym):
                yield position, operand


def symbols(root: Expr) -> list[str]:
    """Names used, in order of first appearance."""
    seen: dict[str, None] = {}
    for node in postorder(root):
        if isinstance(node, Sym):
            seen.setdefault(node.name, None)
    return list(seen)


def substitute(root: Expr, name: str, replacement: Expr) -> Expr:
    """The tree with every Sym(name) replaced (used to put the model into the loss)."""
    built: dict[int, Expr] = {}
    for node in postorder(root):
        if isinstance(node, Sym) and node.name == name:
            new: Expr = replacement
        elif isinstance(node, Unary):
            new = Unary(node.op, built[id(node.operand)], node.offset)
        elif isinstance(node, Binary):
            new = Binary(node.op, built[id(node.left)], built[id(node.right)], node.offset)
        elif isinstance(node, Call):
            new = Call(node.fn, tuple(built[id(a)] for a in node.args), node.offset)
        else:
            new = node
        built[id(node)] = new
    return built[id(root)]


# ---------------------------------------------------------------- display

_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2, "matmul": 2, "neg": 3, "pow": 4}
_SYMBOL = {"add": " + ", "sub": " - ", "mul": "*", "div": "/", "matmul": " @ ", "pow": "**"}


def to_text(root: Expr, names: dict[int, str] | None = None) -> str:
    """Readable text with only the parentheses that are needed.

    `names` maps id(subtree) to a name printed in its place (e.g. "yhat").
    """
    out: dict[int, tuple[str, int]] = {}  # id -> (text, precedence)
    for node in postorder(root):
        if names and id(node) in names and node is not root:
            out[id(node)] = (names[id(node)], 5)
        elif isinstance(node, Num):
            out[id(node)] = (node.text, 5 if not node.text.startswith("-") else 3)
        elif isinstance(node, Sym):
            out[id(node)] = (node.name, 5)
        elif isinstance(node, Call):
            out[id(node)] = (f"{node.fn}({', '.join(out[id(a)][0] for a in node.args)})", 5)
        elif isinstance(node, Unary):
            text, prec = out[id(node.operand)]
            out[id(node)] = ("-" + (text if prec > 3 else f"({text})"), 3)
        else:
            p = _PREC[node.op]
            lt, lp = out[id(node.left)]
            rt, rp = out[id(node.right)]
            if node.op == "pow":  # right-associative, binds tighter than unary minus
                left = lt if lp > p else f"({lt})"
                right = rt if rp >= p else f"({rt})"
            else:
                left = lt if lp >= p else f"({lt})"
                right = rt if rp > p else f"({rt})"  # a + (b - c) keeps its parentheses
            out[id(node)] = (f"{left}{_SYMBOL[node.op]}{right}", p)
    return out[id(root)][0]
