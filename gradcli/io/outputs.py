"""Files gradcli writes: checked before the work starts, written atomically after it succeeds.

Atomic: the content goes to a temporary file in the same directory, which then
replaces the target in one rename, so a reader never sees half a file and a
failure leaves the old file as it was and no temporary file behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

from ..errors import DataError, named_files, show_text

PLOT_SUFFIXES = (".png", ".svg")


def check_output(path: str | os.PathLike[str], option: str, inputs: list[str]) -> Path:
    """Refuse up front: an empty name, a missing directory, a directory, device or pipe as the file,
    a name the system refuses (too long, a loop of links), a directory or file this process may not
    write, or an input file, stdin's too.

    A symbolic link is followed: the file it points to is replaced and the link stays. A link to a
    file not there yet (dangling) makes that file, where its directory exists; else it is refused,
    naming the link and its target.
    """
    text = os.fspath(path)
    if not text:
        raise DataError(f"{option}: the file name is empty")
    if text.endswith(os.sep):
        raise DataError(f"{option} {show_text(text)!r} ends in {os.sep!r}: name a file, not a directory")
    try:
        target = Path(text)
        if target.is_symlink():
            target = _link_target(target, option)
        if target.is_dir():
            raise DataError(f"{option} {show_text(text)!r} is a directory")
        if target.exists() and not target.is_file():
            raise DataError(f"{option} {show_text(text)!r} is not a regular file (a device or a pipe); name a file"
                            f"{' or leave ' + option + ' out to write to stdout' if option == '--output' else ''}")
        if not target.parent.is_dir():
            raise DataError(f"{option} {show_text(text)!r}: the directory {show_text(str(target.parent))!r} "
                            "does not exist")
        os.stat(target.parent)  # a name too long for the system fails here, not after the work
        if len(target.name.encode()) > _name_max(target.parent):
            raise DataError(f"{option} {show_text(text)!r}: the file name is longer than this file system allows")
        _check_writable(target, option, text)
        for source in inputs:
            if target.exists() and _same_file(target, source):
                what = "the file stdin reads" if source == "-" else "the input file"
                raise DataError(f"{option} {show_text(text)!r} is {what}; refusing to write over it")
    except OSError as err:  # a name too long, no permission to look
        raise DataError(f"{option} {show_text(text)!r}: {err.strerror or err}") from None
    except RuntimeError:  # Path.resolve on a loop of symbolic links
        raise DataError(f"{option} {show_text(text)!r}: a loop of symbolic links") from None
    return target


def _check_writable(target: Path, option: str, text: str) -> None:
    """Refuse up front what atomic_write would fail on only after the work: a directory this process may not
    write in, or a file there it may not write. os.access answers for an ordinary user; root passes it
    everywhere, so a temporary file is also made and removed where atomic_write will make its own (a
    read-only file system, /sys, /proc)."""
    where = show_text(str(target.parent))
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise DataError(f"{option} {show_text(text)!r}: no permission to write in the directory {where!r}")
    if target.exists() and not os.access(target, os.W_OK):
        raise DataError(f"{option} {show_text(text)!r}: the file is not writable (no permission)")
    probe = _temporary_name(target)
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as err:
        raise DataError(f"{option} {show_text(text)!r}: cannot write in the directory {where!r}: "
                        f"{err.strerror or err}") from None
    with suppress(OSError):
        os.unlink(probe)


def _link_target(link: Path, option: str) -> Path:
    """The file a symbolic link points to, through any chain of links; a dangling link's target too,
    when its directory exists (the file is made there)."""
    target = link.resolve()  # not strict: a target that does not exist yet is still named
    if not target.parent.is_dir():
        raise DataError(f"{option} {show_text(str(link))!r} is a symbolic link to {show_text(os.readlink(link))!r}, "
                        f"whose directory {show_text(str(target.parent))!r} does not exist")
    return target


def _name_max(directory: Path) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _same_file(target: Path, source: str) -> bool:
    """Whether the input `source` ('-': whatever stdin is) is the file `target` names."""
    if source == "-":
        if sys.stdin is None:
            return False
        try:
            info = os.fstat(sys.stdin.fileno())
        except (OSError, ValueError):
            return False
        there = target.stat()
        return stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) == (there.st_dev, there.st_ino)
    return Path(source).exists() and os.path.samefile(target, source)


def check_outputs(outputs: Mapping[str, str | os.PathLike[str] | None], inputs: list[str]) -> dict[str, Path]:
    """Every output option checked, and no two of them naming the same file."""
    checked = {option: check_output(path, option, inputs) for option, path in outputs.items() if path is not None}
    seen: dict[Path, str] = {}
    for option, path in checked.items():
        resolved = path.resolve()
        if resolved in seen:
            raise DataError(f"{seen[resolved]} and {option} name the same file {show_text(str(path))!r}")
        seen[resolved] = option
    return checked


def is_directory(path: str | os.PathLike[str]) -> bool:
    """Whether an output names a directory: one that exists, or a name ending in '/' (made when writing starts)."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or os.path.isdir(text)


