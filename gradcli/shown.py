"""How a report shows itself in Jupyter, without a low layer importing the views.

A report class mixes in `Shown`: IPython (and Jupyter) calls its `_repr_html_` and `_repr_svg_` when it
displays the report. Those look up the drawing function by the report's type name in a registry that
views/notebook.py fills when it is imported, and it is imported by name the first time a report is
displayed, so `import gradcli` and the CLI never load it, and nothing here imports IPython.

A drawing that fails (a missing optional library, a bug) gives None: Jupyter then shows the plain
`__repr__`, never a traceback in the notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

Drawer = Callable[[object], str]

DRAWINGS = "gradcli.views.notebook"  # the module that registers the drawings (a view: rank 9)

_DRAWERS: dict[tuple[str, str], Drawer] = {}  # (report type name, "html" or "svg") -> drawing


def register(type_name: str, kind: str, drawer: Drawer) -> None:
    """`drawer(report) -> str` draws reports of the type named `type_name` as `kind` ("html" or "svg")."""
    _DRAWERS[type_name, kind] = drawer


def drawer_for(report: object, kind: str) -> Drawer | None:
    """The drawing registered for the report's type, the drawings module imported on first use."""
    key = (type(report).__name__, kind)
    if key not in _DRAWERS:
        import_module(DRAWINGS)  # by name: a report (rank 5 to 7) may not import the views (rank 9)
    return _DRAWERS.get(key)


def drawn(report: object, kind: str) -> str | None:
    """The report drawn as `kind`, or None where it has no such drawing or drawing it failed."""
    try:
        drawer = drawer_for(report, kind)
        return None if drawer is None else drawer(report)
    except Exception:  # noqa: BLE001 - any failure falls back to the plain repr, as Jupyter does with None
        return None


class Shown:
    """Mixed into every report the API returns: the HTML (and for a graph the SVG) Jupyter displays."""

    def _repr_html_(self) -> str | None:
        return drawn(self, "html")

    def _repr_svg_(self) -> str | None:
        return drawn(self, "svg")


# The short `__repr__` of every report is made of these: one line, under about 200 characters.

def brief(value: object) -> str:
    """A number in a repr: 6 significant digits (1.5, 0.25, 1e-12); '-' for None."""
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, int | float) else str(value)


def clipped(text: str, limit: int = 60) -> str:
    """A model or formula cut to `limit` characters (an ellipsis says it was)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listed(items: list[str], limit: int = 4) -> str:
    """The first `limit` items, then how many more."""
    shown = ", ".join(items[:limit])
    return shown + (f", … {len(items) - limit} more" if len(items) > limit else "")


def verdict_word(agree: bool | None) -> str:
    return {True: "agree", False: "disagree", None: "not compared"}[agree]
