"""What the tensor operations of the table compute: shapes, NumPy forwards and vector-Jacobian products.

Every value has a per-row shape (``()`` for a scalar, ``(4,)`` for a vector, ``(4, 2)`` for a
matrix). A value that depends on the data rows is *batched*: its array has the rows as a leading
axis, ``(N, *shape)``; a parameter or a constant is not, and broadcasts over the rows. So over a
chunk of N rows ``W1 @ x`` is one matrix-matrix product ``X @ W1ᵀ``, and its vector-Jacobian
product with respect to W1, ``Gᵀ X``, sums over the rows in the same product (∂loss/∂W1 = Δ1ᵀ X).

Each function takes the arguments and, in `batched`, which of them carry the row axis. The
vector-Jacobian product ``vjp(i, g, args, out, batched)`` is ``gᵀ ∂out/∂args[i]`` in the shape of
args[i] (the row axis summed where args[i] has none). Elementwise operations need none of this:
their local derivative times g, summed over the axes broadcasting added (see `reduce_to`).
The same code serves a GPU array library later: only `np` would change.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .ops_numpy import np

Array = Any
Shape = tuple[int, ...]


class ShapeMismatch(ValueError):
    """Shapes that do not fit an operation; the message names both (the caller adds where)."""


def shown(shape: Shape) -> str:
    return "scalar" if not shape else "x".join(str(n) for n in shape)


# ---------------------------------------------------------------- shapes


def broadcast(*shapes: Shape, what: str = "") -> Shape:
    """NumPy's broadcasting rule on per-row shapes."""
    ndim = max(len(s) for s in shapes)
    out = []
    for axis in range(ndim):
        sizes = {s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0} - {1}
        if len(sizes) > 1:
            raise ShapeMismatch(f"shapes {' and '.join(shown(s) for s in shapes)} do not broadcast{what}")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def matmul_shape(a: Shape, b: Shape) -> Shape:
    if not a or not b:
        raise ShapeMismatch(f"@ needs vectors or matrices on both sides, got {shown(a)} @ {shown(b)}")
    if len(a) > 2 or len(b) > 2:
        raise ShapeMismatch(f"@ takes vectors and matrices only, got {shown(a)} @ {shown(b)}")
    inner_a, inner_b = a[-1], b[0]
    if inner_a != inner_b:
        raise ShapeMismatch(f"shapes {shown(a)} @ {shown(b)} do not fit: {inner_a} columns against {inner_b} rows")
    return a[:-1] + b[1:]


Demand = dict[int, Shape]  # operand position -> the shape its use demands of it (shapes.py's inference)


def matmul_demand(want: Shape | None, shapes: list[Shape | None], vectors: list[bool]) -> Demand:
    """The shape of the unknown side of A @ B: the one that gives the product the shape demanded of it;
    with no demand, an input with no data (`vectors`) beside a matrix is a vector that fits it."""
    (sa, sb), (a_vector, b_vector) = shapes, vectors
    if want is None:
        if sa is None and sb is not None and len(sb) == 2 and a_vector:
            return {0: (sb[0],)}
        if sb is None and sa is not None and len(sa) == 2 and b_vector:
            return {1: (sa[-1],)}
        return {}
    if sa is None and sb is not None and sb:
        rest = want[: len(want) - (len(sb) - 1)] if len(sb) > 1 else want
        return {0: tuple(rest) + (sb[0],)}
    if sb is None and sa is not None and sa:
        return {1: (sa[-1],) + tuple(want[len(sa) - 1:])}
    return {}


def dot_demand(want: Shape | None, shapes: list[Shape | None], vectors: list[bool]) -> Demand:
    """dot(u, v) takes two vectors of one length: an unknown side takes the other's shape."""
    found: Demand = {}
    for i in (0, 1):
        other = shapes[1 - i]
        if shapes[i] is None and other is not None:
            found[i] = other
    return found


def vector_shape(name: str) -> Any:
    def rule(a: Shape) -> Shape:
        if len(a) != 1:
            raise ShapeMismatch(f"{name}() takes a vector, got {shown(a)}")
        return a
    return rule


def transpose_shape(a: Shape) -> Shape:
    if not a or len(a) > 2:
        raise ShapeMismatch(f"transpose() takes a vector or a matrix, got {shown(a)}")
    return a[::-1]


def reduction_shape(name: str) -> Any:
    """sum() and mean() of a vector or a matrix's entries: a scalar. Of a scalar they are refused: one
    number per row has no entries to add, and `sum((yhat - y)**2)` with a scalar yhat most likely means
    a sum over rows, which the loss never is (it is the mean over rows)."""
    def rule(a: Shape) -> Shape:
        if not a:
            what = "adds up" if name == "sum" else "averages"
            raise ShapeMismatch(f"{name}() {what} the entries of a vector or a matrix, got a scalar (a loss is "
                                f"already the mean over rows: leave {name} out)")
        return ()
    return rule


