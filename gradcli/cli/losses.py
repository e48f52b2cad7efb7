"""`gradcli losses`: the built-in losses and their formulas."""

import gradcli

from ..views.formats import offered
from .app import app
from .options import Command, FormatOption


@app.command(cls=Command)
def losses(fmt: FormatOption = None) -> None:
    """List the built-in losses with their per-row formulas.

    Example: gradcli losses --format json
    """
    offered("losses").render(fmt.value, gradcli.losses())
