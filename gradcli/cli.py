"""The `gradcli` command line: parses options, calls the public API (gradcli.gradients, ...), picks a view.

Nothing deeper than the API is called from here: every command is one API call and one view, so
what the CLI computes, a Python program computes the same way. Exit codes: 0 success (gradients
agree), 1 a check failed, 2 bad input. stdout carries results only; warnings and errors go to stderr.
"""

# No `from __future__ import annotations` here: Typer reads every command's signature on each run,
# and string annotations made it compile and evaluate ~300 of them each time (50 ms of start-up).

import errno
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated

import typer

import gradcli

from .errors import GradcliError, ParseError, leave, named_files
from .language.losses import DEFAULT_DELTA, DEFAULT_LOSS, LOSSES
from .training.options import DEFAULT_EPOCHS, DEFAULT_OPTIMIZER, DEFAULT_PATIENCE, DEFAULT_TOL, OPTIMIZERS
from .version import __version__

# ---------------------------------------------------------------- options: Click's metavars and messages

# Typer 0.2x converts every value through a pydantic TypeAdapter: it imports pydantic on a
# command's first run (a large share of the start-up), shows types as <str>, <bool> or
# <list[str]>, and passes pydantic's words on ("Input should be a valid integer", "Value error,
# ..."). gradcli's options take text, numbers, choices and flags only: the classes below convert
# those as Click's own types do, with Click's metavars and messages, for every option and argument
# of every command (the help option and the completion options too). Any other kind of value is
# left to Typer. With an older Typer, built on Click itself, the parameters are left as they are.

_METAVARS = {str: "TEXT", int: "INTEGER", float: "FLOAT"}
_TRUE, _FALSE = {"1", "true", "t", "yes", "y", "on"}, {"0", "false", "f", "no", "n", "off"}


def _kind(param: typer.core.TyperOption | typer.core.TyperArgument) -> object:
    """The type of one value of the parameter (the item type for a repeated option)."""
    from typing import get_args, get_origin

    annotation = param.type_descriptor.annotation
    return get_args(annotation)[0] if get_origin(annotation) is list else annotation


def _converts(kind: object) -> bool:
    return kind in _METAVARS or kind is bool or (isinstance(kind, type) and issubclass(kind, Enum))


def _metavar(param: typer.core.TyperOption) -> str:
    """TEXT, INTEGER, FLOAT, [a|b|c] for a choice, nothing for a flag."""
    kind = _kind(param)
    if param.is_flag or kind is bool:
        return ""
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "[" + "|".join(str(member.value) for member in kind) + "]"
    return _METAVARS.get(kind, str(getattr(kind, "__name__", kind)).upper())  # type: ignore[call-overload]


def _number_range(low: float | None, high: float | None) -> str:
    return f"{low}<=x<={high}" if low is not None and high is not None else f"x>={low}" if high is None else f"x<={high}"


class _Conversion:
    """One parameter's values converted as Click's STRING, INT, FLOAT, BOOL and Choice types convert them."""

    def __init__(self, param: typer.core.TyperOption | typer.core.TyperArgument) -> None:
        self.kind = _kind(param)

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


class _Option(typer.core.TyperOption):
    """An option converted as above, with its metavar (none for a flag)."""

    def get_runtime_param(self) -> object:
        return _Conversion(self) if _converts(_kind(self)) else super().get_runtime_param()

    def display_type_rich(self, ctx: typer.Context) -> str:
        metavar = self.metavar if self.metavar is not None else _metavar(self)
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


class _Argument(typer.core.TyperArgument):
    """An argument converted as above, named in capitals as Click names them: `gradcli train [OPTIONS] DATA`."""

    def get_runtime_param(self) -> object:
        return _Conversion(self) if _converts(_kind(self)) else super().get_runtime_param()

    def display_type_rich(self, ctx: typer.Context) -> str:
        return ""

    def get_usage_pieces(self, ctx: typer.Context) -> list[str]:
        name = self.display_name_raw + ("..." if self.nargs != 1 else "")
        return [name if self.required else f"[{name}]"]


def _tidied(param: object) -> None:
    """A Typer parameter made one of the classes above (once), with its metavar."""
    if isinstance(param, (_Option, _Argument)) or not hasattr(param, "type_descriptor"):
        return
    if isinstance(param, typer.core.TyperOption):
        param.__class__ = _Option
        if param.metavar is None:
            param.metavar = _metavar(param)
    elif isinstance(param, typer.core.TyperArgument):
        param.__class__ = _Argument
        if param.metavar is None:
            param.metavar = param.name.upper()


def _reflowed(help_text: str | None) -> str | None:
    """Each paragraph of a docstring as one line, for the help to wrap at the width of the terminal
    (Rich keeps a docstring's line breaks: "At the end the" stood alone on a line)."""
    if not help_text:
        return help_text
    import inspect

    return "\n\n".join(part if part.startswith("\b") else " ".join(part.split())
                       for part in inspect.cleandoc(help_text).split("\n\n"))


def _folded_command(command: str, width: int, indent: str = "   ") -> list[str]:
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


