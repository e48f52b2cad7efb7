"""The Typer app, its root callback (--version, help), and what every command does with errors and notes."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from ..errors import GradcliError, ParseError
from ..version import __version__
from .adapter import Group

app = typer.Typer(
    cls=Group,
    help="Gradients of a loss two ways, symbolically (SymPy) and by backpropagation, side by side.\n\n"
    'Example: gradcli grad "b + w1*x1 + w2*x2" --data x1=1.5,x2=2,y=1 --params b=0.5,w1=2,w2=-1',
    add_completion=True,
    pretty_exceptions_enable=False,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


def warn_all(notes: list[str]) -> None:
    for note in notes:
        warn(note)


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


def say_dashboard(address: str) -> None:
    sys.stderr.write(f"gradcli: dask dashboard at {address}\n")
    sys.stderr.flush()


def failed_if(failed: bool | None) -> None:
    """Exit code 1 when the computation ran but a check failed."""
    if failed:
        raise typer.Exit(1)
