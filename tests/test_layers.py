"""The architecture, checked: one package per layer, imports pointing down, a thin CLI over the public API.

Every `import` in gradcli (at the top of a module or inside a function) is read with `ast` and
resolved to the gradcli module it names. A module may import its own package and the layers
below it, never a layer above or a sibling task. The order, from the bottom:

    errors, version  <  language  <  engines  <  io  <  setup  <  compare  <  question
    <  training, explaining  <  tasks (none imports another)
    <  the public API (gradcli/__init__.py)  <  views  <  cli  <  __main__

No import circles anywhere, no private name taken from another module, and an import inside a
function only for a heavy library's start-up cost (or with a comment that says why).
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
    # shown: the mixin by which a report draws itself in Jupyter (the views register the drawings by name)
    ("errors", 0), ("version", 0), ("shown", 0),
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


# ---------------------------------------------------------------- circles, private names, lazy imports

# What an import inside a function may be for: a library whose import is a start-up cost that `--help`,
# `import gradcli` or a light command should not pay. Anything else imported inside a function says why
# in a comment on its line or the line above.
HEAVY = {"sympy", "mpmath", "polars", "pyarrow", "dask", "distributed", "matplotlib", "rich", "numpy", "torch", "jax"}


def graph_of_imports() -> dict[str, set[str]]:
    """Module -> the gradcli modules it imports, at the top or inside a function (not for type checking)."""
    found: dict[str, set[str]] = {}
    for path in MODULES:
        module = module_name(path)
        found[module] = {target for _, target in imported(path) if target != module}
    for module in list(found):  # `from gradcli.x import y` also runs gradcli/x/__init__.py: not an edge of its own
        found[module] = {t for t in found[module] if t in found}
    return found


def a_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as the path around it, or None (depth-first search, colours as in CLRS)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node], _ = 1, path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node], _ = 2, path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circle_anywhere():
    circle = a_circle(graph_of_imports())
    assert circle is None, " -> ".join(circle or [])


def test_the_circle_finder_finds_a_circle_held_by_an_import_inside_a_function():
    assert a_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert a_circle({"a": {"b"}, "b": set()}) is None


def private_names_taken(path: Path) -> list[str]:
    """`from gradcli.x import _y` in a module other than x: a private name crossing a module."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    taken = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("gradcli")):
            for _, target in imports_in(ast.unparse(node), package):
                if target != module:
                    taken += [f"line {node.lineno}: {alias.name} from {target}" for alias in node.names
                              if alias.name.startswith("_") and not alias.name.startswith("__")]
    return taken


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_private_name_crosses_a_module(path):
    assert not private_names_taken(path)


def above_imports(lines: list[str], index: int) -> str:
    """The line above a group of imports (a comment there speaks for the group)."""
    while index >= 0 and lines[index].strip().startswith(("import ", "from ")):
        index -= 1
    return lines[index] if index >= 0 else ""


def lazy_imports_without_a_reason(text: str) -> list[str]:
    """Imports inside a function that are neither of a heavy library nor explained by a comment."""
    lines = text.splitlines()
    unexplained = []

    def visit(node: ast.AST, inside: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if inside and isinstance(child, (ast.Import, ast.ImportFrom)):
                names = [child.module or ""] if isinstance(child, ast.ImportFrom) else [a.name for a in child.names]
                heavy = not getattr(child, "level", 0) and all(n.split(".")[0] in HEAVY for n in names)
                said = "#" in lines[child.lineno - 1] or "#" in above_imports(lines, child.lineno - 2)
                if not heavy and not said:
                    unexplained.append(f"line {child.lineno}: {lines[child.lineno - 1].strip()}")
            visit(child, inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(ast.parse(text), False)
    return unexplained


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_an_import_inside_a_function_is_for_start_up_and_says_so(path):
    assert not lazy_imports_without_a_reason(path.read_text())


def test_the_lazy_import_check_tells_the_kinds_apart():
    text = ("import os\n\ndef f():\n    import sympy\n    from .x import y  # heavy at import: loads sympy\n"
            "    # the parser, for --help's sake\n    from .expr import parse\n"
            "    x = 1\n    import json\n    from . import z\n")
    assert lazy_imports_without_a_reason(text) == ["line 9: import json", "line 10: from . import z"]
    assert private_names_taken(PACKAGE / "errors.py") == []