class _Tidy:
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
            import shutil

            width = shutil.get_terminal_size().columns  # COLUMNS, the terminal's, else 80 (as Rich's help)
            formatter.write("\n Example:\n" if len(examples) == 1 else "\n Examples:\n")  # type: ignore[attr-defined]
            for example in examples:
                formatter.write("".join(line + "\n" for line in _folded_command(example, width)))  # type: ignore[attr-defined]

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc]
        except _USAGE_ERROR as err:
            if err.ctx is None:  # Click's parser leaves some errors without a command to name
                err.ctx, err.cmd = ctx, ctx.command
            raise


# Typer may bundle its own click: find its UsageError through a public class.
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class Command(_Tidy, typer.core.TyperCommand):
    pass


class Group(_Tidy, typer.core.TyperGroup):
    pass


app = typer.Typer(
    cls=Group,
    help="Gradients of a loss two ways, symbolically (SymPy) and by backpropagation, side by side.\n\n"
    'Example: gradcli grad "b + w1*x1 + w2*x2" --data x1=1.5,x2=2,y=1 --params b=0.5,w1=2,w2=-1',
    add_completion=True,
    pretty_exceptions_enable=False,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="table for people; json or csv for programs.", show_default=True)
]

# Options that grad, explain and graph share (train reuses some).
ModelArgument = Annotated[str | None, typer.Argument(help="The model, e.g. \"b + w1*x1 + w2*x2\" (^ also means power).", show_default=False)]
ModelFileOption = Annotated[str | None, typer.Option("--model-file", metavar="FILE", help="Read the model from a file ('-' for stdin).", show_default=False)]


def complete_loss(incomplete: str) -> list[tuple[str, str]]:
    """The built-in losses for shell completion of --loss, each with its formula (an expression is the user's)."""
    return [(name, info.formula) for name, info in LOSSES.items() if name.startswith(incomplete)]


LossOption = Annotated[str, typer.Option("--loss", "-l", metavar="NAME|EXPR", autocompletion=complete_loss, help=f"{', '.join(LOSSES)}, or an expression in yhat and y (see `gradcli losses`).")]
DeltaOption = Annotated[float, typer.Option("--delta", help="Huber loss threshold.")]
TargetOption = Annotated[str, typer.Option("--target", "-t", metavar="NAME", help="The name of the target.")]
DataOption = Annotated[str | None, typer.Option("--data", "-d", metavar="NAME=VALUE,...|FILE", help="Inputs and target: NAME=VALUE,... (one row), a CSV or Parquet file (grad: a glob or directory of them too), or '-' for CSV on stdin.", show_default=False)]
ParamsOption = Annotated[str | None, typer.Option("--params", "-p", metavar="NAME=VALUE,...|FILE", help="Parameters: NAME=VALUE,... or a JSON file of name -> number.", show_default=False)]
DelimiterOption = Annotated[str, typer.Option("--delimiter", metavar="CHAR", help="What separates a CSV file's fields: one character such as ';' or '|', or 'tab'.")]
ShapeOption = Annotated[list[str] | None, typer.Option("--shape", metavar="NAME=SHAPE", help="Make NAME a vector or matrix: W1=4x2 (or 4,2, or h,d with --dim), b1=4. Shapes that follow from others (b1 from W1 @ x + b1, W2 from the output) are inferred. Repeat for several.", show_default=False)]
DimOption = Annotated[list[str] | None, typer.Option("--dim", metavar="NAME=SIZE", help="A named size for --shape: --shape W1=h,d --dim h=4 --dim d=2.", show_default=False)]
InputOption = Annotated[list[str] | None, typer.Option("--input", metavar="NAME=COLUMNS", help="A vector input gathered from data columns: x=x1,x2, or x=* for every column but the target. Default: x in W1 @ x gathers x1, x2, ... when the data has them.", show_default=False)]
DaskOption = Annotated[str | None, typer.Option("--dask", metavar="ADDRESS", help="Compute over the data on Dask (needs the dask extra): 'local' starts a cluster on this machine, closed when the command ends; an address such as tcp://host:8786 uses a running one, whose workers read the files at the same paths. The data must be files; each part a run with the same --memory streams is read and computed on a worker.", show_default=False)]
WorkersOption = Annotated[int | None, typer.Option("--workers", metavar="N", help="Worker processes for --dask local (default: one per CPU).", min=1, show_default=False)]
WrtOption = Annotated[list[str] | None, typer.Option("--wrt", metavar="NAME,...", help="Only these parameters (comma-separated or repeated); grad also takes inputs and the target (one value per row).", show_default=False)]


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"gradcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool | None, typer.Option("--version", "-V", callback=_show_version, is_eager=True, help="Show the version.")
    ] = None,
) -> None:
    """Gradients of a loss two ways, symbolically (SymPy) and by backpropagation, side by side.

    Example: gradcli grad "b + w1*x1 + w2*x2" --data x1=1.5,x2=2,y=1 --params b=0.5,w1=2,w2=-1
    """
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


def warn(message: str) -> None:
    sys.stderr.write(f"gradcli: warning: {message}\n")


