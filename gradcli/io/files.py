"""Opening the files gradcli reads: the one place where an input file is opened.

A name is looked at (os.stat) before it is opened, so that what is not a regular file is refused by
what it is: a FIFO or a socket would block forever waiting for a writer, a device never ends, a
directory holds no data. The open itself is non-blocking, so a name swapped for a FIFO between the
look and the open cannot hang either; what was opened is looked at again. Every failure the system
reports (no such file, no permission to a directory on the way, a name too long, a loop of links)
is a DataError naming the file, never an OSError.

Reading is bounded and allocates what it reads, not what it may read: a read of "at most N bytes"
reserves N bytes at once, and with N a quarter of the machine's memory that fails under a limit on
address space (ulimit -v) or strict overcommit.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import IO, Any

from ..errors import DataError

BLOCK = 1 << 20  # bytes read at a time where the size is not known (a pipe), doubling up to MAX_BLOCK
MAX_BLOCK = 64 << 20

_WHY = {
    errno.ENOENT: "does not exist",
    errno.ENOTDIR: "does not exist (a part of its path is not a directory)",
    errno.EACCES: "cannot be read (permission denied)",
    errno.EPERM: "cannot be read (permission denied)",
    errno.ENAMETOOLONG: "cannot be read: the file name is too long",
    errno.ELOOP: "cannot be read: a loop of symbolic links",
}


def not_regular(mode: int) -> str | None:
    """What a file of this mode is, when it is not a regular file ('a FIFO', 'a device', ...)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def why_unreadable(err: OSError) -> str:
    """An OSError as the end of a sentence about a file: 'does not exist', 'cannot be read (...)'."""
    return _WHY.get(err.errno or 0, f"cannot be read: {err.strerror or err}")


def _refuse(mode: int, label: str) -> None:
    kind = not_regular(mode)
    if kind == "a directory":
        raise DataError(f"{label} is a directory")
    if kind is not None:
        raise DataError(f"{label} is {kind}, not a regular file: give - and pipe into stdin")


def check_input(path: str, label: str) -> os.stat_result:
    """The file's status, if it is a regular file that can be looked at; else a DataError
    '{label} does not exist', '{label} is a FIFO, not a regular file: ...'."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise DataError(f"{label} {why_unreadable(err)}") from None
    except ValueError:  # a NUL byte in the name
        raise DataError(f"{label} does not exist (the name holds a NUL character)") from None
    _refuse(info.st_mode, label)
    return info


def open_input(path: str, label: str) -> IO[bytes]:
    """The regular file at `path`, opened for reading in binary; `label` names it in messages
    ("--params file 'p.json'")."""
    check_input(path, label)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise DataError(f"{label} {why_unreadable(err)}") from None
    try:
        _refuse(os.fstat(fd).st_mode, label)  # swapped between the look and the open
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_at_most(stream: Any, cap: int, size: int | None = None) -> Any:
    """Up to `cap` bytes (or characters, from a text stream) of `stream`; cap < 0: all of it.

    `size`, where known (a regular file's length), is read in one call of that size; anything past it
    (a file that grew), and a stream of unknown size, in blocks of 1 MiB doubling to 64 MiB.
    """
    chunks = []
    total = 0
    block = BLOCK
    if size is not None:
        first = size + 1 if cap < 0 else min(cap, size + 1)
        chunk = stream.read(first)
        chunks.append(chunk)
        total = len(chunk)
        if len(chunk) < first:  # the end came first
            return chunk
    while cap < 0 or total < cap:
        want = block if cap < 0 else min(block, cap - total)
        chunk = stream.read(want)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        block = min(block * 2, MAX_BLOCK)
    if not chunks:
        return stream.read(0)  # b"" or "", as the stream gives
    return chunks[0] if len(chunks) == 1 else chunks[0][:0].join(chunks)
