"""The tensor operations written entry by entry in scalar operations (each op's `expand` in ops.py).

Each takes NumPy arrays of Expr objects (one per entry) and gives the array of the result's entries:
``matmul`` of a 2x2 matrix and a vector of two names is two sums of products. expansion.py applies
them to a whole problem for SymPy and the neuron-by-neuron graph.
"""

from __future__ import annotations

from typing import Any

from .ops_numpy import np  # NumPy loads when a tensor is first written out, not when the table is read
from .tree import Binary, Call, Expr, Num


def objects(items: list[Expr], shape: tuple[int, ...]) -> Any:
    """An array of the given shape holding the expressions (a 0-d array for shape ())."""
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array.reshape(shape) if shape else array.reshape(())



def _sum(terms: list[Expr]) -> Expr:
    total = terms[0]
    for term in terms[1:]:
        total = Binary("add", total, term)
    return total


def matmul(a: Any, b: Any) -> Any:
    left = a if a.ndim == 2 else a.reshape(1, -1)
    right = b if b.ndim == 2 else b.reshape(-1, 1)
    out = np.empty((left.shape[0], right.shape[1]), dtype=object)
    for i in range(left.shape[0]):
        for j in range(right.shape[1]):
            out[i, j] = _sum([Binary("mul", left[i, k], right[k, j]) for k in range(left.shape[1])])
    shape = a.shape[:-1] + b.shape[1:]
    return out.reshape(shape)


def transpose(a: Any) -> Any:
    return a.T


def total(a: Any) -> Any:
    return objects([_sum(list(a.reshape(-1)))], ())


def average(a: Any) -> Any:
    return objects([Binary("div", _sum(list(a.reshape(-1))), Num(float(a.size), str(a.size)))], ())


def dot(a: Any, b: Any) -> Any:
    return objects([_sum([Binary("mul", x, y) for x, y in zip(a, b)])], ())


def softmax(z: Any) -> Any:
    exps = [Call("exp", (e,)) for e in z]
    denominator = _sum(exps)
    return objects([Binary("div", e, denominator) for e in exps], z.shape)


def logsumexp(z: Any) -> Any:
    return objects([Call("log", (_sum([Call("exp", (e,)) for e in z]),))], ())


def cross_entropy(z: Any, y: Any) -> Any:
    """log(sum(exp(z))) - sum_k onehot(y, k)*z_k: the class's score picked by an indicator of y."""
    target = y.item()
    picked = _sum([Binary("mul", Call("onehot", (target, Num(float(k), str(k)))), e) for k, e in enumerate(z)])
    return objects([Binary("sub", logsumexp(z).item(), picked)], ())