@contextmanager
def user_errors() -> Iterator[None]:
    """Bad input becomes one line on stderr and exit code 2 (plus a caret on a terminal)."""
    try:
        yield
    except GradcliError as err:
        sys.stderr.write(f"gradcli: error: {err}\n")
        if isinstance(err, ParseError) and sys.stderr.isatty() and err.caret():
            sys.stderr.write(f"{err.caret()}\n")
        raise typer.Exit(2) from None


@app.command(cls=Command)
def grad(
    model: ModelArgument = None,
    model_file: ModelFileOption = None,
    loss: LossOption = DEFAULT_LOSS,
    delta: DeltaOption = DEFAULT_DELTA,
    target: TargetOption = "y",
    data: DataOption = None,
    params: ParamsOption = None,
    wrt: WrtOption = None,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance: agree when |s - b| <= atol + rtol*|s|, or within what float64 can resolve of that gradient (where terms cancel).")] = 1e-9,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-12,
    check_fd: Annotated[bool, typer.Option("--check-fd", help="Add central finite differences as a third witness.")] = False,
    delimiter: DelimiterOption = ",",
    memory: Annotated[str | None, typer.Option("--memory", metavar="SIZE", help="Data larger than this (2GB, 512MiB; default a quarter of this machine's memory) is read part by part, every engine's sums added up in one pass.", show_default=False)] = None,
    shape: ShapeOption = None,
    dim: DimOption = None,
    input: InputOption = None,
    entries: Annotated[bool, typer.Option("--entries", help="With vectors and matrices: list every entry's gradient, not only each parameter's largest difference.")] = False,
    dask: DaskOption = None,
    workers: WorkersOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Every gradient of the loss two ways, side by side, with a check that they agree.

    Without values, parameters default to 0.5, inputs to 1 and the target to 0; in a model with
    vectors and matrices, weights start from a seeded Glorot (He under relu) draw and biases at 0.
    Exit code 0 when all gradients agree, 1 when any disagrees, 2 for bad input.

    Data from files larger than --memory is read part by part; with --dask each part is read and
    summed on a Dask cluster's workers (the mean gradient and both witnesses, as in memory).

    Example: gradcli grad "b + w1*x1 + w2*x2" --data x1=1.5,x2=2,y=1 --params b=0.5,w1=2,w2=-1
    """
    with user_errors():
        report = gradcli.gradients(_unmarked(model), loss, data, params, model_file=model_file, target=target, wrt=wrt or None,
                                   delta=delta, rtol=rtol, atol=atol, check_fd=check_fd, delimiter=delimiter,
                                   memory=memory, shapes=shape, dims=dim, inputs=input, dask=dask, workers=workers,
                                   dashboard=_say_dashboard)
    for note in report.warnings:
        warn(note)
    from .views import grad as view

    if fmt == Format.table:
        view.gradient_table(report, entries=entries)
    else:
        {Format.json: view.gradient_json, Format.csv: view.gradient_csv}[fmt](report)
    if report.agree is False:
        raise typer.Exit(1)


# The choices come from the optimisers' table, so a new optimiser needs no change here.
Optimizer = Enum("Optimizer", {name: name for name in OPTIMIZERS}, type=str)  # type: ignore[misc]


@app.command(cls=Command)
def train(
    data: Annotated[str, typer.Argument(help="A CSV or Parquet file with a header row, a glob or directory of them (quote the glob), or '-' for CSV on stdin.")],
    model: Annotated[str | None, typer.Option("--model", "-m", metavar="EXPR", help="The model; default: b + a weight per column (w1*x1 for x1, w_size*size for size).", show_default=False)] = None,
    model_file: ModelFileOption = None,
    loss: LossOption = DEFAULT_LOSS,
    delta: DeltaOption = DEFAULT_DELTA,
    target: Annotated[str, typer.Option("--target", "-t", metavar="NAME", help="The target column.")] = "y",
    optimizer: Annotated[Optimizer, typer.Option("--optimizer", "-o", help="lbfgs needs no learning rate; gd, sgd, momentum and adam use --lr.")] = Optimizer[DEFAULT_OPTIMIZER],
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate (default: gd 0.1, sgd/momentum/adam 0.01).", show_default=False)] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="At most this many passes over the data.", min=1)] = DEFAULT_EPOCHS,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Rows per step (default: all; sgd 32).", min=1, show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for shuffling and for a random start.")] = 0,
    tol: Annotated[float, typer.Option("--tol", help="Stop when the loss changes by less than this (relative) ...")] = DEFAULT_TOL,
    patience: Annotated[int, typer.Option("--patience", help="... for this many epochs in a row.", min=1)] = DEFAULT_PATIENCE,
    no_precondition: Annotated[bool, typer.Option("--no-precondition", help="The textbook update on the parameters themselves. By default the optimisers step in coordinates where the loss is about as curved in every direction, so inputs of any scale need no --lr tuning.")] = False,
    init: Annotated[str | None, typer.Option("--init", metavar="NAME=VALUE,...|FILE", help="Starting values: NAME=VALUE,... or a JSON file (default 0, or seeded random for a non-linear model).", show_default=False)] = None,
    save: Annotated[str | None, typer.Option("--save", metavar="FILE", help="Write the model and its parameters as JSON (for `gradcli predict`).", show_default=False)] = None,
    plot: Annotated[str | None, typer.Option("--plot", metavar="FILE", help="Draw the loss curve to FILE.png or FILE.svg (needs matplotlib: the plot extra).", show_default=False)] = None,
    history: Annotated[str | None, typer.Option("--history", metavar="FILE", help="Write the loss per epoch as CSV.", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    delimiter: DelimiterOption = ",",
    memory: Annotated[str | None, typer.Option("--memory", metavar="SIZE", help="Data larger than this (2GB, 512MiB; default a quarter of this machine's memory) is streamed from disk part by part, a pass per evaluation.", show_default=False)] = None,
    dask: DaskOption = None,
    workers: WorkersOption = None,
    shape: ShapeOption = None,
    dim: DimOption = None,
    input: InputOption = None,
    validation: Annotated[float | None, typer.Option("--validation", metavar="FRACTION", help="Keep this fraction of the rows (strictly between 0 and 1, drawn with --seed) out of training: their loss is shown beside the training loss after every epoch, and accuracy (bce, ce) or R² (mse) on them. Data in memory only.", show_default=False)] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Fit a model to a CSV file by gradient descent, with backprop gradients, and check the result.

    Linear model + mse: also solved by least squares, with the distance shown. At the end the
    final gradient is computed by both engines. Data larger than --memory is streamed; with --dask
    it is held on a Dask cluster's workers, each evaluation one pass there. Networks: --shape makes
    names vectors and matrices (as for grad: --model "sigmoid(W2 @ tanh(W1 @ x + b1) + b2)"
    --shape W1=16x2); weights start from a seeded Glorot (He under relu) draw, biases at 0.
    Exit 0 ok, 1 diverged or the check failed, 2 bad input.

    Example: gradcli train samples/data.csv --optimizer adam --lr 0.05 --save params.json
    """
    with user_errors():
        from .views.progress import epoch_progress

        with epoch_progress(quiet, epochs) as bar:
            report = gradcli.train(data, model, model_file=model_file, loss=loss, delta=delta, target=target,
                                   optimizer=optimizer.value, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed,
                                   tol=tol, patience=patience, precondition=not no_precondition, init=init, save=save, history=history,
                                   plot=plot, progress=bar and bar.epoch, delimiter=delimiter, memory=memory,
                                   pass_progress=bar and bar.part, dask=dask, workers=workers,
                                   dashboard=_say_dashboard, shapes=shape, dims=dim, inputs=input,
                                   validation=validation)
    for note in report.warnings:
        warn(note)
    if report.result.diverged:
        warn(report.result.stop_reason)
    from .views import train as view

    {Format.table: view.train_table, Format.json: view.train_json, Format.csv: view.train_csv}[fmt](report)
    if report.failed:
        raise typer.Exit(1)


def _say_dashboard(address: str) -> None:
    sys.stderr.write(f"gradcli: dask dashboard at {address}\n")
    sys.stderr.flush()


@app.command(cls=Command)
def predict(
    model: Annotated[str, typer.Argument(help="A saved model: the file `gradcli train --save` wrote.")],
    data: Annotated[str | None, typer.Argument(help="A CSV or Parquet file with the model's input columns, a glob or directory of them (quote the glob), or '-' for CSV on stdin (the default when stdin is not a terminal).", show_default=False)] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", metavar="FILE|DIR", help="Write here (atomically) instead of stdout: a FILE (Parquet if it ends in .parquet, else CSV), or a directory (existing, or a name ending in '/'): one file per input file, with its name and format.", show_default=False)] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help="For a model trained with --loss bce: add a column 'class', 1 where yhat >= T, else 0 (T strictly between 0 and 1).", metavar="T", show_default=False)] = None,
    delimiter: Annotated[str, typer.Option("--delimiter", metavar="CHAR", help="What separates the data's fields: one character such as ';' or '|', or 'tab' (the output is comma-separated).")] = ",",
    memory: Annotated[str | None, typer.Option("--memory", metavar="SIZE", help="Data larger than this (2GB, 512MiB; default a quarter of this machine's memory) is read and written part by part.", show_default=False)] = None,
    dask: Annotated[str | None, typer.Option("--dask", metavar="ADDRESS", help="Predict on Dask (needs the dask extra): 'local' starts a cluster on this machine, closed when the command ends; an address such as tcp://host:8786 uses a running one, whose workers see the files and --output at the same paths. Needs --output DIR, new or empty: each worker writes its parts there as Parquet (part-00000.parquet, ...), and the directory appears whole or not at all.", show_default=False)] = None,
    workers: WorkersOption = None,
) -> None:
    """Predict with a trained model: the input rows plus a yhat column, as CSV.

    Numbers are written as the shortest decimal that reads back to the same float (1 as 1.0);
    columns the model does not read are copied as they are. Several files (a glob or a directory)
    are written as one CSV, rows in file order, or with --output DIR/ one output file per input.
    With --dask, Parquet parts in a new directory, written by a Dask cluster's workers.

    Example: gradcli predict params.json samples/new.csv > predictions.csv
    """
    with user_errors():
        if data is None:
            if sys.stdin is not None and sys.stdin.isatty():  # reading it would wait for typing, silently
                raise GradcliError(f"no data given: name a CSV or Parquet file (gradcli predict {model} DATA), "
                                   "or pipe CSV into stdin")
            data = "-"
        result = gradcli.predict(model, data, output=output, threshold=threshold, delimiter=delimiter,
                                 memory=memory, dask=dask, workers=workers, dashboard=_say_dashboard)
    for note in result.warnings:
        warn(note)
    if dask is not None:
        sys.stderr.write(f"gradcli: wrote {result.rows:,} rows in {len(result.outputs):,} Parquet "
                         f"part{'s' if len(result.outputs) != 1 else ''} to {output}\n")
    if output is None:
        from .views.predict import predictions_csv

        with user_errors():  # a part read again that cannot be read now (a file changed meanwhile)
            predictions_csv(result)


@app.command(cls=Command)
def losses(fmt: FormatOption = Format.table) -> None:
    """List the built-in losses with their per-row formulas.

    Example: gradcli losses --format json
    """
    from .views.losses import losses_table

    losses_table(gradcli.losses(), fmt.value)


# ---------------------------------------------------------------- explain and graph (issue 4)


class ExplainFormat(str, Enum):
    text = "text"
    json = "json"
    latex = "latex"


class GraphFormat(str, Enum):
    tree = "tree"
    dot = "dot"
    mermaid = "mermaid"
    json = "json"


RowOption = Annotated[int | None, typer.Option("--row", help="With several rows of data: the row (1-based) to work at.", show_default=False)]


@app.command(cls=Command)
def explain(
    model: ModelArgument = None,
    model_file: ModelFileOption = None,
    loss: LossOption = DEFAULT_LOSS,
    delta: DeltaOption = DEFAULT_DELTA,
    target: TargetOption = "y",
    data: DataOption = None,
    params: ParamsOption = None,
    wrt: WrtOption = None,
    row: RowOption = None,
    max_paths: Annotated[int, typer.Option("--max-paths", help="List at most this many paths per parameter; the reverse sweep's adjoint stands in for the rest.")] = 20,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance of the check: agree when |s - p| <= atol + rtol*|s|.")] = 1e-9,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance of the check.")] = 1e-12,
    delimiter: DelimiterOption = ",",
    order: Annotated[int, typer.Option("--order", "-k", help="2: the second derivatives d2loss/dw1dw (w1 the first --wrt name, w each other one) as backprop through the backward pass.")] = 1,
    shape: ShapeOption = None,
    dim: DimOption = None,
    input: InputOption = None,
    entry: Annotated[str | None, typer.Option("--entry", metavar="ENTRY", help="With vectors or matrices: the entry followed as the sum over paths of the scalar graph, e.g. W1[2,1] (default: the first entry of the first --wrt parameter).", show_default=False)] = None,
    fmt: Annotated[ExplainFormat, typer.Option("--format", "-f", help="text for people; json for programs; latex for notes and slides.")] = ExplainFormat.text,
    standalone: Annotated[bool, typer.Option("--standalone", help="With --format latex: a whole document that pdflatex compiles, not a fragment.")] = False,
) -> None:
    """The chain rule step by step, as in the worked example.

    SymPy's derivative, the intermediate nodes, the local derivatives, every path from the
    loss to each parameter, and the check that the paths add up to SymPy's derivative.

    With vectors and matrices (--shape): the backward pass layer by layer as matrix products, at
    the point and over the batch, then one entry as the path sum over the scalar graph, checked.

    Works at one point (one row of data, or --row N). Exit code 0 when every check passes,
    1 when one fails, 2 for bad input.

    Example: gradcli explain "b + w1*x1 + w2*x2" --data x1=1.5,x2=2,y=1 --params b=0.5,w1=2,w2=-1 --wrt w1
    """
    with user_errors():
        if standalone and fmt is not ExplainFormat.latex:
            raise GradcliError(f"--standalone makes a LaTeX document: it needs --format latex (not {fmt.value})")
        result = gradcli.explain(_unmarked(model), loss, data, params, model_file=model_file, target=target, wrt=wrt or None,
                                 delta=delta, row=row, max_paths=max_paths, rtol=rtol, atol=atol,
                                 sympy_forms=fmt is ExplainFormat.latex, delimiter=delimiter, order=order,
                                 shapes=shape, dims=dim, inputs=input, entry=entry)
    for note in result.view.warnings:
        warn(note)
    from .views import explain as view

    if fmt is ExplainFormat.latex:
        view.explanation_latex(result, standalone=standalone)
    else:
        {ExplainFormat.text: view.explanation_text, ExplainFormat.json: view.explanation_json}[fmt](result)
    if result.agree is False:
        raise typer.Exit(1)


