"""Every command's help and option values as Click shows them: clean metavars, one-line messages in
Click's words, help that wraps at words at 80 columns, and examples that can be copied whole.

The help is rendered in this process (typer.testing); the messages come from the installed program.
"""

from __future__ import annotations

import re

import pytest
import typer
from cli_runner import one_line_error
from typer.main import get_command
from typer.testing import CliRunner

from gradcli.cli import app

ROOT = get_command(app)
COMMANDS = {"root": ROOT, **ROOT.commands}
# TEXT, INTEGER, ..., NAME=VALUE,...|FILE, [a|b|c] (over two lines when long), or nothing for a flag
CLEAN_METAVAR = re.compile(r"(|[A-Z][A-Z.,=|]*|\[[a-z]+(\|\n?[a-z]+)*\])")


def params_of(command):
    ctx = typer.Context(command, info_name=command.name)
    return ctx, command.get_params(ctx)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_metavar_is_clean(name):
    ctx, params = params_of(COMMANDS[name])
    for param in params:
        shown = param.display_type_rich(ctx)
        assert CLEAN_METAVAR.fullmatch(shown), (name, param.name, shown)
        assert not re.search(r"<|>|bool|list|str\b|int\b", shown), (name, param.name, shown)
        if getattr(param, "is_flag", False):
            assert shown == "", (name, param.name, shown)
        if param.param_type_name == "argument":
            assert param.get_usage_pieces(ctx)[0].strip("[].") == param.name.upper()


@pytest.mark.parametrize("name", COMMANDS)
def test_no_value_goes_through_pydantic(name):
    """Every option's value is converted as Click converts it (no pydantic, no pydantic wording)."""
    _, params = params_of(COMMANDS[name])
    for param in params:
        assert type(param.get_runtime_param()).__name__ == "_Conversion", (name, param.name)


def test_conversions_in_clicks_words():
    train = ROOT.commands["train"]
    ctx, params = params_of(train)
    by_name = {param.name: param for param in params}
    for option, value, message in [
        ("epochs", "abc", "'abc' is not a valid integer."),
        ("epochs", "2.5", "'2.5' is not a valid integer."),
        ("epochs", "0", "0 is not in the range x>=1."),
        ("lr", "fast", "'fast' is not a valid float."),
        ("optimizer", "newton", "'newton' is not one of 'lbfgs', 'gd', 'sgd', 'momentum', 'adam'."),
    ]:
        param = by_name[option]
        with pytest.raises(typer.BadParameter) as caught:
            param.get_runtime_param().coerce(value, param=param, ctx=ctx)
        assert caught.value.message == message
    conversion = by_name["epochs"].get_runtime_param()
    assert conversion.coerce("12", param=by_name["epochs"], ctx=ctx) == 12
    assert by_name["lr"].get_runtime_param().coerce("1e-3", param=by_name["lr"], ctx=ctx) == 0.001
    assert by_name["optimizer"].get_runtime_param().coerce("adam", param=by_name["optimizer"], ctx=ctx).value == "adam"


@pytest.mark.parametrize("args, message", [
    (["train", "data.csv", "--epochs", "abc"], "Invalid value for '--epochs': 'abc' is not a valid integer."),
    (["grad", "w*x1", "--rtol", "tight"], "Invalid value for '--rtol': 'tight' is not a valid float."),
    (["grad", "w*x1", "--format", "xml"],
     "Invalid value for '--format' / '-f': 'xml' is not one of 'table', 'json', 'csv'."),
    (["grad", "w*x1", "--check-fd=yes"], "Option '--check-fd' does not take a value."),
], ids=["int", "float", "choice", "flag-with-a-value"])
def test_a_bad_value_is_one_line_in_clicks_words(gradcli, args, message):
    err = one_line_error(gradcli(*args))
    assert err == f"gradcli: error: {message} (see 'gradcli {args[0]} --help')\n"
    assert "pydantic" not in err.lower() and "Value error" not in err and "Input should" not in err


# ---------------------------------------------------------------- help at 80 columns

BOX = str.maketrans({ch: " " for ch in "╭╮╰╯─│"})
# What Typer and Click add to the help of every command.
FRAMEWORK = {"\\", "Usage:", "[OPTIONS]", "COMMAND", "[ARGS]...", "Arguments", "Options", "Commands", "*", "-h",
             "Example:", "[required]", "[default:", "Show", "this", "message", "and", "exit.", "--help"}


def help_at(width: int, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": str(width)},
                                prog_name="gradcli")
    assert result.exit_code == 0, result.output
    return result.output


