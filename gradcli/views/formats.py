"""The output formats of every command, registered by the views that draw them.

Each view module offers its command's formats at its end: a name and the function that draws
the result in it (the first is the default), the help of `--format`, and older names kept as
aliases. The CLI's one `--format` option takes its choices from here, so a new format is one
function and one entry in its view's module, and nothing else.

A format may ask its command's task for more facts (`asks`: format -> keywords for the API call):
graph's html page shows both engines' values, so it asks for compare=True; the CLI passes
`offered(command).asks(format)` to the task, so no command branches on a format.

A graph too large to lay out (svg, html) raises TooLargeToDraw; render adds the advice from the command's
own formats (graph: "use --format dot"; explain, which has no dot: "use --format json").

`--output FILE` writes any format through render(output=...): checked before the work
(output_file), written atomically after it, stdout when there is none.

The view of a command is the module named after it (`gradcli grad` -> views/grad.py); it is
imported when its formats are first asked for, so a command's start-up imports its own view only.
A renderer with heavy modules of its own (the SVG drawing and its layout, the html page) is offered
by name, "module:function" in this package, and imported only when that format is drawn: `gradcli
graph` in its default tree format loads no drawing code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

from ..errors import GradcliError, TooLargeToDraw
from ..io.outputs import atomic_write, check_output

Renderer = Callable[..., None]
Offered = Renderer | str  # a renderer, or "module:function" in this package, imported when it draws


@dataclass(frozen=True)
class Formats:
    """One command's formats: name -> renderer, in the order help lists them (the first is the default)."""

    renderers: Mapping[str, Offered]
    help: str
    aliases: Mapping[str, str] = field(default_factory=dict)  # an older name -> the name it stands for
    asking: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # format -> keywords for the task

    @property
    def names(self) -> list[str]:
        return list(self.renderers)

    @property
    def default(self) -> str:
        return self.names[0]

    def asks(self, name: str) -> dict[str, Any]:
        """The keywords format `name` asks its task for (none for most formats)."""
        return dict(self.asking.get(self.aliases.get(name, name), {}))

    def renderer(self, name: str) -> Renderer:
        """The function that draws format `name` (or an alias of it), its module imported if named by text."""
        offered_as = self.renderers[self.aliases.get(name, name)]
        if not isinstance(offered_as, str):
            return offered_as
        module, function = offered_as.split(":")
        return getattr(import_module(f"{__package__}.{module}"), function)

    def render(self, name: str, result: object, *, output: Path | None = None, **options: Any) -> None:
        """The result drawn in format `name` (or an alias of it), on stdout or, atomically, in `output`.

        `options` are the command's drawing options (--entries, --standalone); each renderer
        takes those it has a parameter for, and the others are not for it.
        """
        name = self.aliases.get(name, name)
        renderer = self.renderer(name)
        takes = inspect.signature(renderer).parameters
        chosen = {key: value for key, value in options.items() if key in takes}
        try:
            if output is None:
                renderer(result, **chosen)
            else:
                atomic_write(output, lambda handle: renderer(result, stream=handle, **chosen))
        except TooLargeToDraw as error:
            raise GradcliError(f"{error}; use --format {self.instead(name)}") from None

    def instead(self, failed: str) -> str:
        """The format to suggest when `failed` cannot draw a graph this large: the first of the others that
        comes after the default (graph: dot; explain: json), else the default. The formats that lay a graph
        out come last in each command's list."""
        others = [name for name in self.names if name != failed]
        return next((name for name in others if name != self.default), self.default)


_OFFERED: dict[str, Formats] = {}


def offer(command: str, renderers: Mapping[str, Offered], help: str, aliases: Mapping[str, str] | None = None,
          asks: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Register the formats `command` offers (called once, by the command's view module); `asks`: what a
    format needs from the task beyond its default answer, as keywords of the API call."""
    if not renderers:
        raise ValueError(f"{command} offers no format")
    named = [text for text in renderers.values() if isinstance(text, str) and text.count(":") != 1]
    if named:
        raise ValueError(f"{command}: a renderer given by name is 'module:function': {named}")
    unknown = {alias: name for alias, name in (aliases or {}).items() if name not in renderers or alias in renderers}
    if unknown:
        raise ValueError(f"{command}: an alias must stand for an offered format and be no format itself: {unknown}")
    asking = {name: dict(keywords) for name, keywords in (asks or {}).items()}
    if set(asking) - set(renderers):
        raise ValueError(f"{command}: only an offered format may ask for more: {sorted(set(asking) - set(renderers))}")
    _OFFERED[command] = Formats(dict(renderers), help, dict(aliases or {}), asking)


def offered(command: str) -> Formats:
    """The formats `command` offers, its view imported (and so registered) on first use."""
    if command not in _OFFERED:
        import_module(f"{__package__}.{command}")  # its top registers them; views/train.py imports numpy
    return _OFFERED[command]


def output_file(path: str | None, inputs: list[str]) -> Path | None:
    """--output checked before the work (GradcliError when it cannot be written); None: stdout, which
    '-' names too (as '-' names stdin for --data and --model-file)."""
    return None if path is None or path == "-" else check_output(path, "--output", [p for p in inputs if p])
