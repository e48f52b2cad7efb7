"""What people read at any width: no number of any command's output is ever split across lines
(a table too wide for the terminal shares the room, then stacks), and text that looks like Rich
markup (a formula's yhat[y]) reaches the output as it is."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKED = ["b + w1*x1 + w2*x2", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]
NET = ["W @ x + b", "--shape", "W=3x2", "--shape", "b=3", "--loss", "ce", "--target", "class"]
COMMANDS = {
    "train": ["train", "samples/data.csv"],
    "train-net": ["train", "samples/spiral.csv", "--model", *NET[:5], *NET[5:], "--epochs", "30"],
    "train-validation": ["train", "samples/clicks.csv", "--loss", "bce", "--model", "sigmoid(b + w1*x1 + w2*x2)",
                         "--validation", "0.2"],
    "grad": ["grad", *WORKED, "--check-fd"],
    "grad-data": ["grad", "b + w1*x1 + w2*x2", "--data", "samples/data.csv", "--params", "b=0.1,w1=-3e-7,w2=2"],
    "grad-net": ["grad", *NET, "--data", "x1=1,x2=2,class=1", "--entries"],
    "hessian": ["hessian", "b + w1*x1 + w2*x2", "--data", "samples/data.csv", "--params", "b=0,w1=0,w2=0"],
    "hessian-hvp": ["hessian", "b + w1*x1 + w2*x2", "--data", "samples/data.csv", "--params", "b=0,w1=0,w2=0",
                    "--hvp", "w1=1"],
    "diff": ["diff", "x**2*sin(x*y) + exp(y)/3", "--order", "2", "--at", "x=1.3,y=-0.7"],
    "losses": ["losses"],
    "explain": ["explain", *WORKED, "--wrt", "w1"],
    "explain-net": ["explain", *NET, "--data", "x1=1,x2=2,class=1"],
    "graph": ["graph", *WORKED],
    "check": ["check", "b + w1*x1 + w2*x2", "--wrt", "w1", "--claim", "2*(b + w1*x1 + w2*x2 - y)*x1"],
}
SECONDS = re.compile(r"\S+\s+s\b")  # a run's time ("in 0.0127 s") differs from run to run
CURVE = re.compile(r"^ *\S* │[ ▁▂▃▄▅▆▇█]*$")  # a row of the loss curve, its label at the left
SPLIT = re.compile(r"[\s,;:=()\[\]{}|]+")


def numbers(text: str) -> list[str]:
    """Every word that starts like a number (1.5, -3e-07, 3x2, .5), the loss curve's rows aside
    (their labels are means over as many epochs as a column covers, which depends on the width)."""
    text = "\n".join(line for line in text.splitlines() if not CURVE.match(line))
    words = SPLIT.split(SECONDS.sub(" ", text))
    return [word.rstrip(".") for word in words if re.match(r"-?\.?\d", word)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    where = tmp_path_factory.mktemp("narrow")
    shutil.copytree(ROOT / "samples", where / "samples")
    return where


@pytest.mark.parametrize("name", COMMANDS)
def test_no_number_is_split_at_any_width(folder, name):
    from cli_runner import run_program

    args = COMMANDS[name]
    wide = run_program(args, folder, env={"COLUMNS": "400"})
    assert wide.code in (0, 1), wide
    whole = set(numbers(wide.out))
    assert whole, wide
    for width in (40, 60, 80):
        shown = run_program(args, folder, env={"COLUMNS": str(width)})
        assert shown.code == wide.code, shown
        if name != "graph":  # too deep for a tree at 40 columns, the graph's lines are soft-wrapped: whole
            assert all(len(line) <= width for line in shown.out.splitlines()), (width, shown.out)
        cut = [word for word in numbers(shown.out) if word not in whole]
        assert not cut, f"numbers split or cut at {width} columns: {cut}\n{shown.out}"


def test_the_quick_start_table_is_a_table_at_80_columns(folder):
    from cli_runner import run_program

    shown = run_program(["train", "samples/data.csv"], folder, env={"COLUMNS": "80"}).out
    rows = [line.split() for line in shown.splitlines() if line.split()[:1] in (["b"], ["w1"], ["w2"])]
    assert len(rows) == 3 and all(len(row) == 6 for row in rows), shown


def test_the_checker_sees_a_split_number():
    """A control: the number cut in two at 80 columns before this fix is found out."""
    wide = set(numbers("b  1.49339588369  -5.55111512313e-17  ✓"))
    assert [w for w in numbers("b  1.49339588369  -5.55111512313e-\n                   17") if w not in wide]


@pytest.mark.parametrize("args, shown", [
    (["losses"], "logsumexp(yhat) - yhat[y]"),
    (["grad", *NET, "--data", "x1=1,x2=2,class=1"], "yhat[class]"),
    (["explain", *NET, "--data", "x1=1,x2=2,class=1"], "yhat[class]"),
    (["train", "samples/spiral.csv", "--model", *NET[:5], *NET[5:], "--epochs", "5"], "yhat[class]"),
], ids=["losses", "grad", "explain", "train"])
def test_brackets_reach_the_output_as_written(folder, args, shown):
    from cli_runner import run_program

    for width in ("40", "400"):
        result = run_program(args, folder, env={"COLUMNS": width})
        assert result.code in (0, 1), result
        assert (shown if width == "400" else shown.split()[-1]) in result.out, result.out


def test_a_table_never_reads_its_cells_as_markup():
    import io

    from gradcli.views.common import Column, console_for, print_table, text_column

    for width in ("30", "200"):
        stream = io.StringIO()
        import os

        old = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = width
        try:
            print_table(console_for(stream), [text_column("[bold]name[/]"), Column("[y]")],
                        [("w[y]", "1.5"), ("[red]x[/]", "-2e-07")])
        finally:
            if old is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = old
        out = stream.getvalue()
        for text in ("[bold]name[/]", "[y]", "w[y]", "[red]x[/]", "-2e-07"):
            assert text in out, out


def test_every_table_is_made_by_the_shared_helper():
    """The views build no Rich Table of their own: print_table is the one place that lays tables out."""
    views = ROOT / "gradcli" / "views"
    for path in views.glob("*.py"):
        if path.name != "common.py":
            assert "Table(" not in path.read_text(), path.name
