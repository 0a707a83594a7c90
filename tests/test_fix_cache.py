"""The fix cache (fixes/cache.py): a fix served from it is the one a build gives now, and whatever a fix
depends on (its file, the files it read, the pytest configs that decide whether its file is a test, the
other modules that could import the name it removes) makes it built again when it changes."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, write_files

from loopbound.config import Settings
from loopbound.discovery import CheckedFile, checked_file
from loopbound.engine import check_files
from loopbound.findings import Finding, Location
from loopbound.fixes import builders
from loopbound.fixes.builders import attach_fixes
from loopbound.fixes.cache import FixCache
from loopbound.rules import ALL_RULES

EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)
LATER = 60.0  # the runs happen "a minute later": the files the test just wrote are settled


def _files(root: Path) -> list[CheckedFile]:
    settings = Settings(project_root=root)
    return [checked_file(path, settings) for path in sorted(root.rglob("*.py")) if ".loopbound_cache" not in path.parts]


def _findings(root: Path) -> list[Finding]:
    return check_files(_files(root), Settings(project_root=root), EVERY_CODE).findings


def _attach(root: Path, *, cached: bool = True, started: float | None = None) -> list[Finding]:
    """The findings of the tree as it is now with their fixes, through the cache (saved after) or not."""
    settings = Settings(project_root=root)
    files = tuple(file.shown for file in _files(root))
    cache = FixCache(root / ".loopbound_cache", settings, files,
                     time.time() + LATER if started is None else started) if cached else None
    attached = attach_fixes(_findings(root), settings, files=files, cache=cache)
    if cache is not None:
        cache.save()
    return attached


def _fixes(findings: list[Finding]) -> list[tuple[str, int, object]]:
    return [(finding.path, finding.start.row, finding.fix) for finding in findings]


def _builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the findings whose fix is built (not served) from now on."""
    built: list[str] = []
    real = builders._build

    def counting(builder: builders.Builder, finding: Finding, context: object, notes: list[str] | None) -> object:
        built.append(finding.path if finding.code != "LB101" else f"{finding.path} LB101")
        return real(builder, finding, context, notes)  # type: ignore[arg-type]

    monkeypatch.setattr(builders, "_build", counting)
    return built


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_served_fixes_are_the_built_ones_and_an_edit_rebuilds_only_its_files(
        rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _attach(rules)
    assert sum(finding.fix is not None for finding in first) > 10
    built = _builds(monkeypatch)
    assert _fixes(_attach(rules)) == _fixes(first)
    assert built == []
    assert _fixes(_attach(rules, cached=False)) == _fixes(first)
    built.clear()
    edited = rules / "rules" / "LB203.py"
    edited.write_text(edited.read_text(encoding="utf-8").replace("\n\n", "\n\n\n", 1), encoding="utf-8")
    again = _attach(rules)
    # The edited file's fixes, and the LB101 fixes elsewhere, which decline when a module uses their name:
    # the edited file mentions `client`, so it might.
    assert "rules/LB203.py" in built and {path for path in built if not path.endswith(" LB101")} == {"rules/LB203.py"}
    assert _fixes(again) == _fixes(_attach(rules, cached=False))


def test_a_run_that_served_every_fix_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rules").mkdir()
    shutil.copy(FIXTURES / "rules" / "LB203.py", tmp_path / "rules")  # no fix there searches for names
    monkeypatch.chdir(tmp_path)
    _attach(tmp_path)
    [written] = (tmp_path / ".loopbound_cache").glob("fixes-*.pickle")
    before = written.stat().st_mtime_ns
    assert any(finding.fix for finding in _attach(tmp_path))
    assert written.stat().st_mtime_ns == before


def test_fixes_of_files_changed_in_the_last_seconds_are_not_kept(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _attach(rules, started=time.time())  # every file was written just now
    built = _builds(monkeypatch)
    _attach(rules)
    assert built


def test_a_fix_whose_codemod_failed_is_built_again(rules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = builders.builder_for

    def failing(code: str) -> builders.Builder | None:
        if code != "LB203":
            return real(code)

        def fail(finding: Finding, context: object) -> None:
            raise RuntimeError("a codemod bug")
        return fail  # type: ignore[return-value]

    with monkeypatch.context() as patches:
        patches.setattr(builders, "builder_for", failing)
        broken = _attach(rules)
    assert not any(finding.fix for finding in broken if finding.code == "LB203")
    assert _fixes(_attach(rules)) == _fixes(_attach(rules, cached=False))


APP = {
    "app/__init__.py": "",
    "app/db.py": 'import httpx\n\nclient = httpx.AsyncClient()\n\n\nasync def ping(url):\n    await client.get(url)\n',
    "app/other.py": "def nothing():\n    return None\n",
}


def _app(root: Path) -> Path:
    return write_files(root, APP)


def _client_fix(findings: list[Finding]) -> object:
    [found] = [finding for finding in findings if finding.path == "app/db.py" and finding.code == "LB101"]
    return found.fix


@pytest.mark.parametrize("import_line", ["from app.db import client\n", "import app.db\nprint(app.db.client)\n"])
def test_a_module_that_starts_using_the_removed_name_declines_the_served_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, import_line: str) -> None:
    root = _app(tmp_path)
    monkeypatch.chdir(root)
    assert _client_fix(_attach(root)) is not None
    built = _builds(monkeypatch)
    (root / "app" / "other.py").write_text("def nothing():\n    return 1\n", encoding="utf-8")  # names nothing
    assert _client_fix(_attach(root)) is not None and built == []
    (root / "app" / "other.py").write_text(import_line, encoding="utf-8")
    assert _client_fix(_attach(root)) is None
    assert built == ["app/db.py LB101"]
    (root / "app" / "new.py").write_text("", encoding="utf-8")
    (root / "app" / "other.py").write_text("", encoding="utf-8")
    assert _client_fix(_attach(root)) is not None


def test_a_new_pytest_config_that_makes_a_module_a_test_rebuilds_its_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module-level client in a test file becomes a fixture only where pytest collects the file."""
    root = tmp_path
    (root / "tests").mkdir()
    (root / "tests" / "check_api.py").write_text(
        "import httpx\nimport pytest\n\nclient = httpx.AsyncClient()\n\n\n@pytest.mark.asyncio\n"
        "async def test_get():\n    await client.get('http://x')\n", encoding="utf-8")
    monkeypatch.chdir(root)
    settings = Settings(project_root=root, test_files=("tests/*.py",))

    def fix_message() -> str | None:
        files = tuple(file.shown for file in _files(root))
        cache = FixCache(root / ".loopbound_cache", settings, files, time.time() + LATER)
        findings = check_files([checked_file(root / "tests" / "check_api.py", settings)], settings, EVERY_CODE).findings
        attached = attach_fixes(findings, settings, files=files, cache=cache)
        cache.save()
        [found] = [finding for finding in attached if finding.code == "LB101"]
        return found.fix.message if found.fix is not None else None

    outside = fix_message()
    (root / "pytest.ini").write_text("[pytest]\npython_files = check_*.py\n", encoding="utf-8")
    collected = fix_message()
    assert collected != outside
    os.remove(root / "pytest.ini")
    assert fix_message() == outside


def test_fixes_built_in_several_processes_are_the_ones_built_in_one(rules: Path, monkeypatch: pytest.MonkeyPatch
                                                                     ) -> None:
    """The report's fixes, built file by file in worker processes, with what each read for the cache."""
    settings = Settings(project_root=rules)
    files = tuple(file.shown for file in _files(rules))
    findings = _findings(rules)
    monkeypatch.setattr(builders, "MIN_FIXES_TO_SHARE", 0)
    assert builders._by_file([finding for finding in findings if finding.code in builders.BUILDERS], 3)
    cache = FixCache(rules / ".loopbound_cache", settings, files, time.time() + LATER)
    shared = attach_fixes(findings, settings, files=files, cache=cache, jobs=3)
    cache.save()
    assert _fixes(shared) == _fixes(attach_fixes(findings, settings, files=files))
    built = _builds(monkeypatch)
    assert _fixes(_attach(rules)) == _fixes(shared)
    assert built == []  # every fix the workers built was kept, with its inputs


def test_workers_take_the_costliest_files_first_and_only_when_there_is_enough(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    counts = {"a.py": 1, "b.py": 3, "c.py": 2}
    for name in counts:
        (tmp_path / name).write_text("#" * 500)
    location = Location(1, 1)
    findings = [Finding("LB203", "n", "m", name, location, location) for name, count in counts.items()
                for _ in range(count)]
    monkeypatch.setattr(builders, "MIN_FIXES_TO_SHARE", 7)
    monkeypatch.setattr(builders, "MIN_BYTES_TO_SHARE", 1_500)
    assert builders._by_file(findings, 2) == {"b.py": [1, 2, 3], "c.py": [4, 5], "a.py": [0]}
    searching = [dataclasses.replace(finding, code="LB101") if finding.path == "a.py" else finding
                 for finding in findings]
    assert list(builders._by_file(searching, 2) or {}) == ["a.py", "b.py", "c.py"]  # its search reads every file
    assert builders._by_file(findings, 1) is None
    assert builders._by_file(findings[1:4], 2) is None  # one file
    monkeypatch.setattr(builders, "MIN_BYTES_TO_SHARE", 1_501)
    assert builders._by_file(findings, 2) is None  # too little to build to pay for workers
    monkeypatch.setattr(builders, "MIN_FIXES_TO_SHARE", 6)
    assert builders._by_file(findings, 2) is not None  # enough fixes, however small their files
