"""The architecture, checked: one package per layer, imports pointing down, a thin CLI over the public API.

Every `import` in gradcli (at the top of a module or inside a function) is read with `ast` and
resolved to the gradcli module it names. A module may import its own package and the layers
below it, never a layer above or a sibling task. The order, from the bottom:

    errors, version  <  language  <  engines  <  io  <  comparison  <  explanation, training,
    differentiation, curvature  <  prediction, checking (which names explain's factors)
    <  the public API (gradcli/__init__.py)  <  views  <  cli  <  __main__
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gradcli"

# (layer, its rank): a module imports only modules of a lower rank, or of its own layer
LAYERS = [
    ("errors", 0), ("version", 0),
    ("language", 1),
    ("engines", 2),
    ("io", 3),
    ("setup", 4),
    ("compare", 5),
    ("training", 6), ("explaining", 6), ("question", 6),
    ("tasks", 7),
    ("__init__", 8),
    ("views", 9),
    ("cli", 10),
    ("__main__", 11),
]
RANK = dict(LAYERS)
# What the CLI may use: the public API, the views, the errors, and the light option defaults for --help.
CLI_MAY_IMPORT = {"gradcli", "gradcli.errors", "gradcli.version", "gradcli.language.losses", "gradcli.training.options"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """gradcli.engines.sweep -> engines; gradcli -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, gradcli module) for every import in the file, relative ones resolved."""
    module = module_name(path)
    return imports_in(path.read_text(), module if path.name == "__init__.py" else module.rpartition(".")[0])


def imports_in(text: str, package: str) -> list[tuple[int, str]]:
    """(line, gradcli module) for every import in source text that lives in `package`."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "gradcli"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "gradcli":
                continue
            for alias in node.names:  # `from . import views` names a module; `from .x import name` names x
                candidate = f"{source}.{alias.name}"
                is_module = (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                    PACKAGE.parent / candidate.replace(".", "/")).is_dir()
                found.append((node.lineno, candidate if is_module else source))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    assert {layer_of(module_name(path)) for path in MODULES} <= set(RANK)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    module = module_name(path)
    here = layer_of(module)
    wrong = []
    for line, target in imported(path):
        there = layer_of(target)
        if RANK[there] > RANK[here] or (RANK[there] == RANK[here] and there != here):
            wrong.append(f"line {line}: {module} ({here}) imports {target} ({there})")
    assert not wrong, "\n".join(wrong)


def test_the_cli_calls_the_public_api_and_picks_a_view():
    modules = sorted((PACKAGE / "cli").glob("*.py"))
    assert modules, "the CLI is the package gradcli/cli/"
    deeper = [f"{path.name} line {line}: {target}" for path in modules for line, target in imported(path)
              if target not in CLI_MAY_IMPORT and not target.startswith(("gradcli.views", "gradcli.cli"))]
    assert not deeper, "the CLI reaches past the API:\n" + "\n".join(deeper)


def test_no_engine_imports_io_views_tasks_or_the_cli():
    for path in (PACKAGE / "engines").glob("*.py"):
        for line, target in imported(path):
            assert layer_of(target) in ("errors", "version", "language", "engines"), (path.name, line, target)


def test_the_checker_resolves_every_form_of_import():
    """A control: relative and absolute imports, at the top or inside a function, all resolved."""
    text = ("from ..io.values import as_columns\nfrom . import graph\nimport gradcli.views.grad\n"
            "def f():\n    from ..views import grad\n    from gradcli import errors\n    import numpy\n")
    assert [target for _, target in imports_in(text, "gradcli.engines")] == [
        "gradcli.io.values", "gradcli.engines.graph", "gradcli.views.grad", "gradcli.views.grad", "gradcli.errors"]


LIGHT = """
import sys
import gradcli.language.expr as expr, gradcli.language.problem as problem, gradcli.language.columns
import gradcli.language.ops, gradcli.language.losses
problem.build_problem("b + w1*x1 + tanh(w2*x2)", "mse")
print(sorted(name for name in ("numpy", "sympy") if name in sys.modules))
"""


def test_the_language_layer_parses_without_numpy_or_sympy():
    proc = subprocess.run([sys.executable, "-c", LIGHT], capture_output=True, timeout=60, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]"]


def test_the_public_api_has_a_function_for_every_command():
    import gradcli

    commands = {"grad": "gradients", "explain": "explain", "graph": "graph", "train": "train",
                "predict": "predict", "losses": "losses", "diff": "diff", "hessian": "hessian",
                "check": "check"}
    from gradcli.cli import app

    assert {command.name or command.callback.__name__ for command in app.registered_commands} == set(commands)
    for name in commands.values():
        assert callable(getattr(gradcli, name)) and name in gradcli.__all__


def test_no_task_imports_another():
    """Each task takes the setup and the judging layer; none calls another (train's final check judges
    with compare, it does not run the `grad` task)."""
    wrong = []
    for path in (PACKAGE / "tasks").glob("*.py"):
        module = module_name(path)
        wrong += [f"{module} line {line}: {target}" for line, target in imported(path)
                  if target.startswith("gradcli.tasks.") and target != module]
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_task_importing_another():
    """A control for the test above: an import between tasks is found."""
    assert [target for _, target in imports_in("from .gradients import gradients\n", "gradcli.tasks")] == [
        "gradcli.tasks.gradients"]
