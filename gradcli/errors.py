"""One family of errors for everything a user can get wrong.

The CLI turns any ``GradcliError`` into one line on stderr and exit code 2;
library callers catch ``GradcliError`` (or a subclass) the same way.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

_MAX_SHOWN = 60


def named_files(paths: Sequence[Any]) -> str:
    """'a.json', or 'a.json' and 'h.csv', or 'a.json', 'h.csv' and 'p.png': files for a message."""
    names = [repr(show_text(str(path))) for path in paths]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def show_text(text: str, limit: int = _MAX_SHOWN) -> str:
    """Quote user text for a message: control characters escaped, long text shortened in the middle.

    Both ends stay: a long path keeps its file name, a long expression its start and its end.
    """
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in escaped)
    if len(escaped) > limit:
        head = (limit - 3) // 2
        escaped = escaped[:head] + "..." + escaped[len(escaped) - (limit - 3 - head):]
    return escaped


def unused(kind: str, names: list[str], what: str, shown: int = 5) -> list[str]:
    """One warning for all the names of a kind, however many: "column 'a', 'b' and 998 more of data.csv
    are not used by the model" (a million unused keys made a million lines)."""
    if not names:
        return []
    quoted = ", ".join(repr(show_text(str(name))) for name in names[:shown])
    more = f" and {len(names) - shown:,} more" if len(names) > shown else ""
    verb = "is" if len(names) == 1 else "are"
    return [f"{kind} {quoted}{more} {what.replace('{verb}', verb)}"]


class GradcliError(Exception):
    """Bad input: the message says what is wrong and where.

    Every subclass survives pickling with its message and attributes (one whose __init__ takes more
    than the message defines __reduce__): a Dask worker's error is pickled to the client.
    """


class ParseError(GradcliError):
    """Expression text that the safe parser rejects, with the character offset."""

    def __init__(self, message: str, text: str = "", offset: int | None = None) -> None:
        self.text = text
        self.offset = offset
        self.reason = message
        where = f" at column {offset + 1}" if offset is not None else ""  # offset counts from 0, people from 1
        super().__init__(f"{message}{where}")

    def __reduce__(self) -> tuple[type, tuple[str, str, int | None]]:
        return type(self), (self.reason, self.text, self.offset)

    def caret(self) -> str | None:
        """The text with a caret under the offending character, for short one-line text."""
        if self.offset is None or not self.text or len(self.text) > 70:
            return None
        if not self.text.isascii() or not self.text.isprintable():
            return None
        return f"  {self.text}\n  {' ' * min(self.offset, len(self.text))}^"


class DataError(GradcliError):
    """A value, a CSV cell or a name given with --data/--params is unusable."""


class RoleError(GradcliError):
    """Names that cannot play the role the user gave them (data vs parameter, target)."""


class UndefinedError(GradcliError):
    """The loss or a derivative is undefined (or infinite) at the point given."""


class TooLargeToDraw(GradcliError):
    """A graph too large for a format that lays it out (svg, html). views/formats.Formats.render adds what to use
    instead: a format of the same command, so that explain's advice is none of graph's formats."""


def leave(message: str, code: int) -> None:
    """Say how the program ends and end it at once (Ctrl-C, SIGTERM), skipping Python's own shutdown,
    in which a second signal could still become a traceback. Output files are all written or all
    discarded before this is reached (io/outputs.py)."""
    sys.stderr.write(f"gradcli: {message}\n")
    sys.stderr.flush()
    os._exit(code)


def placed(err: UndefinedError, where: Callable[[int], str] | None) -> UndefinedError:
    """The error with its 'at row N' told better, e.g. with the file and the CSV line."""
    if where is None:
        return err
    return UndefinedError(re.sub(r"\bat row (\d+)", lambda m: f"at {where(int(m.group(1)))}", str(err), count=1))
