"""Per-row shapes: declared (--shape W1=4x2, --dim h=4), gathered (x from columns x1, x2) or inferred.

A name's shape is what one row sees: ``()`` a scalar, ``(4,)`` a vector, ``(4, 2)`` a matrix.
Every name that is neither declared nor fixed by the data takes the shape its use demands,
wherever one follows from another:

- in an elementwise operation (``W1 @ x + b1``) an unknown operand takes the shape of the others;
- in ``A @ B`` an unknown side takes the shape that gives the product the shape demanded of it;
- the model's output is demanded the target's shape (a scalar for one column; the number of
  classes for ``ce``), so ``W2`` in ``W2 @ tanh(W1 @ x + b1) + b2`` follows from the output.

What is still unknown after that is a scalar, which is how every scalar model keeps its meaning.
A shape that does not fit is a ParseError naming both shapes and the operator's column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import GradcliError, ParseError, show_text
from .ops import op_of
from .tensors import Shape, ShapeMismatch, broadcast, shown
from .tree import Expr, Num, Sym, children, postorder, product_operands, to_text

MAX_ENTRIES = 10_000_000  # entries of one declared tensor: a typo (W1=100000x100000) fails at once
_SIZE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def parse_shape(text: str, dims: Mapping[str, int], *, what: str = "--shape") -> Shape:
    """'4x2', '4,2', 'h,d' (named sizes from --dim), '4' or '' (a scalar) as a tuple of sizes."""
    parts = [p.strip() for p in re.split(r"[x,]", text.strip())] if text.strip() else []
    sizes = []
    for part in parts:
        if part.isdigit():
            size = int(part)
        elif _SIZE_RE.match(part):
            if part not in dims:
                raise GradcliError(f"{what} {show_text(text)!r} uses the size {part!r}, which no --dim gives "
                                   f"(e.g. --dim {part}=4)")
            size = dims[part]
        else:
            raise GradcliError(f"{what} {show_text(text)!r} is not a shape (sizes such as 4x2, or 4,2, or h,d)")
        if size < 1:
            raise GradcliError(f"{what} {show_text(text)!r} has a size of 0; every size is at least 1")
        sizes.append(size)
    if len(sizes) > 2:
        raise GradcliError(f"{what} {show_text(text)!r} has {len(sizes)} axes; names are scalars, vectors or matrices")
    entries = 1
    for size in sizes:
        entries *= size
    if entries > MAX_ENTRIES:
        raise GradcliError(f"{what} {show_text(text)!r} has {entries:,} entries; the limit is {MAX_ENTRIES:,}")
    return tuple(sizes)


def parse_dims(pairs: Mapping[str, str | int] | None) -> dict[str, int]:
    dims: dict[str, int] = {}
    for name, value in (pairs or {}).items():
        text = str(value).strip()
        if not _SIZE_RE.match(name) or not text.isdigit() or int(text) < 1:
            raise GradcliError(f"--dim {show_text(f'{name}={value}')!r} must be NAME=SIZE with a size of at least 1")
        dims[name] = int(text)
    return dims


@dataclass(frozen=True)
class Shapes:
    """Every name's per-row shape and every node's, by id of the Expr."""

    names: dict[str, Shape]
    nodes: dict[int, Shape]

    def of(self, expr: Expr) -> Shape:
        return self.nodes[id(expr)]

    @property
    def tensor(self) -> bool:
        """True when any value is more than a scalar."""
        return any(self.names.values()) or any(self.nodes.values())


def infer(roots: list[Expr], model: Expr, known: Mapping[str, Shape], output: Shape | None, text: str,
          free: set[str], vectors: frozenset[str] = frozenset()) -> Shapes:
    """Every node's shape. `known` holds declared and data shapes; names in `free` (parameters without
    a declared shape) are inferred from their use; the model is demanded `output` (None: no demand).
    Names in `vectors` (inputs with no data: one vector per row) are free too, and where nothing else
    fixes them, a matrix's side of @ makes them a vector of its length (x in W1 @ x, W1 4x2: 2)."""
    names: dict[str, Shape] = dict(known)
    free = set(free) | set(vectors)
    for _ in range(8):  # each round fixes names that the previous one made known; a few always do
        found = _bottom_up(roots, names, text, strict=False)
        added = _top_down(roots, model, output, found, names, free, vectors)
        if not added:
            break
    _undetermined(roots, names, free, text)
    for name in free:
        names.setdefault(name, ())
    return Shapes(names, _bottom_up(roots, names, text, strict=True))


