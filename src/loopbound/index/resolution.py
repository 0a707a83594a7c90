"""The project index: every module by its dotted names, references resolved across modules, and the
functions and classes that make a loop-bound resource (directly or through each other).

Module names follow how Python finds them: a folder with `__init__.py` is a package of its parent's
name, the first folder without one is a source root (`src/` layouts, `tests/` folders that pytest
puts on `sys.path`); every shorter suffix of the path counts too, so `import db` from a test folder
and `from app import db` from a namespace folder both find `app/db.py`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from loopbound.index.model import Binding, BindingRow, FunctionSummary, Made, ModuleSummary
from loopbound.index.summary import CONSTRUCTORS
from loopbound.registry import Registry, Resource

_MAX_DEPTH = 12  # re-exports and wrappers deeper than this are not followed


@dataclass(eq=False)
class IndexedModule:
    path: Path  # resolved
    shown: str  # as findings show it
    name: str  # canonical dotted name
    is_package: bool
    is_test: bool
    summary: ModuleSummary
    functions: dict[str, FunctionSummary] = field(init=False)

    def __post_init__(self) -> None:
        self.functions = {function.name: function for function in self.summary.functions}
        self.class_names = {cls.name for cls in self.summary.classes}
        self._bindings: dict[str, BindingRow] | None = None

    def binding(self, name: str) -> Binding | None:
        """What an import statement of the module binds to `name` (most modules are never asked)."""
        if self._bindings is None:
            self._bindings = {row[0]: row for row in self.summary.bindings}
        row = self._bindings.get(name)
        return Binding._make(row) if row is not None else None

    def refined(self, summary: ModuleSummary) -> None:
        """A light summary replaced by the full one, once the index needs more than the imports."""
        self.summary = summary
        self.__post_init__()


@dataclass(frozen=True)
class Symbol:
    module: IndexedModule
    name: str  # `make_engine`, `ApiClient`, `ApiClient.aclose`


@dataclass(frozen=True)
class Maker:
    """A project function or class whose call gives a new loop-bound resource."""

    symbol: Symbol
    origin: Resource  # the registry row at the bottom of the chain
    site: str  # `app/api_client.py:6`: where the registry call is
    resource: Resource  # what the caller holds: the origin, or the wrapper class with its own release

    def describe(self, shown: str) -> str:
        """`ApiClient(...)` (it creates a `httpx.AsyncClient` at `api_client.py:6`)."""
        return f"`{shown}(...)` (it creates a `{self.origin.qualname}` at `{self.site}`)"


def module_names(path: Path, root: Path, packages: dict[str, int] | None = None) -> tuple[str, list[str]]:
    """The canonical dotted name (by `__init__.py` files) and every other name the module may be imported by.

    Plain string work on the path, with `packages` (how many package folders end at a folder) kept across
    the calls of one index: pathlib and a stat per folder level per module cost a run on one named file a
    third of a second over a large project.
    """
    text = str(path)
    folder, name = os.path.split(text)
    parts = [*folder.split(os.sep), os.path.splitext(name)[0]]
    if parts[-1] == "__init__":
        parts.pop()
    package_depth = _package_depth(folder, {} if packages is None else packages)
    own = 0 if name == "__init__.py" else 1
    canonical = ".".join(parts[len(parts) - package_depth - own:]) if package_depth + own else parts[-1]
    prefix = str(root) if str(root).endswith(os.sep) else str(root) + os.sep
    if text.startswith(prefix):
        relative = text[len(prefix):].split(os.sep)
        relative[-1] = os.path.splitext(relative[-1])[0]
    else:
        relative = parts[len(parts) - package_depth - own:]
    if relative and relative[-1] == "__init__":
        relative.pop()
    aliases = [".".join(relative[start:]) for start in range(len(relative))]
    return canonical, [alias for alias in aliases if alias]


def _package_depth(folder: str, packages: dict[str, int]) -> int:
    """How many folders, from `folder` up, hold an `__init__.py` without a gap."""
    if folder not in packages:
        parent = os.path.dirname(folder)
        is_package = parent != folder and os.path.isfile(os.path.join(folder, "__init__.py"))
        packages[folder] = _package_depth(parent, packages) + 1 if is_package else 0
    return packages[folder]


def absolute_module(importer: str, is_package: bool, level: int, name: str) -> str:
    """A relative import's module as an absolute dotted name, seen from the module named `importer`."""
    if not level:
        return name
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level - 1 <= len(package) else []
    return ".".join([*base, name] if name else base)


