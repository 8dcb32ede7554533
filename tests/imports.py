"""The project's import graph, read from the source alone (lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """w2w modules `path` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "w2w":
            for alias in node.names:  # `from w2w.x import y` may name the module w2w.x.y
                child = f"{node.module}.{alias.name}"
                found.add(child if child in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "w2w")
    return found


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """module -> the w2w modules it imports."""
    files = {module_name(p, src): p for p in (src / "w2w").rglob("*.py")}
    return {name: imported_modules(path, set(files)) - {name} for name, path in files.items()}


def closure(start: set[str], graph: dict[str, set[str]]) -> set[str]:
    """`start` and every module they import, directly or not."""
    seen, todo = set(), list(start)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return seen


def module_file(module: str, src: Path = SRC) -> Path:
    path = src / Path(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