@app.command(cls=Command)
def graph(
    model: ModelArgument = None,
    model_file: ModelFileOption = None,
    loss: LossOption = DEFAULT_LOSS,
    delta: DeltaOption = DEFAULT_DELTA,
    target: TargetOption = "y",
    data: DataOption = None,
    params: ParamsOption = None,
    row: RowOption = None,
    highlight: Annotated[str | None, typer.Option("--highlight", metavar="NAME", help="Mark the paths from the loss to this parameter.", show_default=False)] = None,
    delimiter: DelimiterOption = ",",
    shape: ShapeOption = None,
    dim: DimOption = None,
    input: InputOption = None,
    neurons: Annotated[bool, typer.Option("--neurons", help="With vectors or matrices: draw the model written out entry by entry, neuron by neuron (at most 64 parameter entries and 500 nodes).")] = False,
    fmt: Annotated[GraphFormat, typer.Option("--format", "-f", help="tree for the terminal; dot (Graphviz), mermaid or json.")] = GraphFormat.tree,
) -> None:
    """The computational graph, with the local derivative on every edge.

    Each node shows its operation, value and adjoint dloss/dnode at one point; each edge its
    local derivative as a formula and as a number.

    With vectors and matrices (--shape): one node per tensor operation with its shape, each edge's
    vector-Jacobian product as a formula and as numbers; --neurons draws it neuron by neuron.

    Works at one point (one row of data, or --row N). Exit code 0, or 2 for bad input.

    Example: gradcli graph "b + w1*x1 + w2*x2" --highlight w1 --format dot | dot -Tsvg > graph.svg
    """
    with user_errors():
        result = gradcli.graph(_unmarked(model), loss, data, params, model_file=model_file, target=target, delta=delta, row=row,
                               highlight=highlight, delimiter=delimiter, shapes=shape, dims=dim, inputs=input,
                               neurons=neurons)
    for note in result.warnings:
        warn(note)
    from .views import graph as view

    {GraphFormat.tree: view.graph_tree, GraphFormat.dot: view.graph_dot,
     GraphFormat.mermaid: view.graph_mermaid, GraphFormat.json: view.graph_json}[fmt](result)


