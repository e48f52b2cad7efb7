"""Typer's parameters and help made to behave as Click's: metavars, conversions and messages in
Click's words, help that wraps at words, examples that can be copied whole, usage errors that name
the command.

Typer 0.2x converts every value through a pydantic TypeAdapter: it imports pydantic on a
command's first run (a large share of the start-up), shows types as <str>, <bool> or
<list[str]>, and passes pydantic's words on ("Input should be a valid integer", "Value error,
..."). gradcli's options take text, numbers, choices and flags only: the classes below convert
those as Click's own types do, with Click's metavars and messages, for every option and argument
of every command (the help option and the completion options too). Any other kind of value is
left to Typer. With an older Typer, built on Click itself, the parameters are left as they are.
"""

import inspect
import re
import shutil
from enum import Enum
from typing import get_args, get_origin

import typer

_METAVARS = {str: "TEXT", int: "INTEGER", float: "FLOAT"}
_TRUE, _FALSE = {"1", "true", "t", "yes", "y", "on"}, {"0", "false", "f", "no", "n", "off"}


def kind_of(param: typer.core.TyperOption | typer.core.TyperArgument) -> object:
    """The type of one value of the parameter (the item type for a repeated option)."""
    annotation = param.type_descriptor.annotation
    return get_args(annotation)[0] if get_origin(annotation) is list else annotation


def _converts(kind: object) -> bool:
    return kind in _METAVARS or kind is bool or (isinstance(kind, type) and issubclass(kind, Enum))


def metavar_of(param: typer.core.TyperOption) -> str:
    """TEXT, INTEGER, FLOAT, [a|b|c] for a choice, nothing for a flag."""
    kind = kind_of(param)
    if param.is_flag or kind is bool:
        return ""
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "[" + "|".join(str(member.value) for member in kind) + "]"
    return _METAVARS.get(kind, str(getattr(kind, "__name__", kind)).upper())  # type: ignore[call-overload]


def _number_range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low}<=x<={high}"
    return f"x>={low}" if high is None else f"x<={high}"


class _Conversion:
    """One parameter's values converted as Click's STRING, INT, FLOAT, BOOL and Choice types convert them."""

    def __init__(self, param: typer.core.TyperOption | typer.core.TyperArgument) -> None:
        self.kind = kind_of(param)

    def coerce(self, value: object, param: typer.core.TyperOption | typer.core.TyperArgument,
               ctx: typer.Context) -> object:
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        if param.multiple or param.nargs == -1:
            if isinstance(value, str):
                raise typer.BadParameter("Value must be an iterable.", ctx=ctx, param=param)
            return [self.one(item, param, ctx) for item in value]  # type: ignore[attr-defined]
        return self.one(value, param, ctx)

    def one(self, value: object, param: typer.core.TyperOption | typer.core.TyperArgument,
            ctx: typer.Context) -> object:
        kind = self.kind
        if kind is str:
            return value if isinstance(value, str) else str(value)
        if isinstance(kind, type) and issubclass(kind, Enum):
            members = list(kind)
            if isinstance(value, kind):
                return value
            found = next((member for member in members if str(member.value) == str(value)), None)
            if found is None:  # an alias the Enum keeps (an older name) is accepted, not listed
                found = kind.__members__.get(str(value))
            if found is None:
                listed = ", ".join(repr(str(member.value)) for member in members)
                raise typer.BadParameter(f"{value!r} is not one of {listed}.", ctx=ctx, param=param)
            return found
        if kind is bool:
            if isinstance(value, bool):
                return value
            word = str(value).strip().lower()
            if word in _TRUE | _FALSE:
                return word in _TRUE
            raise typer.BadParameter(f"{value!r} is not a valid boolean.", ctx=ctx, param=param)
        name = "integer" if kind is int else "float"
        try:
            if isinstance(value, bool) or (kind is int and isinstance(value, float)):
                raise ValueError
            number = kind(value)  # type: ignore[operator]
        except (TypeError, ValueError, OverflowError):
            raise typer.BadParameter(f"{value!r} is not a valid {name}.", ctx=ctx, param=param) from None
        low, high = getattr(param, "min", None), getattr(param, "max", None)
        if (low is not None and number < low) or (high is not None and number > high):
            raise typer.BadParameter(f"{number} is not in the range {_number_range(low, high)}.", ctx=ctx, param=param)
        return number


class Option(typer.core.TyperOption):
    """An option converted as above, with its metavar (none for a flag)."""

    def get_runtime_param(self) -> object:
        return _Conversion(self) if _converts(kind_of(self)) else super().get_runtime_param()

    def display_type_rich(self, ctx: typer.Context) -> str:
        metavar = self.metavar if self.metavar is not None else metavar_of(self)
        rich = typer.core.HAS_RICH and getattr(ctx.command, "rich_markup_mode", None) is not None
        return _folded(metavar) if rich else metavar  # Click's plain help puts a long one on a line of its own


