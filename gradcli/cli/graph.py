"""`gradcli graph`: the computational graph with the local derivative on every edge."""

from typing import Annotated

import typer

import gradcli

from ..views.formats import offered
from .app import app, user_errors, warn_all
from .options import Asked, Command, OutputOption, RowOption, asks


@app.command(cls=Command)
@asks(without=("wrt", "dask", "workers"), after={"row": "params", "neurons": "input", "output": "fmt"})
def graph(
    asked: Asked,
    row: RowOption = None,
    highlight: Annotated[str | None, typer.Option(
        "--highlight", metavar="NAME", show_default=False,
        help="Mark the paths from the loss to this parameter.")] = None,
    neurons: Annotated[bool, typer.Option(
        "--neurons",
        help="With vectors or matrices: draw the model written out entry by entry, neuron by neuron (at most 64 "
             "parameter entries and 500 nodes).")] = False,
    output: OutputOption = None,
) -> None:
    """The computational graph, with the local derivative on every edge.

    Each node shows its operation, value and adjoint dloss/dnode at one point; each edge its
    local derivative as a formula and as a number.

    With vectors and matrices (--shape): one node per tensor operation with its shape, each edge's
    vector-Jacobian product as a formula and as numbers; --neurons draws it neuron by neuron.

    Works at one point (one row of data, or --row N). Exit code 0, or 2 for bad input.

    --format html: one page, no network needed, to step through the forward pass and the backward
    sweep and click a parameter to see its paths (--output FILE writes it there).

    Example: gradcli graph "b + w1*x1 + w2*x2" --highlight w1 --format dot | dot -Tsvg > graph.svg
    """
    with user_errors():
        target = asked.output(output)
        result = gradcli.graph(**asked.keywords, row=row, highlight=highlight, neurons=neurons,
                               **asked.asks("graph"))
    warn_all(result.warnings)
    with user_errors():  # a drawing may refuse: svg lays the graph out, and a graph too large is bad input
        offered("graph").render(asked.format, result, output=target)
