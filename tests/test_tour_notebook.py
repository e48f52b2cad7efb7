"""docs/tour.ipynb runs as a test: nbval executes its cells in order in one kernel (this environment's
python, no network) and compares every output with the one stored in the notebook; a cell marked
NBVAL_IGNORE_OUTPUT (a drawing, a fit's last digits) is run but not compared.

nbval runs in a subprocess of its own (-n 0): a notebook's cells share one kernel, so they cannot be
spread over pytest-xdist's workers (its --dist loadgroup cannot group them with pytest 9). A control
notebook whose stored output is wrong runs beside the tour, to show that outputs are compared, not
only executed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "docs" / "tour.ipynb"


def control_notebook(path: Path) -> Path:
    """One cell, 1 + 1, whose stored output says 3."""
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["1 + 1"],
            "outputs": [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                         "data": {"text/plain": ["3"]}}]}
    notebook = {"cells": [cell], "nbformat": 4, "nbformat_minor": 4,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    path.write_text(json.dumps(notebook))
    return path


def test_the_tour_notebook_runs_and_its_outputs_are_as_stored(tmp_path):
    control = control_notebook(tmp_path / "control.ipynb")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "-q", "-rf", "--nbval",
         "--nbval-current-env", "--nbval-cell-timeout=120", str(TOUR), str(control)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    code_cells = sum(cell["cell_type"] == "code" for cell in json.loads(TOUR.read_text())["cells"])
    # every cell of the tour passed; the one that failed is the control's, on its output (3 stored, 2 made)
    assert f"1 failed, {code_cells} passed" in proc.stdout, proc.stdout[-3000:]
    assert "Cell outputs differ" in proc.stdout and "'3' == '2'" in proc.stdout, proc.stdout[-3000:]
