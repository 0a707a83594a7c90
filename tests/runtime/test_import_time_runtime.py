"""Runtime proof for LB101 and LB106: a resource made at import time really breaks under pytest-asyncio.

Each case is a pair of tiny projects under fixtures/runtime/. In the first, one module-level resource
is shared by two async tests; pytest-asyncio gives each test its own event loop, so the first test
passes and the second fails with the loop error its library really raises (observed, not assumed),
while the same test passes when run alone. `loopbound check` reports exactly that global. In the
second project the resource is a fixture made on each test's loop: both tests pass, and loopbound is
silent. Where the rule has a fix, `loopbound check --fix --unsafe-fixes` turns the first project into
one that passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime_harness import copy_project, fix_green_and_idempotent, reported, run_pytest

pytestmark = pytest.mark.runtime

ServerEnv = Callable[[Iterable[str]], dict[str, str]]


@dataclass(frozen=True)
class Case:
    library: str
    module_level: str  # the project with the module-level resource
    fixture_based: str  # the same tests with the resource in a fixture
    test_file: str
    second_test: str  # the test that runs on the second loop and fails
    code: str
    loop_error: str  # what the library really raises in the second test
    servers: tuple[str, ...]
    fixable: bool = True  # LB106 only reports: a shared lock's fix depends on what it guards

    def __str__(self) -> str:
        return self.library


CASES = (
    Case("httpx", "httpx_module_client", "httpx_fixture_client", "tests/test_api.py", "test_second_request",
         "LB101", "RuntimeError: Event loop is closed", ("HTTP_URL",)),
    Case("sqlalchemy-asyncpg", "sqlalchemy_module_engine", "sqlalchemy_fixture_engine", "tests/test_db.py",
         "test_second_query", "LB101", "attached to a different loop", ("DATABASE_URL",)),
    Case("redis-asyncio", "redis_module_client", "redis_fixture_client", "tests/test_cache.py",
         "test_second_write", "LB101", "attached to a different loop", ("REDIS_URL",)),
    Case("asyncio-lock", "asyncio_module_lock", "asyncio_fixture_lock", "tests/test_lock.py",
         "test_second_contention", "LB106", "is bound to a different event loop", (), fixable=False),
)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_module_level_resource_fails_on_the_second_loop(case: Case, tmp_path: Path, server_env: ServerEnv) -> None:
    project = copy_project(case.module_level, tmp_path)
    env = server_env(case.servers)

    together = run_pytest(project, env)
    assert together.exit_code == 1, together.output
    assert "1 failed, 1 passed" in together.output, together.output
    assert f"FAILED {case.test_file}::{case.second_test}" in together.output, together.output
    assert case.loop_error in together.output, together.output

    alone = run_pytest(project, env, f"{case.test_file}::{case.second_test}")
    assert alone.exit_code == 0, f"the failing test must pass on its own loop:\n{alone.output}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_loopbound_reports_the_module_level_resource(case: Case, tmp_path: Path) -> None:
    project = copy_project(case.module_level, tmp_path)
    assert reported(project) == [(case.test_file, case.code)]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fixture_based_resource_passes_and_is_clean(case: Case, tmp_path: Path, server_env: ServerEnv) -> None:
    project = copy_project(case.fixture_based, tmp_path)

    run = run_pytest(project, server_env(case.servers))
    assert run.exit_code == 0, run.output
    assert "2 passed" in run.output, run.output
    assert reported(project) == []


@pytest.mark.parametrize("case", [case for case in CASES if case.fixable], ids=str)
def test_fix_turns_the_module_level_resource_green(case: Case, tmp_path: Path, server_env: ServerEnv) -> None:
    project = copy_project(case.module_level, tmp_path)
    fix_green_and_idempotent(project, server_env(case.servers), "2 passed")


def test_module_level_asgi_client_serves_every_loop(tmp_path: Path, server_env: ServerEnv) -> None:
    """The registry's `loop_free_arguments`, proven: an `httpx.AsyncClient` over `ASGITransport` holds no
    pool (the transport makes each request's loop objects in the caller's loop), so one client made at
    import serves a new loop per test, with warnings as errors; LB101 is silent on it."""
    project = copy_project("httpx_module_asgi_client", tmp_path)
    run = run_pytest(project, server_env(()), "-W", "error")
    assert run.exit_code == 0, run.output
    assert "3 passed" in run.output, run.output
    assert reported(project) == []
