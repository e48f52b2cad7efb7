"""`gradcli hessian`: the Hessian of the mean loss, two ways, and what it says."""

from typing import Annotated

import typer

import gradcli

from ..views.formats import offered
from .app import app, failed_if, say_dashboard, user_errors, warn_all
from .options import Asked, AtolOption, Command, asks


@app.command(cls=Command)
@asks(without=("shape", "dim", "input"), after={"wrt": "delimiter", "hvp": "wrt"})
def hessian(
    asked: Asked,
    hvp: Annotated[str | None, typer.Option(
        "--hvp", show_default=False,
        help="One Hessian-vector product H v instead of the matrix: v as NAME=VALUE,... (names left out are "
             "0).")] = None,
    rtol: Annotated[float, typer.Option(
        "--rtol",
        help="Relative tolerance, against the matrix's largest entry too.")] = 1e-9,
    atol: AtolOption = 1e-12,
) -> None:
    """The Hessian of the mean loss, two ways: SymPy's second derivatives, and backprop through the backward pass.

    Finite differences of the backprop gradient are a third witness. Then its eigenvalues, its
    condition number, whether the loss is convex there, and the Newton step. Exit 0 when the
    engines agree, 1 when they do not, 2 for bad input.

    With --dask every mean over the data is computed part by part on a Dask cluster's workers.

    Example: gradcli hessian "b + w1*x1 + w2*x2" --data samples/data.csv --params b=0,w1=0,w2=0
    """
    with user_errors():
        report = gradcli.hessian(**asked.keywords, rtol=rtol, atol=atol, hvp=hvp, dashboard=say_dashboard)
    warn_all(report.warnings)
    offered("hessian").render(asked.format, report)
    failed_if(report.failed)
