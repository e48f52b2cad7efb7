"""A problem: the model, the per-row loss with the model put in for yhat, and who is who.

Roles (documented in docs/models.md):
- the target is ``y`` unless renamed;
- with data, the data's names are the inputs; without data, the names
  ``x``, ``x1``, ``x2``, ... and ``x_<anything>`` are inputs;
- every other name is a parameter, in order of first appearance (model, then loss).
A name given as a parameter value stays a parameter even if it looks like an input.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import GradcliError, ParseError, RoleError, show_text
from .expr import CONSTANTS, NAME_RE
from .losses import DEFAULT_DELTA, LOSSES, LossInfo, loss_info
from .ops import OPS
from .shapes import Shapes, entry_names, infer
from .tensors import shown
from .tree import Binary, Call, Expr, Sym, postorder, substitute, symbols, to_text
from .written import Written, written

YHAT = "yhat"
LOSS_NODE = "loss"  # the graph's name for the per-row loss
INPUT_NAME_RE = re.compile(r"x(\d+|_[A-Za-z0-9_]+)?\Z")


@dataclass(frozen=True)
class Problem:
    """What to differentiate: the model and its loss as trees, and the role of every name."""

    model_text: str  # the model as the user wrote it
    model: Expr
    loss_name: str  # "mse", ... or the custom loss text
    loss_formula: str  # the per-row loss in yhat and the target
    loss: Expr  # the per-row loss, with the model in place of yhat
    target: str
    params: tuple[str, ...]  # every parameter entry: b, w1, or W1[1,1], W1[1,2], ... for a matrix
    inputs: tuple[str, ...]
    shapes: Shapes | None = field(default=None, compare=False)  # None: every value is a scalar
    gathered: dict[str, tuple[str, ...]] = field(default_factory=dict)  # vector input -> its data columns
    tensors: dict[str, tuple[int, ...]] = field(default_factory=dict)  # a non-scalar parameter -> its shape
    # each parameter as written (W1, b1, b2), with its entries in `params` order
    entries: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def tensor(self) -> bool:
        """True when some value is a vector or a matrix (layers of neurons)."""
        return self.shapes is not None and self.shapes.tensor

    @property
    def param_names(self) -> tuple[str, ...]:
        """The parameters as the user wrote them (W1, not its entries)."""
        return tuple(self.entries) if self.entries else self.params

    @property
    def loss_entry(self) -> LossInfo:
        """The loss table's entry of this loss (CUSTOM_LOSS for an expression): what it asks of the data."""
        return loss_info(self.loss_name)

    @property
    def stable_bce(self) -> bool:
        """True when bce is computed from the logit of a sigmoid model."""
        return isinstance(self.loss, Call) and self.loss.fn == "bce_logit"


def check_name(name: str, what: str) -> None:
    """A name given by the user for data, a parameter or the target."""
    # a Python keyword cannot be written in a model, but it can name a column or the target (class)
    if not isinstance(name, str) or not NAME_RE.match(name) or (keyword.iskeyword(name) and what == "parameter"):
        raise RoleError(f"{what} name {show_text(name)!r} is not a valid name (a letter, then letters, digits or _)")
    if name in CONSTANTS or (name in OPS and OPS[name].user):
        kind = "a constant" if name in CONSTANTS else "a function"
        raise RoleError(f"{what} name {name!r} is {kind} and cannot be given a value")
    if name == YHAT:
        raise RoleError(f"{what} name 'yhat' is reserved for the model's prediction")


def loss_expr(loss: str | Written, model: Expr, target: str, delta: float) -> tuple[Expr, str, str]:
    """The per-row loss with the model substituted, its name and its formula in yhat and target."""
    source = written(loss, "loss")
    loss = source.text
    key = loss.strip().lower()
    if key in LOSSES:
        info = LOSSES[key]
        per_row = info.build(Sym(YHAT), Sym(target), model, delta)
        formula = info.formula
        if re.search(r"\bdelta\b", formula):  # before the target is put in: it may be named delta
            formula = re.sub(r"\bdelta\b", repr(float(delta)), formula)
        formula = re.sub(r"\by\b", target, formula)
        return substitute(per_row, YHAT, model), key, formula
    per_row = source.expr
    names = symbols(per_row)
    if YHAT not in names and isinstance(per_row, Sym):
        raise GradcliError(f"unknown loss {show_text(loss)!r} (built-in: {', '.join(LOSSES)}; "
                           "or an expression in yhat and y, e.g. \"(yhat - y)**4\")")
    if YHAT not in names:
        raise GradcliError(f"loss {show_text(loss)!r} does not use yhat (the model's prediction)")
    return substitute(per_row, YHAT, model), loss.strip(), to_text(per_row)


