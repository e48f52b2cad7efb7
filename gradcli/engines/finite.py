"""Finiteness checks for float64 arrays: the data's promise that every value is a finite number.

Engines check the chunks they sweep; readers check whole columns. Both name the
column and the row of the first value that is nan or infinite.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import DataError, show_text


def all_finite(array: Any) -> bool:
    """Whether every value of a float64 array is finite, reading it once with no temporary array.

    array @ array is nan or inf when any value is, and finite otherwise unless the sum of squares
    overflows (values beyond ~1e154), which the exact check then settles. One BLAS dot on one
    thread reads the array at memory speed: half the time of np.isfinite(array).all().
    """
    import numpy as np

    from .blas import one_blas_thread

    if len(array) < 4096:
        return bool(np.isfinite(array).all())
    with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        squares = float(array @ array)
    return math.isfinite(squares) or bool(np.isfinite(array).all())


def require_finite(name: str, array: Any, first_row: int = 1) -> None:
    """A DataError naming the column and the row (counted from first_row) of the first non-finite value."""
    import numpy as np

    if not all_finite(array):
        at = int(np.argmin(np.isfinite(array)))
        raise DataError(f"data {show_text(name)!r}: row {at + first_row} is {array[at]} (values must be finite)")