# ---------------------------------------------------------------- beyond the first gradient (issue 12)


class DiffFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    latex = "latex"


@app.command(cls=Command)
def diff(
    expression: Annotated[str | None, typer.Argument(help="The expression, e.g. \"x**2*sin(x)\" ('-' for stdin).", show_default=False)] = None,
    expression_file: Annotated[str | None, typer.Option("--expression-file", help="Read the expression from a file ('-' for stdin).", show_default=False)] = None,
    wrt: Annotated[list[str] | None, typer.Option("--wrt", help="With respect to these names (comma-separated or repeated; default: every name).", show_default=False)] = None,
    order: Annotated[int, typer.Option("--order", "-k", help="The order of the derivative, 1 to 6 (several names: 1 gradient, 2 Hessian).")] = 1,
    at: Annotated[str | None, typer.Option("--at", help="The point: NAME=VALUE,... for every name, or a JSON file.", show_default=False)] = None,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance: agree when |s - g| <= atol + rtol*|s|.")] = 1e-9,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-12,
    fmt: Annotated[DiffFormat, typer.Option("--format", "-f", help="table for people; json or csv for programs; latex for notes.")] = DiffFormat.table,
) -> None:
    """The derivative of a plain expression (no loss, no roles), two ways, with finite differences as a witness.

    SymPy differentiates the expression; the graph engine differentiates its own derivative graph
    (orders above 1 by backprop through the backward pass). Several names give the gradient, or
    with --order 2 the Hessian. Exit 0 when the engines agree, 1 when they do not, 2 for bad input.

    Example: gradcli diff "x**2*sin(x)" --wrt x --order 3 --at x=1.3
    """
    with user_errors():
        report = gradcli.diff(_unmarked(expression), wrt or None, order, at, expression_file=expression_file,
                              rtol=rtol, atol=atol, readable=fmt in (DiffFormat.table, DiffFormat.json),
                              latex=fmt is DiffFormat.latex)
    for note in report.warnings:
        warn(note)
    from .views import diff as view

    {DiffFormat.table: view.diff_table, DiffFormat.json: view.diff_json, DiffFormat.csv: view.diff_csv,
     DiffFormat.latex: view.diff_latex}[fmt](report)
    if report.failed:
        raise typer.Exit(1)