def build_problem(
    model_text: str | Written,
    loss: str | Written = "mse",
    *,
    target: str = "y",
    data_names: list[str] | None = None,
    param_names: list[str] | None = None,
    delta: float = DEFAULT_DELTA,
    from_file: bool = False,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    gathered: Mapping[str, tuple[str, ...]] | None = None,
    data_shapes: Mapping[str, tuple[int, ...]] | None = None,
    classes: int | None = None,
) -> Problem:
    """Parse the model and loss (or take their trees, parsed once: language/written.py) and decide every
    name's role and shape.

    shapes: declared per-row shapes (--shape); gathered: vector inputs and the data columns they
    gather (--input x=x1,x2); data_shapes: the per-row shape of data given as arrays (an (N, d) array
    is a vector input of length d); classes: the number of classes of a `ce` target.
    """
    source = written(model_text, "model", from_file)
    model_text = source.text
    check_name(target, "target")
    if gathered and data_names is not None:  # a vector input gathered from columns is data too
        data_names = [*data_names, *(name for name in gathered if name not in data_names)]
    if data_shapes and data_names is None:
        data_names = list(data_shapes)
    model = source.expr
    model_names = symbols(model)
    if YHAT in model_names:
        raise RoleError("the model may not use 'yhat': that is the name of its own prediction")
    if LOSS_NODE in model_names:
        raise RoleError("the model may not use 'loss': that is the name of the loss in the graph and its derivatives")
    if target in model_names:
        raise RoleError(f"the model uses the target {target!r}; rename it or choose another --target")
    loss_tree, loss_name, formula = loss_expr(loss, model, target, delta)

    given_params = set(param_names or [])
    for name in data_names or []:
        check_name(name, "data")
        if name in given_params:
            raise RoleError(f"{name!r} is given both as data and as a parameter")
    for name in given_params:
        check_name(name, "parameter")
        if name == target:
            raise RoleError(f"{name!r} is the target; give its value with --data, not as a parameter")

    in_loss = symbols(loss_tree)
    known = {*model_names, target, *(data_names or []), *given_params}
    strangers = [name for name in in_loss if name not in known]
    if strangers:  # a typo in a custom loss must not become a new parameter
        raise RoleError(f"the loss uses {strangers[0]!r}, which is neither in the model nor in the data; "
                        "a regularisation parameter that only the loss uses needs a value with --params")

    inputs: list[str] = []
    params: list[str] = []
    placed = set(in_loss)
    for name in in_loss + [n for n in model_names if n not in placed]:
        if name == target or name in inputs or name in params:
            continue
        if data_names is not None:
            is_input = name in data_names
        else:
            is_input = name not in given_params and bool(INPUT_NAME_RE.match(name))
        (inputs if is_input else params).append(name)
    order = {name: i for i, name in enumerate(model_names)}
    params.sort(key=lambda n: order.get(n, len(order)))
    problem = Problem(model_text, model, loss_name, formula, loss_tree, target, tuple(params), tuple(inputs))
    if not (shapes or gathered or data_shapes or problem.loss_entry.classes or _has_tensor_operations(loss_tree)):
        return problem  # a scalar model, as always: nothing to infer
    return _with_shapes(problem, dict(shapes or {}), dict(gathered or {}), dict(data_shapes or {}), classes,
                        data_names is None)


def _has_tensor_operations(root: Expr) -> bool:
    for node in postorder(root):
        op = node.op if isinstance(node, Binary) else node.fn if isinstance(node, Call) else None
        if op is not None and not OPS[op].elementwise:
            return True
    return False


