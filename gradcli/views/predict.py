"""`gradcli predict`: the input rows and a yhat column (and `class` with --threshold), as CSV."""

from __future__ import annotations

import sys
from typing import IO

from ..io.csv import write_csv
from ..tasks.predict import PartPredictions, Predictions


def predictions_csv(result: Predictions | PartPredictions, stream: IO[str] | None = None) -> None:
    """Every row as CSV. Predictions made part by part are written as each part's are made again
    (the data was checked before, so a bad row cannot stop the output half way)."""
    stream = sys.stdout if stream is None else stream  # read at call time: redirect_stdout works
    if isinstance(result, Predictions):
        write_csv(result.header, result.columns, stream)
        return
    written = False
    for chunk in result.chunks():
        write_csv(chunk.header, chunk.columns, stream, header_row=not written)
        written = True
    if not written:
        write_csv(result.header, {name: [] for name in result.header}, stream)
