"""Training rows on a Dask cluster: io/distributed.py's DaskRows, each part's columns read as a sweep
reads them (passes.part_columns), and a full-batch evaluation one pass over them (passes.part_sweep),
the parts' means added up here (passes.combine). The cluster, the parts on the workers, the retries
after a worker died: all io/distributed.py's, shared with grad, hessian and predict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..engines.sweep import Plan, Result
from ..io.distributed import DaskRows
from .passes import Tick, combine, part_columns, part_sweep


class TrainingRows(DaskRows):
    """passes.Rows on a distributed.Client: the parts' checked, gathered columns held on the workers."""

    def __init__(self, client: Any, parts: Sequence[Any], problem: Any, files: int, tick: Tick | None = None) -> None:
        super().__init__(client, parts, part_columns, files, tick, problem=problem)

    def sweep(self, plan: Plan, params: Mapping[str, float], *, abs_terms: bool = False) -> Result:
        return combine(self.map(part_sweep, plan, params, abs_terms), self.rows, abs_terms)
