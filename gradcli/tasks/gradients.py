"""`gradcli grad` as a library call: every gradient two ways, compared, over data in memory, streamed, or
on Dask."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..compare.memory import compare
from ..compare.symbolic import SymbolicUnavailable
from ..compare.verdicts import (
    ATOL,
    ENGINES,
    KNOWN_ENGINES,
    RTOL,
    GradientReport,
    judged,
)
from ..compare.witnesses import (
    fd_points,
    fd_witness_note,
    resolution,
)
from ..engines.fresh import as_if_fresh
from ..engines.graph import build_graph
from ..engines.sweep import compile_plan
from ..errors import DataError, GradcliError, UndefinedError, placed, show_text, unused
from ..io.arguments import flag, number, text
from ..language.losses import DEFAULT_DELTA
from ..question import Question, ask


@as_if_fresh
def gradients(
    model: str | None = None,
    loss: str = "mse",
    data: Mapping[str, Iterable[float]] | str | os.PathLike[str] | None = None,
    params: Mapping[str, float] | str | os.PathLike[str] | None = None,
    *,
    model_file: str | os.PathLike[str] | None = None,
    target: str = "y",
    wrt: str | Iterable[str] | None = None,
    delta: float = DEFAULT_DELTA,
    rtol: float = RTOL,
    atol: float = ATOL,
    engines: Iterable[str] = ENGINES,
    check_fd: bool = False,
    from_file: bool = False,
    readable: bool = True,
    delimiter: str = ",",
    memory: int | str | None = None,
    shapes: Any = None,
    dims: Any = None,
    inputs: Any = None,
    dask: str | None = None,
    workers: int | None = None,
    dashboard: Callable[[str], None] | None = None,
) -> GradientReport:
    """The gradient of the mean loss with respect to each parameter, by each engine (`gradcli grad`).

    Names may be vectors and matrices: `shapes` declares them ({"W1": "4x2"} or ["W1=4x2"]; sizes
    may be named and given in `dims`, {"h": 4}), `inputs` gathers a vector input from data columns
    ({"x": "x1,x2"} or {"x": "*"}); a value given as an array (params {"W1": array}, data {"x": an
    N x d array}) fixes its shape too. report.tensors then has each parameter's gradient in its shape.

    `data` maps names to one value per row (lists or 1-D arrays; float64 arrays are used
    without a copy), or is what --data takes: NAME=VALUE,... (one row), a CSV or Parquet file's
    path, a glob or directory of them, or '-' for CSV on stdin (fields separated by `delimiter`:
    one character, or 'tab'). Data larger than `memory` (bytes, or text such as '2GB'; default a
    quarter of this machine's memory) is read part by part, each engine's sums added up over the
    parts in one pass (report.engine is then "stream"); per-row gradients (`wrt` naming an input or
    the target) need the data in memory. `dask` computes those sums on a Dask cluster (needs the dask
    extra), as gradcli.train does: "local" starts a LocalCluster of `workers` processes (closed on
    every way out), an address such as tcp://host:8786 uses a running scheduler; the data is then
    files, each part read and summed on a worker (report.engine "dask"), and `dashboard(address)` is
    told where Dask's dashboard is. `params` maps names to numbers, or is NAME=VALUE,... or a JSON file.
    `model_file` reads the model from a file instead ('-': stdin). `wrt` is a list of
    parameters or comma-separated text. Names with no value take the documented defaults,
    listed in `report.defaults`. Raises GradcliError (and subclasses) for bad input or
    undefined points.
    readable=False skips the (time-bounded) simplifying of the derivative formulas for
    display; `symbolic` is then None and only the numbers are computed.
    `engines` names what runs: "symbolic" and "backprop" by default; "forward" adds forward mode (one
    dual-number sweep per parameter, `grad --check-forward`), judged against backprop like SymPy (its
    forward_value and forward_verdict in each gradient), on data in memory only.
    """
    text(loss, "--loss"), text(target, "--target"), number(delta, "--delta"), flag(check_fd, "--check-fd")
    engines = _engines(engines)
    question = ask(model, loss, data, params, model_file=model_file, target=target, wrt=wrt, delta=delta, rtol=rtol,
                   atol=atol, from_file=from_file, delimiter=delimiter, memory=memory, shapes=shapes, dims=dims,
                   inputs=inputs, dask=dask, workers=workers, dashboard=dashboard, streams=True)
    return answer(question, engines=engines, check_fd=check_fd, readable=readable)


def _engines(engines: Iterable[str]) -> tuple[str, ...]:
    engines = (engines,) if isinstance(engines, str) else tuple(engines or ())
    if not all(isinstance(e, str) for e in engines):
        raise GradcliError(f"engines must be chosen from {', '.join(KNOWN_ENGINES)}; got {engines!r}")
    unknown = [e for e in engines if e not in KNOWN_ENGINES]
    if unknown or not engines:
        raise GradcliError(f"engines must be chosen from {', '.join(KNOWN_ENGINES)}; "
                           f"got {', '.join(engines) or 'none'}")
    if engines == ("forward",):  # a witness: it is compared with backprop or SymPy, never alone
        raise GradcliError("engines: forward mode is checked against backprop or symbolic; name one of them too "
                           "(engines=('backprop', 'forward'))")
    return engines


def answer(question: Question, *, engines: tuple[str, ...] = ENGINES, check_fd: bool = False,
           readable: bool = True) -> GradientReport:
    """`grad`'s answer to a question: its data in memory, streamed, or on Dask."""
    if question.dataset is not None:
        return streamed_gradients(question, engines=engines, check_fd=check_fd, readable=readable)
    where = question.where if question.table is not None else None
    setup = question.setup(check_finite=False, rows_allowed=True, where=where)
    try:
        report = compare(setup, rtol=question.rtol, atol=question.atol, engines=engines, check_fd=check_fd,
                         readable=readable)
    except UndefinedError as err:  # a row where the loss is undefined: named in its file
        raise placed(err, where) from None
    report.warnings[:0] = question.notes
    report.files = question.files
    return report


def streamed_gradients(question: Question, *, engines: tuple[str, ...] = ENGINES, check_fd: bool = False,
                       readable: bool = True) -> GradientReport:
    """`grad` over a Dataset larger than the question's memory budget, read part by part, or (question.dask:
    "local" or a scheduler's address) summed part by part on Dask's workers."""
    # the part-by-part machinery: a gradient over data in memory, the usual case, does not load it
    from ..compare.parts import one_pass, part_passes, streamed_evidence, symbolic_witness
    from ..io.dataset import part_bytes

    dataset, budget, dask = question.dataset, question.budget, question.dask
    rtol, atol = question.rtol, question.atol
    name, columns, setup = question.part_setup(rows_allowed=True)
    if "forward" in engines:
        where = ("is on Dask's workers; leave out --dask" if dask is not None else
                 f"({dataset.size:,} bytes) is larger than --memory ({budget:,} bytes); give a larger --memory")
        raise DataError(f"--check-forward works on data in memory, and {show_text(name)} {where}")
    if setup.row_wrt:
        how = ("is on Dask's workers; leave out --dask" if dask is not None else
               f"({dataset.size:,} bytes) is larger than --memory ({budget:,} bytes); give a larger --memory")
        raise DataError(f"--wrt {', '.join(setup.row_wrt)}: one value per row needs the data in memory, and "
                        f"{show_text(name)} {how}, or leave the inputs and the target out of --wrt")
    problem, chosen, values = setup.problem, setup.chosen, setup.values
    graph = build_graph(problem)
    witness = "symbolic" if "symbolic" in engines else None
    warnings = list(setup.warnings)
    symbolic = None
    if "symbolic" in engines:
        try:
            symbolic = symbolic_witness(problem, chosen)
        except SymbolicUnavailable as why:
            witness, engines, check_fd = "finite differences", tuple(e for e in engines if e != "symbolic"), True
            warnings.append(fd_witness_note(why))
    plan = compile_plan(graph, chosen if "backprop" in engines else [])
    loss_plan = compile_plan(graph, [])
    steps = fd_points(chosen, values)
    parts = dataset.parts(part_bytes(budget))
    with part_passes(parts, problem, columns, len(dataset.files), dask, question.workers,
                     question.dashboard) as each:
        totals = one_pass(each, parts, plan, loss_plan, values, symbolic, steps if check_fd else {})
        if totals.unavailable is not None:  # SymPy could not evaluate some part: finite differences stand in
            witness, engines = "finite differences", tuple(e for e in engines if e != "symbolic")
            warnings.append(fd_witness_note(totals.unavailable))
            if not check_fd:
                check_fd = True
                totals.fd = one_pass(each, parts, None, loss_plan, values, None, steps).fd
    evidence = streamed_evidence(totals, chosen, engines, symbolic, steps, witness, check_fd, warnings, readable)
    notes = unused("column", [n for n in dataset.header if n not in columns],
                   f"of {name} {{verb}} not used by the model")
    streamed = dataclasses.replace(setup, columns={}, rows=totals.rows)

    def read_again() -> Iterator[tuple[dict[str, Any], int]]:  # only where the engines differ: one more pass
        for part in parts:
            table = part.load(columns)
            if table.rows:
                yield {name: table.columns[name] for name in columns}, table.rows

    report = judged(streamed, evidence, rtol, atol, files=len(dataset.files),
                    engine="stream" if dask is None else "dask",
                    resolution=lambda names: resolution(streamed, names, read_again()))
    report.warnings[:0] = [*question.notes, *notes]
    return report