def dot_shape(a: Shape, b: Shape) -> Shape:
    if len(a) != 1 or len(b) != 1 or a != b:
        raise ShapeMismatch(f"dot() takes two vectors of one length, got {shown(a)} and {shown(b)}")
    return ()


def ce_shape(z: Shape, y: Shape) -> Shape:
    if len(z) != 1:
        raise ShapeMismatch(f"ce needs a vector of class scores (logits), got {shown(z)}")
    if y:
        raise ShapeMismatch(f"ce needs one class index per row as the target, got {shown(y)}")
    return ()


# ---------------------------------------------------------------- broadcasting over rows


def aligned(value: Array, batched: bool, ndim: int) -> Array:
    """A batched value with fewer per-row axes than `ndim`, given size-1 axes after the row axis so that
    NumPy broadcasts it against per-row shapes (a row's scalar times a vector)."""
    have = np.ndim(value) - batched
    if not batched or have >= ndim:
        return value
    return np.reshape(value, (np.shape(value)[0],) + (1,) * (ndim - have) + np.shape(value)[1:])


def reduce_to(contribution: Array, shape: Shape, batched: bool, rows: int, from_batched: bool) -> Array:
    """A contribution in the output's shape summed down to an argument's: over the row axis when the
    argument has none (a parameter's gradient is a sum over rows), and over the axes broadcasting added.

    from_batched: the contribution carries the row axis (the output did).
    """
    c = np.asarray(contribution)
    if from_batched and c.ndim and not batched:
        c = c.sum(axis=0)
        from_batched = False
    head = 1 if from_batched and c.ndim else 0
    item = c.shape[head:]
    if item != shape:
        extra = len(item) - len(shape)
        if extra > 0:
            c = c.sum(axis=tuple(range(head, head + extra)))
            item = c.shape[head:]
        squeeze = tuple(head + axis for axis, (have, want) in enumerate(zip(item, shape)) if want == 1 and have != 1)
        if squeeze:
            c = c.sum(axis=squeeze, keepdims=True)
    full = ((rows,) if batched else ()) + shape
    return c if c.shape == full else np.broadcast_to(c, full)


# ---------------------------------------------------------------- matmul


def _letters(ndim: int, first: bool) -> str:
    """Per-row einsum letters of a matmul operand: i k for the left, k j for the right."""
    if first:
        return "ik" if ndim == 2 else "k"
    return "kj" if ndim == 2 else "k"


def _subscripts(args: Sequence[Array], batched: Sequence[bool]) -> tuple[str, str, str]:
    na, nb = (np.ndim(a) - bool(k) for a, k in zip(args, batched))
    a, b = _letters(na, True), _letters(nb, False)
    out = ("i" if na == 2 else "") + ("j" if nb == 2 else "")
    n = "n" if any(batched) else ""
    return ("n" if batched[0] else "") + a, ("n" if batched[1] else "") + b, n + out


_FIXED_ORDER = ContextVar("fixed_order_products", default=False)


@contextmanager
def fixed_order_products() -> Iterator[None]:
    """Within: matrix products without BLAS, each sum's terms added in an order fixed by the shapes
    alone (NumPy's einsum loops), so the same on every machine.

    BLAS picks its kernel per CPU (OpenBLAS: Haswell, SkylakeX, Sandybridge, ...) and adds a product's
    terms in that kernel's order, with or without fused multiply-adds. One rounding apart is enough for
    a network trained to a separable fit to end elsewhere: README's spiral took 197 epochs under the
    Haswell kernel and 95 under Sandybridge's, its scores 40 % apart. Training runs within this
    (3-10x slower products, measured on one core); a single gradient (grad, the benchmarks) does not."""
    token = _FIXED_ORDER.set(True)
    try:
        yield
    finally:
        _FIXED_ORDER.reset(token)


def fixed_order() -> bool:
    """Whether products are computed in a fixed order here (fixed_order_products)."""
    return _FIXED_ORDER.get()


