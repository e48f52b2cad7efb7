"""`gradcli diff`: the derivative of a plain expression, two ways."""

from typing import Annotated

import typer

import gradcli

from ..views.formats import offered
from .app import app, failed_if, user_errors, warn_all
from .options import AtolOption, Command, FormatOption, unmarked


@app.command(cls=Command)
def diff(
    expression: Annotated[str | None, typer.Argument(
        show_default=False,
        help="The expression, e.g. \"x**2*sin(x)\" ('-' for stdin).")] = None,
    expression_file: Annotated[str | None, typer.Option(
        "--expression-file", show_default=False,
        help="Read the expression from a file ('-' for stdin).")] = None,
    wrt: Annotated[list[str] | None, typer.Option(
        "--wrt", show_default=False,
        help="With respect to these names (comma-separated or repeated; default: every name).")] = None,
    order: Annotated[int, typer.Option(
        "--order", "-k",
        help="The order of the derivative, 1 to 6 (several names: 1 gradient, 2 Hessian).")] = 1,
    at: Annotated[str | None, typer.Option(
        "--at", show_default=False,
        help="The point: NAME=VALUE,... for every name, or a JSON file.")] = None,
    rtol: Annotated[float, typer.Option(
        "--rtol",
        help="Relative tolerance: agree when |s - g| <= atol + rtol*|s|.")] = 1e-9,
    atol: AtolOption = 1e-12,
    fmt: FormatOption = None,
) -> None:
    """The derivative of a plain expression (no loss, no roles), two ways, with finite differences as a witness.

    SymPy differentiates the expression; the graph engine differentiates its own derivative graph
    (orders above 1 by backprop through the backward pass). Several names give the gradient, or
    with --order 2 the Hessian. Exit 0 when the engines agree, 1 when they do not, 2 for bad input.

    Example: gradcli diff "x**2*sin(x)" --wrt x --order 3 --at x=1.3
    """
    with user_errors():
        report = gradcli.diff(unmarked(expression), wrt or None, order, at, expression_file=expression_file,
                              rtol=rtol, atol=atol, readable=fmt.value in ("table", "json"),
                              latex=fmt.value == "latex")
    warn_all(report.warnings)
    offered("diff").render(fmt.value, report)
    failed_if(report.failed)
