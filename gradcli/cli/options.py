"""The options every command is built from, defined once: the model, the loss, the data, the
parameters, shapes, tolerances, Dask, and the one `--format`, whose choices are the formats the
command's view offers (gradcli/views/formats.py).

The question's options are one block, SHARED; `@asks` gives it to a command, which declares only
its own options and passes the block to its task as `asked.keywords`. A new option for every
command that takes a question is one `Shared` entry here (and its keyword in the tasks).

No `from __future__ import annotations` in this package: Typer reads every command's signature on
each run, and string annotations made it compile and evaluate ~300 of them each time (50 ms of
start-up).
"""

import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any

import typer

from ..language.losses import DEFAULT_DELTA, DEFAULT_LOSS, LOSSES
from ..views.formats import offered, output_file
from . import adapter

ModelArgument = Annotated[str | None, typer.Argument(
    show_default=False,
    help="The model, e.g. \"b + w1*x1 + w2*x2\" (^ also means power).")]
ModelFileOption = Annotated[str | None, typer.Option(
    "--model-file", metavar="FILE", show_default=False,
    help="Read the model from a file ('-' for stdin).")]


def complete_loss(incomplete: str) -> list[tuple[str, str]]:
    """The built-in losses for shell completion of --loss, each with its formula (an expression is the user's)."""
    return [(name, info.formula) for name, info in LOSSES.items() if name.startswith(incomplete)]


LossOption = Annotated[str, typer.Option(
    "--loss", "-l", metavar="NAME|EXPR", autocompletion=complete_loss,
    help=f"{', '.join(LOSSES)}, or an expression in yhat and y (see `gradcli losses`).")]
DeltaOption = Annotated[float, typer.Option("--delta", help="Huber loss threshold.")]
TargetOption = Annotated[str, typer.Option("--target", "-t", metavar="NAME", help="The name of the target.")]
DataOption = Annotated[str | None, typer.Option(
    "--data", "-d", metavar="NAME=VALUE,...|FILE", show_default=False,
    help="Inputs and target: NAME=VALUE,... (one row), a CSV or Parquet file (grad: a glob or directory of them too), "
         "or '-' for CSV on stdin.")]
ParamsOption = Annotated[str | None, typer.Option(
    "--params", "-p", metavar="NAME=VALUE,...|FILE", show_default=False,
    help="Parameters: NAME=VALUE,... or a JSON file of name -> number.")]
DelimiterOption = Annotated[str, typer.Option(
    "--delimiter", metavar="CHAR",
    help="What separates a CSV file's fields: one character such as ';' or '|', or 'tab'.")]
ShapeOption = Annotated[list[str] | None, typer.Option(
    "--shape", metavar="NAME=SHAPE", show_default=False,
    help="Make NAME a vector or matrix: W1=4x2 (or 4,2, or h,d with --dim), b1=4. Shapes that follow from others (b1 "
         "from W1 @ x + b1, W2 from the output) are inferred. Repeat for several.")]
DimOption = Annotated[list[str] | None, typer.Option(
    "--dim", metavar="NAME=SIZE", show_default=False,
    help="A named size for --shape: --shape W1=h,d --dim h=4 --dim d=2.")]
InputOption = Annotated[list[str] | None, typer.Option(
    "--input", metavar="NAME=COLUMNS", show_default=False,
    help="A vector input gathered from data columns: x=x1,x2, or x=* for every column but the target. Default: x in "
         "W1 @ x gathers x1, x2, ... when the data has them.")]
DaskOption = Annotated[str | None, typer.Option(
    "--dask", metavar="ADDRESS", show_default=False,
    help="Compute over the data on Dask (needs the dask extra): 'local' starts a cluster on this machine, closed when "
         "the command ends; an address such as tcp://host:8786 uses a running one, whose workers read the files at "
         "the same paths. The data must be files; each part a run with the same --memory streams is read and computed "
         "on a worker.")]
WorkersOption = Annotated[int | None, typer.Option(
    "--workers", metavar="N", min=1, show_default=False,
    help="Worker processes for --dask local (default: one per CPU).")]
WrtOption = Annotated[list[str] | None, typer.Option(
    "--wrt", metavar="NAME,...", show_default=False,
    help="Only these parameters (comma-separated or repeated); grad also takes inputs and the target (one value per "
         "row).")]
RowOption = Annotated[int | None, typer.Option(
    "--row", show_default=False,
    help="With several rows of data: the row (1-based) to work at.")]
AtolOption = Annotated[float, typer.Option("--atol", help="Absolute tolerance.")]
OutputOption = Annotated[str | None, typer.Option(
    "--output", "-o", metavar="FILE", show_default=False,
    help="Write the result to FILE (atomically: all of it or nothing) instead of stdout; '-' is stdout.")]


class Format(StrEnum):
    """A command's output format: the formats its view offers (views/formats.py), the first the default.

    This class stands for them in the signatures; Command fills them in when the command runs or
    shows its help, so only that command's view is imported.
    """


FormatOption = Annotated[Format | None, typer.Option("--format", "-f", show_default=True)]


class Command(adapter.Command):
    """A gradcli command: the adapter's tidy parameters, and --format offering what its view registered."""

    def get_params(self, ctx: typer.Context) -> list[object]:
        params = super().get_params(ctx)
        for param in params:
            if isinstance(param, adapter.Option) and param.type_descriptor.annotation is Format:
                _offer_formats(param, str(self.name))
        return params


