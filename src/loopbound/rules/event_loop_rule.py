"""LB303: a custom `event_loop` fixture, requests for it, and `event_loop_policy` overrides, by release.

Overriding `event_loop` was the documented way to share a loop up to 0.21, deprecated in 0.23 and
ignored from 1.0; the finding and its fix follow the releases the project runs on.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import replace

from loopbound.asyncio_versions import AsyncioVersions, Feature
from loopbound.discovery import display_path
from loopbound.findings import Applicability, Finding, Severity
from loopbound.module_facts import Fixture, Module
from loopbound.project import Project
from loopbound.rules.base import Rule
from loopbound.rules.lb3_findings import definition_span, python_finding
from loopbound.rules.loop_model import (
    loop_keys_in_addopts,
    uses_pytest_asyncio,
    versions_phrase,
)

CHANGELOG = "pytest-asyncio changelog: https://pytest-asyncio.readthedocs.io/en/stable/reference/changelog.html"

EVENT_LOOP_FIXTURE = Rule(
    code="LB303",
    name="custom-event-loop-fixture",
    summary="A custom `event_loop` fixture, a request for it, or an `event_loop_policy` override.",
    what_it_does=(
        "Reports a fixture named `event_loop`, a fixture or test that requests `event_loop`, and a fixture that "
        "overrides `event_loop_policy`. A plain function named `event_loop` is not a fixture and is not reported. "
        "Only in projects that use pytest-asyncio, and by the releases they run on: nothing before 0.23 (the "
        "fixture is the documented way there), the fixture latent while every release still honours it (before "
        "1.0), requests only where 1.0 or later is possible."
    ),
    why_bad=(
        "Overriding `event_loop` was deprecated in pytest-asyncio 0.23 and the fixture was removed in 1.0.0: a "
        "custom `event_loop` fixture that set a session loop under 0.21 is now silently a plain fixture nobody "
        "uses, so the tests fall back to function loops; requesting `event_loop` fails with `fixture 'event_loop' "
        "not found`. Overriding `event_loop_policy` is deprecated since 1.4.0 in favour of the "
        "`pytest_asyncio_loop_factories` hook."
    ),
    example='@pytest.fixture(scope="session")\ndef event_loop():\n    loop = asyncio.new_event_loop()\n'
            "    yield loop\n    loop.close()\n",
    use_instead='[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "session"\n'
                'asyncio_default_test_loop_scope = "session"\n',
    fix_safety=(
        "The fix removes the `event_loop` fixture (with its decorators, the comment above it and the imports only it "
        "used) and writes its scope into `asyncio_default_fixture_loop_scope` and `asyncio_default_test_loop_scope` "
        "of the pytest config that governs it, changing values already there (comments, key order and quoting "
        "kept); a function-scoped fixture is only removed. Without a pytest config the keys go into a new "
        "`[tool.pytest.ini_options]` table of the nearest pyproject.toml. Those keys govern every test, so a wider "
        "fixture is carried only when every checked test module under that config saw it: one in a class, or one "
        "other test modules did not see, set the loop of some tests only and has no fix, nor has one when `-o` in "
        "`addopts` sets a key or the scope is a callable. A coroutine that requests `event_loop` gets "
        "`event_loop = asyncio.get_running_loop()` instead of the parameter; a plain function has no running loop, "
        "so its request has no fix and the fixture it uses stays. `event_loop_policy` overrides have no fix: move "
        "the policy into a `pytest_asyncio_loop_factories` hook by hand. It is unsafe: every fixture and test "
        "governed by the config moves to the restored loop scope."
    ),
    fix_applicability=Applicability.UNSAFE,
    references=(CHANGELOG + " (0.23.0: deprecated; 1.0.0: removed; 1.4.0: event_loop_policy deprecated)",
                ("pytest-asyncio migration guide: https://pytest-asyncio.readthedocs.io/en/stable/how-to-guides/"
                "migrate_from_0_23.html")),
)


def _sync_requesters(project: Project) -> list[Module]:
    """Modules where a plain function requests `event_loop`: it has no running loop to use instead."""
    found = []
    for module in project.checked_modules():
        functions = [*(fixture.node for fixture in module.all_fixtures), *(test.node for test in module.tests)]
        synchronous = {function.name for function in functions if isinstance(function, ast.FunctionDef)}
        if any(name in synchronous for _, name in module.event_loop_requests):
            found.append(module)
    return found


def _event_loop_message(versions: AsyncioVersions) -> str:
    """What the project's releases do with a custom `event_loop` fixture."""
    if versions.has(Feature.EVENT_LOOP_REMOVED, among=Feature.EVENT_LOOP_REMOVED):
        return ("custom `event_loop` fixture: ignored since pytest-asyncio 1.0, so its loop is never used; set the "
                "loop scope with `loop_scope=` or the asyncio_default_*_loop_scope options instead")
    later = ("and ignored from 1.0" if versions.has(Feature.EVENT_LOOP_REMOVED, every=False)
             else "still used by these releases, ignored from 1.0")
    return (f"custom `event_loop` fixture: deprecated since pytest-asyncio 0.23 ({versions_phrase(versions)}) "
            f"{later}; set the loop scope with `loop_scope=` or the asyncio_default_*_loop_scope options instead")


