"""train's progress bar: epoch, loss and speed on stderr, only on a terminal."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def epoch_progress(quiet: bool, epochs: int) -> Iterator[Callable[[int, float], None] | None]:
    """A Rich progress bar on stderr, and the callback that moves it (None: no bar, with --quiet or off a
    terminal). The bar appears at the first epoch, so reading and checking the data draw nothing."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("loss {task.fields[loss]}"),
               TextColumn("{task.fields[speed]}"), TimeElapsedColumn())
    bar = Progress(*columns, console=Console(stderr=True), transient=True)
    task = None

    def update(epoch: int, loss: float) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("train", total=epochs, loss="", speed="")
        elapsed = bar.tasks[0].elapsed or 0.0
        speed = f"{epoch / elapsed:,.0f} epochs/s" if elapsed > 0 else ""
        bar.update(task, completed=epoch, loss=f"{loss:.6g}", speed=speed)

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()
