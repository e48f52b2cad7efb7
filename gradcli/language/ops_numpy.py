"""`np` for the operations' code, imported when one of them first runs, not when the table is read.

The parser and the roles of names read the operations table (names, arity) and must stay free of
NumPy, so that `gradcli --help` and a parse error start fast.
"""

from __future__ import annotations

from typing import Any


class _NumPyOnFirstUse:
    def __getattr__(self, name: str) -> Any:
        import numpy

        return getattr(numpy, name)


np: Any = _NumPyOnFirstUse()