def _folded(metavar: str, width: int = 24) -> str:
    """A list of choices longer than `width` on two or more lines of about equal length, broken after a '|'.

    Rich gives the metavars' column no more room than the help beside it: at 80 columns
    [lbfgs|gd|sgd|momentum|adam] was cut inside 'adam'.
    """
    if len(metavar) <= width or not metavar.startswith("["):
        return metavar
    target = len(metavar) / -(-len(metavar) // width)  # the length of each of the fewest lines that fit
    lines = [""]
    for piece in re.split(r"(?<=\|)", metavar):
        if lines[-1] and len(lines[-1]) + len(piece) > target:
            lines.append("")
        lines[-1] += piece
    return "\n".join(lines)


class Argument(typer.core.TyperArgument):
    """An argument converted as above, named in capitals as Click names them: `gradcli train [OPTIONS] DATA`."""

    def get_runtime_param(self) -> object:
        return _Conversion(self) if _converts(kind_of(self)) else super().get_runtime_param()

    def display_type_rich(self, ctx: typer.Context) -> str:
        return ""

    def get_usage_pieces(self, ctx: typer.Context) -> list[str]:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return [name if self.required else f"[{name}]"]


def _tidied(param: object) -> None:
    """A Typer parameter made one of the classes above (once), with its metavar."""
    if isinstance(param, (Option, Argument)) or not hasattr(param, "type_descriptor"):
        return
    if isinstance(param, typer.core.TyperOption):
        param.__class__ = Option
        if param.metavar is None:
            param.metavar = metavar_of(param)
    elif isinstance(param, typer.core.TyperArgument):
        param.__class__ = Argument
        if param.metavar is None:
            param.metavar = param.name.upper()


def _reflowed(help_text: str | None) -> str | None:
    """Each paragraph of a docstring as one line, for the help to wrap at the width of the terminal
    (Rich keeps a docstring's line breaks: "At the end the" stood alone on a line)."""
    if not help_text:
        return help_text
    return "\n\n".join(part if part.startswith("\b") else " ".join(part.split())
                       for part in inspect.cleandoc(help_text).split("\n\n"))


def folded_command(command: str, width: int, indent: str = "   ") -> list[str]:
    """A command line as lines of at most `width` characters that a shell reads as the one command:
    broken between words (never inside quotes) with a backslash at the end of each line but the last."""
    words = re.findall(r"""(?:[^\s'"]+|'[^']*'|"[^"]*")+""", command)
    groups: list[str] = []  # an option stays with its value, a redirection with its file
    for word in words:
        if groups and (groups[-1] in (">", "<", "2>") or (groups[-1].startswith("-") and " " not in groups[-1]
                                                           and not word.startswith("-")
                                                           and word not in ("|", ">", "<", "2>"))):
            groups[-1] += " " + word
        else:
            groups.append(word)
    lines, line = [], indent
    for k, word in enumerate(groups):
        if line.strip() and len(line) + 1 + len(word) + (2 if k < len(groups) - 1 else 0) > width:
            lines.append(line + " \\")
            line = indent + "  "
        line += ("" if not line.strip() else " ") + word
    return lines + [line]


def _split_example(help_text: str | None) -> tuple[str | None, list[str]]:
    """The help without its "Example: ..." paragraphs, and the example commands."""
    if not help_text:
        return help_text, []
    parts = help_text.split("\n\n")
    examples = [part.removeprefix("Example:").strip() for part in parts if part.startswith("Example:")]
    return "\n\n".join(part for part in parts if not part.startswith("Example:")), examples


class Tidy:
    """What gradcli's commands and its group have in common: tidy parameters, help that wraps at
    words, examples that can be copied whole, and usage errors that name the command."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.help = _reflowed(self.help)  # type: ignore[has-type]

    def get_params(self, ctx: typer.Context) -> list[object]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            _tidied(param)
        return params

    def format_help(self, ctx: typer.Context, formatter: object) -> None:
        # An example is printed as it is, on a line of its own after the rest, where the terminal
        # cannot wrap it inside a word or a quoted argument (Rich would, to fit 80 columns).
        full = self.help
        self.help, examples = _split_example(full)
        try:
            super().format_help(ctx, formatter)  # type: ignore[misc]
        finally:
            self.help = full
        if examples:
            width = shutil.get_terminal_size().columns  # COLUMNS, the terminal's, else 80 (as Rich's help)
            formatter.write("\n Example:\n" if len(examples) == 1 else "\n Examples:\n")  # type: ignore[attr-defined]
            for example in examples:
                formatter.write("".join(line + "\n" for line in folded_command(example, width)))  # type: ignore[attr-defined]

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc]
        except USAGE_ERROR as err:
            if err.ctx is None:  # Click's parser leaves some errors without a command to name
                err.ctx, err.cmd = ctx, ctx.command
            raise


# Typer may bundle its own click: find its UsageError through a public class.
USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class Command(Tidy, typer.core.TyperCommand):
    pass


class Group(Tidy, typer.core.TyperGroup):
    pass
