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

from ..errors import DataError, show_text

PLOT_SUFFIXES = (".png", ".svg")


def check_output(path: str, option: str, inputs: list[str]) -> Path:
    """Refuse up front: a missing directory, a directory, device or pipe as the file, or an input file.

    A symbolic link is followed: the file it points to is replaced and the link stays.
    """
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    if target.is_dir():
        raise DataError(f"{option} {show_text(path)!r} is a directory")
    if target.exists() and not target.is_file():
        raise DataError(f"{option} {show_text(path)!r} is not a regular file (a device or a pipe); "
                        f"name a file{' or leave ' + option + ' out to write to stdout' if option == '--output' else ''}")
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
    """Write through a temporary file in the same directory, then rename it over the target."""
    atomic_write_all([(path, write, binary)])


Writer = tuple[Path, Callable[[IO[Any]], None], bool]  # (target, writes the content, binary)


def atomic_write_all(writers: list[Writer]) -> None:
    """All the files or none: every content goes to a temporary file first, then each is renamed.

    An OSError (a full disk, no permission) becomes a DataError naming the file, and no
    temporary file stays behind.
    """
    staged: list[tuple[str, Path]] = []
    current = writers[0][0] if writers else None
    try:
        for current, write, binary in writers:
            staged.append((_stage(current, write, binary), current))
        for temporary, current in staged:
            os.replace(temporary, current)
    except BaseException as err:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise DataError(f"cannot write {show_text(str(current))!r}: {err.strerror}") from None
        raise


def _stage(path: Path, write: Callable[[IO[Any]], None], binary: bool) -> str:
    """The content in a temporary file beside the target, with the target's permissions."""
    text = {} if binary else {"encoding": "utf-8", "newline": ""}
    handle = tempfile.NamedTemporaryFile("wb" if binary else "w", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False, **text)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _mode_for(path))
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return handle.name


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, or what a new file gets under the umask (tempfile makes 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def json_writer(path: Path, document: Any) -> Writer:
    return path, lambda f: f.write(json.dumps(document, indent=2) + "\n"), False


def history_writer(path: Path, history: list[float]) -> Writer:
    """epoch,loss: epoch 0 is the starting point."""
    return path, lambda f: f.write("epoch,loss\n" + "".join(f"{i},{loss!r}\n" for i, loss in enumerate(history))), False


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


def plot_writer(path: Path, history: list[float], title: str) -> Writer:
    """The loss per epoch, on a log scale when the loss is positive and spans more than a factor of 100."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "gradcli"  # fixed ids in SVG: same training, same bytes
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

    def draw(handle: IO[Any]) -> None:
        figure.savefig(handle, format=fmt, metadata=metadata)
        plt.close(figure)

    return path, draw, True
