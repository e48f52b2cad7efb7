"""Where `gradcli` and `python -m gradcli` start: Ctrl-C is handled from the very first line.

Importing the CLI (Typer, Rich) takes a tenth of a second; an interrupt then still ends as
"gradcli: interrupted" with exit code 130, not a traceback.
"""

from .errors import leave

INTERRUPTED = 130


def main() -> None:
    try:  # importing the CLI takes long enough for a Ctrl-C to land in it: caught here
        from .cli import main as run
        from .cli import without_final_collection
    except KeyboardInterrupt:
        leave("interrupted", INTERRUPTED)
    try:
        run()
    finally:  # the process ends now, whichever way: without Python's teardown
        without_final_collection()


if __name__ == "__main__":
    main()
