"""Text the user wrote (a model, a loss, an expression) with its Expr, parsed at most once.

The parse is made where the text is first needed, not when it is read: which error wins when two
inputs are bad stays what it was (a bad parameter value is told before a model that does not parse).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .expr import MAX_FILE_LENGTH, MAX_LENGTH, Expr, parse


@dataclass(frozen=True, eq=False)
class Written:
    """`text` as written; `expr` its tree, parsed on first use and kept."""

    text: str
    what: str = "model"  # how messages name it: model, loss, expression
    from_file: bool = False  # a file allows longer text and newlines

    @cached_property
    def expr(self) -> Expr:
        return parse(self.text, what=self.what, max_length=MAX_FILE_LENGTH if self.from_file else MAX_LENGTH)


def written(text: str | Written, what: str = "model", from_file: bool = False) -> Written:
    """`text` as a Written (as it is, when it is one already)."""
    return text if isinstance(text, Written) else Written(text, what, from_file)
