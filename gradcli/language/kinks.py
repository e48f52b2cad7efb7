"""SymPy's forms of the kinked operations (relu, abs, max, min, and step and sign in derivatives).

One form each, that every later step takes (sympy.diff, cse, lambdify to NumPy and mpmath, evalf,
the printers): relu(a) is Max(0, a), max and min are Max and Min, abs is Abs. Their derivatives
are SymPy's own (Max's is a Heaviside step, Abs's a sign), with two conventions of the operations
table made explicit:

- At a kink the derivative is 0: Max and Min differentiate to Heaviside(., 0), where SymPy's
  default takes 1/2 at 0; so d max(a, b)/da is 0 at a tie, as the graph engine's local rule is.
- A step and a sign have derivative 0 (everywhere but the kink, where the table takes 0 too),
  not SymPy's DiracDelta, which no evaluator can take (lambdify has no function for it).

And one fact SymPy cannot see: every value gradcli evaluates is real (backprop refuses the rest),
so d|a| = sign(a) da even where SymPy does not know that a is real (log(w), sqrt(w) - 1). SymPy's
general rule for such an a goes through re, im and atan2, and is 0/0 at a = 0.

A piecewise relu did not survive these steps: 1/relu(w) became a branch holding ComplexInfinity
(no printer takes it), and a relu inside huber's condition became an ITE that numpy.select refused.

The classes keep SymPy's names, so that every printer and lambdify know them as they know SymPy's.
They are made on first use: SymPy loads only when the symbolic engine runs.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any


@cache
def forms() -> Any:
    """The classes: Max, Min, Abs, sign, Heaviside (SymPy's, with the conventions above)."""
    import sympy as sp

    class Heaviside(sp.Heaviside):  # type: ignore[misc]
        """A step: derivative 0 (the table's step)."""

        def __new__(cls, arg: Any, H0: Any = 0, **options: Any) -> Any:  # noqa: N803  (SymPy's name)
            # SymPy's own __new__ calls super(cls, cls), which for a subclass is itself, forever
            return sp.Function.__new__(cls, arg, H0, **options)

        def fdiff(self, argindex: int = 1) -> Any:
            return sp.S.Zero

    class sign(sp.sign):  # type: ignore[misc]  # noqa: N801  (SymPy's name, for the printers)
        """sign: derivative 0 (the table's sign)."""

        def _eval_derivative(self, x: Any) -> Any:
            return sp.S.Zero

    class Abs(sp.Abs):  # type: ignore[misc]
        """|a|: derivative sign(a) da, for a real a."""

        def _eval_derivative(self, x: Any) -> Any:
            return self.args[0].diff(x) * sign(self.args[0])

    def at_kink_zero(step: Any) -> Any:
        """SymPy's Heaviside(z) (1/2 at 0) as the table's step (0 at 0)."""
        return Heaviside(step.args[0], 0) if isinstance(step, sp.Heaviside) else step

    class Extreme:
        """What Max and Min share here. SymPy's MinMaxBase tells Max from Min by `cls == Max`, which a
        subclass is not, and then takes the one for the other (Max(0, 2) came out 0); so its answers
        are put in these classes' terms, and its shortcut that cannot be (nested Max and Min folded
        together) is left out: nested ones still flatten, and duplicates and dominated numbers go."""

        def fdiff(self, argindex: int) -> Any:
            return at_kink_zero(super().fdiff(argindex))  # type: ignore[misc]

        @classmethod
        def _is_connected(cls, x: Any, y: Any) -> Any:
            found = sp.Max._is_connected(x, y)
            return {sp.Max: Max, sp.Min: Min}.get(found, found)  # type: ignore[call-overload]

        @classmethod
        def _collapse_arguments(cls, args: Any, **assumptions: Any) -> Any:
            return list(args)

    class Max(Extreme, sp.Max):  # type: ignore[misc]
        pass

    class Min(Extreme, sp.Min):  # type: ignore[misc]
        pass

    return SimpleNamespace(Max=Max, Min=Min, Abs=Abs, sign=sign, Heaviside=Heaviside)
