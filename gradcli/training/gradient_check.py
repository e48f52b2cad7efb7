"""train's final gradient check as the report holds it: symbolic (or finite differences) against backprop.

Both ways of checking (every row in memory: training/fitting.py; rows in parts: training/partwise.py)
fill in the same GradientCheck.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..compare.verdicts import FD_ATOL, FD_RTOL

CHECK_RTOL = 1e-9  # final gradient check; its atol is CHECK_RTOL x the summed size of the per-row terms


@dataclass
class GradientCheck:
    agree: bool | None
    rtol: float
    atol: float
    gradients: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # the gradient engines' warnings (kinks, ...)
    # what backprop was checked against: "symbolic" (SymPy; for vectors and matrices on the model
    # written out entry by entry), or "finite differences along 3 random directions" past that
    witness: str | None = "symbolic"
    # a model with vectors and matrices: each parameter as written, its largest differences
    tensors: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        found = {"agree": self.agree, "rtol": self.rtol, "atol": self.atol, "witness": self.witness,
                 "gradients": self.gradients}
        if self.tensors:
            found["gradients"] = self.tensors
        return found


def gradient_entry(gradient: Any) -> dict[str, Any]:
    """A parameter's line of train's final check (JSON's gradient_check.gradients)."""
    return {"symbolic_value": gradient.symbolic_value, "backprop_value": gradient.backprop_value,
            "abs_diff": gradient.abs_diff, "agree": gradient.agree, "resolution": gradient.resolution,
            "condition": gradient.condition}


def checked(report: Any, atol: float) -> GradientCheck:
    """A model with vectors and matrices: grad's report (comparison.GradientReport) of the final
    gradient as train's check. SymPy differentiates the model written out entry by entry up to
    its size limit (comparison.entrywise); past it, finite differences along random directions are
    the witness, with their own tolerances, and the report's warning says so."""
    per_entry = {name: {"symbolic_value": g.symbolic_value, "backprop_value": g.backprop_value,
                        "abs_diff": g.abs_diff, "agree": g.agree} for name, g in report.gradients.items()}
    tensors = {}
    for name, t in report.tensors.items():
        found = asdict(t)
        found.pop("param")
        found.pop("entries")
        tensors[name] = found
    rtol = report.rtol
    if report.witness != "symbolic":
        rtol, atol = FD_RTOL, FD_ATOL * max(1.0, abs(report.loss_value))
    return GradientCheck(report.agree, rtol, atol, per_entry, list(report.warnings), report.witness, tensors)
