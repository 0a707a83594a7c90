"""loopbound's modules import each other in one direction: no circle, in the order docs/development.md gives.

The modules are read with `ast`, never imported. Every import of a loopbound module counts, at
module level or inside a function (a lazy import is still a dependency), except under
`if TYPE_CHECKING:`, which never runs. Importing `pkg.module` from outside `pkg` counts as
importing `pkg` as well: Python runs `pkg/__init__.py` first.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "loopbound"
SOURCE_ROOT = Path(__file__).resolve().parent.parent / "src"
DEVELOPMENT_GUIDE = SOURCE_ROOT.parent / "docs" / "development.md"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((SOURCE_ROOT / PACKAGE).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, skipping the bodies of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.orelse:
                yield from _imports(ast.Module(body=[statement], type_ignores=[]))
        else:
            yield from _imports(child)


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The loopbound module `name` is, or the one that defines it."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _dependencies(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for statement in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(statement, ast.Import):
            targets = [alias.name for alias in statement.names]
        else:
            base = statement.module or ""
            if statement.level:
                anchor = package.split(".")[: len(package.split(".")) - statement.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in statement.names]
            targets = [target if target in modules else base for target in targets]
        for target in targets:
            owner = _owner(target, modules)
            if owner is not None and owner != module:
                found.add(owner)
                found.update(_packages_entered(owner, module, modules))
    return found


def _packages_entered(target: str, module: str, modules: dict[str, Path]) -> set[str]:
    """The packages whose `__init__.py` importing `target` runs, leaving out those `module` is in."""
    parts = target.split(".")
    packages = {".".join(parts[:end]) for end in range(1, len(parts))}
    return {package for package in packages
            if package in modules and module != package and not module.startswith(package + ".")}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {module: _dependencies(module, path, modules) for module, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    order: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = lowest[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module]):
            if target not in order:
                visit(target)
                lowest[module] = min(lowest[module], lowest[target])
            elif target in on_stack:
                lowest[module] = min(lowest[module], order[target])
        if lowest[module] == order[module]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


def shortest_circle(start: str, graph: dict[str, set[str]]) -> list[str]:
    """The fewest imports that lead from `start` back to it (empty when none do)."""
    paths = {target: [start, target] for target in sorted(graph[start])}
    frontier = list(paths)
    while frontier and start not in paths:
        following = []
        for module in frontier:
            for target in sorted(graph[module]):
                if target not in paths:
                    paths[target] = [*paths[module], target]
                    following.append(target)
        frontier = following
    return paths.get(start, [])


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    edges = [f"  {source} -> {target}" for source in component for target in sorted(graph[source] & members)]
    example = " -> ".join(shortest_circle(component[0], graph))
    return f"circle of {len(component)}: {', '.join(component)}\n  for one: {example}\n" + "\n".join(edges)


def documented_layers() -> list[list[str]]:
    """The numbered list under `## Layers` in docs/development.md, lowest first: each line's module names."""
    section = DEVELOPMENT_GUIDE.read_text(encoding="utf-8").split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    layers: list[list[str]] = []
    for line in section.splitlines():
        if re.match(r"\d+\. ", line):
            layers.append([])
        elif not (layers and line.startswith("   ")):
            continue  # prose around the list
        layers[-1] += re.findall(r"`([\w.*]+)`", line)
    return layers


def layer_of(module: str, layers: list[list[str]]) -> int | None:
    """The line naming the module (as the list names it, without `loopbound.`), else the line of
    `pkg.*` for its nearest package."""
    if module.startswith(f"{PACKAGE}."):
        module = module[len(PACKAGE) + 1:]
    for index, names in enumerate(layers):
        if module in names:
            return index
    package = module
    while "." in package:
        package = package.rpartition(".")[0]
        for index, names in enumerate(layers):
            if f"{package}.*" in names:
                return index
    return None


def test_graph_sees_lazy_relative_and_submodule_imports(tmp_path: Path) -> None:
    modules = {
        "pkg": tmp_path / "pkg" / "__init__.py",
        "pkg.low": tmp_path / "pkg" / "low.py",
        "pkg.sub": tmp_path / "pkg" / "sub" / "__init__.py",
        "pkg.sub.leaf": tmp_path / "pkg" / "sub" / "leaf.py",
        "pkg.high": tmp_path / "pkg" / "high.py",
    }
    modules["pkg.high"].parent.mkdir(parents=True)
    modules["pkg.sub.leaf"].parent.mkdir()
    modules["pkg.high"].write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import low\n"
        "from .sub import leaf\n"
        "if TYPE_CHECKING:\n"
        "    import pkg\n"
        "def later():\n"
        "    from pkg.sub import something\n",
        encoding="utf-8",
    )
    modules["pkg.sub.leaf"].write_text("from .. import high\n", encoding="utf-8")
    assert _dependencies("pkg.high", modules["pkg.high"], modules) == {"pkg.low", "pkg.sub.leaf", "pkg.sub"}
    assert _dependencies("pkg.sub.leaf", modules["pkg.sub.leaf"], modules) == {"pkg.high"}
    layers = [["pkg", "pkg.low"], ["pkg.sub.*"], ["pkg.sub", "pkg.high"]]
    assert [layer_of(name, layers) for name in ("pkg.low", "pkg.sub.leaf", "pkg.sub", "pkg.other")] == [0, 1, 2, None]
    graph = {"a": {"b", "d"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c", "d"]]
    assert shortest_circle("a", graph) == ["a", "d", "a"]
    assert shortest_circle("a", {"a": {"b"}, "b": set()}) == []


def test_no_import_circle() -> None:
    graph = import_graph()
    found = circles(graph)
    assert not found, "loopbound's modules import each other in a circle:\n" + "\n".join(
        _describe(component, graph) for component in found
    )


def test_selection_table_is_the_rules() -> None:
    """selection.py holds the rules' codes below the configuration; the rules themselves say the same."""
    from loopbound.rules import ALL_RULES
    from loopbound.selection import RULE_CODES

    rules = {rule.code: (rule.name, rule.opt_in) for rule in ALL_RULES}
    assert RULE_CODES == rules, "a new or renamed rule goes into selection.RULE_CODES too: (name, opt-in) by code"


def test_imports_follow_the_documented_layers() -> None:
    graph = import_graph()
    layers = documented_layers()
    unplaced = sorted(module for module in graph if layer_of(module, layers) is None)
    assert not unplaced, f"modules missing from `## Layers` in docs/development.md: {', '.join(unplaced)}"
    line = {module: layer_of(module, layers) or 0 for module in graph}
    upward = [f"  {module} (item {line[module] + 1}) imports {target} (item {line[target] + 1})"
              for module in sorted(graph) for target in sorted(graph[module]) if line[target] > line[module]]
    assert not upward, "imports of a module on a later item of `## Layers` in docs/development.md:\n" + "\n".join(upward)
