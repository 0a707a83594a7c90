"""Runtime proof of the LB302 fix (tests moved onto their fixture's loop) and the LB303 fix (a custom
`event_loop` fixture retired, its requests turned into `asyncio.get_running_loop()`): red before, green after.

fixtures/runtime/lb302_session_loop_marks has a session-scoped lock and a function-scoped future on the
session loop, used by tests with a bare mark, an explicit `loop_scope="function"` mark and a class mark;
the fixtures/projects trees the LB3 rules are proven on cover the config case (LB301's edit), a
`-o` in addopts, a package fixture, a module `pytestmark` list, a monorepo and a modifyitems hook.
Each suite fails under real pytest-asyncio, `loopbound check --fix --unsafe-fixes` makes it pass, and a
second `--fix` changes no byte. fixtures/runtime/lb303_event_loop_requests schedules futures on the loop a
custom `event_loop` fixture hands out, which pytest-asyncio 1.x never runs. None needs a server: the
loop-bound objects are asyncio's own. (The LB303 incident, with PostgreSQL, is in test_incidents_runtime.py.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runtime_harness import NOT_SOURCE, copy_project, fix_green_and_idempotent, run_pytest

pytestmark = pytest.mark.runtime

PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "projects"

# fixtures/projects tree (and the directory pytest runs in) -> (pytest's line after the fix, findings left)
LB3_PROJECTS = {
    "session_fixture_no_loop_config": ("1 passed", ()),
    "fixture_scope_only_config": ("1 passed", ()),
    "module_fixture_pytestmark_list": ("1 passed", ()),
    "package_fixture_class_mark": ("1 passed", ()),
    "monorepo/services/worker": ("1 passed", ()),
    "modifyitems_own_mark_wins": ("1 passed", ()),
    # the fixture key comes from `-o` in addopts: LB301 has no key to write, the test's mark wins anyway
    "addopts_override": ("1 passed", (("pytest.ini", "LB301"),)),
    # a plain test requests `event_loop`: it has no running loop to use, so the fixture stays (LB303)
    "custom_event_loop": ("2 passed", (("conftest.py", "LB303"), ("test_ticket.py", "LB303"))),
}


def _copy_tree(project: str, destination: Path) -> Path:
    top = project.split("/")[0]
    shutil.copytree(PROJECTS / top, destination / top, ignore=shutil.ignore_patterns(*NOT_SOURCE, "expected.txt"))
    return destination / project


@pytest.mark.parametrize("project", sorted(LB3_PROJECTS))
def test_lb3_project_goes_green(project: str, tmp_path: Path) -> None:
    directory = _copy_tree(project, tmp_path)
    before = run_pytest(directory)
    assert before.exit_code == 1 and "attached to a different loop" in before.output, before.output

    passed, remaining = LB3_PROJECTS[project]
    fix_green_and_idempotent(directory, {}, passed, remaining)


def test_async_pytest_fixture_in_strict_mode_goes_green(tmp_path: Path) -> None:
    """LB304: pytest-asyncio in strict mode leaves an async `@pytest.fixture` alone and pytest 9 refuses it;
    the safe fix makes it a `@pytest_asyncio.fixture`."""
    directory = _copy_tree("async_pytest_fixture", tmp_path)
    before = run_pytest(directory)
    assert before.exit_code == 1 and "requested an async fixture 'answer', with no plugin" in before.output, \
        before.output

    fix_green_and_idempotent(directory, {}, "1 passed")
    assert "@pytest_asyncio.fixture" in (directory / "test_answer.py").read_text()


def test_session_loop_marks_go_green(tmp_path: Path) -> None:
    project = copy_project("lb302_session_loop_marks", tmp_path)
    before = run_pytest(project)
    assert before.exit_code == 1 and "2 failed, 3 passed" in before.output, before.output
    assert "is bound to a different event loop" in before.output and "attached to a different loop" in before.output

    fix_green_and_idempotent(project, {}, "5 passed")

    fixed = (project / "tests" / "test_gate.py").read_text()
    assert fixed.count('@pytest.mark.asyncio(loop_scope="session")') == 4
    assert "@pytest.mark.asyncio\nasync def test_without_shared_fixtures" in fixed  # it uses no shared fixture


def test_event_loop_requests_go_green(tmp_path: Path) -> None:
    project = copy_project("lb303_event_loop_requests", tmp_path)
    before = run_pytest(project)
    assert before.exit_code == 1 and "2 failed" in before.output, before.output
    assert "attached to a different loop" in before.output, before.output

    fix_green_and_idempotent(project, {}, "2 passed")

    assert "def event_loop" not in (project / "tests" / "conftest.py").read_text()
    assert (project / "tests" / "test_requests.py").read_text().count("asyncio.get_running_loop()") == 2
