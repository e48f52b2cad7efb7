"""Checks for float64 arrays: the data's promise that every value is a finite number whose square is
finite too.

Engines check the chunks they sweep; readers check whole columns. Both name the
column and the row of the first value that is nan or infinite, or beyond LARGEST.

LARGEST, the square root of float64's largest number (1.34e154), bounds every data value for every
command, in this one place. Beyond it float64 cannot square the value: the squared error of any
model that scales it, least squares, the preconditioner's column scales and the finite differences
all overflow, and training reported "at the optimum" with NumPy's overflow warnings on stderr while
`grad` refused the same data. A column that large is refused, naming it, and is to be rescaled.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from ..errors import DataError, show_text
from .blas import one_blas_thread

LARGEST = math.sqrt(sys.float_info.max)  # 1.3407807929942596e+154: the largest value whose square is finite


def usable(value: float) -> bool:
    """Finite and at most LARGEST in size."""
    return abs(value) <= LARGEST


def unusable_reason(value: float, where: str = "") -> str:
    """What is wrong with a data value that is not usable: 'is nan{where} (values must be finite)'."""
    if math.isfinite(value):
        return f"is {value:.6g}{where}, beyond ±{LARGEST:.3g}, where float64 cannot square it: rescale the column"
    return f"is {value}{where} (values must be finite)"


def all_usable(array: Any) -> bool:
    """Whether every value of a float64 array is finite and at most LARGEST in size, reading it once.

    array @ array is finite exactly when no value is nan or infinite and the sum of the squares
    does not overflow: then every value is usable. Otherwise (also for many values near LARGEST,
    whose squares are finite but whose sum is not) the exact check settles it.
    """
    if len(array) < 4096:
        return not len(array) or bool(np.max(np.abs(array)) <= LARGEST)
    with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        squares = float(array @ array)
    return math.isfinite(squares) or bool(np.max(np.abs(array)) <= LARGEST)


def all_finite(array: Any) -> bool:
    """Whether every value of a float64 array is finite, reading it once with no temporary array.

    array @ array is nan or inf when any value is, and finite otherwise unless the sum of squares
    overflows (values beyond ~1e154), which the exact check then settles. One BLAS dot on one
    thread reads the array at memory speed: half the time of np.isfinite(array).all().
    """
    if len(array) < 4096:
        return bool(np.isfinite(array).all())
    with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        squares = float(array @ array)
    return math.isfinite(squares) or bool(np.isfinite(array).all())


def require_finite(name: str, array: Any, first_row: int = 1) -> None:
    """A DataError naming the column and the row (counted from first_row) of the first value that is
    not finite or is beyond LARGEST."""
    if not all_usable(array):
        at = first_unusable(array)
        raise DataError(f"data {show_text(name)!r}: row {at + first_row} {unusable_reason(float(array[at]))}")


def first_unusable(array: Any) -> int:
    """The index of the first value that is nan, infinite or beyond LARGEST (the array has one)."""
    with np.errstate(invalid="ignore"):
        return int(np.argmin(np.abs(array) <= LARGEST))
