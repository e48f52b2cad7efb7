"""A problem: the model, the per-row loss with the model put in for yhat, and who is who.

Roles (documented in README.md):
- the target is ``y`` unless renamed;
- with data, the data's names are the inputs; without data, the names
  ``x``, ``x1``, ``x2``, ... and ``x_<anything>`` are inputs;
- every other name is a parameter, in order of first appearance (model, then loss).
A name given as a parameter value stays a parameter even if it looks like an input.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from ..errors import GradcliError, RoleError, show_text
from .expr import CONSTANTS, NAME_RE, Call, Expr, Sym, parse, substitute, symbols, to_text
from .losses import DEFAULT_DELTA, LOSSES

YHAT = "yhat"
LOSS_NODE = "loss"  # the graph's name for the per-row loss
INPUT_NAME_RE = re.compile(r"x(\d+|_[A-Za-z0-9_]+)?\Z")


@dataclass(frozen=True)
class Problem:
    model_text: str  # the model as the user wrote it
    model: Expr
    loss_name: str  # "mse", ... or the custom loss text
    loss_formula: str  # the per-row loss in yhat and the target
    loss: Expr  # the per-row loss, with the model in place of yhat
    target: str
    params: tuple[str, ...]
    inputs: tuple[str, ...]

    @property
    def stable_bce(self) -> bool:
        """True when bce is computed from the logit of a sigmoid model."""
        return isinstance(self.loss, Call) and self.loss.fn == "bce_logit"


def check_name(name: str, what: str) -> None:
    """A name given by the user for data, a parameter or the target."""
    from .ops import OPS

    if not isinstance(name, str) or not NAME_RE.match(name) or keyword.iskeyword(name):
        raise RoleError(f"{what} name {show_text(name)!r} is not a valid name (a letter, then letters, digits or _)")
    if name in CONSTANTS or (name in OPS and OPS[name].user):
        kind = "a constant" if name in CONSTANTS else "a function"
        raise RoleError(f"{what} name {name!r} is {kind} and cannot be given a value")
    if name == YHAT:
        raise RoleError(f"{what} name 'yhat' is reserved for the model's prediction")


def loss_expr(loss: str, model: Expr, target: str, delta: float) -> tuple[Expr, str, str]:
    """The per-row loss with the model substituted, its name and its formula in yhat and target."""
    key = loss.strip().lower()
    if key in LOSSES:
        info = LOSSES[key]
        per_row = info.build(Sym(YHAT), Sym(target), model, delta)
        formula = info.formula
        if re.search(r"\bdelta\b", formula):  # before the target is put in: it may be named delta
            formula = re.sub(r"\bdelta\b", repr(float(delta)), formula)
        formula = re.sub(r"\by\b", target, formula)
        return substitute(per_row, YHAT, model), key, formula
    per_row = parse(loss, what="loss")
    names = symbols(per_row)
    if YHAT not in names and isinstance(per_row, Sym):
        raise GradcliError(f"unknown loss {show_text(loss)!r} (built-in: {', '.join(LOSSES)}; "
                           "or an expression in yhat and y, e.g. \"(yhat - y)**4\")")
    if YHAT not in names:
        raise GradcliError(f"loss {show_text(loss)!r} does not use yhat (the model's prediction)")
    return substitute(per_row, YHAT, model), loss.strip(), to_text(per_row)


def build_problem(
    model_text: str,
    loss: str = "mse",
    *,
    target: str = "y",
    data_names: list[str] | None = None,
    param_names: list[str] | None = None,
    delta: float = DEFAULT_DELTA,
    from_file: bool = False,
) -> Problem:
    """Parse the model and loss and decide every name's role."""
    from .expr import MAX_FILE_LENGTH, MAX_LENGTH

    check_name(target, "target")
    model = parse(model_text, what="model", max_length=MAX_FILE_LENGTH if from_file else MAX_LENGTH)
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
    return Problem(model_text, model, loss_name, formula, loss_tree, target, tuple(params), tuple(inputs))