@app.command(cls=Command)
def hessian(
    model: ModelArgument = None,
    model_file: ModelFileOption = None,
    loss: LossOption = DEFAULT_LOSS,
    delta: DeltaOption = DEFAULT_DELTA,
    target: TargetOption = "y",
    data: DataOption = None,
    params: ParamsOption = None,
    delimiter: DelimiterOption = ",",
    wrt: WrtOption = None,
    hvp: Annotated[str | None, typer.Option("--hvp", help="One Hessian-vector product H v instead of the matrix: v as NAME=VALUE,... (names left out are 0).", show_default=False)] = None,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance, against the matrix's largest entry too.")] = 1e-9,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-12,
    dask: DaskOption = None,
    workers: WorkersOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """The Hessian of the mean loss, two ways: SymPy's second derivatives, and backprop through the backward pass.

    Finite differences of the backprop gradient are a third witness. Then its eigenvalues, its
    condition number, whether the loss is convex there, and the Newton step. Exit 0 when the
    engines agree, 1 when they do not, 2 for bad input.

    With --dask every mean over the data is computed part by part on a Dask cluster's workers.

    Example: gradcli hessian "b + w1*x1 + w2*x2" --data samples/data.csv --params b=0,w1=0,w2=0
    """
    with user_errors():
        report = gradcli.hessian(_unmarked(model), loss, data, params, model_file=model_file, target=target,
                                 wrt=wrt or None, delta=delta, rtol=rtol, atol=atol, hvp=hvp, delimiter=delimiter,
                                 dask=dask, workers=workers, dashboard=_say_dashboard)
    for note in report.warnings:
        warn(note)
    from .views import hessian as view

    {Format.table: view.hessian_table, Format.json: view.hessian_json, Format.csv: view.hessian_csv}[fmt](report)
    if report.failed:
        raise typer.Exit(1)


# ---------------------------------------------------------------- a derivative by hand, checked (issue 13)


class CheckFormat(str, Enum):
    table = "table"
    json = "json"


@app.command(cls=Command)
def check(
    model: ModelArgument = None,
    claim: Annotated[str | None, typer.Option("--claim", "-c", help="The claimed derivative of the per-row loss, in the model's names, the target and yhat (the model's output).", show_default=False)] = None,
    claim_file: Annotated[str | None, typer.Option("--claim-file", help="Read the claim from a file ('-' for stdin).", show_default=False)] = None,
    wrt: Annotated[str, typer.Option("--wrt", help="The parameter the claim differentiates by (one name).", show_default=False)] = ...,  # type: ignore[assignment]
    model_file: ModelFileOption = None,
    loss: LossOption = DEFAULT_LOSS,
    delta: DeltaOption = DEFAULT_DELTA,
    target: TargetOption = "y",
    data: Annotated[str | None, typer.Option("--data", "-d", help="Check at these points too: NAME=VALUE,... (one row), a CSV file, or '-' for CSV on stdin.", show_default=False)] = None,
    params: Annotated[str | None, typer.Option("--params", "-p", help="The parameters at the data's points: NAME=VALUE,... or a JSON file.", show_default=False)] = None,
    delimiter: DelimiterOption = ",",
    points: Annotated[int, typer.Option("--points", "-n", help="Random points to compare at (0 or more).")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random points (0 or more).")] = 0,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance: equal when |c - d| <= atol + rtol*max(|c|, |d|).")] = 1e-7,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-10,
    fmt: Annotated[CheckFormat, typer.Option("--format", "-f", help="table for people; json for programs.")] = CheckFormat.table,
) -> None:
    """Check a derivative worked out by hand against SymPy and backprop.

    SymPy tries to simplify claim - derivative to 0 (under a time bound); then the decisive test
    compares the claim with backprop's derivative at many random points, and at the data's points.
    A wrong claim is shown where it differs, with the correct derivative and the chain-rule factors
    it misses or adds. Exit 0 when the claim is right, 1 when it is wrong, 2 for bad input.

    Example: gradcli check "b + w1*x1 + w2*x2" --wrt w1 --claim "2*(b + w1*x1 + w2*x2 - y)*x1"
    """
    with user_errors():
        report = gradcli.check(_unmarked(model), _unmarked(claim), wrt, loss, data, params, model_file=model_file,
                               claim_file=claim_file, target=target, delta=delta, points=points, seed=seed,
                               rtol=rtol, atol=atol, delimiter=delimiter)
    for note in report.warnings:
        warn(note)
    from .views import check as view

    {CheckFormat.table: view.check_text, CheckFormat.json: view.check_json}[fmt](report)
    if report.failed:
        raise typer.Exit(1)


