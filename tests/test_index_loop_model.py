"""Reachability and the LB3 pass read loop scopes from one model (issue 12): the loop table.

A session-scoped `event_loop` fixture makes every test share one loop only under the pytest-asyncio releases
that honour it (before 1.0). Which releases a project runs on is written in its declaration files (a pin in
requirements, a lock file), never in a checked Python file: the caches of graded findings must see an edit
of one, through the real command line, with every cache warm.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from cli_runner import run_loopbound

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SESSION_EVENT_LOOP = FIXTURES / "projects" / "index_session_event_loop_pinned_0_21"

# Each way a project pins pytest-asyncio, with the text for a release: (file, text of version).
DECLARATIONS = {
    "requirements.txt": ("requirements.txt", "pytest-asyncio=={}\n"),
    "requirements folder": ("requirements/test.txt", "pytest\npytest-asyncio=={}\n"),
    "pyproject.toml": ("pyproject.toml",
                       '[project]\nname = "demo"\nversion = "0"\ndependencies = ["pytest-asyncio=={}"]\n'),
    "uv.lock": ("uv.lock", 'version = 1\n\n[[package]]\nname = "pytest-asyncio"\nversion = "{}"\n'),
    "poetry.lock": ("poetry.lock", '[[package]]\nname = "pytest-asyncio"\nversion = "{}"\n'),
}


def _settle(*paths: Path, step: int = 0) -> None:
    """Files and folders dated well before the run, a different date at each step: the caches record only
    what an edit in the same clock tick could not have left with its stamp."""
    moment = time.time() - 600 + step
    for path in paths:
        os.utime(path, (moment, moment))


def _engine_finding(root: Path) -> tuple[str, str]:
    run = run_loopbound("check", "--output-format", "json", "--exit-zero", ".", cwd=root)
    assert run.stderr == "", run.stderr
    engine = [finding for finding in json.loads(run.stdout) if finding["code"] == "LB101"]
    assert len(engine) == 1, run.stdout
    return engine[0]["severity"], engine[0]["message"]


@pytest.mark.parametrize("declaration", sorted(DECLARATIONS))
def test_changing_the_pin_flips_the_verdict_through_warm_caches(declaration: str, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(SESSION_EVENT_LOOP, root)
    (root / "requirements.txt").unlink()
    (root / ".git").mkdir()  # the declaration search stops at the repository root
    name, text = DECLARATIONS[declaration]
    pinned = root / name
    pinned.parent.mkdir(exist_ok=True)
    pinned.write_text(text.format("0.0.0"), encoding="utf-8")
    _settle(*root.rglob("*"), root)
    for step, (release, severity) in enumerate([("0.21.1", "latent"), ("1.2.0", "error"), ("0.21.1", "latent")],
                                               start=1):
        pinned.write_text(text.format(release), encoding="utf-8")  # only the pin moves: no folder, no module
        _settle(pinned, step=step)
        for run in ("cold or after the edit", "warm"):
            found, message = _engine_finding(root)
            assert found == severity, f"pytest-asyncio {release}, {run}: {message}"
        if severity == "error":
            assert "tests/test_db.py runs each test on its own event loop" in message
            assert "the custom `event_loop` fixture of tests/conftest.py is ignored by pytest-asyncio 1.2.0" in message
        else:
            assert "tests/test_db.py runs every test on one session-wide event loop" in message


def test_a_named_engine_module_is_graded_by_the_suites_the_run_does_not_check(tmp_path: Path) -> None:
    """pre-commit passes the changed files only: the test suite's loop table is read from the rest."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "projects" / "index_session_event_loop_fixture", root)
    (root / ".git").mkdir()
    for release, severity in [("1.2.0", "error"), ("0.21.1", "latent")]:
        (root / "requirements.txt").write_text(f"pytest-asyncio=={release}\n", encoding="utf-8")
        run = run_loopbound("check", "--output-format", "json", "--exit-zero", "app/db.py",
                            cwd=root)
        engine = [finding for finding in json.loads(run.stdout) if finding["code"] == "LB101"]
        assert [finding["severity"] for finding in engine] == [severity], run.stdout


@pytest.mark.parametrize(("tests_folder", "multi_loop"), [("tests/api", True), ("tests_more", False)])
def test_a_conftest_is_an_entry_for_the_many_loop_tests_below_it_only(tmp_path: Path, tests_folder: str,
                                                                       multi_loop: bool) -> None:
    """A conftest.py with no async fixture has no row in the loop table: it runs many loops when a test module
    below it does. A sibling folder whose name merely starts with the conftest's folder name is not below it."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\nasyncio_mode = "auto"\n', encoding="utf-8")
    (root / "tests").mkdir()
    (root / "tests" / "conftest.py").write_text("import httpx\n\nclient = httpx.AsyncClient()\n", encoding="utf-8")
    (root / tests_folder).mkdir(parents=True, exist_ok=True)
    (root / tests_folder / "test_calls.py").write_text(
        "async def test_one() -> None:\n    assert True\n\n\nasync def test_two() -> None:\n    assert True\n",
        encoding="utf-8")
    run = run_loopbound("check", "--output-format", "json", "--exit-zero", ".", cwd=root)
    made = [finding for finding in json.loads(run.stdout) if finding["filename"].endswith("conftest.py")
            and finding["code"] == "LB101"]
    assert len(made) == 1, run.stdout
    loaded = "tests/conftest.py is loaded by pytest for tests that each run on their own event loop"
    assert (made[0]["severity"], loaded in made[0]["message"]) == (("error", True) if multi_loop else ("latent", False))
def test_a_new_test_then_a_lock_edit_through_the_real_command_line(tmp_path: Path) -> None:
    """After a new test, the LB3 pass reruns in a new process with the lock file's answer kept in the cache
    folder by its stamp (cache.LockStore); the lock file edited after that is read again: each run prints
    what a run without any cache prints."""
    root = tmp_path / "project"
    shutil.copytree(SESSION_EVENT_LOOP, root)
    (root / "requirements.txt").unlink()
    (root / ".git").mkdir()
    name, text = DECLARATIONS["uv.lock"]
    lock = root / name
    lock.write_text(text.format("0.21.1"), encoding="utf-8")
    time.sleep(2.1)  # settled: a lock file changed in the last two seconds is never kept
    command = ("check", "--output-format", "json", "--exit-zero", ".")

    def compared() -> str:
        run = run_loopbound(*command, cwd=root)
        assert run.stderr == "" and run.stdout == run_loopbound(*command, "--no-cache", cwd=root).stdout
        return run.stdout

    first = compared()
    assert list((root / ".loopbound_cache").glob("locks-*.pickle"))
    test_module = root / "tests" / "test_db.py"
    test_module.write_text(test_module.read_text(encoding="utf-8")
                           + "\n\nasync def test_again() -> None:\n    assert engine\n", encoding="utf-8")
    assert compared() == first  # the new test uses the same loop: the report stands
    lock.write_text(text.format("1.2.0"), encoding="utf-8")
    assert _engine_finding(root)[0] == "error"
    assert compared() != first
