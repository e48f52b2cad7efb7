"""Files gradcli writes: checked before the work starts, written atomically after it succeeds.

Atomic: the content goes to a temporary file in the same directory, which then
replaces the target in one rename, so a reader never sees half a file and a
failure leaves the old file as it was and no temporary file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Mapping

from .errors import DataError, show_text

PLOT_SUFFIXES = (".png", ".svg")


def check_output(path: str, option: str, inputs: list[str]) -> Path:
    """Refuse up front: a missing directory, a directory as the file, or one of the input files."""
    target = Path(path)
    if target.is_dir():
        raise DataError(f"{option} {show_text(path)!r} is a directory")
    if not target.parent.is_dir():
        raise DataError(f"{option} {show_text(path)!r}: the directory {show_text(str(target.parent))!r} does not exist")
    for source in inputs:
        if source != "-" and target.exists() and Path(source).exists() and os.path.samefile(target, source):
            raise DataError(f"{option} {show_text(path)!r} is the input file; refusing to write over it")
    return target


def check_outputs(outputs: Mapping[str, str | None], inputs: list[str]) -> dict[str, Path]:
    """Every output option checked, and no two of them naming the same file."""
    checked = {option: check_output(path, option, inputs) for option, path in outputs.items() if path}
    seen: dict[Path, str] = {}
    for option, path in checked.items():
        resolved = path.resolve()
        if resolved in seen:
            raise DataError(f"{seen[resolved]} and {option} name the same file {show_text(str(path))!r}")
        seen[resolved] = option
    return checked


def atomic_write(path: Path, write: Callable[[IO[Any]], None], binary: bool = False) -> None:
    """Write through a temporary file in the same directory, then rename it over the target.

    An OSError (a full disk, no permission) becomes a DataError naming the file.
    """
    text = {} if binary else {"encoding": "utf-8", "newline": ""}
    try:
        handle = tempfile.NamedTemporaryFile("wb" if binary else "w", dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp", delete=False, **text)
    except OSError as err:
        raise DataError(f"cannot write {show_text(str(path))!r}: {err.strerror}") from None
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _mode_for(path))
        os.replace(handle.name, path)
    except BaseException as err:
        Path(handle.name).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise DataError(f"cannot write {show_text(str(path))!r}: {err.strerror}") from None
        raise


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, or what a new file gets under the umask (tempfile makes 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_json(path: Path, document: Any) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(document, indent=2) + "\n"))


def write_history(path: Path, history: list[float]) -> None:
    """epoch,loss: epoch 0 is the starting point."""
    atomic_write(path, lambda f: f.write("epoch,loss\n" + "".join(f"{i},{loss!r}\n" for i, loss in enumerate(history))))


def check_plot(path: str | None) -> None:
    """--plot needs a .png or .svg name and matplotlib (the `plot` extra): both checked before training."""
    if path is None:
        return
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise DataError(f"--plot {show_text(path)!r}: the file name must end in .png or .svg")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise DataError("--plot needs matplotlib: pip install 'gradcli[plot]'") from None


def write_plot(path: Path, history: list[float], title: str) -> None:
    """The loss per epoch, on a log scale when the loss is positive and spans more than a factor of 100."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=120)
    axes.plot(range(len(history)), history, color="tab:blue", linewidth=1.5)
    axes.set_xlabel("epoch")
    axes.set_ylabel("mean loss")
    axes.set_title(title, fontsize=10)
    if min(history) > 0 and max(history) / min(history) > 100:
        axes.set_yscale("log")
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    fmt = path.suffix.lower().lstrip(".")
    # Fixed metadata: the same training gives the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    atomic_write(path, lambda f: figure.savefig(f, format=fmt, metadata=metadata), binary=True)
    plt.close(figure)
