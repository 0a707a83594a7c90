"""The project index: every module by its dotted names (graph.py), references resolved across modules, and
the functions and classes that make a loop-bound resource (directly or through each other).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from loopbound.index.graph import IndexedModule as IndexedModule  # re-exported: where the index's users take it
from loopbound.index.graph import ModuleGraph, absolute_module
from loopbound.index.model import Made
from loopbound.index.summary import CONSTRUCTORS
from loopbound.registry import Registry, Resource

_MAX_DEPTH = 12  # re-exports and wrappers deeper than this are not followed


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


class ProjectIndex:
    def __init__(self, graph: ModuleGraph, registry: Registry) -> None:
        self.registry = registry
        self.graph = graph
        self.modules = modules = graph.modules
        self.by_shown = {module.shown: module for module in modules}
        self.by_name = graph.by_name
        self.by_path_text = graph.by_path_text
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
            self._importers = self.graph.importers()
        return self._importers.get(module, [])

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
        return self.graph.in_folder(name, os.path.dirname(importer.path_text) + "/" if importer is not None else "")

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
