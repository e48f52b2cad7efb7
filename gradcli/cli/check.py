"""`gradcli check`: a derivative worked out by hand, checked against SymPy and backprop."""

from typing import Annotated

import typer

import gradcli

from ..views.formats import offered
from .app import app, failed_if, user_errors, warn_all
from .options import Asked, AtolOption, Command, asks, unmarked


@app.command(cls=Command)
@asks(without=("shape", "dim", "input", "dask", "workers"),
      after={"claim": "model", "data": "target", "points": "delimiter"})
def check(
    asked: Asked,
    claim: Annotated[str | None, typer.Option(
        "--claim", "-c", show_default=False,
        help="The claimed derivative of the per-row loss, in the model's names, the target and yhat (the model's "
             "output).")] = None,
    claim_file: Annotated[str | None, typer.Option(
        "--claim-file", show_default=False,
        help="Read the claim from a file ('-' for stdin).")] = None,
    wrt: Annotated[str, typer.Option(
        "--wrt", show_default=False,
        help="The parameter the claim differentiates by (one name).")] = ...,  # type: ignore[assignment]
    data: Annotated[str | None, typer.Option(
        "--data", "-d", show_default=False,
        help="Check at these points too: NAME=VALUE,... (one row), a CSV file, or '-' for CSV on stdin.")] = None,
    params: Annotated[str | None, typer.Option(
        "--params", "-p", show_default=False,
        help="The parameters at the data's points: NAME=VALUE,... or a JSON file.")] = None,
    points: Annotated[int, typer.Option("--points", "-n", help="Random points to compare at (0 or more).")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random points (0 or more).")] = 0,
    rtol: Annotated[float, typer.Option(
        "--rtol",
        help="Relative tolerance: equal when |c - d| <= atol + rtol*max(|c|, |d|).")] = 1e-7,
    atol: AtolOption = 1e-10,
) -> None:
    """Check a derivative worked out by hand against SymPy and backprop.

    SymPy tries to simplify claim - derivative to 0 (under a time bound); then the decisive test
    compares the claim with backprop's derivative at many random points, and at the data's points.
    A wrong claim is shown where it differs, with the correct derivative and the chain-rule factors
    it misses or adds. Exit 0 when the claim is right, 1 when it is wrong, 2 for bad input.

    Example: gradcli check "b + w1*x1 + w2*x2" --wrt w1 --claim "2*(b + w1*x1 + w2*x2 - y)*x1"
    """
    with user_errors():
        report = gradcli.check(**asked.keywords, claim=unmarked(claim), wrt=wrt, data=data, params=params,
                               claim_file=claim_file, points=points, seed=seed, rtol=rtol, atol=atol)
    warn_all(report.warnings)
    offered("check").render(asked.format, report)
    failed_if(report.failed)
