"""Who else uses a module-level name: the check a fix makes before it removes or renames one.

This scans the other checked files on its own, with `ast`; it belongs on the project-wide module
index (issue 12, `loopbound.index`) once that exists, and should move there.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

from loopbound.names import dotted


def module_names(path: str) -> set[str]:
    """The dotted names a file may be imported under: through its packages (folders with
    `__init__.py` as seen from the path given), and its path from the checked root, without a `src.`."""
    pure = PurePosixPath(path.replace("\\", "/"))
    parts = [*pure.parent.parts, pure.stem] if pure.stem != "__init__" else list(pure.parent.parts)
    parts = [part for part in parts if part not in (".", "")]
    names = {".".join(parts[index:]) for index in range(len(parts)) if parts[index:]}
    return {name for name in names if all(piece.isidentifier() for piece in name.split("."))}


def importers(path: str, names: set[str], files: Iterable[str], read: Callable[[str], str]) -> list[str]:
    """`file:row` of every use of `names` of the module at `path` from another checked file.

    The forms: `from m import name` (relative ones resolved), `from m import *`, `import m` (or
    `from pkg import m`) then `m.name`, and strings naming `m.name` (`mock.patch("m.name")`).
    A file whose text does not mention a name is not parsed.
    """
    modules = module_names(path)
    found: list[str] = []
    for other in files:
        if other == path:
            continue
        try:
            text = read(other)
        except (OSError, UnicodeDecodeError, SyntaxError):
            continue
        if not any(name in text for name in names):
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        found.extend(f"{other}:{row}" for row in _uses(tree, other, modules, names))
    return found


def _uses(tree: ast.Module, path: str, modules: set[str], names: set[str]) -> list[int]:
    rows: list[int] = []
    aliases: set[str] = set()  # local names bound to the module itself
    folder = [part for part in PurePosixPath(path.replace("\\", "/")).parent.parts if part not in (".", "")]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, folder)
            for alias in node.names:
                if source in modules and (alias.name in names or alias.name == "*"):
                    rows.append(node.lineno)
                elif f"{source}.{alias.name}" in modules:
                    aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if any(node.value == f"{module}.{name}" or node.value.startswith(f"{module}.{name}.")
                   for module in modules for name in names):
                rows.append(node.lineno)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names and dotted(node.value) in aliases:
            rows.append(node.lineno)
    return rows


def _absolute(node: ast.ImportFrom, folder: list[str]) -> str:
    """`from .db import x` in `app/api.py` -> `app.db`: the importer's folder, less a level per extra dot."""
    if not node.level:
        return node.module or ""
    parents = folder[:len(folder) - (node.level - 1)]
    return ".".join([*parents, *([node.module] if node.module else [])])