def matmul(a: Array, b: Array, batched: Sequence[bool] = (False, False)) -> Array:
    """Per-row a @ b. A fixed matrix against a batch of vectors is one product X @ Aᵀ."""
    ba, bb = batched
    if _FIXED_ORDER.get():
        sa, sb, so = _subscripts((a, b), batched)
        return np.einsum(f"{sa},{sb}->{so}", a, b, optimize=False)
    if not ba and not bb:
        return a @ b
    if not ba and np.ndim(b) == 2:  # A (m,k) or (k,), B a batch of vectors (N,k)
        return b @ a.T
    if not bb and np.ndim(a) == 2:  # a batch of vectors (N,k) against B (k,n) or (k,)
        return a @ b
    sa, sb, so = _subscripts((a, b), batched)
    return np.einsum(f"{sa},{sb}->{so}", a, b, optimize=True)


def matmul_vjp(i: int, g: Array, args: Sequence[Array], batched: Sequence[bool]) -> Array:
    """G @ Bᵀ for the left operand, Aᵀ @ G for the right, per row; summed over rows for an operand that
    has none (for W1 @ x that is Gᵀ X: every row's outer product in one matrix product)."""
    a, b = args
    ba, bb = batched
    if _FIXED_ORDER.get():
        sa, sb, so = _subscripts(args, batched)
        if i == 0:
            return np.einsum(f"{so},{sb}->{sa}", g, b, optimize=False)
        return np.einsum(f"{sa},{so}->{sb}", a, g, optimize=False)
    if not ba and bb and np.ndim(b) == 2 and np.ndim(g) == np.ndim(a):  # A fixed, B (N,k): out (N,m)|(N,)
        if i == 0:
            return g.T @ b
        return np.multiply.outer(g, a) if np.ndim(a) == 1 else g @ a
    sa, sb, so = _subscripts(args, batched)
    if i == 0:
        return np.einsum(f"{so},{sb}->{sa}", g, b, optimize=True)
    return np.einsum(f"{sa},{so}->{sb}", a, g, optimize=True)


# ---------------------------------------------------------------- reductions and vector functions


def _item_axes(value: Array, batched: bool) -> tuple[int, ...]:
    return tuple(range(int(batched), np.ndim(value)))


def total(a: Array, batched: Sequence[bool] = (False,)) -> Array:
    return np.sum(a, axis=_item_axes(a, batched[0]))


def total_vjp(i: int, g: Array, args: Sequence[Array], batched: Sequence[bool]) -> Array:
    a = args[0]
    return np.broadcast_to(aligned(g, batched[0], np.ndim(a) - batched[0]), np.shape(a))


def average(a: Array, batched: Sequence[bool] = (False,)) -> Array:
    return np.mean(a, axis=_item_axes(a, batched[0]))


def average_vjp(i: int, g: Array, args: Sequence[Array], batched: Sequence[bool]) -> Array:
    a = args[0]
    size = max(1, int(np.prod(np.shape(a)[int(batched[0]):])))
    return total_vjp(i, g, args, batched) / size


def dot(a: Array, b: Array, batched: Sequence[bool] = (False, False)) -> Array:
    return np.sum(a * b, axis=-1)


def dot_vjp(i: int, g: Array, args: Sequence[Array], batched: Sequence[bool]) -> Array:
    other = args[1 - i]
    return np.asarray(g)[..., None] * other if np.ndim(g) else g * other


def transpose(a: Array, batched: Sequence[bool] = (False,)) -> Array:
    if np.ndim(a) - batched[0] < 2:
        return a
    return np.swapaxes(a, -1, -2)


def transpose_vjp(i: int, g: Array, args: Sequence[Array], batched: Sequence[bool]) -> Array:
    return transpose(g, batched)


def softmax(z: Array, batched: Sequence[bool] = (False,)) -> Array:
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def softmax_vjp(i: int, g: Array, args: Sequence[Array], batched: Sequence[bool], out: Array) -> Array:
    return out * (g - np.sum(g * out, axis=-1, keepdims=True))


def logsumexp(z: Array, batched: Sequence[bool] = (False,)) -> Array:
    top = np.max(z, axis=-1)
    return top + np.log(np.sum(np.exp(z - top[..., None]), axis=-1))


def logsumexp_vjp(i: int, g: Array, args: Sequence[Array], batched: Sequence[bool]) -> Array:
    return np.asarray(g)[..., None] * softmax(args[0]) if np.ndim(g) else g * softmax(args[0])


def _classes(y: Array, count: int) -> Array:
    """The class index of each row as integers (checked against the scores' length by the data check)."""
    index = np.asarray(y).astype(np.intp)
    return np.clip(index, 0, count - 1)


def cross_entropy(z: Array, y: Array, batched: Sequence[bool] = (False, False)) -> Array:
    """Softmax cross-entropy from the logits, stably: logsumexp(z) - z[y]."""
    count = np.shape(z)[-1]
    index = _classes(y, count)
    chosen = np.take_along_axis(np.atleast_2d(z), np.atleast_1d(index)[:, None], axis=-1)[:, 0]
    result = logsumexp(np.atleast_2d(z)) - chosen
    return result if np.ndim(z) > 1 else result[0]


