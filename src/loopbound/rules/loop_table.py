"""The loop table: for each test module and conftest.py the LB3 pass read, the loop scopes pytest runs its
async tests (or, without tests, its async fixtures) on, for the pytest-asyncio releases the project runs on.

The project index's reachability asks it how many event loops a test module runs (index/reach.py): the LB3
rules and the index then read loop scopes from one model. It is version-aware where the code alone is not
enough: a custom `event_loop` fixture sets the loop of the tests it serves only while every release the
project runs on honours it (it is ignored since 1.0), config keys count only where the releases read them
(`Project.defaults_for`), and a mark's `loop_scope=` (0.24) or `scope=` (0.23) only where they understand it.
"""

from __future__ import annotations

from loopbound.asyncio_versions import AsyncioVersions, Feature
from loopbound.index.model import LoopTable, ModuleLoops
from loopbound.module_facts import SCOPES, Fixture, Module, Test
from loopbound.project import LoopDefaults, Project
from loopbound.rules.loop_model import (
    fixture_loop_scope,
    handled_by_pytest_asyncio,
    is_asyncio_test,
    test_loop_scope,
)
from loopbound.rules.test_cases import own_loop_test_case


def loop_table(project: Project) -> LoopTable:
    """Every module of the project view that holds async tests or async fixtures, by resolved path."""
    table: LoopTable = {}
    for path, module in project.modules.items():
        row = module_loops(project, module)
        if row is not None:
            table[str(path)] = row
    return table


def module_loops(project: Project, module: Module) -> ModuleLoops | None:
    """The narrowest loop scope the module's async tests run on, its async fixtures' when it has no test;
    None when it has neither.

    An async test or fixture no plugin claims (strict mode, no asyncio mark) is counted as running on its
    own loop: `--asyncio-mode=auto` on a command line loopbound never sees would make it so. anyio's tests
    and fixtures share one loop under a session-scoped `anyio_backend` fixture. A unittest class whose tests
    each get a new loop (rules/test_cases.py) counts as a test on a function's loop.
    """
    defaults = project.defaults_for(module)
    versions = project.asyncio_versions(module)
    scopes: list[str] = []
    ignored: set[str] = set()  # the modules whose `event_loop` fixture the releases ignore
    hook = project.hook_loop_scope(module)
    for test in module.tests:
        if not test.is_async:
            continue
        if test.other_plugin:
            backend = project.resolve(test, "anyio_backend")
            scopes.append("session" if backend is not None and backend.scope == "session" else "function")
            continue
        scope = _test_scope(test, defaults, hook, versions) if is_asyncio_test(test, defaults) else "function"
        scopes.append(_on_event_loop(scope, project.resolve(test, "event_loop"), versions, ignored))
    if "function" not in scopes and own_loop_test_case(project, module) is not None:
        scopes.append("function")  # asked only where it can narrow the answer: it may read other modules
    if not scopes:
        event_loop = next(project.module_level(module, "event_loop"), None)
        for fixture in module.all_fixtures:
            if handled_by_pytest_asyncio(fixture, defaults):
                own = fixture_loop_scope(fixture, defaults) if _understood(versions, Feature.LOOP_SCOPE) else None
                scopes.append(_on_event_loop(own or "function", event_loop, versions, ignored))
            elif fixture.is_async:  # anyio's plugin runs it for anyio tests; else as an unclaimed test
                backend = next(project.module_level(module, "anyio_backend"), None)
                scopes.append("session" if backend is not None and backend.scope == "session" else "function")
    if not scopes:
        return None
    narrowest = min(scopes, key=SCOPES.index)
    unread = [key for key, default in (("asyncio_default_test_loop_scope", defaults.test_loop_scope),)
              if narrowest == "function" and default == "function" and _wider_setting(project, module, key)]
    what = [*(f"the custom `event_loop` fixture of {shown}" for shown in sorted(ignored)), *(f"`{key}`" for key in unread)]
    note = ""
    if what:
        span, _, source = versions.describe().partition(" (")
        note = f"{' and '.join(what)} {'is' if len(what) == 1 else 'are'} ignored by pytest-asyncio {span}"
        note += f", from {source.rstrip(')')}" if source else ""
    return ModuleLoops(narrowest, note)


def _wider_setting(project: Project, module: Module, key: str) -> bool:
    """The module's pytest config sets `key` to a loop wider than a function's (that its releases may drop)."""
    config = project.config_for(module.path)
    setting = config.asyncio(key) if config is not None else None
    return setting is not None and setting.value.strip() in SCOPES[1:]


def _test_scope(test: Test, defaults: LoopDefaults, hook: tuple[str, bool] | None,
                versions: AsyncioVersions) -> str:
    """The test's loop scope, its asyncio mark's keyword counted only where every release reads it."""
    mark = test.closest("asyncio")
    own = next((mark for mark in test.marks[:test.own_marks] if mark.name == "asyncio"), None)
    from_mark = mark is not None and not (hook is not None and (own is None or hook[1]))
    if from_mark and mark is not None:
        if "loop_scope" in mark.keywords and not _understood(versions, Feature.LOOP_SCOPE):
            return defaults.test_loop_scope
        if "loop_scope" not in mark.keywords and "scope" in mark.keywords and not _understood(versions,
                                                                                            Feature.MARK_SCOPE):
            return defaults.test_loop_scope
    return test_loop_scope(test, defaults, hook) or "function"


def _understood(versions: AsyncioVersions, feature: Feature) -> bool:
    """Every release the project runs on has it (with nothing known, every release that has it)."""
    return versions.has(feature, among=feature)


def _on_event_loop(scope: str, event_loop: Fixture | None, versions: AsyncioVersions, ignored: set[str]) -> str:
    """Before 1.0, what runs on the function loop runs on the `event_loop` fixture, which a custom one
    overrides; a release that removed it ignores the override (then the loop stays per function)."""
    if scope != "function" or event_loop is None or event_loop.scope is None:
        return scope
    if versions.has(Feature.EVENT_LOOP_REMOVED, every=False):
        if event_loop.scope != "function":
            ignored.add(event_loop.module.display)
        return scope
    return event_loop.scope
