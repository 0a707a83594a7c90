"""The projects under fixtures/projects/index_* are checked whole, the way `loopbound check DIR` checks them.

Expectations are the `# error: LB101` / `# latent: LB101` comments of their .py files (tests/annotations.py):
the severity is part of what is expected, since the whole-project pass decides it. Projects whose name
ends in `_clean` must expect nothing.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from annotations import expected_with_severity
from cli_runner import run_loopbound

from loopbound.config import Settings
from loopbound.discovery import discover
from loopbound.parallel import check_tree
from loopbound.rules import ALL_RULES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROJECTS = sorted(path for path in (FIXTURES / "projects").iterdir() if path.name.startswith("index_"))
EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)
Expected = Counter[tuple[str, int, str, str]]


def expected(project: Path) -> Expected:
    found: Expected = Counter()
    for path in project.rglob("*.py"):
        for (row, code, severity), count in expected_with_severity(path).items():
            if code[:3] in ("LB1", "LB2"):  # the LB3 expectations are test_loop_scope_projects.py's
                found[(path.relative_to(project).as_posix(), row, code, severity)] += count
    return found


def check(project: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Expected, list[str]]:
    monkeypatch.chdir(project)
    settings = Settings(project_root=project)
    found = discover([Path(".")], settings)
    result = check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=1)
    actual: Expected = Counter((finding.path, finding.start.row, finding.code, finding.severity.value)
                               for finding in result.findings if finding.code[:3] in ("LB1", "LB2"))
    return actual, [f"{finding.path}:{finding.start.row} {finding.message}" for finding in result.findings]


@pytest.mark.parametrize("project", PROJECTS, ids=lambda path: path.name)
def test_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wanted = expected(project)
    if project.name.endswith("_clean"):
        assert not wanted, "a clean project expects no finding"
    actual, messages = check(project, monkeypatch)
    assert sorted(actual.elements()) == sorted(wanted.elements()), (
        f"unexpected: {sorted((actual - wanted).elements())}, missing: {sorted((wanted - actual).elements())}, "
        f"messages: {messages}"
    )


def test_a_path_outside_the_working_directorys_project_is_not_reached_by_its_suites(tmp_path: Path) -> None:
    """Run from inside one repository on a folder elsewhere: the repository's test suites never import that
    folder's modules, even where they import a module of the same name (`app.db`)."""
    here = tmp_path / "here"
    (here / ".git").mkdir(parents=True)
    (here / "pyproject.toml").write_text('[tool.pytest.ini_options]\nasyncio_mode = "auto"\n', encoding="utf-8")
    (here / "tests").mkdir()
    (here / "tests" / "test_app.py").write_text(
        "from app.db import engine\n\n\nasync def test_one() -> None:\n    assert engine\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(FIXTURES / "projects" / "index_asgi_only", elsewhere)
    run = run_loopbound("check", "--no-cache", "--output-format", "json", str(elsewhere), cwd=here)
    findings = json.loads(run.stdout)
    assert [(finding["code"], finding["severity"]) for finding in findings] == [("LB101", "latent")], run.stdout
