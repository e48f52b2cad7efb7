"""training's modules import one another one way: no circle, at the top of a module or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gradcli" / "training"


def imports() -> dict[str, set[str]]:
    """Module -> the training modules it imports (relative or absolute, anywhere in the file)."""
    modules = {path.stem: path for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    found: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 1 and node.module:
                target = node.module.split(".")[0]
            elif node.level == 0 and (node.module or "").startswith("gradcli.training."):
                target = node.module.split(".")[2]
            else:
                continue
            if target in modules:
                found[name].add(target)
    return found


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as the path around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target] if target in path else [name, target]
            if target not in state and (found := visit(target, [*path, target])):
                return found
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name, [name])):
            return found
    return None


def test_the_circle_finder_finds_one():
    assert circle({"fit": {"partwise"}, "partwise": {"fit"}, "options": set()}) == ["fit", "partwise", "fit"]
    assert circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_training_has_no_import_circle():
    assert circle(imports()) is None
