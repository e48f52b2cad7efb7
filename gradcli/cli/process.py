"""The process around the commands: every way out is one line on stderr and a documented exit code.

Signals (Ctrl-C, SIGTERM, SIGHUP, a closed pipe), streams that take ASCII only, a closed or full
stdout, and bugs, each told in one line, never a traceback.
"""

import codecs
import contextlib
import errno
import gc
import os
import signal
import sys
import traceback

import typer

import gradcli

from ..errors import leave, named_files
from .adapter import USAGE_ERROR
from .app import app
from .options import model_friendly

INTERRUPTED = 130  # Ctrl-C, as shells report it
INTERNAL_ERROR = 70  # a bug in gradcli (sysexits' EX_SOFTWARE): never 1, which means a check failed
OUTPUT_LOST = 74  # stdout could not be written (sysexits' EX_IOERR)
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EBADF, errno.EPIPE}


def main() -> None:
    """Entry point: every way out is one line on stderr and a documented exit code, never a traceback.

    0 ok, 1 a check failed, 2 bad input or usage, 70 a bug (GRADCLI_DEBUG=1 shows its traceback),
    74 the output could not be written, 130 interrupted. An interrupt or a SIGTERM/SIGHUP that comes
    after an output file was put in place (during the renames, which wait for it, or while the
    result prints) says which files were written: "interrupted after writing 'p.json' and 'h.csv'".
    """
    written: list = []  # the output files put in place, for a message on the way out
    try:
        with gradcli.recording_writes() as written:
            code = _run()
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Terminated as ended:
        leave(f"terminated by {ended.name}{_after_writing(written)}", 128 + ended.signum)
    except MemoryError:
        sys.stderr.write("gradcli: error: out of memory: the data is too large for this machine\n")
        code = 2
    except OSError as err:
        # Inputs and output files raise GradcliError; a write error left over is stdout's (/dev/full).
        code = _output_lost(err) if err.errno in _WRITE_ERRORS else _internal_error(err)
    except Exception as err:  # noqa: BLE001 (a bug, told in one line)
        code = _internal_error(err)
    if code == INTERRUPTED:
        with contextlib.suppress(OSError, AttributeError):
            sys.stdout.flush()
        leave(f"interrupted{_after_writing(written)}", INTERRUPTED)
    sys.exit(_flushed(code))


def _after_writing(written: list) -> str:
    """'' when no output file was put in place, else " after writing 'p.json' and 'h.csv'"."""
    return f" after writing {named_files(written)}" if written else ""


def without_final_collection() -> None:
    """Spare the process the teardown Python runs as it ends.

    Python then empties every module and collects what was left in reference cycles. After importing
    SymPy that is most of the ~70,000 objects alive (classes, functions, caches), and it took a quarter
    of a second of every run here (`python -c "import typer, rich, numpy, sympy"` took 0.94 s, and
    0.70 s with gc.freeze() at its end). Frozen, they are left to the operating system with the
    process; atexit handlers and weakref finalisers still run. Only objects in reference cycles lose
    their __del__ by it, and by now every output is written, flushed and closed, temporary files are
    removed and a cluster gradcli started is shut. Called by the entry point (gradcli.__main__), not
    by main(), which an embedding process may call and live on.
    """
    with contextlib.suppress(OSError, AttributeError, ValueError):
        sys.stderr.flush()
    gc.freeze()


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised where the program is, so that every clean-up on the way out runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum, self.name = signum, signal.Signals(signum).name


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _run() -> int:
    """The app, with usage errors as one line and exit code 2."""
    # A closed pipe (`gradcli train ... | head`) ends the program quietly, as it ends `cat`;
    # Python's default would be an error exit that reads like a failed check.
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for name in ("SIGTERM", "SIGHUP"):  # by default these kill at once, leaving temporary files behind
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminate)
    _ascii_where_needed()
    if sys.stdout is None:  # started with `>&-`: nothing could be printed, and a file opened now could take fd 1
        sys.stderr.write("gradcli: error: stdout is closed, so nothing could be printed; redirect it to a file\n")
        return 2
    try:
        code = app(args=model_friendly(sys.argv[1:]), prog_name="gradcli", standalone_mode=False)
    except USAGE_ERROR as err:
        where = err.ctx.command_path if err.ctx else "gradcli"
        message = " ".join(err.format_message().split())
        sys.stderr.write(f"gradcli: error: {message} (see '{where} --help')\n")
        return 2
    except typer.Abort:
        return INTERRUPTED
    return code if isinstance(code, int) else 0


# What the views print beyond ASCII, and what stands for it where the streams take ASCII only
# (PYTHONIOENCODING=ascii, LANG=C on an old system).
_ASCII = {"∂": "d", "✓": "ok", "✗": "x", "→": "->", "·": "*", "×": "x", "◂": "<", "»": ">>", "…": "...",
          "─": "-", "━": "-", "│": "|", "├": "+", "└": "+", "┌": "+", "┐": "+", "┘": "+", "┤": "+", "┬": "+",
          "┴": "+", "┼": "+", "╭": "+", "╮": "+", "╰": "+", "╯": "+", "≤": "<=", "≥": ">=", "−": "-",
          "▁": "_", "▂": "_", "▃": "-", "▄": "-", "▅": "=", "▆": "=", "▇": "#", "█": "#", "δ": "delta"}


def _to_ascii(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    return "".join(_ASCII.get(ch, "?") for ch in err.object[err.start:err.end]), err.end


def _ascii_where_needed() -> None:
    """Streams that cannot take the views' symbols write ASCII stand-ins instead of failing."""
    codecs.register_error("gradcli-ascii", _to_ascii)
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if stream is None or encoding is None:
            continue
        try:
            "∂✓→│".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            with contextlib.suppress(AttributeError, ValueError):
                stream.reconfigure(errors="gradcli-ascii")  # type: ignore[union-attr]


def _internal_error(err: Exception) -> int:
    if os.environ.get("GRADCLI_DEBUG"):
        traceback.print_exception(err)
    detail = " ".join(str(err).split())[:200]
    sys.stderr.write(f"gradcli: internal error (a bug in gradcli): {type(err).__name__}"
                     f"{': ' + detail if detail else ''} (GRADCLI_DEBUG=1 shows the traceback)\n")
    return INTERNAL_ERROR


def _output_lost(err: OSError) -> int:
    sys.stderr.write(f"gradcli: error: cannot write the output: {err.strerror or err}\n")
    with contextlib.suppress(OSError, ValueError, AttributeError):  # what is left in the buffer goes nowhere,
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # instead of failing again at exit
    return OUTPUT_LOST


def _flushed(code: int) -> int:
    """Flush stdout now, so that a failed write (a full disk) is said and counted, not lost at exit."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as err:
        lost = _output_lost(err)
        return lost if code in (0, 1) else code
    return code
