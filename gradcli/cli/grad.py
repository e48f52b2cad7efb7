"""`gradcli grad`: every gradient two ways, side by side."""

from typing import Annotated

import typer

import gradcli

from ..views.formats import offered
from .app import app, failed_if, say_dashboard, user_errors, warn_all
from .options import Asked, AtolOption, Command, asks


@app.command(cls=Command)
@asks(after={"rtol": "wrt", "memory": "delimiter", "entries": "input"})
def grad(
    asked: Asked,
    rtol: Annotated[float, typer.Option(
        "--rtol",
        help="Relative tolerance: agree when |s - b| <= atol + rtol*|s|, or within what float64 can resolve of that "
             "gradient (where terms cancel).")] = 1e-9,
    atol: AtolOption = 1e-12,
    check_fd: Annotated[bool, typer.Option(
        "--check-fd",
        help="Add central finite differences as a third witness.")] = False,
    check_forward: Annotated[bool, typer.Option(
        "--check-forward",
        help="Add forward mode (one dual-number sweep per parameter over the same local derivatives) as a "
             "witness that must agree with backprop to rounding. Data in memory only.")] = False,
    memory: Annotated[str | None, typer.Option(
        "--memory", metavar="SIZE", show_default=False,
        help="Data larger than this (2GB, 512MiB; default a quarter of this machine's memory) is read part by part, "
             "every engine's sums added up in one pass.")] = None,
    entries: Annotated[bool, typer.Option(
        "--entries",
        help="With vectors and matrices: list every entry's gradient, not only each parameter's largest "
             "difference.")] = False,
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
        engines = ("symbolic", "backprop", "forward") if check_forward else ("symbolic", "backprop")
        report = gradcli.gradients(**asked.keywords, rtol=rtol, atol=atol, check_fd=check_fd, memory=memory,
                                   dashboard=say_dashboard, engines=engines)
    warn_all(report.warnings)
    offered("grad").render(asked.format, report, entries=entries)
    failed_if(report.agree is False)
