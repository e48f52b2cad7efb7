"""The `gradcli` command line: shared options in, one call of the public API, one view out.

Nothing deeper than the API is called from here: every command is one API call and one view, so
what the CLI computes, a Python program computes the same way. Exit codes: 0 success (gradients
agree), 1 a check failed, 2 bad input. stdout carries results only; warnings and errors go to stderr.

One module per command registers it on the app (app.py); options.py holds the options they share,
adapter.py makes Typer's parameters and help behave as Click's, and process.py is the process
around them (exit codes, signals, encodings). A new command is one new module here: every module
of this package is imported below.
"""

import os
from importlib import import_module

from .app import app
from .process import INTERNAL_ERROR, INTERRUPTED, OUTPUT_LOST, main, without_final_collection

__all__ = ["INTERNAL_ERROR", "INTERRUPTED", "OUTPUT_LOST", "app", "main", "without_final_collection"]

# The order help lists the commands in; a command whose module is not named here comes after these.
LISTED = ("grad", "train", "predict", "losses", "explain", "graph", "diff", "hessian", "check")


def _import_every_module() -> None:
    """Import this package's modules: each command's module registers its command as it is imported."""
    found = sorted(name.removesuffix(".py") for name in os.listdir(os.path.dirname(__file__))
                   if name.endswith(".py") and not name.startswith("_"))
    for name in sorted(found, key=lambda name: LISTED.index(name) if name in LISTED else len(LISTED)):
        import_module(f"{__name__}.{name}")


_import_every_module()
