"""Where `gradcli` and `python -m gradcli` start: Ctrl-C is handled from the very first line.

Importing the CLI (Typer, Rich) takes a tenth of a second; an interrupt then still ends as
"gradcli: interrupted" with exit code 130, not a traceback.
"""

import os
import sys

INTERRUPTED = 130


def interrupted(message: str = "interrupted", code: int = INTERRUPTED) -> None:
    """Say so and leave at once (130 for Ctrl-C): no later clean-up step can be interrupted into a traceback.

    Output files are already all written or all discarded by then (io/outputs.py)."""
    sys.stderr.write(f"gradcli: {message}\n")
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        interrupted()
    run()


if __name__ == "__main__":
    main()
