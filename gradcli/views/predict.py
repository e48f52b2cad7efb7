"""`gradcli predict`: the input rows and a yhat column (and `class` with --threshold), as CSV."""

from __future__ import annotations

import sys
from typing import IO

from ..io.csv import write_csv
from ..prediction import Predictions


def predictions_csv(result: Predictions, stream: IO[str] = sys.stdout) -> None:
    write_csv(result.header, result.columns, stream)
