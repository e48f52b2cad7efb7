"""gradcli: every gradient two ways, symbolically with SymPy and by backpropagation.

The heavy parts (NumPy, SymPy) load only when a computation runs, so that
`gradcli --help` starts fast. See README.md for the Python API.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["gradients", "GradientReport", "ParamGradient", "GradcliError", "__version__"]

from .errors import GradcliError


def __getattr__(name: str) -> Any:
    if name in ("gradients", "GradientReport", "ParamGradient"):
        from . import comparison as api

        return getattr(api, name)
    raise AttributeError(f"module 'gradcli' has no attribute {name!r}")