INTERRUPTED = 130  # Ctrl-C, as shells report it
INTERNAL_ERROR = 70  # a bug in gradcli (sysexits' EX_SOFTWARE): never 1, which means a check failed
OUTPUT_LOST = 74  # stdout could not be written (sysexits' EX_IOERR)
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EBADF, errno.EPIPE}


def main() -> None:
    """Entry point: every way out is one line on stderr and a documented exit code, never a traceback.

    0 ok, 1 a check failed, 2 bad input or usage, 70 a bug (GRADCLI_DEBUG=1 shows its traceback),
    74 the output could not be written, 130 interrupted. An interrupt or a SIGTERM/SIGHUP that comes
    after an output file was put in place (during the renames, which wait for it, or while the
    result prints) says which files were written: "interrupted after writing 'p.json' and 'h.csv'".
    """
    written: list = []  # the output files put in place, for a message on the way out
    try:
        with gradcli.recording_writes() as written:
            code = _run()
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Terminated as ended:
        leave(f"terminated by {ended.name}{_after_writing(written)}", 128 + ended.signum)
    except MemoryError:
        sys.stderr.write("gradcli: error: out of memory: the data is too large for this machine\n")
        code = 2
    except OSError as err:
        # Inputs and output files raise GradcliError; a write error left over is stdout's (/dev/full).
        code = _output_lost(err) if err.errno in _WRITE_ERRORS else _internal_error(err)
    except Exception as err:  # noqa: BLE001 (a bug, told in one line)
        code = _internal_error(err)
    if code == INTERRUPTED:
        try:
            sys.stdout.flush()
        except (OSError, AttributeError):
            pass
        leave(f"interrupted{_after_writing(written)}", INTERRUPTED)
    sys.exit(_flushed(code))


def _after_writing(written: list) -> str:
    """'' when no output file was put in place, else " after writing 'p.json' and 'h.csv'"."""
    return f" after writing {named_files(written)}" if written else ""


