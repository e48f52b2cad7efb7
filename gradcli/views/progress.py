"""train's progress bar: epoch, loss and speed on stderr, only on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class TrainBar:
    """The callbacks that move the bar: `epoch(epoch, loss)` after each epoch, and `part(done, parts, rows)`
    during each pass over streamed or distributed data."""

    epoch: Callable[[int, float], None]
    part: Callable[[int, int, int], None]


class EpochRate:
    """Epochs per second, timed from the first epoch reported: the clock starts there, since what came
    before it (reading and checking the data, the first epoch itself) was not timed as epochs. The first
    report has no speed; from the second on, the epochs since the first over the time since it."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:

        self.clock = clock or time.monotonic
        self.first: tuple[int, float] | None = None

    def text(self, epoch: int) -> str:
        now = self.clock()
        if self.first is None:
            self.first = (epoch, now)
            return ""
        epochs, seconds = epoch - self.first[0], now - self.first[1]
        if epochs <= 0 or seconds <= 0:
            return ""
        rate = epochs / seconds
        return f"{rate:,.0f} epochs/s" if rate >= 100 else f"{rate:.2g} epochs/s"


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
    rate = EpochRate()

    def start() -> Any:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("train", total=epochs, loss="", speed="", parts="")
        return task

    def update(epoch: int, loss: float) -> None:
        start()
        bar.update(task, completed=epoch, loss=f"{loss:.6g}", speed=rate.text(epoch))

    def part(done: int, parts: int, rows: int) -> None:
        bar.update(start(), parts=f"pass: part {done}/{parts}, {rows:,} rows")

    try:
        yield TrainBar(update, part)
    finally:
        if task is not None:
            bar.stop()