def _event_loop_fix_possible(versions: AsyncioVersions, scope: str | None) -> bool:
    """The LB303 fix writes the fixture's scope into both loop-scope keys: every release must read them.
    Under 0.21 they are unknown options, and the session-scoped async fixtures the removed `event_loop`
    served then request the default function-scoped one: ScopeMismatch on every test."""
    needed = Feature.FIXTURE_DEFAULT_KEY if scope == "function" else Feature.TEST_DEFAULT_KEY
    return versions.key_accepted(needed, needed)


def check_event_loop(project: Project) -> Iterator[Finding]:
    sync_requesters = _sync_requesters(project)
    for module in project.checked_modules():
        if not uses_pytest_asyncio(project, module):
            continue
        versions = project.asyncio_versions(module)
        for fixture in module.all_fixtures:
            if fixture.name == "event_loop" and versions.has(Feature.EVENT_LOOP_DEPRECATED, every=False):
                blocked = any(other is module or module in project.conftests(other) for other in sync_requesters)
                finding = python_finding(
                    EVENT_LOOP_FIXTURE, module, definition_span(module, fixture.node),
                    _event_loop_message(versions), kind="fixture", fixture=fixture.name, scope=fixture.scope or "",
                    requested_by_sync="yes" if blocked else "",
                    covers_tree="yes" if _covers_tree(project, module, fixture) else "",
                    keys_unknown="" if _event_loop_fix_possible(versions, fixture.scope) else "yes",
                    **_loop_config_data(project, module))
                # deprecated but honoured by every release the project runs on: nothing breaks until 1.0
                breaks = versions.has(Feature.EVENT_LOOP_REMOVED, every=False)
                yield finding if breaks else replace(finding, severity=Severity.LATENT)
            elif fixture.name == "event_loop_policy" and versions.has(Feature.POLICY_DEPRECATED, every=False):
                yield python_finding(
                    EVENT_LOOP_FIXTURE, module, definition_span(module, fixture.node),
                    "overriding the `event_loop_policy` fixture is deprecated since pytest-asyncio 1.4; use the "
                    "`pytest_asyncio_loop_factories` hook", kind="policy", fixture=fixture.name)
        if not versions.has(Feature.EVENT_LOOP_REMOVED, every=False):
            continue  # requesting `event_loop` works on every release the project runs on
        for argument, function in module.event_loop_requests:
            yield python_finding(
                EVENT_LOOP_FIXTURE, module, argument,
                f"`{function}` requests the `event_loop` fixture, removed in pytest-asyncio 1.0; use "
                "`asyncio.get_running_loop()` inside the coroutine", kind="request", function=function)


def _covers_tree(project: Project, module: Module, fixture: Fixture) -> bool:
    """A module-level `event_loop` that every checked test module under the same config saw, as the config
    keys the LB303 fix writes its scope into will be seen."""
    if fixture.class_name is not None:
        return False
    config = project.config_for(module.path)
    governed = [other for other in project.checked_modules()
                if other.tests and project.config_for(other.path) is config]
    return all(other is module or module in project.conftests(other) for other in governed)


def _loop_config_data(project: Project, module: Module) -> dict[str, str]:
    """Where the LB303 fix writes the removed `event_loop` fixture's scope: the governing config."""
    config = project.config_for(module.path)
    if config is None:
        return {"config_display": ""}
    return {"config_display": display_path(config.path), "section_line": str(config.section_line),
            "overridden": "yes" if loop_keys_in_addopts(config) else ""}