def cross_entropy_vjp(i: int, g: Array, args: Sequence[Array], batched: Sequence[bool]) -> Array:
    z, y = args
    if i == 1:  # a class index is not differentiable: the target is never a parameter
        return np.zeros(np.shape(y))
    p = softmax(np.atleast_2d(z))
    p[np.arange(len(p)), _classes(np.atleast_1d(y), np.shape(z)[-1])] -= 1.0
    p = p if np.ndim(z) > 1 else p[0]
    return np.asarray(g)[..., None] * p if np.ndim(g) else g * p


# ---------------------------------------------------------------- what explain says of them

Counts = dict[str, int]  # arithmetic at one row in explain's kinds: multiplications (divisions too),
# additions (subtractions too), other (the functions), and madds, the multiply-adds of a matrix product


def _counts(multiplications: int = 0, additions: int = 0, other: int = 0, madds: int = 0) -> Counts:
    return {"multiplications": multiplications, "additions": additions, "other": other, "madds": madds}


def _size(shape: Shape) -> int:
    return math.prod(shape) if shape else 1


def as_matrix(shape: Shape, left: bool) -> tuple[int, int]:
    """A matmul operand as a matrix: a vector is a row on the left, a column on the right."""
    if len(shape) == 2:
        return shape  # type: ignore[return-value]
    return (1, shape[0]) if left else (shape[0], 1)


def matmul_counts(shapes: list[Shape]) -> Counts:
    """(m x k) @ (k x n): m·k·n multiplications and m·(k-1)·n additions."""
    (m, k), (_, n) = as_matrix(shapes[0], True), as_matrix(shapes[1], False)
    return _counts(m * k * n, m * (k - 1) * n, madds=m * k * n)


def matmul_vjp_counts(position: int, shapes: list[Shape]) -> Counts:
    """G @ Bᵀ (sums over n) or Aᵀ @ G (over m): m·k·n multiplications each."""
    (m, k), (_, n) = as_matrix(shapes[0], True), as_matrix(shapes[1], False)
    inner = n if position == 0 else m
    return _counts(m * k * n, m * k * n // inner * (inner - 1), madds=m * k * n)


def dot_counts(shapes: list[Shape]) -> Counts:
    k = shapes[0][0]
    return _counts(k, k - 1, madds=k)


def reduction_counts(name: str) -> Any:
    """sum(): size - 1 additions; mean() one division more."""
    return lambda shapes: _counts(int(name == "mean"), _size(shapes[0]) - 1)


def vector_counts(name: str) -> Any:
    """softmax, logsumexp and ce over k scores: k exponentials, k - 1 additions (softmax: k divisions)."""
    def counts(shapes: list[Shape]) -> Counts:
        k = _size(shapes[0])
        return _counts(k if name == "softmax" else 0, k - 1, k)
    return counts


def no_counts(*_: Any) -> Counts:
    """No arithmetic: transpose moves entries, and sum's VJP copies G to each."""
    return _counts()


def scaled_vjp_counts(multiplications: int, additions: int = 0) -> Any:
    """A VJP of that many multiplications and additions per entry of its operand."""
    return lambda position, shapes: _counts(multiplications * _size(shapes[position]),
                                            additions * _size(shapes[position]))


def matmul_batch_text(a: tuple[Shape, bool], b: tuple[Shape, bool], A: str, B: str, G: str) -> tuple[str, ...] | None:
    """Per-row c = a @ b (or dot(a, b)) over the batch as one matrix product, and its VJPs to a and to b;
    None where no single product says it (a matrix per row, both sides batched). a and b: (shape, has rows)."""
    (a_shape, a_rows), (b_shape, b_rows) = a, b
    if not a_rows and b_rows and len(b_shape) == 1:  # W1 @ x: C = X @ W1ᵀ
        if len(a_shape) == 2:
            return f"{B} @ {A}ᵀ", f"{G}ᵀ @ {B}", f"{G} @ {A}"
        return f"{B} @ {A}", f"{B}ᵀ @ {G}", f"{G} ⊗ {A}"
    if a_rows and not b_rows and len(a_shape) == 1:  # x @ W: C = X @ W
        if len(b_shape) == 2:
            return f"{A} @ {B}", f"{G} @ {B}ᵀ", f"{A}ᵀ @ {G}"
        return f"{A} @ {B}", f"{G} ⊗ {B}", f"{A}ᵀ @ {G}"
    return None
