"""`gradcli grad`: every gradient two ways, side by side."""

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
    DimOption,
    FormatOption,
    InputOption,
    LossOption,
    ModelArgument,
    ModelFileOption,
    ParamsOption,
    ShapeOption,
    TargetOption,
    WorkersOption,
    WrtOption,
    unmarked,
)


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
    rtol: Annotated[float, typer.Option(
        "--rtol",
        help="Relative tolerance: agree when |s - b| <= atol + rtol*|s|, or within what float64 can resolve of that "
             "gradient (where terms cancel).")] = 1e-9,
    atol: AtolOption = 1e-12,
    check_fd: Annotated[bool, typer.Option(
        "--check-fd",
        help="Add central finite differences as a third witness.")] = False,
    delimiter: DelimiterOption = ",",
    memory: Annotated[str | None, typer.Option(
        "--memory", metavar="SIZE", show_default=False,
        help="Data larger than this (2GB, 512MiB; default a quarter of this machine's memory) is read part by part, "
             "every engine's sums added up in one pass.")] = None,
    shape: ShapeOption = None,
    dim: DimOption = None,
    input: InputOption = None,
    entries: Annotated[bool, typer.Option(
        "--entries",
        help="With vectors and matrices: list every entry's gradient, not only each parameter's largest "
             "difference.")] = False,
    dask: DaskOption = None,
    workers: WorkersOption = None,
    fmt: FormatOption = None,
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
        report = gradcli.gradients(unmarked(model), loss, data, params, model_file=model_file, target=target,
                                   wrt=wrt or None, delta=delta, rtol=rtol, atol=atol, check_fd=check_fd,
                                   delimiter=delimiter, memory=memory, shapes=shape, dims=dim, inputs=input,
                                   dask=dask, workers=workers, dashboard=say_dashboard)
    warn_all(report.warnings)
    offered("grad").render(fmt.value, report, entries=entries)
    failed_if(report.agree is False)
