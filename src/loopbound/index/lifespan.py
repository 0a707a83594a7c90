"""LB105 across the project: globals that startup code makes and shutdown code releases are managed by
the application's lifespan; a release function that nothing calls releases nothing.

Startup code is what a framework runs before serving (FastAPI/Starlette `lifespan=` and
`on_event("startup")`, aiohttp `on_startup` and `cleanup_ctx`, Litestar `on_startup`/`lifespan`, Quart
`before_serving`/`while_serving`, Sanic listeners) and every project function it calls, transitively;
shutdown code likewise, with the half of a lifespan generator after its `yield`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from loopbound.findings import Finding, Location
from loopbound.index.model import FunctionSummary
from loopbound.index.summary import HOOK_WORDS
from loopbound.index.resolution import IndexedModule, ProjectIndex
from loopbound.rules.import_time_rules import GLOBAL_SINGLETON

Function = tuple[IndexedModule, FunctionSummary]


def _function(index: ProjectIndex, module: IndexedModule, ref: str) -> Function | None:
    symbol = index.symbol(module, ref)
    if symbol is None:
        return None
    function = symbol.module.functions.get(symbol.name)
    return (symbol.module, function) if function is not None else None


def _closure(index: ProjectIndex, roots: Iterable[Function]) -> set[tuple[Path, str]]:
    """The functions `roots` run, following calls into the project's own functions."""
    seen: set[tuple[Path, str]] = set()
    queue = deque(roots)
    while queue:
        module, function = queue.popleft()
        key = (module.path, function.name)
        if key in seen:
            continue
        seen.add(key)
        for call in function.calls:
            found = _function(index, module, call)
            if found is not None:
                queue.append(found)
    return seen


def _hook_functions(index: ProjectIndex) -> tuple[list[Function], list[Function]]:
    """Startup and shutdown roots; a lifespan function is both, its calls after `yield` shutdown only."""
    startup: list[Function] = []
    shutdown: list[Function] = []
    for module in index.modules:
        for hook in module.summary.hooks:
            found = _function(index, module, hook.ref)
            if found is None:
                continue
            if hook.when in ("startup", "lifespan"):
                startup.append(found)
            if hook.when in ("shutdown", "lifespan"):
                shutdown.append(found)
                if hook.when == "lifespan":
                    owner, function = found
                    shutdown.extend(filter(None, (_function(index, owner, call)
                                                  for call in function.calls_after_yield)))
    return startup, shutdown


def managed_globals(index: ProjectIndex) -> set[tuple[Path, str]]:
    """(module, global) pairs that startup code stores and shutdown code releases."""
    startup_roots, shutdown_roots = _hook_functions(index)
    startup, shutdown = _closure(index, startup_roots), _closure(index, shutdown_roots)
    stored = {(module.path, name) for module, function in _storing(index)
              if (module.path, function.name) in startup for name, _ in function.stored_globals}
    released = {(module.path, name) for module in index.modules for function in module.summary.functions
                if function.released_globals and (module.path, function.name) in shutdown
                for name in function.released_globals}
    return stored & released


def _storing(index: ProjectIndex) -> Iterator[tuple[IndexedModule, FunctionSummary]]:
    """The functions that store a global, with their modules: few, among all the project's functions."""
    return ((module, function) for module in index.modules for function in module.summary.functions
            if function.stored_globals)


def lifespan_findings(index: ProjectIndex, findings: list[Finding], selected: frozenset[str]) -> list[Finding]:
    """LB105 without the lifespan-managed globals, and with the release functions nobody calls."""
    if GLOBAL_SINGLETON.code not in selected:
        return findings
    singletons = {finding.path for finding in findings if finding.code == GLOBAL_SINGLETON.code}
    for module in index.modules:
        if module.shown in singletons or any(function.stored_globals and _release_candidates(module, function)
                                             for function in module.summary.functions):
            for importer in list(index.reverse_closure(module)):
                index.refine(importer, HOOK_WORDS, True)  # where startup and shutdown hooks may be registered
    managed = managed_globals(index)
    kept = [finding for finding in findings if not _managed(finding, index, managed)]
    reported = {(finding.path, finding.start.row) for finding in kept if finding.code == GLOBAL_SINGLETON.code}
    for finding in _uncalled_releases(index, managed):
        if (finding.path, finding.start.row) not in reported:
            kept.append(finding)
    return kept


def _managed(finding: Finding, index: ProjectIndex, managed: set[tuple[Path, str]]) -> bool:
    module = index.by_shown.get(finding.path)
    variable = finding.datum("variable")
    return (finding.code == GLOBAL_SINGLETON.code and module is not None and variable is not None
            and (module.path, variable) in managed)


def _mentioned(index: ProjectIndex, module: IndexedModule, name: str) -> bool:
    """Whether any module but the definition's own line names `name`: its own module or one importing it."""
    word = re.compile(rb"\b" + re.escape(name.encode()) + rb"\b")
    for candidate in (module, *index.reverse_closure(module)):
        index.note_read(candidate.path)
        try:
            hits = len(word.findall(candidate.path.read_bytes()))
        except OSError:
            continue
        if hits > (1 if candidate is module else 0):
            return True
    return False


def _release_candidates(module: IndexedModule, function: FunctionSummary) -> dict[str, list[str]]:
    """For each global `function` stores, the other functions of its module that release it."""
    return {name: releasers for name, _ in function.stored_globals
            if (releasers := [other.name for other in module.summary.functions
                              if other is not function and name in other.released_globals])}


def _uncalled_releases(index: ProjectIndex, managed: set[tuple[Path, str]]) -> Iterator[Finding]:
    for module, function in _storing(index):
        for name, made in function.stored_globals:
            origin = index.made(module, made) if (module.path, name) not in managed else None
            if origin is None:
                continue
            releasers = _release_candidates(module, function).get(name, [])
            if not releasers or any(_mentioned(index, module, release.rsplit(".", 1)[-1]) for release in releasers):
                continue
            location = Location(made.row, made.column + 1)
            yield Finding(GLOBAL_SINGLETON.code, GLOBAL_SINGLETON.name,
                          f"`{function.name}()` stores a `{origin[0].qualname}` in the global `{name}`; "
                          f"`{releasers[0]}()` releases it, but nothing in the project calls "
                          f"`{releasers[0]}()`", module.shown, location, location, GLOBAL_SINGLETON.severity,
                          data=(("variable", name),))
