"""Runtime proof for resources made through the project's own code, and for a lifespan-managed global.

Each project under fixtures/runtime/index_* runs its own suite under real pytest-asyncio against the real
servers. A wrapper class, a same-module helper and another module's factory, each called at import, hand
the first test's loop to the second test, which fails with the library's own loop error; a function that
gets a fresh client per call and never closes it leaves the connection open (ResourceWarning, made an
error by the suite). loopbound reports each as an error that names the test module running each test on
its own loop. The engine a lifespan makes at startup and disposes of at shutdown passes, and loopbound is
silent about it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime_harness import copy_project, run_loopbound, run_pytest

pytestmark = pytest.mark.runtime

ServerEnv = Callable[[Iterable[str]], dict[str, str]]
# An unclosed connection is only a warning, raised where the collector finds it: the suites make it an error.
STRICT = ("-W", "error::ResourceWarning", "-W", "error::pytest.PytestUnraisableExceptionWarning")


@dataclass(frozen=True)
class Case:
    project: str
    failing: str  # what pytest reports as failed
    error: str  # what the library really raises or warns
    servers: tuple[str, ...]
    finding: tuple[str, str]  # (file, code) loopbound reports
    entry: str  # the test module the message names

    def __str__(self) -> str:
        return self.project


CASES = (
    Case("index_wrapper_class", "FAILED tests/test_services.py::test_second_request", "Event loop is closed",
         ("HTTP_URL",), ("app/services.py", "LB101"), "tests/test_services.py"),
    Case("index_same_module_helper", "FAILED tests/test_db.py::test_second_query", "attached to a different loop",
         ("DATABASE_URL",), ("app/db.py", "LB101"), "tests/test_db.py"),
    Case("index_cross_module_factory", "FAILED tests/test_cache.py::test_second_write",
         "attached to a different loop", ("REDIS_URL",), ("app/cache.py", "LB101"), "tests/test_cache.py"),
    Case("index_fresh_client_per_call", "FAILED tests/test_counters.py::test_bump", "unclosed Connection",
         ("REDIS_URL",), ("app/counters.py", "LB201"), "tests/test_counters.py"),
)


def findings(project: Path) -> list[dict[str, object]]:
    run = run_loopbound(project, "check", "--output-format", "json", ".")
    assert run.exit_code in (0, 1), run.output
    loaded: list[dict[str, object]] = json.loads(run.stdout)
    assert (run.exit_code == 1) == any(finding["severity"] == "error" for finding in loaded), run.output
    return loaded


@pytest.mark.parametrize("case", CASES, ids=str)
def test_resource_made_through_project_code_fails_under_pytest_asyncio(case: Case, tmp_path: Path,
                                                                       server_env: ServerEnv) -> None:
    project = copy_project(case.project, tmp_path)
    run = run_pytest(project, server_env(case.servers), *STRICT)
    assert run.exit_code == 1, run.output
    assert case.failing in run.output, run.output
    assert case.error in run.output, run.output


@pytest.mark.parametrize("case", CASES, ids=str)
def test_loopbound_reports_it_as_an_error_naming_the_entry_point(case: Case, tmp_path: Path) -> None:
    project = copy_project(case.project, tmp_path)
    [finding] = findings(project)
    assert (finding["filename"], finding["code"], finding["severity"]) == (*case.finding, "error")
    assert f"{case.entry} runs each test on its own event loop" in str(finding["message"])


def test_lifespan_managed_global_passes_and_is_silent(tmp_path: Path, server_env: ServerEnv) -> None:
    project = copy_project("index_lifespan_global", tmp_path)
    run = run_pytest(project, server_env(("DATABASE_URL",)), *STRICT)
    assert run.exit_code == 0, run.output
    assert "2 passed" in run.output, run.output
    assert findings(project) == []


def test_session_event_loop_fixture_ignored_since_1_0_fails_and_is_an_error(tmp_path: Path,
                                                                            server_env: ServerEnv) -> None:
    """A conftest.py's session `event_loop` fixture shared one loop under 0.21; 1.x ignores it, so the engine made
    at import meets a second loop in the second test. The loop table tells reachability so: an error naming the
    test module and the release that ignores the fixture, beside LB303 on the fixture itself."""
    project = copy_project("index_session_event_loop_1x", tmp_path)
    run = run_pytest(project, server_env(("DATABASE_URL",)), *STRICT)
    assert run.exit_code == 1, run.output
    assert "FAILED tests/test_db.py::test_second_query" in run.output, run.output
    assert "attached to a different loop" in run.output, run.output
    found = {(finding["filename"], finding["code"]): finding for finding in findings(project)}
    assert set(found) == {("app/db.py", "LB101"), ("tests/conftest.py", "LB303")}, found
    engine = found[("app/db.py", "LB101")]
    assert engine["severity"] == "error", engine
    assert "tests/test_db.py runs each test on its own event loop" in str(engine["message"]), engine
    assert "ignored by pytest-asyncio 1.5.0" in str(engine["message"]), engine
