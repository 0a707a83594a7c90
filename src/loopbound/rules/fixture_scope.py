"""LB308: an async fixture cached for longer than the event loop it runs on lives.

Since 0.24 pytest-asyncio runs an async fixture on the loop of its `loop_scope=`, else of
`asyncio_default_fixture_loop_scope`, else of its own scope. A session-scoped fixture on a function
loop asks a session-scoped request for the function-scoped loop runner: pytest raises ScopeMismatch at
setup, and every later test of the module errors. The value the deprecation warning steers users to,
`asyncio_default_fixture_loop_scope = function`, does exactly this to every wider async fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from loopbound.asyncio_versions import Feature
from loopbound.findings import Applicability, Finding
from loopbound.module_facts import Fixture, Module, Test, wider
from loopbound.project import Project
from loopbound.rules.base import Rule
from loopbound.rules.lb3_findings import definition_span, python_finding
from loopbound.rules.loop_model import (
    fixture_loop_scope,
    handled_by_pytest_asyncio,
    is_asyncio_test,
    runs_on_narrower_loop,
    test_loop_scope,
)

CHANGELOG = "pytest-asyncio changelog: https://pytest-asyncio.readthedocs.io/en/stable/reference/changelog.html"

WIDER_CACHE = Rule(
    code="LB308",
    name="fixture-scope-wider-than-loop-scope",
    summary="An async fixture whose caching `scope` is wider than the event loop it runs on.",
    what_it_does=(
        "Computes each async fixture's loop scope (`loop_scope=`, else `asyncio_default_fixture_loop_scope`, "
        "else its own `scope`) and reports the fixture when its `scope` is wider, on projects that can run "
        "pytest-asyncio 0.24 or later (before, a fixture's loop always followed its scope)."
    ),
    why_bad=(
        "The fixture would outlive its loop: pytest-asyncio asks for the narrower loop's runner from the wider "
        "fixture's request and pytest stops the setup with `ScopeMismatch: You tried to access the function "
        "scoped fixture _function_scoped_runner with a session scoped request object`; the first test using it "
        "errors, and so does every later test of the module. `asyncio_default_fixture_loop_scope = function`, "
        "the value pytest-asyncio's deprecation warning suggests, does this to every wider async fixture."
    ),
    example=('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n\n'
             '@pytest_asyncio.fixture(scope="session")\nasync def server():\n    yield await start_server()\n'),
    use_instead=('@pytest_asyncio.fixture(scope="session", loop_scope="session")\nasync def server():\n'
                 '    yield await start_server()\n\n'
                 '@pytest.mark.asyncio(loop_scope="session")\nasync def test_ping(server): ...\n'),
    fix_safety=(
        "The fix sets `loop_scope=` on the fixture to its own scope, and moves every asyncio test that uses it on "
        "a narrower loop onto that loop, as LB302's fix does (`loop_scope=` on the test's own asyncio mark). "
        "No fix is offered for an async `@pytest.fixture` (auto mode: `pytest.fixture` takes no `loop_scope=`; "
        "switch it to `@pytest_asyncio.fixture` first), when such a test also uses an async fixture on a narrower "
        "loop or a `pytest_collection_modifyitems` hook prepends its own mark (the mismatch would only move), or "
        "when a release the project runs on predates `loop_scope=` (0.24). It is unsafe: those tests then share "
        "the fixture's loop with whatever else runs on it."
    ),
    fix_applicability=Applicability.UNSAFE,
    references=(CHANGELOG + " (0.24.0, 1.0.0)",
                ("pytest-asyncio how-to, run all tests in the session loop: "
                 "https://pytest-asyncio.readthedocs.io/en/stable/how-to-guides/run_session_tests_in_same_loop.html")),
)


@dataclass(frozen=True)
class _Narrower:
    """A test that uses the fixture on a loop narrower than the fixture's scope."""

    test: Test
    blocked: bool  # moving it would only move a mismatch


def _candidates(project: Project) -> Iterator[tuple[Module, Fixture, str]]:
    """Async fixtures pytest-asyncio runs, each once, with the loop scope narrower than their scope."""
    seen: set[int] = set()
    for checked in project.checked_modules():
        for module in (checked, *project.conftests(checked)):
            if id(module) in seen:
                continue
            seen.add(id(module))
            if not project.asyncio_versions(module).has(Feature.FIXTURE_DEFAULT_KEY, every=False):
                continue
            defaults = project.defaults_for(module)
            for fixture in module.all_fixtures:
                loop = fixture_loop_scope(fixture, defaults) if handled_by_pytest_asyncio(fixture, defaults) else None
                if loop is not None and fixture.scope is not None and wider(fixture.scope, loop):
                    yield module, fixture, loop


def _narrower_uses(project: Project, fixture: Fixture, scope: str) -> list[_Narrower]:
    uses = []
    for module in project.checked_modules():
        defaults = project.defaults_for(module)
        hook = project.hook_loop_scope(module)
        for test in module.tests:
            if not is_asyncio_test(test, defaults):
                continue
            closure = project.closure(test)
            test_scope = test_loop_scope(test, defaults, hook)
            uses_it = any(other is fixture for other in closure)  # by identity: a fixture is one definition
            if not uses_it or (test_scope is not None and not wider(scope, test_scope)):
                continue
            blocked = test_scope is None or bool(hook and hook[1]) or any(
                other is not fixture and runs_on_narrower_loop(other, scope, project) for other in closure)
            uses.append(_Narrower(test, blocked))
    return uses


def check(project: Project) -> Iterator[Finding]:
    for module, fixture, loop in _candidates(project):
        scope = fixture.scope or ""
        source = "its `loop_scope=`" if fixture.loop_scope is not None else "`asyncio_default_fixture_loop_scope`"
        uses = _narrower_uses(project, fixture, scope)
        fixable = (fixture.decorator == "pytest_asyncio.fixture" and not any(use.blocked for use in uses)
                   and project.asyncio_versions(module).key_accepted(Feature.LOOP_SCOPE, Feature.LOOP_SCOPE))
        targets = sorted({f"{use.test.module.display}\t{use.test.node.lineno}" for use in uses})
        yield python_finding(
            WIDER_CACHE, module, definition_span(module, fixture.node),
            f"async fixture `{fixture.name}` is cached for the {scope} but runs on a {loop}-scoped event loop "
            f"(from {source}): pytest-asyncio raises ScopeMismatch when it is set up, and every later test of the "
            "module errors",
            fixture=fixture.name, fixture_scope=scope, fixture_loop_scope=loop, align="marks" if fixable else "",
            targets="\n".join(targets))
