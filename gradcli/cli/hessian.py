"""`gradcli hessian`: the Hessian of the mean loss, two ways, and what it says."""

from typing import Annotated

import typer

import gradcli

from ..language.losses import DEFAULT_DELTA, DEFAULT_LOSS
from ..views.formats import offered
from .app import app, failed_if, say_dashboard, user_errors, warn_all
from .options import (
    AtolOption,
    Command,
    DaskOption,
    DataOption,
    DelimiterOption,
    DeltaOption,
    FormatOption,
    LossOption,
    ModelArgument,
    ModelFileOption,
    ParamsOption,
    TargetOption,
    WorkersOption,
    WrtOption,
    unmarked,
)


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
    hvp: Annotated[str | None, typer.Option(
        "--hvp", show_default=False,
        help="One Hessian-vector product H v instead of the matrix: v as NAME=VALUE,... (names left out are "
             "0).")] = None,
    rtol: Annotated[float, typer.Option(
        "--rtol",
        help="Relative tolerance, against the matrix's largest entry too.")] = 1e-9,
    atol: AtolOption = 1e-12,
    dask: DaskOption = None,
    workers: WorkersOption = None,
    fmt: FormatOption = None,
) -> None:
    """The Hessian of the mean loss, two ways: SymPy's second derivatives, and backprop through the backward pass.

    Finite differences of the backprop gradient are a third witness. Then its eigenvalues, its
    condition number, whether the loss is convex there, and the Newton step. Exit 0 when the
    engines agree, 1 when they do not, 2 for bad input.

    With --dask every mean over the data is computed part by part on a Dask cluster's workers.

    Example: gradcli hessian "b + w1*x1 + w2*x2" --data samples/data.csv --params b=0,w1=0,w2=0
    """
    with user_errors():
        report = gradcli.hessian(unmarked(model), loss, data, params, model_file=model_file, target=target,
                                 wrt=wrt or None, delta=delta, rtol=rtol, atol=atol, hvp=hvp, delimiter=delimiter,
                                 dask=dask, workers=workers, dashboard=say_dashboard)
    warn_all(report.warnings)
    offered("hessian").render(fmt.value, report)
    failed_if(report.failed)