def _offer_formats(param: adapter.Option, command: str) -> None:
    """The --format option of `command`: its view's formats as choices (aliases accepted, not listed)."""
    formats = offered(command)
    kind = Format(f"{command.title()}Format", {**{name: name for name in formats.names}, **formats.aliases})
    param.type_descriptor = dataclasses.replace(param.type_descriptor, annotation=kind)
    param.default = kind(formats.default)
    param.help = formats.help
    param.metavar = adapter.metavar_of(param)


_EXPRESSION_MARKS = set("*+/^() ")


def model_friendly(args: list[str]) -> list[str]:
    """A model that starts with a minus (`-w*x1 + b`, `-(a+b)*x1`) is the model, not an option.

    Click reads any word that starts with '-' as an option; a leading space makes it a plain argument,
    and the parser ignores the space. A word counts as a model when it holds an operator or a
    parenthesis, which no option does; `--name=value` stays an option.
    """
    return [f" {arg}" if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1
            and _EXPRESSION_MARKS & set(arg) and "=" not in arg.split("*")[0] else arg for arg in args]


def unmarked(model: str | None) -> str | None:
    """The model as typed: without the space that model_friendly put before its minus."""
    return model[1:] if model is not None and model.startswith(" -") else model


@dataclasses.dataclass(frozen=True)
class Shared:
    """One option of the question that several commands take: its parameter, and the API keyword it feeds.

    `keyword` None: the option is the command's own business (--format), not the task's.
    """

    name: str
    annotation: Any
    default: Any
    keyword: str | None
    convert: Callable[[Any], Any] = lambda value: value


# The shared block, in the order --help lists it. A command takes all of it (less what it leaves
# out) through @asks, and places its own options among these.
SHARED = (
    Shared("model", ModelArgument, None, "model", unmarked),
    Shared("model_file", ModelFileOption, None, "model_file"),
    Shared("loss", LossOption, DEFAULT_LOSS, "loss"),
    Shared("delta", DeltaOption, DEFAULT_DELTA, "delta"),
    Shared("target", TargetOption, "y", "target"),
    Shared("data", DataOption, None, "data"),
    Shared("params", ParamsOption, None, "params"),
    Shared("wrt", WrtOption, None, "wrt", lambda names: names or None),
    Shared("delimiter", DelimiterOption, ",", "delimiter"),
    Shared("shape", ShapeOption, None, "shapes"),
    Shared("dim", DimOption, None, "dims"),
    Shared("input", InputOption, None, "inputs"),
    Shared("dask", DaskOption, None, "dask"),
    Shared("workers", WorkersOption, None, "workers"),
    Shared("fmt", FormatOption, None, None),
)


@dataclasses.dataclass(frozen=True)
class Asked:
    """The shared options as parsed: `keywords` for the task's API call, and the output format."""

    keywords: Mapping[str, Any]
    format: str

    def output(self, path: str | None) -> Any:
        """--output checked before the work, never the file the data, parameters or model come from
        (a GradcliError says why it cannot be written); None for stdout."""
        inputs = [self.keywords.get(key) for key in ("data", "params", "model_file")]
        return output_file(path, [value for value in inputs if isinstance(value, str)])

    def asks(self, command: str) -> dict[str, Any]:
        """What the chosen format needs from the task beyond its default answer (views/formats.py)."""
        return offered(command).asks(self.format)


def asks(*, without: Iterable[str] = (), after: Mapping[str, str] | None = None) -> Callable[..., Any]:
    """Give a command the shared option block; it declares only its own options.

    The command's first parameter receives the shared options as one `Asked`; its other parameters
    are its own, listed in --help among the shared ones: each after the option that `after` names
    for it, or after the own option before it (the first ones, with no name, before the block).
    `after` may move a shared option too (hessian lists --wrt after --delimiter). An own parameter
    named like a shared option replaces it (train's --target, check's --wrt).
    """
    placing = dict(after or {})
    left_out = set(without)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = list(inspect.signature(command).parameters.values())[1:]
        shared = [option for option in SHARED if option.name not in left_out | {p.name for p in own}]
        layout = _layout(shared, own, placing, command.__name__)

        @functools.wraps(command)
        def run(**values: Any) -> Any:
            asked = Asked({option.keyword: option.convert(values.pop(option.name)) for option in shared
                           if option.keyword is not None},
                          values.pop("fmt").value if any(option.name == "fmt" for option in shared) else "")
            return command(asked, **values)

        run.__signature__ = inspect.Signature(layout)  # type: ignore[attr-defined]
        run.__annotations__ = {param.name: param.annotation for param in layout}
        return run

    return decorate


def _layout(shared: list[Shared], own: list[inspect.Parameter], placing: Mapping[str, str],
            command: str) -> list[inspect.Parameter]:
    """The command's parameters in --help order: the shared block, each own option put where it goes."""
    params = [inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=option.default,
                                annotation=option.annotation) for option in shared]
    unknown = set(placing) - {param.name for param in params + own}
    if unknown:
        raise TypeError(f"{command}: no option {', '.join(sorted(unknown))} to place")
    for param in [param for param in params if param.name in placing]:  # shared options moved
        params.remove(param)
        params.insert(_after(params, placing[param.name], command) + 1, param)
    previous = None
    for param in own:
        anchor = placing.get(param.name, previous)
        where = 0 if anchor is None else _after(params, anchor, command) + 1
        params.insert(where, param.replace(kind=inspect.Parameter.KEYWORD_ONLY))
        previous = param.name
    return params


def _after(params: list[inspect.Parameter], name: str, command: str) -> int:
    """Where the parameter `name` stands in `params`."""
    for index, param in enumerate(params):
        if param.name == name:
            return index
    raise TypeError(f"{command}: no option {name} to place another after")