class ProjectIndex:
    def __init__(self, modules: list[IndexedModule], registry: Registry, aliases: dict[Path, list[str]]) -> None:
        self.registry = registry
        self.modules = modules
        self.by_path = {module.path: module for module in modules}
        self.by_shown = {module.shown: module for module in modules}
        self.by_name: dict[str, list[IndexedModule]] = {}
        for module in modules:
            for name in dict.fromkeys([module.name, *aliases.get(module.path, [])]):
                self.by_name.setdefault(name, []).append(module)
        self._heads = {name.split(".", 1)[0] for name in self.by_name}  # first parts of every module name
        self._chosen: dict[tuple[str, str], IndexedModule] = {}
        self._makers: dict[tuple[Path, str], Maker | None] = {}
        self._resolving: set[tuple[Path, str]] = set()
        # Parses a light (with `entries`) or partial module whose bytes hold one of the words, giving it a
        # full summary; True when it did. `refine_loops` gives a light or partial module whose bytes hold a
        # word of ENTRY_WORDS what a reachability search reads: its entry points and tests.
        self.refine: Callable[[IndexedModule, tuple[bytes, ...], bool], bool] = lambda module, words, entries: False
        self.refine_loops: Callable[[IndexedModule], bool] = lambda module: False
        self._importers: dict[IndexedModule, list[IndexedModule]] | None = None
        # Files whose bytes the resolution read itself (refined, re-checked, searched for a name): an edit
        # to one may change its answer even when every summary stays the same (see note_read).
        self.read: dict[Path, tuple[bytes, ...]] = {}

    def note_read(self, path: Path, words: tuple[bytes, ...] = ()) -> None:
        """The answer depends on the file's bytes: on all of them (no words), or only on their holding none of
        `words` (a module searched for words it turned out not to hold)."""
        known = self.read.get(path)
        self.read[path] = () if known == () or not words else tuple(dict.fromkeys([*(known or ()), *words]))

    def importers(self, module: IndexedModule) -> list[IndexedModule]:
        """The project modules that import `module` (the import graph, reversed, built once)."""
        if self._importers is None:
            self._importers = self._reversed_imports()
        return self._importers.get(module, [])

    def _reversed_imports(self) -> dict[IndexedModule, list[IndexedModule]]:
        """Each module's importers, in module order. What an import statement loads depends only on the
        statement and, where several modules share a name, on the importer's folder: resolved once for each."""
        importers: dict[IndexedModule, list[IndexedModule]] = {}
        # By statement: the names it may load, and the modules they name when no name has several.
        statements: dict[tuple[str, tuple[str, ...]], tuple[list[str], tuple[IndexedModule, ...] | None]] = {}
        near: dict[tuple[str, tuple[str, ...], str], tuple[IndexedModule, ...]] = {}
        heads = self._heads
        for importer in self.modules:
            folder = str(importer.path.parent) + "/"
            imported: list[IndexedModule] = []
            for level, name, names in importer.summary.imports:
                if not level and name.split(".", 1)[0] not in heads:
                    continue  # `import os`: every name it could load starts with a part no project module has
                key = (self.absolute(importer, level, name) if level else name, names)
                statement = statements.get(key)
                if statement is None:
                    targets = self._targets(*key)
                    candidates = [self.by_name[target] for target in targets]
                    statement = statements[key] = (targets, tuple(modules[0] for modules in candidates)
                                                   if all(len(modules) == 1 for modules in candidates) else None)
                targets, found = statement
                if found is None:
                    if (*key, folder) not in near:
                        near[(*key, folder)] = tuple(self._in_folder(target, folder) for target in targets)
                    found = near[(*key, folder)]
                imported.extend(found)
            for module in dict.fromkeys(imported):
                if module is not importer:
                    importers.setdefault(module, []).append(importer)
        return importers

    def _targets(self, base: str, names: tuple[str, ...]) -> list[str]:
        """The module names an import of `names` from `base` may load, packages above them included, that
        name a project module."""
        parts = base.split(".") if base else []
        targets = [base, *(f"{base}.{imported}" if base else imported for imported in names if imported != "*"),
                   *(".".join(parts[:end]) for end in range(1, len(parts)))]
        return [target for target in targets if target and target in self.by_name]

    def reverse_closure(self, module: IndexedModule) -> Iterator[IndexedModule]:
        """Every module that imports `module`, directly or through others, nearest first."""
        seen = {module.path}
        queue = deque([module])
        while queue:
            current = queue.popleft()
            for importer in self.importers(current):
                if importer.path not in seen:
                    seen.add(importer.path)
                    queue.append(importer)
                    yield importer

    def forget_makers(self) -> None:
        self._makers.clear()

    # -- modules ---------------------------------------------------------------------------------

    def module(self, name: str, importer: IndexedModule | None = None) -> IndexedModule | None:
        """The module `name` names, seen from `importer`: the canonical one, else the one nearest to it."""
        candidates = self.by_name.get(name)
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        return self._in_folder(name, str(importer.path.parent) + "/" if importer is not None else "")

    def _in_folder(self, name: str, folder: str) -> IndexedModule:
        """The module `name` names (a key of by_name), seen from a module in `folder` ("": from nowhere)."""
        candidates = self.by_name[name]
        if len(candidates) == 1:
            return candidates[0]
        key = (name, folder)
        if key not in self._chosen:
            canonical = [module for module in candidates if module.name == name] or candidates
            near = [module for module in canonical if folder and str(module.path).startswith(folder)]
            self._chosen[key] = min(near or canonical, key=lambda module: str(module.path).count("/"))
        return self._chosen[key]

    def absolute(self, module: IndexedModule, level: int, name: str) -> str:
        """A relative import's module as an absolute dotted name (`from ..db import x` in `app.api.v1`)."""
        return absolute_module(module.name, module.is_package, level, name)

    # -- symbols ---------------------------------------------------------------------------------

    def symbol(self, module: IndexedModule, ref: str, depth: int = 0) -> Symbol | None:
        """What a dotted reference written in `module` names, when it is a project function or class."""
        if depth > _MAX_DEPTH:
            return None
        head, _, rest = ref.partition(".")
        if head in module.functions or head in module.class_names:
            return Symbol(module, ref) if (ref in module.functions or ref in module.class_names) else None
        binding = module.binding(head)
        if binding is None:
            return None
        base = self.absolute(module, binding.level, binding.module)
        if binding.attribute is None:
            target = binding.module if binding.name != binding.module.split(".", 1)[0] else head
            qualified = f"{target}.{rest}" if rest else target
        else:
            qualified = ".".join(filter(None, [base, binding.attribute, rest]))
        return self.qualified(qualified, module, depth + 1)

    def qualified(self, qualified: str, importer: IndexedModule, depth: int = 0) -> Symbol | None:
        parts = qualified.split(".")
        for split in range(len(parts) - 1, 0, -1):
            target = self.module(".".join(parts[:split]), importer)
            if target is not None:
                return self.symbol(target, ".".join(parts[split:]), depth + 1)
        return None

    # -- makers ----------------------------------------------------------------------------------

    def maker(self, symbol: Symbol) -> Maker | None:
        """The resource a call of `symbol` makes, resolved through other makers (memoised; cycles give None)."""
        key = (symbol.module.path, symbol.name)
        if key in self._makers:
            return self._makers[key]
        if key in self._resolving:
            return None
        self._resolving.add(key)
        try:
            found = self._class_maker(symbol) if symbol.name in symbol.module.class_names else self._function_maker(symbol)
        finally:
            self._resolving.discard(key)
        self._makers[key] = found
        return found

    def made(self, module: IndexedModule, made: Made) -> tuple[Resource, str, Resource] | None:
        """(origin, site, what the holder has) for one `Made`: a registry call or a call of a maker."""
        if made.registry:
            resource = self.registry.lookup(made.ref)
            return (resource, f"{module.shown}:{made.row}", resource) if resource else None
        symbol = self.symbol(module, made.ref)
        inner = self.maker(symbol) if symbol is not None else None
        return (inner.origin, inner.site, inner.resource) if inner else None

    def _function_maker(self, symbol: Symbol) -> Maker | None:
        function = symbol.module.functions.get(symbol.name)
        if function is None:
            return None
        for made in function.returns:
            found = self.made(symbol.module, made)
            if found:
                return Maker(symbol, found[0], found[1], found[2])
        return None

    def _class_maker(self, symbol: Symbol) -> Maker | None:
        module, name = symbol.module, symbol.name
        for constructor in CONSTRUCTORS:
            function = module.functions.get(f"{name}.{constructor}")
            for attribute, made in function.stored_attributes if function else ():
                found = self.made(module, made)
                if found:
                    origin, site, _ = found
                    return Maker(symbol, origin, site, self._wrapper(module, name, attribute))
        return None

    def _wrapper(self, module: IndexedModule, name: str, attribute: str) -> Resource:
        """The wrapper class as a resource: released by its own methods that release the attribute."""
        methods = {function.name.split(".", 1)[1]: function for function in module.summary.functions
                   if function.name.startswith(f"{name}.")}
        releasing = {method for method, function in methods.items() if attribute in function.released_attributes}
        for _ in range(len(methods)):
            more = {method for method, function in methods.items()
                    if any(call.split(".", 1)[-1] in releasing for call in function.calls if call.startswith(f"{name}."))}
            if more <= releasing:
                break
            releasing |= more
        public = tuple(sorted(method for method in releasing if not method.startswith("__")))
        return Resource(f"{module.name}.{name}", "project", public,
                        awaited=any(methods[method].is_async for method in public),
                        async_with="__aexit__" in releasing)
