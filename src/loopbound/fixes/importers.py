"""Who else uses a module-level name: the check a fix makes before it removes or renames one.

Module names and relative imports are resolved as the project index resolves them
(`index.graph.module_names` and `absolute_module`): a name the index would not see imported must
not be one this check misses. A name that several modules share counts for each of them, so that an
ambiguous import declines the fix rather than breaks a module.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from loopbound.discovery import real_path
from loopbound.index.graph import absolute_module, module_names
from loopbound.names import dotted


def importable_names(path: str, root: Path) -> set[str]:
    """The dotted names a file may be imported under (its canonical name and every other the index knows)."""
    canonical, aliases = module_names(real_path(Path(path)), root)
    return {canonical, *aliases}


def importers(path: str, names: set[str], files: Iterable[str], read: Callable[[str], str], root: Path, *,
              used: Callable[[str], None] = lambda path: None) -> list[str]:
    """`file:row` of every use of `names` of the module at `path` from another checked file.

    The forms: `from m import name` (relative ones resolved), `from m import *`, `import m` (or
    `from pkg import m`) then `m.name`, and strings naming `m.name` (`mock.patch("m.name")`).
    Only a file whose text mentions one of the names and the module's own name (or, for a package,
    holds a relative import and lies inside it) can use them: no other is parsed. `used` is told each
    file that passes that test (the answer depends on those only, fixes/cache.py).
    """
    modules = importable_names(path, root)
    stem = min(modules, key=len).rpartition(".")[2]
    mentions_module = re.compile(rf"\b{re.escape(stem)}\b").search
    mentions_name = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(names))) + r")\b").search
    # `from . import name` names no module: only a package's `__init__` is read so, from inside the package.
    package = str(real_path(Path(path)).parent) + os.sep if Path(path).name == "__init__.py" else None
    found: list[str] = []
    for other in files:
        if other == path:
            continue
        try:
            text = read(other)
        except (OSError, UnicodeDecodeError, SyntaxError):
            continue
        if not any(name in text for name in names) or not mentions_name(text):
            continue  # substring tests first: a regex search of every checked file costs more than parsing a few
        if not ((stem in text and mentions_module(text)) or (
                package is not None and "from ." in text and str(real_path(Path(other))).startswith(package))):
            continue
        used(other)
        nodes = _import_nodes(text)
        if nodes is not None:
            found.extend(f"{other}:{row}" for row in _uses(nodes, other, root, modules, names))
    return found


_ImportNodes = tuple[list[ast.AST], list[ast.Attribute]]


@lru_cache(maxsize=128)
def _import_nodes(text: str) -> _ImportNodes | None:
    """The nodes `_uses` reads (imports and strings; attributes), in walk order: a file that mentions the
    names of several module-level resources is parsed once for all of their fixes."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    imports: list[ast.AST] = []
    attributes: list[ast.Attribute] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.ImportFrom, ast.Import)) or (isinstance(node, ast.Constant)
                                                                and isinstance(node.value, str)):
            imports.append(node)
        elif isinstance(node, ast.Attribute):
            attributes.append(node)
    return imports, attributes


def _uses(nodes: _ImportNodes, path: str, root: Path, modules: set[str], names: set[str]) -> list[int]:
    rows: list[int] = []
    aliases: set[str] = set()  # local names bound to the module itself
    importer: str | None = None
    imports, attributes = nodes
    for node in imports:
        if isinstance(node, ast.ImportFrom):
            if node.level and importer is None:
                importer = module_names(real_path(Path(path)), root)[0]
            source = absolute_module(importer or "", Path(path).name == "__init__.py", node.level, node.module or "")
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
    for node in attributes:
        if node.attr in names and dotted(node.value) in aliases:
            rows.append(node.lineno)
    return rows