def check_directory(path: str | os.PathLike[str], option: str) -> Path:
    """An existing directory, or a new one whose parent exists; refused up front otherwise."""
    text = os.fspath(path)
    if os.path.isdir(text):
        return Path(text)
    if os.path.lexists(text.rstrip("/" + os.sep) or text):
        raise DataError(f"{option} {show_text(text)!r} ends in {os.sep!r}, but it names a file, not a directory")
    parent = Path(text).parent
    if not parent.is_dir():
        raise DataError(f"{option} {show_text(text)!r}: the directory {show_text(str(parent))!r} does not exist")
    return Path(text)


@contextmanager
def directory_made(path: Path) -> Iterator[None]:
    """The directory made if it is not there yet, and removed again if the writing into it fails."""
    made = not path.is_dir()
    if made:
        try:
            path.mkdir()
        except OSError as err:
            raise DataError(f"cannot make the directory {show_text(str(path))!r}: {err.strerror}") from None
    try:
        yield
    except BaseException:
        if made:
            with suppress(OSError):
                path.rmdir()  # only when empty: atomic_write_all has removed its temporary files
        raise


def atomic_write(path: Path, write: Callable[[IO[Any]], None], binary: bool = False) -> None:
    """Write through a temporary file in the same directory, then rename it over the target."""
    atomic_write_all([(path, write, binary)])


Writer = tuple[Path, Callable[[IO[Any]], None], bool]  # (target, writes the content, binary)


# The files this run has put in place, in order, while a caller records them (the CLI does, so that an
# interrupt that comes after a file was renamed says which files were written). None: nobody records.
_WRITTEN: ContextVar[list[Path] | None] = ContextVar("gradcli_written", default=None)


@contextmanager
def recording_writes() -> Iterator[list[Path]]:
    """The list of files atomic_write_all puts in place inside the block (in order), for this context only."""
    written: list[Path] = []
    token = _WRITTEN.set(written)
    try:
        yield written
    finally:
        _WRITTEN.reset(token)


def atomic_write_all(writers: list[Writer]) -> None:
    """All the files or none: every content goes to a temporary file first, then each is renamed.

    A temporary file is named .NAME.PID.RANDOM.tmp: one that a run killed mid-write (kill -9)
    left behind is removed by the next write beside it, once its pid has gone. (O_TMPFILE with
    linkat would leave nothing at all, but linking /proc/self/fd fails on some kernels and
    sandboxes, this one included.) Ctrl-C, SIGTERM and SIGHUP wait while the files are renamed,
    so a run's outputs are all new or all old; one that came during the renames is raised after the
    last, and the files are then recorded as written (recording_writes), for the CLI to name them.
    Only kill -9 between two renames can leave some new and some old (and the later ones'
    temporary files, which the next write beside them removes). An OSError (a full disk, no
    permission) becomes a DataError naming the file, and no temporary file stays behind; if it
    came while renaming (the directory made read-only meanwhile), the message names the files
    already renamed.
    """
    staged: list[_Staged] = []
    committed: list[Path] = []
    current = writers[0][0] if writers else None
    try:
        for current, write, binary in writers:
            _remove_stale(current)
            staged.append(_stage(current, write, binary))
        with signals_held():
            try:
                for item in staged:
                    current = item.target
                    item.commit()
                    committed.append(item.target)
            finally:
                written = _WRITTEN.get()
                if written is not None:
                    written.extend(committed)
    except BaseException as err:
        for item in staged:
            item.discard()
        if isinstance(err, OSError):
            verb = "was" if len(committed) == 1 else "were"
            done = f" ({named_files(committed)} {verb} written)" if committed else ""
            raise DataError(f"cannot write {show_text(str(current))!r}: {err.strerror}{done}") from None
        raise


class _Staged:
    """A content written in full beside its target, not yet in its place."""

    def __init__(self, target: Path, name: str) -> None:
        self.target, self.name = target, name

    def commit(self) -> None:
        os.replace(self.name, self.target)

    def discard(self) -> None:
        Path(self.name).unlink(missing_ok=True)


