"""train's progress bar: epoch, loss and speed on stderr, only on a terminal."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator


@dataclass
class TrainBar:
    """The callbacks that move the bar: `epoch(epoch, loss)` after each epoch, and `part(done, parts, rows)`
    during each pass over streamed or distributed data."""

    epoch: Callable[[int, float], None]
    part: Callable[[int, int, int], None]


@contextmanager
def epoch_progress(quiet: bool, epochs: int) -> Iterator[TrainBar | None]:
    """A Rich progress bar on stderr, and the callbacks that move it (None: no bar, with --quiet or off a
    terminal). The bar appears at the first epoch, so reading and checking the data draw nothing; over
    data in parts it also shows the parts and rows done in the pass under way."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("loss {task.fields[loss]}"),
               TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[parts]}"), TimeElapsedColumn())
    bar = Progress(*columns, console=Console(stderr=True), transient=True)
    task = None
    state = {"epoch": 0, "loss": ""}

    def start() -> Any:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("train", total=epochs, loss="", speed="", parts="")
        return task

    def update(epoch: int, loss: float) -> None:
        start()
        elapsed = bar.tasks[0].elapsed or 0.0
        speed = f"{epoch / elapsed:,.0f} epochs/s" if elapsed > 0 else ""
        state["epoch"] = epoch
        bar.update(task, completed=epoch, loss=f"{loss:.6g}", speed=speed)

    def part(done: int, parts: int, rows: int) -> None:
        bar.update(start(), parts=f"pass: part {done}/{parts}, {rows:,} rows")

    try:
        yield TrainBar(update, part)
    finally:
        if task is not None:
            bar.stop()