def source_words(command, ctx, params) -> set[str]:
    """Every word the help of the command is made of: its docstring, its options' names, metavars,
    help and defaults, its subcommands' names and help."""
    texts = [command.help or "", command.name or ""]
    for param in params:
        record = param.get_help_record(ctx)
        default = getattr(param.default, "value", param.default)
        texts.append(f"{default}]")
        texts += [*param.opts, *param.secondary_opts, param.display_type_rich(ctx) or "",
                  param.display_name_raw or "", *param.get_usage_pieces(ctx), *(record or ())]
    for sub in getattr(command, "commands", {}).values():
        texts += [sub.name, sub.help or ""]
    return {word for text in texts for word in text.split()} | FRAMEWORK


@pytest.mark.parametrize("name", COMMANDS)
def test_help_at_80_columns_wraps_at_words_and_keeps_the_example_whole(name):
    command = COMMANDS[name]
    args = [] if name == "root" else [name]
    shown = help_at(80, *args)
    ctx, params = params_of(command)
    words = source_words(command, ctx, params) | {f"gradcli{' ' + name if args else ''}"} | {"gradcli", name}
    split = [word for word in shown.translate(BOX).split() if word not in words]
    assert not split, f"words cut or unknown at 80 columns: {split}\n{shown}"
    examples = [line.removeprefix("Example:").strip() for line in command.help.split("\n\n")
                if line.startswith("Example:")]
    assert len(examples) == 1
    assert printed_example(shown) == examples[0], shown
    # Nothing runs past 80 columns, the example included (folded at words, each line but the last
    # ending in a backslash, as a shell reads it).
    assert all(len(line) <= 80 for line in shown.splitlines()), shown


def printed_example(shown: str) -> str:
    """The example under "Example:" in the help, its folded lines joined as a shell joins them."""
    lines = shown.split("\n Example:\n", 1)[1].splitlines()
    command = []
    for line in lines:
        command.append(line.strip().removesuffix("\\").strip())
        if not line.endswith("\\"):
            break
    return " ".join(command)


def test_a_long_example_folds_at_words_outside_quotes():
    from gradcli.cli.adapter import folded_command as _folded_command

    example = 'gradcli check "b + w1*x1 + w2*x2" --wrt w1 --claim "2*(b + w1*x1 + w2*x2 - y)*x1" > out.txt'
    for width in (30, 50, 80):
        lines = _folded_command(example, width)
        assert all(len(line) <= width or '"' in line for line in lines), lines
        assert all(line.endswith(" \\") for line in lines[:-1]) and not lines[-1].endswith("\\")
        assert " ".join(line.strip().removesuffix("\\").strip() for line in lines) == example
        assert all(line.count('"') % 2 == 0 for line in lines), lines  # never inside quotes
        assert not any(line.rstrip(" \\").endswith(("--claim", "--wrt", ">")) for line in lines), lines


def test_every_help_example_runs_as_printed_at_80_columns(tmp_path):
    """Each command's example, copied from its help at 80 columns (folded lines and all) into bash, in a
    folder holding the samples, exits 0: train's example saves the model that predict's reads."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    from cli_runner import clean_env, gradcli_program

    shutil.copytree(Path(__file__).resolve().parents[2] / "samples", tmp_path / "samples")
    env = clean_env(PATH=f"{Path(gradcli_program()).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    order = sorted(COMMANDS, key=lambda name: name == "predict")  # after train
    ran = 0
    for name in order:
        shown = help_at(80, *([] if name == "root" else [name]))
        block = shown.split("\n Example:\n", 1)[1]
        if "| dot " in block and shutil.which("dot") is None:
            continue  # Graphviz is not installed here
        proc = subprocess.run(["bash", "-c", f"set -o pipefail\n{block}"], cwd=tmp_path, capture_output=True,
                              env=env, timeout=120)
        assert proc.returncode == 0, (name, block, proc.stderr.decode())
        assert b"Traceback" not in proc.stderr
        ran += 1
    assert ran >= len(COMMANDS) - 1


def test_a_docstring_paragraph_is_one_flowing_paragraph():
    shown = help_at(80, "train")
    assert "At the end the final gradient" in " ".join(shown.split())
    assert not any(line.rstrip().endswith("At the end the") for line in shown.splitlines()), shown
    wide = help_at(200, "train")
    assert "Linear model + mse: also solved by least squares, with the distance shown. At the end the final " \
           "gradient is computed by both engines." in wide
