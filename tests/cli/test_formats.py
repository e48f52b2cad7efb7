"""--format: one option on every command, its choices the formats the command's view registered.

The names a user types are the registry's names (help lists them, and nothing else is accepted but
an alias kept for old scripts), and each of them prints through the renderer the view registered.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from cli_runner import clean_env, one_line_error
from typer.main import get_command

from gradcli.cli import app
from gradcli.views.formats import offer, offered

ROOT = get_command(app)
WITH_FORMAT = sorted(name for name, command in ROOT.commands.items()
                     if any(getattr(param, "name", None) == "fmt"
                            for param in command.get_params(typer.Context(command, info_name=name))))
NOTE = ["b + w1*x1 + w2*x2", "--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]


def format_option(name: str):
    command = ROOT.commands[name]
    ctx = typer.Context(command, info_name=name)
    return ctx, next(param for param in command.get_params(ctx) if param.name == "fmt")


def test_every_command_that_prints_results_has_the_one_format_option():
    assert set(WITH_FORMAT) == {"grad", "train", "losses", "explain", "graph", "diff", "hessian", "check"}
    for name in WITH_FORMAT:
        _, param = format_option(name)
        assert param.opts == ["--format", "-f"], name


@pytest.mark.parametrize("name", WITH_FORMAT)
def test_the_choices_help_and_default_are_the_views(name):
    ctx, param = format_option(name)
    formats = offered(name)
    assert param.display_type_rich(ctx).replace("\n", "") == "[" + "|".join(formats.names) + "]"
    assert param.help == formats.help
    assert param.default.value == formats.default
    assert all(word in formats.help for word in formats.names), "the help names every format"


def test_table_is_the_human_format_of_every_command_but_graph():
    assert {name: offered(name).default for name in WITH_FORMAT} == {
        **{name: "table" for name in WITH_FORMAT}, "graph": "tree"}


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_losses_prints_every_format_it_offers(gradcli, fmt):
    result = gradcli("losses", "--format", fmt)
    assert result.code == 0, result
    assert "mse" in result.out


def test_explain_text_is_kept_as_an_alias_of_table_but_not_shown(gradcli):
    table = gradcli("explain", *NOTE, "--wrt", "w1", "--format", "table")
    text = gradcli("explain", *NOTE, "--wrt", "w1", "-f", "text")
    assert table.code == text.code == 0, (table, text)
    assert text.out == table.out and "w1" in table.out
    ctx, param = format_option("explain")
    assert "text" not in param.display_type_rich(ctx) and "text" not in param.help


def test_a_format_nobody_offers_is_refused_with_the_offered_names(gradcli):
    result = gradcli("explain", *NOTE, "--format", "xml")
    assert result.code == 2
    assert "'xml' is not one of 'table', 'json', 'latex', 'html'." in result.err


@pytest.mark.parametrize("renderers, aliases", [
    ({}, None),
    ({"table": print}, {"text": "svg"}),  # an alias of nothing offered
    ({"table": print, "text": print}, {"text": "table"}),  # an alias that is a format itself
], ids=["none", "alias-of-nothing", "alias-shadows"])
def test_a_view_cannot_register_formats_that_would_confuse(renderers, aliases):
    with pytest.raises(ValueError):
        offer("scratch", renderers, "help", aliases)


def test_render_passes_each_renderer_only_the_options_it_takes():
    seen = []

    def table(result, entries=False):
        seen.append(("table", result, entries))

    def json(result):
        seen.append(("json", result))

    offer("scratch-options", {"table": table, "json": json}, "table for people; json for programs.")
    formats = offered("scratch-options")
    formats.render("table", 1, entries=True, standalone=True)
    formats.render("json", 2, entries=True)
    assert seen == [("table", 1, True), ("json", 2)]



DRAWING = ("gradcli.views.svg", "gradcli.views.page", "gradcli.views.page_facts", "gradcli.views.drawing", "grandalf")
LOADED = """
import json, sys
from contextlib import redirect_stdout
from io import StringIO
from gradcli.cli import main

def loaded(*argv):
    sys.argv = ["gradcli", *argv]
    with redirect_stdout(StringIO()):
        try:
            main()
        except SystemExit as exit:
            assert not exit.code, exit.code
    return sorted(m for m in sys.modules if m.startswith(%r))

note = ["--data", "x1=1.5,x2=2,y=1", "--params", "b=0.5,w1=2,w2=-1"]
print(json.dumps([loaded("graph", "b+w1*x1+w2*x2"), loaded("explain", "b+w1*x1+w2*x2", *note),
                  loaded("graph", "b+w1*x1+w2*x2", "--format", "svg")]))
"""


def test_graph_and_explain_import_the_drawing_only_to_draw(tmp_path):
    """The svg and html renderers are offered by name (views/formats.py) and imported when they draw: the
    tree and the table start without the drawing's modules and grandalf (about 75 ms)."""
    code = LOADED % (DRAWING,)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=clean_env())
    assert proc.returncode == 0, proc.stderr
    tree, table, svg = json.loads(proc.stdout.splitlines()[-1])
    assert tree == [] and table == []
    assert {"gradcli.views.svg", "gradcli.views.drawing", "grandalf"} <= set(svg)  # the probe sees an import


def test_a_renderer_named_by_text_is_imported_when_it_draws():
    offer("scratch-named", {"table": print, "tree": "graph:graph_tree"}, "table or tree.")
    from gradcli.views.graph import graph_tree

    assert offered("scratch-named").renderer("tree") is graph_tree
    with pytest.raises(ValueError, match="module:function"):
        offer("scratch-bad-name", {"tree": "graph.graph_tree"}, "tree.")


@pytest.mark.parametrize("command, fmt", [("graph", "svg"), ("explain", "html")])
def test_without_grandalf_a_drawing_is_one_line_naming_the_install(gradcli, monkeypatch, command, fmt):
    """grandalf is a dependency, so only a broken installation lacks it: exit 2 and the fix, not "internal
    error". The run is a fork of this process, which sees the import fail."""
    for name in [name for name in sys.modules if name.split(".")[0] == "grandalf"] + [
            "grandalf", "grandalf.graphs", "grandalf.layouts", "grandalf.utils.poset"]:
        monkeypatch.setitem(sys.modules, name, None)
    result = gradcli(command, *NOTE, "--format", fmt)
    one_line_error(result, "needs grandalf", "pip install grandalf")