def _with_shapes(problem: Problem, declared: dict[str, tuple[int, ...]], gathered: dict[str, tuple[str, ...]],
                 data_shapes: dict[str, tuple[int, ...]], classes: int | None, no_data: bool = False) -> Problem:
    """The problem with every node's shape, tensor parameters split into their entries, and a vector
    loss summed over its entries (mse and the custom losses sum over yhat's entries).

    no_data: there is no data, so an input's shape follows from its use (x in W1 @ x is a vector of
    W1's width), as a parameter's does; it takes its default value in every entry."""
    names = {*problem.params, *problem.inputs, problem.target}
    for name in declared:
        if name not in names:
            raise RoleError(f"--shape names {name!r}, which the model does not use "
                            f"(names: {', '.join(sorted(names))})")
    known: dict[str, tuple[int, ...]] = {}
    for name in (*problem.inputs, problem.target):
        known[name] = (len(gathered[name]),) if name in gathered else data_shapes.get(name, ())
        if name in declared and declared[name] != known[name] and (name in gathered or name in data_shapes):
            raise RoleError(f"--shape gives {name!r} the shape {shown(declared[name])}, but its data has "
                            f"{shown(known[name])}")
        known[name] = declared.get(name, known[name])
    for name in problem.params:
        if name in declared:
            known[name] = declared[name]
    if problem.loss_entry.classes:
        if known.get(problem.target):
            raise RoleError(f"{problem.loss_name} needs one class index per row in the target {problem.target!r}, "
                            "not a vector")
        output = (classes,) if classes else None
    else:
        output = known.get(problem.target, ())
    free = {name for name in problem.params if name not in declared}
    vectors = frozenset(name for name in problem.inputs if no_data and name not in declared
                        and name not in gathered and name not in data_shapes)
    for name in vectors:
        del known[name]
    loss = problem.loss
    inferred = infer([loss, problem.model], problem.model, known, output, problem.model_text, free, vectors)
    if inferred.of(loss):  # a vector of per-row losses: summed over its entries
        loss = Call("sum", (loss,), loss.offset)
        inferred = infer([loss, problem.model], problem.model, known, output, problem.model_text, free, vectors)
    scores = inferred.of(problem.model)
    if problem.loss_entry.classes and classes is not None and (len(scores) != 1 or scores[0] < classes):
        raise ParseError(f"{problem.loss_name} needs one score per class: the target has class indices up to "
                         f"{classes - 1}, the model gives {shown(inferred.of(problem.model))}",
                         problem.model_text, problem.model.offset)
    tensors = {name: inferred.names[name] for name in problem.params if inferred.names[name]}
    entries = {name: tuple(entry_names(name, inferred.names[name])) for name in problem.params}
    flat = tuple(entry for name in problem.params for entry in entries[name])
    taken = set(problem.inputs) | {problem.target} | set(problem.params)
    clash = [e for name in tensors for e in entries[name] if e in taken]
    if clash:
        raise RoleError(f"the entry name {clash[0]!r} is also a name of the model")
    return replace(problem, loss=loss, params=flat, shapes=inferred, gathered=gathered, tensors=tensors,
                   entries=entries)


def shapes_of(problem: Problem) -> dict[str, list[int]]:
    """Every name's per-row shape where some is more than a scalar ({} for a scalar model): the
    parameters as written, the inputs and the target."""
    if not problem.tensor or problem.shapes is None:
        return {}
    names = [*problem.param_names, *problem.inputs, problem.target]
    return {name: list(problem.shapes.names.get(name, ())) for name in names}


def classes_of(problem: Problem) -> int | None:
    """ce (a class-index loss): the number of classes (the length of the model's vector of scores); else None."""
    if not problem.loss_entry.classes or problem.shapes is None:
        return None
    shape = problem.shapes.of(problem.model)
    return shape[0] if shape else None


def as_written(problem: Problem, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values by entry gathered into each parameter as written: nested lists in its shape (a number for
    a scalar). A scalar model's values are as they are."""
    if not problem.tensors:
        return dict(values)
    import numpy as np

    found: dict[str, Any] = {}
    for name, entries in problem.entries.items():
        shape = problem.tensors.get(name)
        if not shape:
            found[name] = values[entries[0]]
            continue
        cells = [values[e] for e in entries]
        found[name] = (np.array(cells, dtype=float).reshape(shape).tolist() if all(c is not None for c in cells)
                       else np.array(cells, dtype=object).reshape(shape).tolist())
    return found

