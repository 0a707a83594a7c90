"""The two incidents in /work/shared/incidents/, rebuilt as written, run against a real PostgreSQL.

000: a module-level `create_async_engine` (and a `sessionmaker` bound to it) used by two tests
through asyncpg. 002: a session-scoped async engine fixture with only
`asyncio_default_fixture_loop_scope = session` in pytest.ini, once as is and once with the hand-made
session `event_loop` fixture the incident's conftest had before its fix. Each must fail under real
pytest-asyncio today with the loop error the incident quotes, `loopbound check` must report the
cause, and `loopbound check --fix --unsafe-fixes` must turn the suite green, with a second `--fix`
changing nothing. The hand-made `event_loop` fixture (LB303) is removed with the `asyncio` import only it
used, and its session scope is already what the fixed pytest.ini says: nothing is left unfixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime_harness import copy_project, fix_green_and_idempotent, reported, run_pytest

pytestmark = pytest.mark.runtime

ServerEnv = Callable[[Iterable[str]], dict[str, str]]
LOOP_ERROR = "attached to a different loop"  # asyncpg's protocol, as both incident reports quote it


@dataclass(frozen=True)
class Incident:
    project: str
    failing: tuple[str, ...]  # node ids that fail on a different loop
    summary: str  # pytest's line for the whole suite, before the fix
    passing_after_fix: str
    findings: frozenset[tuple[str, str]]  # (file, code) that loopbound must report, and nothing else
    unfixed: tuple[tuple[str, str], ...] = ()  # what `--fix --unsafe-fixes` leaves: findings with no fix

    def __str__(self) -> str:
        return self.project


# Incident 002's engine fixture: its loop is wider than its tests' (LB302), and, a real second bug in the
# same lines, `dispose()` is skipped when creating the tables raises (LB203).
_ENGINE_FIXTURE = frozenset({("tests/conftest.py", "LB302"), ("tests/conftest.py", "LB203")})

INCIDENTS = (
    Incident("incident_module_engine", ("tests/scripts/test_app_db.py::test_models",), "1 failed, 1 passed",
             "2 passed", frozenset({("tests/scripts/test_app_db.py", "LB101")})),
    Incident("incident_session_fixture",
             ("tests/test_users.py::test_create_user", "tests/test_users.py::test_users_are_isolated"),
             "2 failed", "2 passed", frozenset({*_ENGINE_FIXTURE, ("pytest.ini", "LB301")})),
    Incident("incident_custom_event_loop",
             ("tests/test_users.py::test_create_user", "tests/test_users.py::test_users_are_isolated"),
             "2 failed", "2 passed",
             frozenset({*_ENGINE_FIXTURE, ("pytest.ini", "LB301"), ("tests/conftest.py", "LB303")})),
)


@pytest.mark.parametrize("incident", INCIDENTS, ids=str)
def test_incident_fails_under_pytest_asyncio(incident: Incident, tmp_path: Path, server_env: ServerEnv) -> None:
    project = copy_project(incident.project, tmp_path)

    run = run_pytest(project, server_env(["DATABASE_URL"]))

    assert run.exit_code == 1, run.output
    assert incident.summary in run.output, run.output
    for node_id in incident.failing:
        assert f"FAILED {node_id} - RuntimeError" in run.output, run.output
    assert LOOP_ERROR in run.output, run.output


@pytest.mark.parametrize("incident", INCIDENTS, ids=str)
def test_loopbound_reports_the_incident(incident: Incident, tmp_path: Path) -> None:
    project = copy_project(incident.project, tmp_path)
    assert set(reported(project)) == incident.findings


@pytest.mark.parametrize("incident", INCIDENTS, ids=str)
def test_fix_turns_the_incident_green(incident: Incident, tmp_path: Path, server_env: ServerEnv) -> None:
    project = copy_project(incident.project, tmp_path)
    fix_green_and_idempotent(project, server_env(["DATABASE_URL"]), incident.passing_after_fix, incident.unfixed)
