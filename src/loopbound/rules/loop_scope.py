"""LB3xx: pytest-asyncio event-loop scopes, checked on the whole test tree at once.

A session-scoped async fixture runs on the session's loop while tests run on a loop of their own
unless told otherwise; whatever the fixture made is then used on another loop and the test fails
with `attached to a different loop` or `Event loop is closed`. These rules need the governing pytest
config and the conftest.py files above each test, so they run in the project pass
(`engine.check_project`), not per file. Versions cited below were checked against pytest-asyncio's
changelog and the 1.5 source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from loopbound.asyncio_versions import AsyncioVersions, Feature
from loopbound.discovery import display_path
from loopbound.findings import Applicability, Finding, Severity
from loopbound.module_facts import (
    SCOPES,
    Fixture,
    Mark,
    Module,
    Test,
    wider,
)
from loopbound.project import Project
from loopbound.rules.base import Rule
from loopbound.rules.event_loop_rule import EVENT_LOOP_FIXTURE, check_event_loop
from loopbound.rules.fixture_scope import WIDER_CACHE
from loopbound.rules.fixture_scope import check as check_wider_cache
from loopbound.rules.lb3_findings import definition_span, python_finding
from loopbound.rules.loop_model import (
    is_asyncio_test,
    loop_keys_in_addopts,
    pytest_asyncio_loop,
    runs_on_narrower_loop,
    test_loop_scope,
    uses_pytest_asyncio,
    versions_phrase,
)
from loopbound.rules.loop_scope_config import (
    CHANGELOG,
    CONCEPTS,
    CONFIG_MISMATCH,
    INVALID_SCOPE,
    UNSET_FIXTURE_SCOPE,
    check_configs,
)
from loopbound.rules.loop_scope_versions import UNSUPPORTED
from loopbound.rules.loop_scope_versions import check_module as check_module_versions

FIXTURE_WIDER = Rule(
    code="LB302",
    name="fixture-loop-wider-than-test-loop",
    summary="An async fixture runs on a wider event loop than a test that uses it.",
    what_it_does=(
        "Computes each async fixture's loop scope (`loop_scope=` on `@pytest_asyncio.fixture`, else "
        "`asyncio_default_fixture_loop_scope`, else the fixture's `scope`; in `auto` mode async `@pytest.fixture` "
        "too) and each asyncio test's loop scope (the closest `asyncio` mark's `loop_scope` on the test, its class "
        "or module `pytestmark`, else `asyncio_default_test_loop_scope`, else `function`). Fixtures are resolved "
        "as pytest resolves them: the test's class, its module, then every conftest.py above it. The fixture is "
        "reported, naming one test that uses it on another loop. It is an error when the fixture hands over "
        "something loop-bound: what it returns or yields is, or is built from, a resource of the registry "
        "(a client, pool, engine, asyncio primitive or future), it builds on a requested fixture that does, or it "
        "touches a module-level pooled resource or stores one in module state. An in-process ASGI client "
        "(`httpx.AsyncClient(transport=ASGITransport(app=app))`, `AsyncClient(app=app)`, which make their loop "
        "objects per request in the caller's loop), a `NullPool` engine, plain data, a mock or `None` cross loops "
        "harmlessly, and a call whose result the fixture's module does not show: the finding is then latent."
    ),
    why_bad=(
        "In pytest-asyncio 0.24 and later (and in every 1.x release) a fixture and a test with different loop "
        "scopes run on different event loops. An asyncpg pool, an httpx client, an asyncio.Lock or a Future made "
        "by the fixture is bound to the fixture's loop; the test fails with `attached to a different loop`, "
        "`Event loop is closed` or hangs."
    ),
    example=(
        '@pytest_asyncio.fixture(scope="session")\nasync def pool():\n    return await asyncpg.create_pool(DSN)\n\n'
        "async def test_query(pool):  # runs on a function-scoped loop\n    await pool.fetch('select 1')\n"
    ),
    use_instead=(
        '@pytest_asyncio.fixture(scope="session", loop_scope="session")\nasync def pool():\n'
        "    return await asyncpg.create_pool(DSN)\n\n"
        '@pytest.mark.asyncio(loop_scope="session")\nasync def test_query(pool):\n    await pool.fetch(\'select 1\')\n'
    ),
    fix_safety=(
        "The fix moves the tests onto the fixture's loop and leaves the fixture alone: its loop is usually wide on "
        "purpose (one pool, one server), and a narrower `loop_scope` would need its caching `scope` narrowed too. "
        "Every asyncio test that uses the fixture on a narrower loop gets `loop_scope=\"<fixture loop>\"` on its own "
        "`@pytest.mark.asyncio` (the mark is added when the test has none, `scope=` is renamed; class and module "
        "marks are left for the other tests they cover). When both loop scopes come from the config defaults, the "
        "fix is LB301's edit, `asyncio_default_test_loop_scope` set to the fixture default, so the two fixes agree. "
        "No fix is offered when a test also uses an async fixture on a narrower loop (moving it would only move the "
        "mismatch) or when a `pytest_collection_modifyitems` hook prepends its own mark. It is unsafe: the tests "
        "then share one loop, with whatever the other tests leave on it."
    ),
    fix_applicability=Applicability.UNSAFE,
    references=(CONCEPTS, ("pytest-asyncio how-to, run all tests in the session loop: "
                "https://pytest-asyncio.readthedocs.io/en/stable/how-to-guides/run_session_tests_in_same_loop.html"),
                CHANGELOG + " (0.24.0)"),
)
ASYNC_PYTEST_FIXTURE = Rule(
    code="LB304",
    name="async-fixture-not-awaited",
    summary="An async `@pytest.fixture` in strict mode: pytest-asyncio does not run it.",
    what_it_does=(
        "In strict mode (pytest-asyncio's default, `asyncio_mode` unset or `strict`), reports an `async def` "
        "decorated with `@pytest.fixture`. Modules and conftest chains that use anyio or trio are left alone: "
        "their plugins run such fixtures."
    ),
    why_bad=(
        "In strict mode pytest-asyncio only runs fixtures decorated with `@pytest_asyncio.fixture`. Since 0.25 it "
        "warns when an asyncio test requests such a fixture; pytest 8.4 deprecates and pytest 9 refuses async "
        "fixtures no plugin handles. On older versions the test silently receives a coroutine object."
    ),
    example="@pytest.fixture\nasync def client():\n    async with httpx.AsyncClient() as client:\n        yield client\n",
    use_instead="@pytest_asyncio.fixture\nasync def client():\n    async with httpx.AsyncClient() as client:\n"
                "        yield client\n",
    fix_safety="Switching the decorator to `@pytest_asyncio.fixture` keeps the fixture's scope and is safe.",
    fix_applicability=Applicability.SAFE,
    references=(CHANGELOG + " (0.25.0)", ("pytest-asyncio modes: "
                "https://pytest-asyncio.readthedocs.io/en/stable/concepts.html#test-discovery-modes")),
)
MARK_SCOPE = Rule(
    code="LB305",
    name="deprecated-asyncio-mark-scope",
    summary="`@pytest.mark.asyncio(scope=...)` uses the deprecated `scope` keyword.",
    what_it_does="Reports the `scope=` keyword of an `asyncio` mark, on a test, a class or a `pytestmark`.",
    why_bad=(
        "pytest-asyncio 0.23 took the loop scope from `scope=`; 0.24 renamed it to `loop_scope=` and deprecated "
        "`scope=`, which still works in 1.x with a PytestDeprecationWarning; a mark with both is an error."
    ),
    example='@pytest.mark.asyncio(scope="module")\nasync def test_one(): ...\n',
    use_instead='@pytest.mark.asyncio(loop_scope="module")\nasync def test_one(): ...\n',
    fix_safety="Renaming the keyword keeps the loop scope and is safe.",
    fix_applicability=Applicability.SAFE,
    references=(CHANGELOG + " (0.24.0)",),
)
RULES = (CONFIG_MISMATCH, FIXTURE_WIDER, EVENT_LOOP_FIXTURE, ASYNC_PYTEST_FIXTURE, MARK_SCOPE,
         UNSET_FIXTURE_SCOPE, INVALID_SCOPE, WIDER_CACHE, UNSUPPORTED)


@dataclass(frozen=True)
class ProjectRuleGroup:
    """Rules that need the whole test tree: run once per `loopbound check`, after the per-file rules."""

    rules: tuple[Rule, ...]
    check: Callable[[Project], Iterator[Finding]]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(rule.code for rule in self.rules)


@dataclass(frozen=True)
class _Use:
    """An asyncio test that uses a fixture on a wider loop, with what the LB302 fix needs to move it."""

    test: Test
    scope: str
    closure: tuple[Fixture, ...]
    scope_from_config: bool  # no mark or hook names the test's loop scope: the config default does
    hook_prepends: bool  # a modifyitems hook puts its mark before the test's own: a new own mark would lose


def check_wider_fixtures(project: Project) -> Iterator[Finding]:
    """Each wider fixture once, naming the first test that uses it; the fix data covers every such test."""
    uses: dict[int, list[_Use]] = {}
    fixtures: dict[int, tuple[Fixture, str]] = {}
    loops: dict[int, str | None] = {}  # each fixture's loop scope, worked out once however many tests use it
    for module in project.checked_modules():
        versions = project.asyncio_versions(module)
        if not versions.has(Feature.MARK_SCOPE, every=False):
            continue  # before 0.23 every async fixture and test runs on the one `event_loop` fixture's loop
        honours_event_loop = not versions.has(Feature.EVENT_LOOP_REMOVED, every=False)
        defaults = project.defaults_for(module)
        hook = project.hook_loop_scope(module)
        for test in module.tests:
            if not is_asyncio_test(test, defaults):
                continue
            if honours_event_loop and project.resolve(test, "event_loop") is not None:
                continue  # before 1.0 a custom `event_loop` fixture is the loop of the test and its fixtures
            test_scope = test_loop_scope(test, defaults, hook)
            if test_scope is None:
                continue
            closure = project.closure(test)
            for fixture in closure:
                if id(fixture) not in loops:
                    loops[id(fixture)] = pytest_asyncio_loop(fixture, project)
                loop = loops[id(fixture)]
                if loop is None or not wider(loop, test_scope):
                    continue
                fixtures.setdefault(id(fixture), (fixture, loop))
                mark = test.closest("asyncio")
                from_config = hook is None and (mark is None or not {"loop_scope", "scope"} & set(mark.keywords))
                uses.setdefault(id(fixture), []).append(
                    _Use(test, test_scope, closure, from_config, hook is not None and hook[1]))
    for key, (fixture, loop) in fixtures.items():
        yield _wider_fixture(fixture, loop, uses[key], project)


def _wider_fixture(fixture: Fixture, loop: str, uses: list[_Use], project: Project) -> Finding:
    test, test_scope = uses[0].test, uses[0].scope
    where = f"{test.module.display}:{test.node.lineno}"
    qualified = f"{test.class_name}.{test.name}" if test.class_name else test.name
    bound = project.hands_over_loop_bound(fixture, test)
    consequence = "what the fixture creates is bound to the other loop" if bound else (
        "nothing it visibly hands over is loop-bound (an in-process ASGI client, plain data, a mock), so this is "
        "latent until it does")
    finding = python_finding(
        FIXTURE_WIDER, fixture.module, definition_span(fixture.module, fixture.node),
        f"async fixture `{fixture.name}` runs on the {loop}-scoped event loop, but test `{qualified}` ({where}) "
        f"uses it on a {test_scope}-scoped loop: {consequence}",
        fixture=fixture.name, fixture_loop_scope=loop, fixture_scope=fixture.scope or "",
        test=qualified, test_path=test.module.display, test_row=str(test.node.lineno), test_loop_scope=test_scope,
        handover=fixture.handover.value, **_alignment(fixture, loop, uses, project),
    )
    return finding if bound else replace(finding, severity=Severity.LATENT)


def _alignment(fixture: Fixture, loop: str, uses: list[_Use], project: Project) -> dict[str, str]:
    """How the LB302 fix moves the tests onto the fixture's loop: `align` is `config` (the LB301 case: the
    loop comes from `asyncio_default_fixture_loop_scope` and the tests' from the test default), `marks`
    (`targets`: one `path<TAB>row` line per test to mark), or empty when moving the tests would only move
    the mismatch (another fixture of theirs runs on a narrower loop, or a hook's mark would win)."""
    if any(use.hook_prepends or any(runs_on_narrower_loop(other, loop, project) for other in use.closure)
           for use in uses):
        return {"align": ""}
    versions = project.asyncio_versions(fixture.module)
    if not versions.key_accepted(Feature.LOOP_SCOPE, Feature.LOOP_SCOPE):
        return {"align": ""}  # 0.23 ignores `loop_scope=` on marks and has no test loop-scope key
    defaults = project.defaults_for(fixture.module)
    config = defaults.config
    if (config is not None and fixture.loop_scope is None and defaults.fixture_loop_scope == loop
            and versions.key_accepted(Feature.TEST_DEFAULT_KEY, Feature.TEST_DEFAULT_KEY)
            and all(use.scope_from_config and project.config_for(use.test.module.path) is config for use in uses)):
        if not loop_keys_in_addopts(config):
            return {"align": "config", "config_display": display_path(config.path),
                    "section_line": str(config.section_line)}
        # `-o` in addopts wins over any key the fix could write: marks on the tests win over both
    targets = sorted({f"{use.test.module.display}\t{use.test.node.lineno}" for use in uses})
    return {"align": "marks", "targets": "\n".join(targets)}


def check_async_pytest_fixtures(project: Project) -> Iterator[Finding]:
    mentions: dict[int, bool] = {}  # by module: a conftest.py's source is searched once, not once per module below it
    for module in project.checked_modules():
        fixtures = [fixture for fixture in module.all_fixtures
                    if fixture.is_async and fixture.decorator == "pytest.fixture"]
        if (not fixtures or project.defaults_for(module).mode != "strict"  # asked first: most modules have none
                or _other_plugin_in_scope(project, module, mentions) or not uses_pytest_asyncio(project, module)):
            continue
        for fixture in fixtures:
            yield python_finding(
                ASYNC_PYTEST_FIXTURE, module, definition_span(module, fixture.node),
                f"async fixture `{fixture.name}` uses `@pytest.fixture` in strict mode: pytest-asyncio never "
                "runs it and tests receive a coroutine; use `@pytest_asyncio.fixture`", fixture=fixture.name)


def _other_plugin_in_scope(project: Project, module: Module, mentions: dict[int, bool]) -> bool:
    for searched in (module, *project.conftests(module)):
        if id(searched) not in mentions:
            mentions[id(searched)] = searched.mentions_other_plugin
        if mentions[id(searched)]:
            return True
    return False


def check_marks(project: Project) -> Iterator[Finding]:
    for module in project.checked_modules():
        versions = project.asyncio_versions(module)
        for mark in module.marks:
            if mark.name != "asyncio":
                continue
            if "scope" in mark.keywords and versions.has(Feature.LOOP_SCOPE, every=False):
                yield _mark_scope(module, mark, versions)
            for key in ("loop_scope", "scope"):
                literal = mark.literal(key)
                if literal is not None and literal.value not in SCOPES:
                    yield _invalid_literal(module, literal, f"`{key}=` of the asyncio mark")
        for fixture in module.all_fixtures:
            if fixture.loop_scope is not None and fixture.loop_scope.value not in SCOPES:
                yield _invalid_literal(module, fixture.loop_scope, f"`loop_scope=` of fixture `{fixture.name}`")


def _mark_scope(module: Module, mark: Mark, versions: AsyncioVersions) -> Finding:
    """LB305; the fix renames `scope=` only when every release reads `loop_scope=`, and drops it when the mark
    also has an equal `loop_scope=` (two different ones are an error no rename can settle)."""
    keyword = next(k for k in mark.node.keywords if k.arg == "scope")  # type: ignore[attr-defined]
    scope, loop_scope = mark.literal("scope"), mark.literal("loop_scope")
    if "loop_scope" in mark.keywords:
        same = scope is not None and loop_scope is not None and scope.value == loop_scope.value
        fix = "drop" if same else ""
        message = ("`scope=` repeats `loop_scope=` on the asyncio mark; `scope=` is deprecated since pytest-asyncio "
                   "0.24" if same else "the asyncio mark has both `scope=` and `loop_scope=`: pytest-asyncio 0.24+ "
                   "refuses it; keep one `loop_scope=`")
    else:
        fix = "rename" if versions.key_accepted(Feature.LOOP_SCOPE, Feature.LOOP_SCOPE) else ""
        message = "`scope=` on the asyncio mark is deprecated since pytest-asyncio 0.24; use `loop_scope=`"
        if not fix:
            message += f" once every release reads it ({versions_phrase(versions)} includes 0.23, which ignores it)"
    return python_finding(MARK_SCOPE, module, keyword, message, scope=scope.value if scope else "", fix=fix)


def _invalid_literal(module: Module, literal: object, what: str) -> Finding:
    value = literal.value  # type: ignore[attr-defined]
    return python_finding(INVALID_SCOPE, module, literal.node,  # type: ignore[attr-defined]
                          f"{what} is {value!r}, not a loop scope; expected one of {', '.join(SCOPES)}",
                          value=value)


def check_project(project: Project) -> Iterator[Finding]:
    yield from check_configs(project, display_path)
    yield from check_wider_fixtures(project)
    yield from check_wider_cache(project)
    yield from check_event_loop(project)
    yield from check_async_pytest_fixtures(project)
    yield from check_marks(project)
    for module in project.checked_modules():
        if uses_pytest_asyncio(project, module):
            yield from check_module_versions(project, module)


LOOP_SCOPE = ProjectRuleGroup(RULES, check_project)
