"""explain --cost in words: forward mode's sweeps against reverse mode's one, as the terminal and the page say it."""

from __future__ import annotations

from ..explaining.reports import Cost, ModeCost
from ..shown import listed
from .common import operations_text, plural

PER_PARAM_SHOWN = 10  # the per-parameter line names this many sweeps, then says how many more


def share(part: int, whole: int) -> str:
    """part / whole as a whole percent, which says 100 % or 0 % only when it is exactly that
    (a sum of 300 parameters saves 99.5 %, not 100 %)."""
    percent = round(100 * part / whole)
    if percent >= 100 and part < whole:
        return "over 99 %"
    if percent <= 0 < part:
        return "under 1 %"
    return f"{percent} %"


def cost_lines(cost: Cost) -> list[str]:
    """explain --cost: each mode's sweeps and arithmetic, and what reverse mode saves."""
    f, r = cost.forward, cost.reverse

    def kinds(mode: ModeCost) -> str:
        return operations_text({"multiplications": mode.multiplications, "additions": mode.additions,
                                "other": mode.other})

    each = f.values // max(f.sweeps, 1)
    lines = [
        f"   forward mode: {plural(f.sweeps, 'sweep')}, one per parameter: {plural(f.total, 'operation')} ({kinds(f)})",
        f"     every sweep computes the {plural(each, 'value')} again beside its tangents: {f.values:,} values, "
        f"{plural(f.local_derivatives, 'local derivative')}, {plural(f.products, 'tangent product')}, "
        f"{plural(f.sums, 'sum')}",
        "     per parameter: " + listed([f"{k} {v:,}" for k, v in cost.forward_per_param.items()], PER_PARAM_SHOWN),
        f"   reverse mode: 1 forward pass and 1 sweep: {plural(r.total, 'operation')} ({kinds(r)})",
        f"     {plural(r.values, 'value')} once, {plural(r.local_derivatives, 'local derivative')}, "
        f"{plural(r.products, 'adjoint product')}, {plural(r.sums, 'sum')}",
    ]
    if cost.saved > 0:
        lines.append(f"   reverse saves {plural(cost.saved, 'operation')} ({share(cost.saved, f.total)}): each "
                     "value and local derivative once, each adjoint shared by the parameters below it")
    elif cost.saved == 0:
        lines.append("   the modes cost the same here: one sweep each")
    else:
        lines.append(f"   forward mode costs {plural(-cost.saved, 'operation')} less here: "
                     f"{plural(f.sweeps, 'sweep')} and no adjoints to sum over the rows")
    return lines