def _temporary_name(target: Path) -> str:
    """.NAME.PID.RANDOM.tmp beside the target: the pid tells a later run whether its writer still lives."""
    return str(target.parent / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def _stage(path: Path, write: Callable[[IO[Any]], None], binary: bool) -> _Staged:
    """The content in a temporary file beside the target, with the target's permissions."""
    text = {} if binary else {"encoding": "utf-8", "newline": ""}
    staged = _Staged(path, _temporary_name(path))
    try:
        with open(staged.name, "xb" if binary else "x", **text) as handle:
            os.fchmod(handle.fileno(), 0o600)  # private until complete
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), _mode_for(path))
    except BaseException:
        staged.discard()
        raise
    return staged


def _remove_stale(target: Path) -> None:
    """Remove the temporary files (and staging directories) beside target that a run killed mid-write
    left (their pid is gone)."""
    prefix = f".{target.name}."
    try:
        leftovers = [entry for entry in os.scandir(target.parent)
                     if entry.name.startswith(prefix) and entry.name.endswith(".tmp")]
    except OSError:
        return
    for entry in leftovers:
        pid = entry.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def staging_directory(target: Path) -> Path:
    """A new private directory .NAME.PID.RANDOM.tmp beside `target`, where others (a Dask cluster's
    workers) write the files of a directory that must appear whole: commit_directory puts it in place.
    Leftovers of runs killed before that are removed first, as atomic_write_all removes its own."""
    _remove_stale(target)
    staging = Path(_temporary_name(target))
    try:
        staging.mkdir(mode=0o700)
    except OSError as err:
        raise DataError(f"cannot make a directory beside {show_text(str(target))!r}: {err.strerror}") from None
    return staging


def commit_directory(staging: Path, target: Path, names: set[str]) -> None:
    """The staging directory renamed to `target` (which does not exist, or is an empty directory), with
    only the files `names` in it (a temporary file a killed writer left is removed) and the
    permissions a new directory gets. The caller removes the staging directory if this fails."""
    for entry in staging.iterdir():
        if entry.name not in names:
            entry.unlink()
    os.chmod(staging, 0o777 & ~_umask())
    try:
        with signals_held():
            os.rename(staging, target)
    except OSError as err:
        raise DataError(f"cannot write {show_text(str(target))!r}: {err.strerror}") from None


def _umask() -> int:
    """The process's umask, read without setting it (os.umask would change it for every thread meanwhile)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP are held back (not lost) for the few renames that must all happen
    (and while a Dask cluster starts, so that it is never left half started).

    Python-level handlers record them and the first is raised again afterwards: blocking the signals
    in this thread (pthread_sigmask) is not enough, since BLAS and reader threads may receive them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {signum: signal.signal(signum, lambda signum, frame: pending.append(signum)) for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:  # delivered now, to the handler in force: every file is in place
            signal.raise_signal(pending[0])


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, or what a new file gets under the umask (temporaries are 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def json_writer(path: Path, document: Any) -> Writer:
    return path, lambda f: f.write(json.dumps(document, indent=2) + "\n"), False


def history_writer(path: Path, history: list[float], validation: list[float] | None = None) -> Writer:
    """epoch,loss (and validation_loss, with --validation): epoch 0 is the starting point."""
    if validation:
        lines = "".join(f"{i},{loss!r},{held!r}\n" for i, (loss, held) in enumerate(zip(history, validation)))
        return path, lambda f: f.write("epoch,loss,validation_loss\n" + lines), False
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


def plot_writer(path: Path, history: list[float], title: str, validation: list[float] | None = None) -> Writer:
    """The loss per epoch (and the validation rows' loss, with --validation), on a log scale when the
    loss is positive and spans more than a factor of 100."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "gradcli"  # fixed ids in SVG: same training, same bytes
    figure, axes = plt.subplots(figsize=(7, 4), dpi=120)
    axes.plot(range(len(history)), history, color="tab:blue", linewidth=1.5,
              label="training" if validation else None)
    if validation:
        axes.plot(range(len(validation)), validation, color="tab:orange", linewidth=1.5, label="validation")
        axes.legend()
    axes.set_xlabel("epoch")
    axes.set_ylabel("mean loss")
    axes.set_title(title, fontsize=10)
    every = [*history, *(validation or [])]
    if min(every) > 0 and max(every) / min(every) > 100:
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
