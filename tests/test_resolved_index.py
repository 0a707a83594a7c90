"""The resolved-index cache: an edit that keeps every summary re-resolves nothing, any other edit does, and
the findings are those of a run without any cache."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from loopbound import parallel
from loopbound.config import Settings
from loopbound.discovery import CheckedFile, discover
from loopbound.findings import Finding
from loopbound.index import check
from loopbound.parallel import check_tree
from loopbound.rules import ALL_RULES

FIXTURES = Path(__file__).parent.parent / "fixtures" / "projects"
EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)
OLD = 1_000_000_000


Run = Callable[..., list[Finding]]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / request.param, root)
    for path in root.rglob("*"):
        os.utime(path, (OLD, OLD))
    monkeypatch.chdir(root)
    real_now = parallel.now  # a change time cannot be set back: the runs happen a minute later instead
    monkeypatch.setattr(parallel, "now", lambda: real_now() + 60)
    return root


@pytest.fixture
def resolutions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """One entry per time the index is resolved (rather than answered from a cache)."""
    resolved: list[str] = []
    real = check.build_index

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        resolved.append("resolved")
        return real(*args, **kwargs)

    monkeypatch.setattr(check, "build_index", counting)
    return resolved


def run(root: Path, cache: bool = True) -> list[Finding]:
    settings = Settings(project_root=root)
    found = discover([Path(".")], settings)
    return check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=1,
                      cache_dir=root.parent / "cache" if cache else None).findings


def rewrite(path: Path, text: str) -> None:
    """New bytes with the old modification time (as `cp -p`, a formatter or a checkout can leave them)."""
    path.write_text(text)
    os.utime(path, (OLD, OLD))


def severities(findings: list[Finding]) -> list[tuple[str, int, str, str]]:
    return [(finding.path, finding.start.row, finding.code, finding.severity.value) for finding in findings]


@pytest.mark.parametrize("project", ["index_function_loop_suite"], indirect=True)
def test_an_unchanged_summary_is_answered_from_the_recorded_resolution(project: Path, resolutions: list[str]) -> None:
    first = run(project)
    assert severities(first) == [("app/db.py", 3, "LB101", "error")]
    queries = project / "app" / "queries.py"
    rewrite(queries, queries.read_text() + "\n# a comment changes the bytes, not the summary\n")
    resolutions.clear()
    assert run(project) == first == run(project, cache=False)
    assert resolutions == ["resolved"]  # the run without a cache only


@pytest.mark.parametrize("project", ["index_function_loop_suite"], indirect=True)
def test_a_changed_summary_in_another_file_flips_the_verdict(project: Path, resolutions: list[str]) -> None:
    assert severities(run(project)) == [("app/db.py", 3, "LB101", "error")]
    queries = project / "app" / "queries.py"
    before = queries.read_bytes()
    rewrite(queries, before.decode().replace("from app.db import", "from app.dc import"))  # same size and mtime
    assert queries.stat().st_size == len(before)
    resolutions.clear()
    after = run(project)
    assert severities(after) == [("app/db.py", 3, "LB101", "latent")]
    assert after == run(project, cache=False)
    assert len(resolutions) == 2


@pytest.mark.parametrize("project", ["index_function_loop_suite"], indirect=True)
def test_a_module_whose_findings_changed_is_graded_with_its_recorded_verdict(project: Path,
                                                                             resolutions: list[str]) -> None:
    run(project)
    db = project / "app" / "db.py"
    rewrite(db, db.read_text().replace("# error: LB101", "# noqa: LB101"))
    resolutions.clear()
    assert run(project) == [] == run(project, cache=False)
    rewrite(db, db.read_text().replace("# noqa: LB101", "# back again"))
    resolutions.clear()
    again = run(project)
    assert severities(again) == [("app/db.py", 3, "LB101", "error")]
    assert again == run(project, cache=False)
    assert resolutions == ["resolved"]  # the run without a cache only


@pytest.mark.parametrize("project", sorted(path.name for path in FIXTURES.glob("index_*")), indirect=True)
def test_every_file_edited_in_turn_gives_the_findings_of_a_run_without_cache(project: Path) -> None:
    run(project)
    for path in sorted(project.rglob("*.py")):
        original = path.read_text()
        for text in (original + "\n# edited\n", original.replace("\n", "\n\n", 1), original):
            rewrite(path, text)
            assert run(project) == run(project, cache=False), (path, text)


def _named_file_runs(root: Path) -> list[tuple[Path, list[Finding], list[Finding], bool]]:
    """Each Python file checked alone, with the rest of the project given as a list and as a function:
    (file, findings with the list, findings with the function, whether the function was needed)."""
    settings = Settings(project_root=root)
    every = discover([Path(".")], settings).python_files
    runs = []
    for file in every:
        path = file.path
        found = discover([path], settings)
        eager = check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=1,
                           project_files=every).findings
        asked: list[bool] = []

        def rest() -> list[CheckedFile]:
            asked.append(True)
            return every

        lazy = check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=1,
                          project_files=rest).findings
        runs.append((path, eager, lazy, bool(asked)))
    return runs


@pytest.mark.parametrize("project", sorted(path.name for path in FIXTURES.iterdir() if path.is_dir()), indirect=True)
def test_a_named_file_gives_the_same_findings_whether_or_not_the_project_is_read(project: Path) -> None:
    for path, eager, lazy, _ in _named_file_runs(project):
        assert lazy == eager, path


@pytest.mark.parametrize("project", ["index_function_loop_suite"], indirect=True)
def test_a_test_module_with_a_loop_per_test_is_answered_without_reading_the_project(project: Path) -> None:
    test_module = project / "tests" / "test_queries.py"
    rewrite(test_module, test_module.read_text() + "\n\nasync def test_leak() -> None:\n"
                                                   "    from sqlalchemy.ext.asyncio import create_async_engine\n\n"
                                                   "    engine = create_async_engine('sqlite+aiosqlite://')\n"
                                                   "    await engine.connect()\n")
    runs = {path.as_posix(): (eager, lazy, asked) for path, eager, lazy, asked in _named_file_runs(project)}
    eager, lazy, asked = runs["tests/test_queries.py"]
    assert [(finding.code, finding.severity.value) for finding in eager] == [("LB201", "error")]
    assert lazy == eager and not asked
    assert runs["app/db.py"][2] and runs["app/db.py"][0] == [f for f in run(project, cache=False)
                                                          if f.path == "app/db.py"]