def without_final_collection() -> None:
    """Spare the process the teardown Python runs as it ends.

    Python then empties every module and collects what was left in reference cycles. After importing
    SymPy that is most of the ~70,000 objects alive (classes, functions, caches), and it took a quarter
    of a second of every run here (`python -c "import typer, rich, numpy, sympy"` took 0.94 s, and
    0.70 s with gc.freeze() at its end). Frozen, they are left to the operating system with the
    process; atexit handlers and weakref finalisers still run. Only objects in reference cycles lose
    their __del__ by it, and by now every output is written, flushed and closed, temporary files are
    removed and a cluster gradcli started is shut. Called by the entry point (gradcli.__main__), not
    by main(), which an embedding process may call and live on.
    """
    import gc

    try:
        sys.stderr.flush()
    except (OSError, AttributeError, ValueError):
        pass
    gc.freeze()


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised where the program is, so that every clean-up on the way out runs."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signum)
        self.signum, self.name = signum, signal.Signals(signum).name


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _run() -> int:
    """The app, with usage errors as one line and exit code 2."""
    import signal

    # A closed pipe (`gradcli train ... | head`) ends the program quietly, as it ends `cat`;
    # Python's default would be an error exit that reads like a failed check.
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for name in ("SIGTERM", "SIGHUP"):  # by default these kill at once, leaving temporary files behind
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminate)
    _ascii_where_needed()
    if sys.stdout is None:  # started with `>&-`: nothing could be printed, and a file opened now could take fd 1
        sys.stderr.write("gradcli: error: stdout is closed, so nothing could be printed; redirect it to a file\n")
        return 2
    try:
        code = app(args=model_friendly(sys.argv[1:]), prog_name="gradcli", standalone_mode=False)
    except _USAGE_ERROR as err:
        where = err.ctx.command_path if err.ctx else "gradcli"
        message = " ".join(err.format_message().split())
        sys.stderr.write(f"gradcli: error: {message} (see '{where} --help')\n")
        return 2
    except typer.Abort:
        return INTERRUPTED
    return code if isinstance(code, int) else 0


# What the views print beyond ASCII, and what stands for it where the streams take ASCII only
# (PYTHONIOENCODING=ascii, LANG=C on an old system).
_ASCII = {"∂": "d", "✓": "ok", "✗": "x", "→": "->", "·": "*", "×": "x", "◂": "<", "»": ">>", "…": "...",
          "─": "-", "━": "-", "│": "|", "├": "+", "└": "+", "┌": "+", "┐": "+", "┘": "+", "┤": "+", "┬": "+",
          "┴": "+", "┼": "+", "╭": "+", "╮": "+", "╰": "+", "╯": "+", "≤": "<=", "≥": ">=", "−": "-",
          "▁": "_", "▂": "_", "▃": "-", "▄": "-", "▅": "=", "▆": "=", "▇": "#", "█": "#", "δ": "delta"}


def _to_ascii(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    return "".join(_ASCII.get(ch, "?") for ch in err.object[err.start:err.end]), err.end


def _ascii_where_needed() -> None:
    """Streams that cannot take the views' symbols write ASCII stand-ins instead of failing."""
    import codecs

    codecs.register_error("gradcli-ascii", _to_ascii)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if stream is None or encoding is None:
            continue
        try:
            "∂✓→│".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            try:
                stream.reconfigure(errors="gradcli-ascii")  # type: ignore[union-attr]
            except (AttributeError, ValueError):
                pass


_EXPRESSION_MARKS = set("*+/^() ")


def model_friendly(args: list[str]) -> list[str]:
    """A model that starts with a minus (`-w*x1 + b`, `-(a+b)*x1`) is the model, not an option.

    Click reads any word that starts with '-' as an option; a leading space makes it a plain argument,
    and the parser ignores the space. A word counts as a model when it holds an operator or a
    parenthesis, which no option does; `--name=value` stays an option.
    """
    return [f" {arg}" if arg.startswith("-") and not arg.startswith("--") and len(arg) > 1
            and _EXPRESSION_MARKS & set(arg) and "=" not in arg.split("*")[0] else arg for arg in args]


def _unmarked(model: str | None) -> str | None:
    """The model as typed: without the space that model_friendly put before its minus."""
    return model[1:] if model is not None and model.startswith(" -") else model


def _internal_error(err: Exception) -> int:
    import os

    if os.environ.get("GRADCLI_DEBUG"):
        import traceback

        traceback.print_exception(err)
    detail = " ".join(str(err).split())[:200]
    sys.stderr.write(f"gradcli: internal error (a bug in gradcli): {type(err).__name__}"
                     f"{': ' + detail if detail else ''} (GRADCLI_DEBUG=1 shows the traceback)\n")
    return INTERNAL_ERROR


def _output_lost(err: OSError) -> int:
    import os

    sys.stderr.write(f"gradcli: error: cannot write the output: {err.strerror or err}\n")
    try:  # what is left in the buffer goes nowhere, instead of failing again at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return OUTPUT_LOST


def _flushed(code: int) -> int:
    """Flush stdout now, so that a failed write (a full disk) is said and counted, not lost at exit."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as err:
        lost = _output_lost(err)
        return lost if code in (0, 1) else code
    return code
