"""`gradcli explain`: the chain rule step by step, at one point."""

from typing import Annotated

import typer

import gradcli

from ..errors import GradcliError
from ..views.formats import offered
from .app import app, failed_if, user_errors, warn_all
from .options import Asked, Command, OutputOption, RowOption, asks


@app.command(cls=Command)
@asks(without=("dask", "workers"),
      after={"row": "wrt", "order": "delimiter", "entry": "input", "standalone": "fmt", "output": "standalone"})
def explain(
    asked: Asked,
    row: RowOption = None,
    max_paths: Annotated[int, typer.Option(
        "--max-paths",
        help="List at most this many paths per parameter; the reverse sweep's adjoint stands in for the rest.")] = 20,
    rtol: Annotated[float, typer.Option(
        "--rtol",
        help="Relative tolerance of the check: agree when |s - p| <= atol + rtol*|s|.")] = 1e-9,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance of the check.")] = 1e-12,
    order: Annotated[int, typer.Option(
        "--order", "-k",
        help="2: the second derivatives d2loss/dw1dw (w1 the first --wrt name, w each other one) as backprop through "
             "the backward pass.")] = 1,
    entry: Annotated[str | None, typer.Option(
        "--entry", metavar="ENTRY", show_default=False,
        help="With vectors or matrices: the entry followed as the sum over paths of the scalar graph, e.g. W1[2,1] "
             "(default: the first entry of the first --wrt parameter).")] = None,
    standalone: Annotated[bool, typer.Option(
        "--standalone",
        help="With --format latex: a whole document that pdflatex compiles, not a fragment.")] = False,
    output: OutputOption = None,
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
        if standalone and asked.format != "latex":
            raise GradcliError(f"--standalone makes a LaTeX document: it needs --format latex (not {asked.format})")
        target = asked.output(output)
        result = gradcli.explain(**asked.keywords, row=row, max_paths=max_paths, rtol=rtol, atol=atol,
                                 sympy_forms=asked.format == "latex", order=order, entry=entry,
                                 **asked.asks("explain"))
    warn_all(result.view.warnings)
    with user_errors():  # a drawing may refuse (a graph too large to lay out): before anything is written
        offered("explain").render(asked.format, result, standalone=standalone, output=target)
    failed_if(result.agree is False)
