"""io's imports, checked with ast: they point one way between its modules (no circle, whether an
import sits at the top or inside a function), no private name crosses a module, and an import
inside a function is there only for a heavy library's start-up cost."""

from __future__ import annotations

import ast
from pathlib import Path

IO = Path(__file__).resolve().parents[2] / "gradcli" / "io"
HEAVY = {"pyarrow", "polars", "dask", "distributed", "matplotlib", "sympy"}


def imports_of(text: str) -> list[tuple[int, str, str | None, bool]]:
    """(line, module, name imported or None, inside a function) for each import; a sibling in io is
    '.csv' (`from .csv import x`, `from . import csv`), a module elsewhere in gradcli '..errors'."""
    tree = ast.parse(text)
    inner = {id(node) for func in ast.walk(tree) if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef))
             for node in ast.walk(func) if isinstance(node, (ast.Import, ast.ImportFrom))}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None, id(node) in inner) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                module = node.module or (alias.name if node.level == 1 else "")
                found.append((node.lineno, "." * node.level + module, alias.name, id(node) in inner))
    return found


def io_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    return {name: {target[1:] for _, target, _, _ in imports_of(text) if target[1:] in sources
                   and target.startswith(".") and not target.startswith("..") and target[1:] != name}
            for name, text in sources.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each module that can reach itself again, with the path found (depth first)."""
    found = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            here, path = stack.pop()
            for there in sorted(graph[here]):
                if there == start:
                    found.append([*path, start])
                elif there not in seen:
                    seen.add(there)
                    stack.append((there, [*path, there]))
    return found


def io_sources() -> dict[str, str]:
    return {path.stem: path.read_text() for path in IO.glob("*.py") if path.stem != "__init__"}


def test_io_modules_import_one_way():
    assert circles(io_graph(io_sources())) == []


def test_the_circle_finder_sees_a_circle_through_an_import_inside_a_function():
    """A control: the shape io/dataset <-> io/sources had (one side importing inside a function)."""
    sources = {"dataset": "from .sources import Table\n",
               "sources": "def open_table():\n    from .dataset import open_dataset\n",
               "csv": "from .values import parse_number\n", "values": ""}
    assert circles(io_graph(sources)) == [["dataset", "sources", "dataset"], ["sources", "dataset", "sources"]]


def test_no_private_name_is_taken_from_another_module():
    taken = [f"{module}.py takes {target}.{name}" for module, text in io_sources().items()
             for _, target, name, _ in imports_of(text)
             if name and name.startswith("_") and not name.startswith("__")]
    assert taken == []


def test_an_import_inside_a_function_is_a_heavy_library():
    light = [f"{module}.py:{line} imports {target}" for module, text in io_sources().items()
             for line, target, _, inside in imports_of(text)
             if inside and target.split(".")[0] not in HEAVY]
    assert light == []
