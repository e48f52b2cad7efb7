"""Each API call starts from the state a fresh process has, so that a long-lived process (a notebook, a
server, a test run) gets the answer the CLI gives.

Three kinds of process state changed answers between calls:
- SymPy's global cache. A derivative met before came from it, so an expression that runs past the
  symbolic time budget (or past the recursion limit) in a fresh process got a symbolic value in a
  process that had seen it: `w**w**...**w*x1` needed 4.0 s at first and 0.9 s the second time.
  It is emptied at the start of each call.
- The recursion limit and the depth of the caller's stack. SymPy recurses; whether it hits the limit
  depended on how deep the caller was and on a limit someone else set. Each call gets the same
  headroom the CLI has (RECURSION_HEADROOM frames above the caller), and the old limit back after.
- The first use of SymPy. Its import (and the modules it loads on first use) counted against the
  first call's time budget only; it is done before any budget starts (engines/symbolic.time_limit).
- A time limit whose exit was cut short (Ctrl-C while it disarmed) stayed in force, and every later
  symbolic step ran out of time at once: an outermost call forgets it (symbolic.reset_budgets).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

# The CLI calls the API 13 frames deep under Python's default limit of 1000: this much room is left.
RECURSION_HEADROOM = 985

F = TypeVar("F", bound=Callable[..., Any])


def as_if_fresh(function: F) -> F:
    """The API function, each of its calls starting from a fresh process's state (see the module)."""

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            forget_caches()  # the recursion limit is the whole process's: left alone off the main thread
            return function(*args, **kwargs)
        global _calls
        previous = sys.getrecursionlimit()
        outermost = not _calls  # then no time limit of ours can be running
        _calls += 1
        try:
            sys.setrecursionlimit(_depth() + RECURSION_HEADROOM)
            if outermost:
                _reset_budgets()
            forget_caches()
            return function(*args, **kwargs)
        finally:
            _calls -= 1
            sys.setrecursionlimit(previous)

    return call  # type: ignore[return-value]


_calls = 0  # API calls running on the main thread (one calls another: train checks with gradients)


def _reset_budgets() -> None:
    symbolic = sys.modules.get("gradcli.engines.symbolic")  # not loaded: no budget was ever set
    if symbolic is not None:
        symbolic.reset_budgets()


def forget_caches() -> None:
    """Empty SymPy's cache (only if SymPy is loaded: importing it here would cost every call)."""
    cache = sys.modules.get("sympy.core.cache")
    if cache is not None:
        cache.clear_cache()


def _depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth
