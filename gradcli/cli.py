"""The `gradcli` command line: parses options, calls the API, renders the result.

Exit codes: 0 success (gradients agree), 1 a check failed, 2 bad input.
stdout carries results only; warnings and errors go to stderr.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from enum import Enum
from typing import Annotated, Any, Callable, Iterator, Optional

import typer

from . import __version__
from .errors import GradcliError, ParseError, UndefinedError, placed, show_text
from .language.losses import DEFAULT_DELTA, DEFAULT_LOSS
from .training.options import DEFAULT_EPOCHS, DEFAULT_PATIENCE, DEFAULT_TOL

app = typer.Typer(
    help="Gradients of a loss two ways, symbolically (SymPy) and by backpropagation, side by side.\n\n"
    'Example: gradcli grad "b + w1*x1 + w2*x2" --data x1=1.5,x2=2,y=1 --params b=0.5,w1=2,w2=-1',
    add_completion=False,
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
ModelArgument = Annotated[Optional[str], typer.Argument(help="The model, e.g. \"b + w1*x1 + w2*x2\" (^ also means power).", show_default=False)]
ModelFileOption = Annotated[Optional[str], typer.Option("--model-file", help="Read the model from a file ('-' for stdin).", show_default=False)]
LossOption = Annotated[str, typer.Option("--loss", "-l", help="mse, mae, huber, bce, or an expression in yhat and y (see `gradcli losses`).")]
DeltaOption = Annotated[float, typer.Option("--delta", help="Huber loss threshold.")]
TargetOption = Annotated[str, typer.Option("--target", "-t", help="The name of the target.")]
DataOption = Annotated[Optional[str], typer.Option("--data", "-d", help="Inputs and target: NAME=VALUE,... (one row), a CSV file, or '-' for CSV on stdin.", show_default=False)]
ParamsOption = Annotated[Optional[str], typer.Option("--params", "-p", help="Parameters: NAME=VALUE,... or a JSON file of name -> number.", show_default=False)]
WrtOption = Annotated[Optional[list[str]], typer.Option("--wrt", help="Only these parameters (comma-separated or repeated).", show_default=False)]


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"gradcli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version.")
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


def _model_text(model: str | None, model_file: str | None) -> tuple[str, bool]:
    from .io.values import decode_utf8, read_text_source
    from .language.expr import MAX_FILE_LENGTH

    if model is not None and model_file is not None:
        raise GradcliError("give the model as an argument or with --model-file, not both")
    if model_file is None:
        if model is None:
            raise GradcliError('no model given: gradcli grad "b + w*x1" (or --model-file FILE)')
        return model, False
    raw = read_text_source(model_file, "--model-file", limit=MAX_FILE_LENGTH + 1)
    if len(raw) > MAX_FILE_LENGTH:
        raise GradcliError(f"--model-file {show_text(model_file)!r} is longer than {MAX_FILE_LENGTH:,} characters")
    return decode_utf8(raw, f"--model-file {show_text(model_file)!r}").rstrip(), True


def _data(spec: str | None, model_text: str, loss: str, target: str, from_file: bool) -> tuple[dict | None, list[str]]:
    """--data as columns for the API, with warnings for CSV columns the model does not use."""
    from .io.csv import read_csv_table, read_header
    from .io.values import is_assignment_list, parse_assignments, read_text_source
    from .language.columns import model_columns

    if spec is None:
        return None, []
    if is_assignment_list(spec):
        return {name: [value] for name, value in parse_assignments(spec, "--data").items()}, []
    source = "stdin" if spec == "-" else spec
    raw = read_text_source(spec, "--data")
    header = read_header(raw, source)
    wanted = model_columns(model_text, loss, target, header, source, from_file=from_file)
    columns = read_csv_table(raw, source, [*wanted, target]).columns
    unused = [f"column {name!r} of {source} is not used by the model" for name in header if name not in columns]
    return columns, unused


def _point_inputs(model: str | None, model_file: str | None, data: str | None, params: str | None, loss: str,
                  target: str) -> tuple[str, bool, dict[str, float], dict | None, list[str]]:
    """The model text, parameter values and data, read as `grad` reads them."""
    from .io.values import read_params

    if [model_file, data, params].count("-") > 1:
        raise GradcliError("only one of --model-file, --data and --params can read stdin ('-')")
    model_text, from_file = _model_text(model, model_file)
    param_values = read_params(params) if params is not None else {}
    columns, notes = _data(data, model_text, loss, target, from_file)
    return model_text, from_file, param_values, columns, notes


def _names(items: list[str] | None) -> list[str] | None:
    """--wrt given as repeated options, comma-separated, or both."""
    return None if not items else [n.strip() for item in items for n in item.split(",") if n.strip()]


@app.command()
def grad(
    model: ModelArgument = None,
    model_file: ModelFileOption = None,
    loss: LossOption = DEFAULT_LOSS,
    delta: DeltaOption = DEFAULT_DELTA,
    target: TargetOption = "y",
    data: DataOption = None,
    params: ParamsOption = None,
    wrt: WrtOption = None,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance: agree when |s - b| <= atol + rtol*|s|.")] = 1e-9,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance.")] = 1e-12,
    check_fd: Annotated[bool, typer.Option("--check-fd", help="Add central finite differences as a third witness.")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Every gradient of the loss two ways, side by side, with a check that they agree.

    Without values, parameters default to 0.5, inputs to 1 and the target to 0.
    Exit code 0 when all gradients agree, 1 when any disagrees, 2 for bad input.

    Example: gradcli grad "b + w1*x1 + w2*x2" --data x1=1.5,x2=2,y=1 --params b=0.5,w1=2,w2=-1
    """
    with user_errors():
        from .comparison import gradients

        model_text, from_file, param_values, columns, notes = _point_inputs(model, model_file, data, params, loss, target)
        chosen = _names(wrt)
        report = gradients(model_text, loss, columns, param_values, target=target, wrt=chosen, delta=delta,
                           rtol=rtol, atol=atol, check_fd=check_fd, from_file=from_file)
    for note in notes + report.warnings:
        warn(note)
    from .views import grad as render

    {Format.table: render.gradient_table, Format.json: render.gradient_json, Format.csv: render.gradient_csv}[fmt](report)
    if report.agree is False:
        raise typer.Exit(1)


class Optimizer(str, Enum):
    lbfgs = "lbfgs"
    gd = "gd"
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"


@contextmanager
def _progress(quiet: bool, epochs: int) -> Iterator[Callable[[int, float], None] | None]:
    """Epoch, loss and speed on a Rich progress bar on stderr: only on a terminal and without --quiet."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("loss {task.fields[loss]}"),
               TextColumn("{task.fields[speed]}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("train", total=epochs, loss="", speed="")

        def update(epoch: int, loss: float) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            speed = f"{epoch / elapsed:,.0f} epochs/s" if elapsed > 0 else ""
            bar.update(task, completed=epoch, loss=f"{loss:.6g}", speed=speed)

        yield update


@app.command()
def train(
    data: Annotated[str, typer.Argument(help="A CSV file with a header row, or '-' for stdin.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="The model; default: b + a weight per column (w1*x1 for x1, w_size*size for size).", show_default=False)] = None,
    model_file: ModelFileOption = None,
    loss: LossOption = DEFAULT_LOSS,
    delta: DeltaOption = DEFAULT_DELTA,
    target: Annotated[str, typer.Option("--target", "-t", help="The target column.")] = "y",
    optimizer: Annotated[Optimizer, typer.Option("--optimizer", "-o", help="lbfgs needs no learning rate; gd, sgd, momentum and adam use --lr.")] = Optimizer.lbfgs,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate (default: gd 0.1, sgd/momentum/adam 0.01).", show_default=False)] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="At most this many passes over the data.", min=1)] = DEFAULT_EPOCHS,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Rows per step (default: all; sgd 32).", min=1, show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for shuffling and for a random start.")] = 0,
    tol: Annotated[float, typer.Option("--tol", help="Stop when the loss changes by less than this (relative) ...")] = DEFAULT_TOL,
    patience: Annotated[int, typer.Option("--patience", help="... for this many epochs in a row.", min=1)] = DEFAULT_PATIENCE,
    init: Annotated[Optional[str], typer.Option("--init", help="Starting values: NAME=VALUE,... or a JSON file (default 0, or seeded random for a non-linear model).", show_default=False)] = None,
    save: Annotated[Optional[str], typer.Option("--save", help="Write the model and its parameters as JSON (for `gradcli predict`).", show_default=False)] = None,
    plot: Annotated[Optional[str], typer.Option("--plot", help="Draw the loss curve to FILE.png or FILE.svg (needs matplotlib: the plot extra).", show_default=False)] = None,
    history: Annotated[Optional[str], typer.Option("--history", help="Write the loss per epoch as CSV.", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Fit a model to a CSV file by gradient descent, with backprop gradients, and check the result.

    Linear model + mse: also solved by least squares, with the distance shown. At the end the
    final gradient is computed by both engines. Exit 0 ok, 1 diverged or the check failed, 2 bad input.

    Example: gradcli train samples/data.csv --optimizer adam --lr 0.05 --save params.json
    """
    with user_errors():
        if lr is not None and not 0 < lr < float("inf"):
            raise GradcliError(f"--lr must be a positive number, got {lr!r}")
        if not 0 <= tol < float("inf"):
            raise GradcliError(f"--tol must be a number >= 0, got {tol!r}")
        if [data, model_file, init].count("-") > 1:
            raise GradcliError("only one of the data, --model-file and --init can read stdin ('-')")
        from .io.csv import read_csv_table, read_header, row_place
        from .io.outputs import check_outputs, check_plot
        from .io.values import read_params, read_text_source
        from .training.fit import ChosenModel, default_model, fit, problem_for
        from .training.options import TrainOptions

        outputs = check_outputs({"--save": save, "--plot": plot, "--history": history},
                                [data, *(p for p in (model_file, init) if p)])
        check_plot(plot)
        chosen, from_file = None, False
        if model is not None or model_file is not None:
            text, from_file = _model_text(model, model_file)
            chosen = ChosenModel(text, False)
        start = read_params(init, "--init") if init is not None else {}
        source = "stdin" if data == "-" else data
        raw = read_text_source(data, "data")
        header = read_header(raw, source)
        chosen = chosen or default_model(header, target, source)
        problem = problem_for(chosen.text, loss, target, header, source, delta, from_file)
        table = read_csv_table(raw, source, [*problem.inputs, target])
        options = TrainOptions(optimizer.value, lr, epochs, batch_size, seed, tol, patience)
        for note in options.ignored():
            warn(note)
        place = lambda row: f"{source} {row_place(raw, source, row)}"  # noqa: E731
        with _progress(quiet, epochs) as update:
            try:
                report = fit(chosen, problem, table.columns, table.rows, options, start, delta, update, source,
                             from_file, where=lambda row: row_place(raw, source, row))
            except UndefinedError as err:  # undefined at the starting point: name the file and line
                raise placed(err, place) from None
    for name in header:
        if name not in table.columns:
            warn(f"column {name!r} of {source} is not used by the model")
    for note in report.warnings:
        warn(note)
    if report.result.diverged:
        warn(report.result.stop_reason)
    from .views import train as render_train

    {Format.table: render_train.train_table, Format.json: render_train.train_json,
     Format.csv: render_train.train_csv}[fmt](report)
    sys.stdout.flush()
    if not report.result.diverged:  # after the result is out, so a failed write loses nothing
        with user_errors():
            _write_training_outputs(report, outputs, delta)
    if report.failed:
        raise typer.Exit(1)


def _write_training_outputs(report: Any, outputs: dict, delta: float) -> None:
    """--save, --history and --plot: all of them or none, each atomically."""
    from .io.outputs import atomic_write_all, history_writer, json_writer, plot_writer
    from .io.saved import saved_document

    writers = []
    if "--save" in outputs:
        writers.append(json_writer(outputs["--save"], saved_document(report, delta)))
    if "--history" in outputs:
        writers.append(history_writer(outputs["--history"], report.result.history))
    if "--plot" in outputs:
        writers.append(plot_writer(outputs["--plot"], report.result.history,
                                   f"{report.model.text}  ({report.problem.loss_name})"))
    atomic_write_all(writers)


@app.command()
def predict(
    params: Annotated[str, typer.Argument(help="A parameter file written by `gradcli train --save`.")],
    data: Annotated[str, typer.Argument(help="A CSV file with the model's input columns, or '-' for stdin.")] = "-",
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write the CSV here (atomically) instead of stdout.", show_default=False)] = None,
) -> None:
    """Predict with a trained model: the input rows plus a yhat column, as CSV.

    Example: gradcli predict params.json new.csv > predictions.csv
    """
    with user_errors():
        if params == "-" and data == "-":
            raise GradcliError("only one of the parameter file and the data can read stdin ('-')")
        from .io.csv import read_csv_table, read_header, row_place, write_csv
        from .io.outputs import check_outputs
        from .io.saved import predictions, read_saved, saved_problem
        from .io.values import read_text_source

        outputs = check_outputs({"--output": output}, [params, data])
        params_source = "stdin" if params == "-" else params
        saved = read_saved(read_text_source(params, "parameter"), params_source)
        problem, unused = saved_problem(saved, params_source)
        source = "stdin" if data == "-" else data
        raw = read_text_source(data, "data")
        if "yhat" in read_header(raw, source):
            raise GradcliError(f"{source}: already has a column 'yhat', which predict adds")
        table = read_csv_table(raw, source, list(problem.inputs), keep_text=True)
        yhat = predictions(problem, saved, table.columns, table.rows,
                           where=lambda row: f"{source} {row_place(raw, source, row)}")
        for note in unused:
            warn(note)
        header = [*table.header, "yhat"]
        cells = {**(table.text or {}), **table.columns, "yhat": yhat}
        if "--output" in outputs:
            from .io.outputs import atomic_write

            atomic_write(outputs["--output"], lambda f: write_csv(header, cells, f))
        else:
            write_csv(header, cells, sys.stdout)


@app.command()
def losses(fmt: FormatOption = Format.table) -> None:
    """List the built-in losses with their per-row formulas.

    Example: gradcli losses --format json
    """
    from .views.grad import losses_table

    losses_table(fmt.value)


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


RowOption = Annotated[Optional[int], typer.Option("--row", help="With several rows of data: the row (1-based) to work at.", show_default=False)]


@app.command()
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
    fmt: Annotated[ExplainFormat, typer.Option("--format", "-f", help="text for people; json for programs; latex for notes and slides.")] = ExplainFormat.text,
) -> None:
    """The chain rule step by step, as in the worked example.

    SymPy's derivative, the intermediate nodes, the local derivatives, every path from the
    loss to each parameter, and the check that the paths add up to SymPy's derivative.

    Works at one point (one row of data, or --row N). Exit code 0 when every check passes,
    1 when one fails, 2 for bad input.

    Example: gradcli explain "b + w1*x1 + w2*x2" --data x1=1.5,x2=2,y=1 --params b=0.5,w1=2,w2=-1 --wrt w1
    """
    with user_errors():
        from .explanation import explain as explain_steps

        model_text, from_file, param_values, columns, notes = _point_inputs(model, model_file, data, params, loss, target)
        chosen = _names(wrt)
        result = explain_steps(model_text, loss, columns, param_values, target=target, wrt=chosen, delta=delta,
                               from_file=from_file, row=row, max_paths=max_paths, rtol=rtol, atol=atol,
                               sympy_forms=fmt is ExplainFormat.latex)
    for note in notes + result.view.warnings:
        warn(note)
    from .views import explain as explain_render

    {ExplainFormat.text: explain_render.explanation_text, ExplainFormat.json: explain_render.explanation_json,
     ExplainFormat.latex: explain_render.explanation_latex}[fmt](result)
    if result.agree is False:
        raise typer.Exit(1)


@app.command()
def graph(
    model: ModelArgument = None,
    model_file: ModelFileOption = None,
    loss: LossOption = DEFAULT_LOSS,
    delta: DeltaOption = DEFAULT_DELTA,
    target: TargetOption = "y",
    data: DataOption = None,
    params: ParamsOption = None,
    row: RowOption = None,
    highlight: Annotated[Optional[str], typer.Option("--highlight", help="Mark the paths from the loss to this parameter.", show_default=False)] = None,
    fmt: Annotated[GraphFormat, typer.Option("--format", "-f", help="tree for the terminal; dot (Graphviz), mermaid or json.")] = GraphFormat.tree,
) -> None:
    """The computational graph, with the local derivative on every edge.

    Each node shows its operation, value and adjoint dloss/dnode at one point; each edge its
    local derivative as a formula and as a number.

    Works at one point (one row of data, or --row N). Exit code 0, or 2 for bad input.

    Example: gradcli graph "b + w1*x1 + w2*x2" --highlight w1 --format dot | dot -Tsvg > graph.svg
    """
    with user_errors():
        from .explanation import graph_view

        model_text, from_file, param_values, columns, notes = _point_inputs(model, model_file, data, params, loss, target)
        view = graph_view(model_text, loss, columns, param_values, target=target, delta=delta, from_file=from_file,
                          row=row, highlight=highlight)
    for note in notes + view.warnings:
        warn(note)
    from .views import graph as graph_render

    {GraphFormat.tree: graph_render.graph_tree, GraphFormat.dot: graph_render.graph_dot,
     GraphFormat.mermaid: graph_render.graph_mermaid, GraphFormat.json: graph_render.graph_json}[fmt](view)


INTERRUPTED = 130  # what Typer returns for Ctrl-C (KeyboardInterrupt), as shells do


def main() -> None:
    """Entry point: usage errors become one line on stderr and exit code 2."""
    import signal

    # A closed pipe (`gradcli train ... | head`) ends the program quietly, as it ends `cat`;
    # Python's default would be an error exit that reads like a failed check.
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # Typer may bundle its own click: find its UsageError through a public class.
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
    try:
        code = app(standalone_mode=False)
    except usage_error as err:
        where = err.ctx.command_path if err.ctx else "gradcli"
        message = " ".join(err.format_message().split())
        sys.stderr.write(f"gradcli: error: {message} (see '{where} --help')\n")
        sys.exit(2)
    except typer.Abort:
        code = INTERRUPTED
    if code == INTERRUPTED:
        sys.stderr.write("gradcli: interrupted\n")
    sys.exit(code if isinstance(code, int) else 0)
