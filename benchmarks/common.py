"""What every benchmark shares: interleaved timing, one row per target, the table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Row:
    """One line of the table: gradcli's figure against a reference, and the limit on their ratio."""

    target: str  # the target number
    what: str
    unit: str  # ms, s or MB
    gradcli: float | None
    reference: str  # what gradcli is measured against
    reference_value: float | None
    limit: float | None = None  # the ratio must be <= limit; None: reported, no limit
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.gradcli is None or not self.reference_value:
            return None
        return self.gradcli / self.reference_value

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "skipped"
        if self.limit is None:
            return "report"
        return "holds" if self.ratio <= self.limit else "MISSED"


def interleaved(contenders: dict[str, Callable[[], object]], repeat: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each contender, the repetitions interleaved so all see the same machine state."""
    for _ in range(warmup):
        for run in contenders.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            began = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) for name, values in times.items()}


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value * 1e3:.1f} ms" if value < 10 else f"{value:.2f} s"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.0f} {unit}"


def table(rows: list[Row]) -> str:
    """The rows as a fixed-width text table (stable, no colour: it is meant to be pasted)."""
    head = ["#", "target", "gradcli", "reference", "ratio", "limit", "result"]
    body = []
    for row in rows:
        reference = f"{row.reference} {shown(row.reference_value, row.unit)}" if row.reference_value else row.reference
        body.append([
            row.target, row.what, shown(row.gradcli, row.unit), reference,
            "-" if row.ratio is None else f"{row.ratio:.2f}",
            "-" if row.limit is None else f"<= {row.limit:.2f}",
            row.verdict + (f" ({row.note})" if row.note else ""),
        ])
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head) - 1)]
    lines = []
    for line in [head, *body]:
        cells = [cell.ljust(width) if i in (1, 3) else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(line, widths))]
        lines.append("  ".join([*cells, line[-1]]))
        if line is head:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)
