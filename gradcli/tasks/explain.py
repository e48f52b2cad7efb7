"""`gradcli explain` as a library call: the chain rule step by step, path by path, with both engines' values."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..compare.memory import compare
from ..compare.symbolic import OUT_OF_TIME, SymbolicUnavailable, symbolic_derivatives
from ..compare.verdicts import ATOL, RTOL, ParamGradient, agrees, check_tolerances
from ..engines.derivative import gradient
from ..engines.fresh import as_if_fresh
from ..engines.graph import backprop, build_graph
from ..engines.symbolic import OutOfTime, SymbolicLoss, budget_seconds, time_limit
from ..errors import GradcliError
from ..explaining.reports import Explanation
from ..explaining.scalars import (
    MAX_PATH_STEPS,
    MAX_PATHS,
    MAX_PATHS_LIMIT,
    edge_index,
    op_counts,
    param_steps,
    path_steps,
    point_setup,
    reused,
    single_point,
    view_of,
)
from ..explaining.tensors import batch_rows, explain_tensors
from ..explaining.tensors import neuron_view as neuron_view_of
from ..io.arguments import flag, whole
from ..language.losses import DEFAULT_DELTA
from ..question import Question, ask
from ..setup import Setup


@as_if_fresh
def explain(
    model: str | None = None,
    loss: str = "mse",
    data: Mapping[str, Iterable[float]] | str | os.PathLike[str] | None = None,
    params: Mapping[str, float] | str | os.PathLike[str] | None = None,
    *,
    model_file: str | os.PathLike[str] | None = None,
    target: str = "y",
    wrt: str | Iterable[str] | None = None,
    delta: float = DEFAULT_DELTA,
    from_file: bool = False,
    row: int | None = None,
    max_paths: int = MAX_PATHS,
    rtol: float = RTOL,
    atol: float = ATOL,
    sympy_forms: bool = False,
    delimiter: str = ",",
    order: int = 1,
    shapes: Any = None,
    dims: Any = None,
    inputs: Any = None,
    entry: str | None = None,
    neuron_view: bool = False,
) -> Any:
    """The worked example's steps for each chosen parameter at one point, and what the sweep saved (`gradcli explain`).

    Takes the model, data and parameters in every form gradcli.gradients takes them; with
    several rows of data, `row` (1-based) chooses the point. `sympy_forms` keeps each
    derivative as a SymPy expression (for LaTeX). `order=2` explains the second derivatives
    ∂²loss/∂w1∂w (w1 the first name of `wrt`, w each of the others, or w1 again when it is the only
    one) as backprop applied to the backward pass: the paths run through the derivative graph of
    g = ∂loss/∂w1.

    A model with vectors or matrices (`shapes`, `dims`, `inputs` as for gradcli.gradients) gives a
    TensorExplanation (explanation/tensors.py): the backward pass layer by layer as matrix products,
    at the point and over every row of the data, then one entry of a --wrt parameter (`entry`, e.g.
    "W1[2,1]"; default its first) as the sum over paths of the scalar graph, checked against the
    matrix form and SymPy. neuron_view=True attaches to its view the model drawn neuron by neuron
    (view.neurons, as gradcli.graph(neuron_view=True)); the html page asks for it.
    """
    flag(neuron_view, "neuron_view")
    check_tolerances(rtol, atol)
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or not 1 <= max_paths <= MAX_PATHS_LIMIT:
        raise GradcliError(f"--max-paths must be between 1 and {MAX_PATHS_LIMIT:,}, got {max_paths}")
    order = whole(order, "--order", 1)
    if order > 2:
        raise GradcliError(f"explain takes --order 1 or 2, got {order}")
    whole(row, "--row", -(2**63), none=True)  # the type here; the range (with the row count) in single_point
    question = ask(model, loss, data, params, model_file=model_file, target=target, wrt=wrt, delta=delta, rtol=rtol,
                   atol=atol, from_file=from_file, delimiter=delimiter, shapes=shapes, dims=dims, inputs=inputs,
                   command="explain")
    return answer(question, row=row, max_paths=max_paths, sympy_forms=sympy_forms, order=order, entry=entry,
                  neuron_view=neuron_view)


def answer(question: Question, *, row: int | None = None, max_paths: int = MAX_PATHS, sympy_forms: bool = False,
           order: int = 1, entry: str | None = None, neuron_view: bool = False) -> Any:
    """`explain`'s answer to a question, at its one point (`row` of several)."""
    rtol, atol = question.rtol, question.atol
    setup = point_setup(question, single_point(question.data, row))
    if setup.problem.tensor:
        if order == 2 or sympy_forms:
            raise GradcliError("explain for vectors and matrices comes as text or json, at the first order "
                               "(--order 2 and latex are for scalar models)")

        batch = setup
        if question.data is not None:  # the batch step runs over every row of the data
            rows, cut = batch_rows(question.data)
            if rows is not None:
                batch = point_setup(question, rows)
                batch.warnings = [cut] if cut else []
        explained = explain_tensors(setup, batch, entry=entry, max_paths=max_paths, rtol=rtol, atol=atol)
        if neuron_view:
            explained.view.neurons = neuron_view_of(setup)
        return explained
    if entry is not None:
        raise GradcliError("--entry picks one entry of a vector or matrix parameter; this model has none "
                           "(give a shape with --shape NAME=ROWSxCOLUMNS)")
    if order == 2:
        if sympy_forms:
            raise GradcliError("explain --order 2 comes as text or json, not latex")
        return _second_order(setup, max_paths, rtol, atol)
    return _first_order(setup, max_paths, sympy_forms, rtol, atol)


