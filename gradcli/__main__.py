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
    except Exception as err:
        if interrupted(err):
            leave("interrupted", INTERRUPTED)
        raise
    try:
        run()
    finally:  # the process ends now, whichever way: without Python's teardown
        without_final_collection()


def interrupted(err: BaseException) -> bool:
    """A Ctrl-C that landed inside a class being made (a descriptor's __set_name__, as in platform's
    uname_result) reaches us wrapped in a RuntimeError: the KeyboardInterrupt is its cause."""
    seen: set[int] = set()
    found: BaseException | None = err
    while found is not None and id(found) not in seen:
        if isinstance(found, KeyboardInterrupt):
            return True
        seen.add(id(found))
        found = found.__cause__ or found.__context__
    return False


if __name__ == "__main__":
    main()