def _undetermined(roots: list[Expr], names: Mapping[str, Shape], free: set[str], text: str) -> None:
    """A name used with @ (or dot) whose shape nothing fixes cannot default to a scalar: say so."""
    for root in roots:
        for _, operand in product_operands(root):
            if operand.name in free and operand.name not in names:
                raise ParseError(f"the shape of {operand.name!r} does not follow from the model or the data; "
                                 f"give it with --shape {operand.name}=ROWSxCOLUMNS (or a length for a vector)",
                                 text, operand.offset)


def _bottom_up(roots: list[Expr], names: Mapping[str, Shape], text: str, strict: bool) -> dict[int, Shape | None]:
    shapes: dict[int, Shape | None] = {}
    for root in roots:
        for node in postorder(root):
            if id(node) in shapes:
                continue
            if isinstance(node, Num):
                shapes[id(node)] = ()
                continue
            if isinstance(node, Sym):
                shapes[id(node)] = names.get(node.name)
                continue
            args = [shapes[id(child)] for child in children(node)]
            op = op_of(node)
            assert op is not None
            if any(a is None for a in args):
                shapes[id(node)] = None
                continue
            try:
                if op.elementwise:
                    shapes[id(node)] = broadcast(*args)  # type: ignore[arg-type]
                else:
                    shapes[id(node)] = op.shape(*args)  # type: ignore[misc]
            except ShapeMismatch as err:
                sides = [f"{_short(to_text(child))} is {shown(shape)}"  # type: ignore[arg-type]
                         for child, shape in zip(children(node), args)]
                raise ParseError(f"{err} ({'; '.join(sides)})", text, node.offset) from None
    if strict:
        missing = [k for k, v in shapes.items() if v is None]
        assert not missing, "every shape is known once the free names are scalars"
    return shapes


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _top_down(roots: list[Expr], model: Expr, output: Shape | None, found: dict[int, Shape | None],
              names: dict[str, Shape], free: set[str], vectors: frozenset[str] = frozenset()) -> bool:
    """Push demanded shapes down to unknown names; True when a name became known."""
    demand: dict[int, Shape] = {}
    if output is not None and found.get(id(model)) is None:
        demand[id(model)] = output
    order: list[Expr] = []
    for root in roots:
        order += list(postorder(root))
    added = False
    for node in reversed(order):  # parents before children
        want = found.get(id(node))
        if want is None:
            want = demand.get(id(node))
        if isinstance(node, Sym):
            if want is not None and node.name in free and node.name not in names:
                names[node.name] = want
                added = True
            continue
        kids = children(node)
        op = op_of(node)
        if op is None:
            continue
        if op.elementwise:
            known = [found[id(k)] for k in kids if found.get(id(k)) is not None]
            if want is None and not known:
                continue
            target = _widest(want, known) if want is not None else _widest(known[0], known)
            for kid in kids:
                if found.get(id(kid)) is None:
                    demand.setdefault(id(kid), target)
        elif op.demand is not None:  # a tensor operation's own rule: the shape an unknown operand must have
            vector = [isinstance(kid, Sym) and kid.name in vectors for kid in kids]
            for position, shape in op.demand(want, [found.get(id(kid)) for kid in kids], vector).items():
                demand.setdefault(id(kids[position]), shape)
    return added


def _widest(want: Shape, known: list[Shape]) -> Shape:
    try:
        return broadcast(want, *known)
    except ShapeMismatch:
        return want


def entry_names(name: str, shape: Shape) -> list[str]:
    """W1[1,1], W1[1,2], ... in row-major order (NumPy's), counted from 1 as in W1₁₂."""
    if not shape:
        return [name]
    if len(shape) == 1:
        return [f"{name}[{i + 1}]" for i in range(shape[0])]
    return [f"{name}[{i + 1},{j + 1}]" for i in range(shape[0]) for j in range(shape[1])]
