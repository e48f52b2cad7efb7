"""BLAS on the calling thread only, for code that makes many small BLAS calls.

The chunked sweep and the finiteness checks call BLAS thousands of times on
cache-sized blocks; OpenBLAS's worker threads only add synchronisation there,
and on a busy machine they measured 2-10x slower. threadpoolctl sets the limit
for the duration of a `with` block and restores it after.
"""

from __future__ import annotations

from typing import Any

_controller: Any = None


def one_blas_thread() -> Any:
    """A context manager in which BLAS uses one thread (the controller is made once, ~1 ms)."""
    global _controller
    if _controller is None:
        # threadpoolctl inspects every loaded library when imported: only a sweep of many chunks pays for it
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