def _first_order(setup: Setup, max_paths: int, sympy_forms: bool, rtol: float, atol: float) -> Explanation:
    """Each chosen parameter's chain-rule paths at the point, checked as `grad` checks them."""
    graph = build_graph(setup.problem)
    steps = path_steps(graph, setup.chosen, max_paths)
    if steps > MAX_PATH_STEPS:
        raise GradcliError(
            f"explain lists each parameter's chain-rule paths, and for this model's {len(setup.chosen):,} "
            f"parameters they are {steps:,} local derivatives long in all; the limit is {MAX_PATH_STEPS:,} "
            "(explain fewer with --wrt NAME,...; `gradcli grad` gives the whole gradient)")
    report = compare(setup, rtol=rtol, atol=atol)  # (1) and the check, exactly as `grad` does them
    sweep = backprop(graph, setup.values, setup.columns, 1, setup.chosen)
    view = view_of(setup, graph, sweep, report.warnings)
    index = edge_index(view)
    steps = [param_steps(graph, sweep, view, name, report.gradients[name], max_paths, rtol, atol, index)
             for name in setup.chosen]
    out_of_time = GradcliError(f"explain shows SymPy's derivatives, and SymPy needed more than {budget_seconds():g} s "
                               "for this expression; `gradcli grad` checks it with finite differences instead")
    if any(OUT_OF_TIME in warning for warning in report.warnings):  # the same budget would run out again
        raise out_of_time
    try:  # step 1 and the counts need SymPy's derivatives: under the same budget as grad's
        with time_limit(budget_seconds()):
            symbolic = SymbolicLoss(setup.problem)
            derivatives = symbolic.derivatives(setup.chosen)
            if sympy_forms:
                for step in steps:
                    step.derivative = symbolic.readable_expr(derivatives[step.param])
            counts = op_counts(graph, sweep, derivatives)
    except OutOfTime:
        raise out_of_time from None
    verdicts = [s.agree for s in steps if s.agree is not None]
    if report.agree is not None:
        verdicts.append(report.agree)
    return Explanation(
        view=view, steps=steps, op_counts=counts, reused=reused(graph, sweep, view, setup.chosen),
        agree=all(verdicts) if verdicts else None, rtol=rtol, atol=atol, max_paths=max_paths,
    )


def _second_order(setup: Setup, max_paths: int, rtol: float, atol: float) -> Explanation:
    """∂²loss/∂first∂w as backprop through the backward pass: the derivative graph of g = ∂loss/∂first
    (engines/derivative.py) takes the loss's place, and its paths to each w are listed and multiplied."""
    first, seconds = setup.chosen[0], setup.chosen[1:] or setup.chosen[:1]
    g = gradient(setup.problem.loss, [first])[first]
    problem = replace(setup.problem, loss=g, loss_name=f"g = ∂loss/∂{first}",
                      loss_formula="the backward pass for " + first + " as a graph (the derivative graph)")
    second = replace(setup, problem=problem, chosen=list(seconds))
    built = build_graph(problem)
    nodes = tuple(replace(node, name="g") if node.id == built.output else node for node in built.nodes)
    graph = replace(built, nodes=nodes)
    sweep = backprop(graph, second.values, second.columns, 1, second.chosen)
    warnings = list(setup.warnings)
    view = view_of(second, graph, sweep, warnings)
    built_by_sympy: dict[str, Any] = {}

    def second_derivatives(symbolic: Any) -> dict[str, Any]:
        built_by_sympy.update({b: symbolic.sp.diff(symbolic.derivative(first), symbolic.symbols[b]) for b in seconds})
        return built_by_sympy

    try:  # the witness: SymPy's own second derivatives of the whole formula, not of our graph
        values, formulas, _ = symbolic_derivatives(setup.problem, second_derivatives, setup.values, setup.columns, 1,
                                                   True)
    except SymbolicUnavailable as why:
        raise GradcliError(f"explain --order 2 shows SymPy's second derivatives, and the symbolic engine {why}; "
                           "`gradcli hessian` checks them with finite differences instead") from None
    steps = []
    index = edge_index(view)
    for b in seconds:
        found = sweep.gradients[b]
        witness = ParamGradient(b, formulas.get(b), values[b], found, abs(values[b] - found),
                                agrees(values[b], found, rtol, atol))
        steps.append(param_steps(graph, sweep, view, b, witness, max_paths, rtol, atol, index))
    counts = op_counts(graph, sweep, built_by_sympy)  # the derivatives SymPy made above, within its budget
    verdicts = [s.agree for s in steps if s.agree is not None]
    return Explanation(view=view, steps=steps, op_counts=counts, reused=reused(graph, sweep, view, list(seconds)),
                       agree=all(verdicts) if verdicts else None, rtol=rtol, atol=atol, max_paths=max_paths,
                       order=2, of="g", first=first)
