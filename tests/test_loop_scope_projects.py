"""Every project under fixtures/projects/ is checked as a whole tree, the way `loopbound check DIR` checks it.

Expectations: `# error: LB302` comments in the .py files (tests/annotations.py), and for config files an
`expected.txt` in the project's root with one `relative/path:row CODE` per line, where CODE `ERROR` means
a finding-free error naming that file and line (a config pytest itself refuses). Projects whose name
ends in `_clean` must expect nothing.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from annotations import expected_findings

from loopbound.config import Settings
from loopbound.discovery import discover
from loopbound.engine import check_project
from loopbound.rules import ALL_RULES
from loopbound.rules.loop_scope import RULES

# Not imported from conftest: tests/runtime/conftest.py may hold the name `conftest` first.
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROJECTS = sorted(path for path in (FIXTURES / "projects").iterdir() if path.is_dir())
EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)


def expected(project: Path) -> Counter[tuple[str, int, str]]:
    found: Counter[tuple[str, int, str]] = Counter()
    for path in project.rglob("*.py"):
        for (row, code), count in expected_findings(path).items():
            if code.startswith("LB3"):  # the LB1/LB2 expectations are test_index_projects.py's
                found[(path.relative_to(project).as_posix(), row, code)] += count
    sidecar = project / "expected.txt"
    if sidecar.exists():
        for line in sidecar.read_text(encoding="utf-8").splitlines():
            if line.strip():
                location, code = line.split()
                path, row = location.rsplit(":", 1)
                found[(path, int(row), code)] += 1
    return found


def check(project: Path, monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, int, str]]:
    monkeypatch.chdir(project)
    settings = Settings(project_root=project)
    found = discover([Path(".")], settings)
    result = check_project([file.path for file in found.python_files], found.config_files, settings, EVERY_CODE)
    actual = Counter((finding.path, finding.start.row, finding.code) for finding in result.findings
                     if finding.code.startswith("LB3"))
    for error in result.errors:
        location = error.split(": ", 1)[0]
        path, row = location.rsplit(":", 1)
        actual[(Path(os.path.relpath(path, project)).as_posix(), int(row), "ERROR")] += 1
    return actual


@pytest.mark.parametrize("project", PROJECTS, ids=lambda path: path.name)
def test_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wanted = expected(project)
    if project.name.endswith("_clean"):
        assert not wanted, "a clean project expects no finding"
    actual = check(project, monkeypatch)
    assert sorted(actual.elements()) == sorted(wanted.elements()), (
        f"unexpected: {sorted((actual - wanted).elements())}, missing: {sorted((wanted - actual).elements())}"
    )


def test_every_lb3_rule_has_a_positive_and_a_clean_project() -> None:
    texts = {project.name: "".join(path.read_text(encoding="utf-8") for path in project.rglob("*")
                                   if path.suffix in (".py", ".txt", ".toml", ".ini", ".cfg"))
             for project in PROJECTS}
    for rule in RULES:
        assert any(rule.code in text and not name.endswith("_clean") for name, text in texts.items()), rule.code
    assert sum(name.endswith("_clean") for name in texts) >= 8


def test_single_test_file_finds_its_config_and_conftest(monkeypatch: pytest.MonkeyPatch) -> None:
    """As pre-commit passes files: the conftest.py and pytest.ini above are found by walking up."""
    project = FIXTURES / "projects" / "session_fixture_no_loop_config"
    monkeypatch.chdir(project)
    result = check_project([Path("test_ticket.py")], [], Settings(project_root=project), EVERY_CODE)
    assert sorted((f.path, f.code) for f in result.findings) == [("conftest.py", "LB302"), ("pytest.ini", "LB306")]


def test_explicit_config_file_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    project = FIXTURES / "projects" / "invalid_loop_scope"
    monkeypatch.chdir(project)
    result = check_project([], [Path("pyproject.toml")], Settings(project_root=project), EVERY_CODE)
    assert [(f.path, f.start.row, f.code) for f in result.findings] == [("pyproject.toml", 6, "LB307")]


def test_fixtures_handing_over_nothing_loop_bound_are_latent(monkeypatch: pytest.MonkeyPatch) -> None:
    """An in-process ASGI client, plain data and a mock cross loops harmlessly; a future does not."""
    from loopbound.findings import Severity

    def severities(name: str) -> set[tuple[str, Severity]]:
        project = FIXTURES / "projects" / name
        monkeypatch.chdir(project)
        settings = Settings(project_root=project)
        found = discover([Path(".")], settings)
        result = check_project([file.path for file in found.python_files], found.config_files, settings,
                               frozenset({"LB301", "LB302"}))
        return {(finding.code, finding.severity) for finding in result.findings}

    assert severities("asgi_client_session_latent") == {("LB302", Severity.LATENT)}
    assert severities("fixture_scope_only_config") == {("LB301", Severity.ERROR), ("LB302", Severity.ERROR)}
