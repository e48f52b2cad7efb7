"""`gradcli graph` as a library call: the computational graph at one point, with every value and adjoint."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from ..compare.memory import compare as compare_engines
from ..compare.verdicts import kink_warnings
from ..engines.fresh import as_if_fresh
from ..engines.graph import backprop, build_graph
from ..engines.kinks import kinks
from ..explaining.scalars import point_setup, single_point, view_of
from ..explaining.tensors import highlighted, neuron_setup, tensor_graph_view
from ..explaining.tensors import neuron_view as neuron_view_of
from ..io.arguments import flag, text, whole
from ..language.losses import DEFAULT_DELTA
from ..question import Question, ask
from ..setup import Setup, check_parameter_names


@as_if_fresh
def graph_view(
    model: str | None = None,
    loss: str = "mse",
    data: Mapping[str, Iterable[float]] | str | os.PathLike[str] | None = None,
    params: Mapping[str, float] | str | os.PathLike[str] | None = None,
    *,
    model_file: str | os.PathLike[str] | None = None,
    target: str = "y",
    delta: float = DEFAULT_DELTA,
    from_file: bool = False,
    row: int | None = None,
    highlight: str | None = None,
    delimiter: str = ",",
    shapes: Any = None,
    dims: Any = None,
    inputs: Any = None,
    neurons: bool = False,
    compare: bool = False,
    neuron_view: bool = False,
) -> Any:
    """The computational graph at one point, every node's value and adjoint, every edge's local derivative
    (`gradcli graph`; the public name is gradcli.graph).

    Takes the model, data and parameters in every form gradcli.gradients takes them, vectors and
    matrices too (`shapes`, `dims`, `inputs` as for gradcli.gradients); with several rows of data,
    `row` (1-based) chooses the point. A model with vectors or matrices gives a TensorGraphView: one
    node per tensor operation with its shape, each edge's vector-Jacobian product as a formula and as
    numbers. neurons=True draws such a model neuron by neuron instead: the graph of the model written out
    entry by entry (a GraphView), for models of at most tensors.NEURONS_MAX_ENTRIES parameter entries.

    compare=True attaches both engines' gradients at the point, judged as `grad` judges them (the
    view's `comparison`, a GradientReport). neuron_view=True attaches to a TensorGraphView the same
    model drawn neuron by neuron (its `neurons`), where the --neurons rule allows (else None).
    The html page asks for both.
    """
    flag(neurons, "--neurons")
    flag(compare, "compare")
    flag(neuron_view, "neuron_view")
    whole(row, "--row", -(2**63), none=True)  # the type here; the range (with the row count) in single_point
    question = ask(model, loss, data, params, model_file=model_file, target=target, wrt=None, delta=delta,
                   from_file=from_file, delimiter=delimiter, shapes=shapes, dims=dims, inputs=inputs, command="graph")
    return answer(question, row=row, highlight=highlight, neurons=neurons, compare=compare, neuron_view=neuron_view)


def answer(question: Question, *, row: int | None = None, highlight: str | None = None,
           neurons: bool = False, compare: bool = False, neuron_view: bool = False) -> Any:
    """`graph`'s answer to a question, at its one point (`row` of several); with what compare and
    neuron_view ask for attached."""
    setup = point_setup(question, single_point(question.data, row))
    view = _drawn(setup, highlight, neurons)
    if compare:
        view.comparison = compared(_scalar(setup) if neurons else setup, question)
    if neuron_view and setup.problem.tensor and not neurons:
        view.neurons = neuron_view_of(setup)
    return view


def _scalar(setup: Setup) -> Setup:
    return neuron_setup(setup)[0] if setup.problem.tensor else setup


def compared(setup: Setup, question: Question) -> Any:
    """Both engines at the point, judged as `grad` judges them (and train's final check)."""
    return compare_engines(setup, rtol=question.rtol, atol=question.atol)


def _drawn(setup: Setup, highlight: str | None, neurons: bool) -> Any:
    """The graph at the point, as `graph` draws it."""
    marked: list[str] | None = None
    if highlight is not None:
        text(highlight, "--highlight")
        if setup.problem.tensor:  # W1 or one of its entries, W1[1,2]

            tensors, entries = highlighted(setup.problem, highlight)
            marked = entries if neurons else tensors
        else:
            check_parameter_names([highlight], setup.problem.params, "--highlight")
    if setup.problem.tensor and not neurons:
        return tensor_graph_view(setup, highlight, marked)
    notes: list[str] = []
    if setup.problem.tensor:  # drawn neuron by neuron: the scalar graph of the model written out entry by entry

        setup, notes = neuron_setup(setup)
    graph = build_graph(setup.problem)
    sweep = backprop(graph, setup.values, setup.columns, 1, setup.chosen)
    warnings = setup.warnings + kink_warnings(kinks(graph, sweep.values, 1))
    view = view_of(setup, graph, sweep, warnings, highlight, marked)
    view.notes[:0] = notes
    return view
