"""pytest-asyncio's loop model applied to the project view: whether pytest-asyncio is in play, which
fixtures and tests it runs, and on which loop (the 1.x rules; the releases the project runs on narrow
them in the rules)."""

from __future__ import annotations

from loopbound.asyncio_versions import AsyncioVersions
from loopbound.module_facts import SCOPES, Fixture, Module, Test, wider
from loopbound.project import LoopDefaults, Project
from loopbound.pytest_config import ASYNCIO_KEYS, PytestConfig


def handled_by_pytest_asyncio(fixture: Fixture, defaults: LoopDefaults) -> bool:
    if fixture.decorator == "pytest_asyncio.fixture":
        return fixture.is_async
    return defaults.mode == "auto" and fixture.is_async


def fixture_loop_scope(fixture: Fixture, defaults: LoopDefaults) -> str | None:
    """pytest-asyncio 1.x: `loop_scope=`, else the configured default, else the fixture's own scope."""
    if fixture.loop_scope is not None:
        value = fixture.loop_scope.value
        return value if value in SCOPES else None
    return defaults.fixture_loop_scope or fixture.scope


def is_asyncio_test(test: Test, defaults: LoopDefaults) -> bool:
    if not test.is_async or test.other_plugin:
        return False
    return test.closest("asyncio") is not None or defaults.mode == "auto"


def test_loop_scope(test: Test, defaults: LoopDefaults, hook: tuple[str, bool] | None = None) -> str | None:
    """The closest `asyncio` mark's `loop_scope` (or deprecated `scope`), else the configured default.

    A mark a `pytest_collection_modifyitems` hook adds lands on the function itself, after its own
    decorators (before them with `append=False`): closer than any class or module mark.
    """
    own = next((mark for mark in test.marks[:test.own_marks] if mark.name == "asyncio"), None)
    if hook is not None and (own is None or hook[1]):
        return hook[0] if hook[0] in SCOPES else None
    mark = test.closest("asyncio")
    if mark is not None and ("loop_scope" in mark.keywords or "scope" in mark.keywords):
        literal = mark.loop_scope
        return literal.value if literal and literal.value in SCOPES else None
    return defaults.test_loop_scope


def pytest_asyncio_loop(fixture: Fixture, project: Project) -> str | None:
    """The loop scope pytest-asyncio runs the fixture on; None when it does not run it (or the scope is unknown)."""
    defaults = project.defaults_for(fixture.module)
    return fixture_loop_scope(fixture, defaults) if handled_by_pytest_asyncio(fixture, defaults) else None


def runs_on_narrower_loop(fixture: Fixture, loop: str, project: Project) -> bool:
    if not handled_by_pytest_asyncio(fixture, project.defaults_for(fixture.module)):
        return False
    own = pytest_asyncio_loop(fixture, project)
    return own is None or wider(loop, own)


def versions_phrase(versions: AsyncioVersions) -> str:
    return f"pytest-asyncio {versions.describe()}"


def first_asyncio_user(project: Project, config: PytestConfig | None) -> Module | None:
    """The first module under `config` that uses pytest-asyncio, checked modules first (once per config)."""
    if id(config) not in project.asyncio_users:
        project.asyncio_users[id(config)] = _first_asyncio_user(project, config)
    return project.asyncio_users[id(config)]


def _first_asyncio_user(project: Project, config: PytestConfig | None) -> Module | None:
    for module in project.checked_modules():
        if project.configs.get(module.path) is config and module.asyncio_use is not None:
            return module
    for path, module in project.modules.items():
        if project.configs.get(path) is config and module.asyncio_use is not None:
            return module
    return None


def uses_pytest_asyncio(project: Project, module: Module) -> bool:
    """pytest-asyncio is in play for `module`: a module under its pytest config uses it, the config sets an
    asyncio option, or the project declares it. anyio's or trio's plugin alone is not pytest-asyncio."""
    config = project.config_for(module.path)
    if first_asyncio_user(project, config) is not None:
        return True
    if config is not None and any(config.asyncio(key) for key in ASYNCIO_KEYS):
        return True
    return project.asyncio_versions(module).declared


def loop_keys_in_addopts(config: PytestConfig) -> bool:
    """`-o` in addopts sets a loop-scope default: it wins over any key a fix could write in the file."""
    keys = ("asyncio_default_fixture_loop_scope", "asyncio_default_test_loop_scope")
    return any(setting is not None and setting.key == "addopts" for setting in map(config.asyncio, keys))
