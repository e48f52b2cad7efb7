"""SymPy as a witness, under its time and size budget: its gradient's values over the rows, and the
limits that turn a hostile expression into a clean message."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..engines.symbolic import OutOfTime, SymbolicLoss, budget_seconds, time_limit
from ..errors import GradcliError, UndefinedError

if TYPE_CHECKING:  # imported lazily at run time: `import gradcli` stays light
    from ..language.problem import Problem


OUT_OF_TIME = "needed more than its"  # how a report's warning says that SymPy ran out of its budget


class SymbolicUnavailable(Exception):
    """SymPy could not give this gradient within its budget; the message says why, for a warning."""


class SymbolicTooLarge(SymbolicUnavailable):
    """The model written out entry by entry is past SymPy's size limits (the message: which, briefly)."""


def symbolic_gradient(problem: Problem, chosen: list[str], values: Mapping[str, float], columns: Mapping[str, Any],
                      rows: int, readable: bool) -> tuple[dict[str, float], dict[str, str]]:
    """SymPy's derivative of each chosen parameter, its mean value over the rows and (readable) its formula,
    all within budget_seconds(). Past the budget, or where SymPy fails on the expression, SymbolicUnavailable."""
    found, formulas, _ = symbolic_derivatives(
        problem, lambda symbolic: symbolic.derivatives(chosen), values, columns, rows, readable)
    return found, formulas


def symbolic_derivatives(problem: Problem, derivatives_of: Callable[[Any], dict[str, Any]],
                         values: Mapping[str, float], columns: Mapping[str, Any], rows: int,
                         readable: bool, latex: bool = False, per_row: bool = False,
                         ) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """The derivatives `derivatives_of(SymbolicLoss)` builds (any order), their mean values over the rows,
    (readable) their formulas and (latex) the same in LaTeX, within budget_seconds() in all; else
    SymbolicUnavailable, saying why. per_row=True: each value in every row (an array), not the mean."""
    with sympy_limits(), time_limit(budget_seconds()):
        symbolic = SymbolicLoss(problem)
        derivatives = derivatives_of(symbolic)
        found = (symbolic.row_values if per_row else symbolic.values)(derivatives, values, columns, rows)
        formulas = {name: symbolic.readable(d) for name, d in derivatives.items()} if readable else {}
        latexed = ({name: symbolic.sp.latex(symbolic.readable_expr(d)) for name, d in derivatives.items()}
                   if latex else {})
    return found, formulas, latexed


@contextmanager
def sympy_limits() -> Iterator[None]:
    """SymPy's limits met inside (its time budget spent, an expression it cannot evaluate) become
    SymbolicUnavailable, saying why; bad input and our own bugs pass as they are."""
    try:
        yield
    except OutOfTime:
        raise SymbolicUnavailable(f"{OUT_OF_TIME} {budget_seconds():g} s for this expression") from None
    except UndefinedError as err:  # backprop found every value finite: SymPy's form of it has none (0**w*log(0))
        raise SymbolicUnavailable(f"finds no value where backprop does ({err})") from None
    except GradcliError:
        raise
    except (ArithmeticError, LookupError, NameError, TypeError, ValueError, NotImplementedError,
            RecursionError) as err:
        if not raised_outside_gradcli(err):
            raise  # a bug of ours, not a limit of SymPy's: it must not pass for one
        # SymPy's limits on an expression it cannot take (a ComplexInfinity it cannot print, say, or a
        # DiracDelta in a second derivative that lambdify's code has no function for: a NameError)
        raise SymbolicUnavailable(f"cannot evaluate this expression ({type(err).__name__} in SymPy)") from None


def raised_outside_gradcli(err: BaseException) -> bool:
    """Whether the innermost frame of err's traceback is not gradcli's own code (SymPy, mpmath, NumPy, or
    code that lambdify generated)."""
    frame = err.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    here = os.path.dirname(os.path.abspath(__file__))
    return frame is not None and not os.path.abspath(frame.tb_frame.f_code.co_filename).startswith(here)
