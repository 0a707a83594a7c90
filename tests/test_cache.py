"""The results cache: a warm run equals a cold one, and any change that matters is re-checked."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from loopbound import engine, parallel, scheduling, stamps
from loopbound.cache import ResultCache
from loopbound.config import Settings
from loopbound.discovery import CheckedFile, checked_file, discover
from loopbound.engine import CheckResult, check_files
from loopbound.parallel import check_tree, run_checks
from loopbound.registry import Resource
from loopbound.rules import ALL_RULES

EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)


OLD = 1_600_000_000  # a modification time long before any run
LATER = 60.0  # the runs of these tests happen "a minute later": files written by the fixtures are settled


@pytest.fixture(autouse=True)
def run_a_minute_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file's change time cannot be set back, so the run's clock moves forward instead."""
    real = parallel.now
    monkeypatch.setattr(parallel, "now", lambda: real() + LATER)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _files(root: Path) -> list[CheckedFile]:
    settings = Settings(project_root=root)
    return [checked_file(path, settings) for path in sorted((root / "rules").glob("*.py"))]


def _summary(result: CheckResult) -> list[tuple[str, str, int, str]]:
    return [(f.path, f.code, f.start.row, f.message) for f in result.findings]


def _run(root: Path, settings: Settings | None = None, **options: object) -> CheckResult:
    return run_checks(_files(root), settings or Settings(project_root=root), EVERY_CODE,
                      cache_dir=root / ".loopbound_cache", **options)  # type: ignore[arg-type]


def test_warm_equals_cold_and_uses_the_cache(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = check_files(_files(project), Settings(project_root=project), EVERY_CODE)
    assert cold.findings
    first = _run(project)
    assert _summary(first) == _summary(cold)
    assert (project / ".loopbound_cache" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172")
    assert (project / ".loopbound_cache" / ".gitignore").read_text().splitlines()[-1] == "*"

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm run parsed a file")

    monkeypatch.setattr("loopbound.engine.check_source", refuse)
    assert _summary(_run(project)) == _summary(cold)


def test_a_changed_file_is_checked_again(project: Path) -> None:
    _run(project)
    target = project / "rules" / "LB101.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nimport httpx\nlate = httpx.AsyncClient()\n",
                      encoding="utf-8")
    warm = _run(project)
    cold = check_files(_files(project), Settings(project_root=project), EVERY_CODE)
    assert _summary(warm) == _summary(cold)
    assert any(f.path.endswith("LB101.py") and f.start.row == len(target.read_text().splitlines()) for f in
               warm.findings)


def test_a_config_change_invalidates(project: Path) -> None:
    (project / "rules" / "custom.py").write_text("import mylib\nclient = mylib.Client()\n", encoding="utf-8")
    plain = Settings(project_root=project)
    assert not [f for f in _run(project, plain).findings if f.path.endswith("custom.py")]
    configured = plain.with_overrides(
        registry=plain.registry.extended([Resource("mylib.Client", "mylib", release=("aclose",))], []))
    cold = check_files(_files(project), configured, EVERY_CODE)
    assert [f for f in cold.findings if f.path.endswith("custom.py")], "the configured resource is not flagged"
    assert _summary(_run(project, configured)) == _summary(cold)


@pytest.mark.parametrize("change_time", [True, False], ids=["change-time", "content-hash"])
def test_a_rewrite_that_keeps_size_and_mtime_is_checked_again(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                              change_time: bool) -> None:
    """`cp -p`, `rsync -a` or a formatter restoring the mtime: same size, same mtime, other bytes."""
    monkeypatch.setattr(stamps, "CHANGE_TIME_IS_RELIABLE", change_time)
    target = project / "rules" / "rewritten.py"
    flagged = "import httpx\nclient = httpx.AsyncClient()\n"
    harmless = "import httpx\nclient = httpx.AsyncRouter()\n"
    assert len(flagged) == len(harmless)
    target.write_text(flagged, encoding="utf-8")
    os.utime(target, (OLD, OLD))
    first = _run(project)
    assert [f.code for f in first.findings if f.path.endswith("rewritten.py")] == ["LB101"]
    target.write_text(harmless, encoding="utf-8")
    os.utime(target, (OLD, OLD))
    assert target.stat().st_size == len(flagged) and target.stat().st_mtime_ns == OLD * 10**9
    rerun = _run(project)
    assert [f.code for f in rerun.findings if f.path.endswith("rewritten.py")] == []


def test_selected_codes_are_part_of_the_key(project: Path) -> None:
    _run(project)
    only = run_checks(_files(project), Settings(project_root=project), frozenset({"LB101"}),
                      cache_dir=project / ".loopbound_cache")
    assert only.findings and {f.code for f in only.findings} == {"LB101"}


def test_parallel_workers_give_the_same_output(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("loopbound.scheduling.MIN_BYTES_PER_WORKER", 1)
    serial = run_checks(_files(project), Settings(project_root=project), EVERY_CODE, jobs=1)
    parallel = run_checks(_files(project), Settings(project_root=project), EVERY_CODE, jobs=2)
    assert _summary(parallel) == _summary(serial)
    assert parallel.errors == serial.errors


def test_an_unreadable_cache_is_ignored(project: Path) -> None:
    cold = _run(project)
    for entry in (project / ".loopbound_cache").glob("results-*.pickle"):
        entry.write_bytes(b"not a pickle")
    assert _summary(_run(project)) == _summary(cold)
    assert ResultCache.open(project / ".loopbound_cache", Settings(project_root=project)).entries


# ---- the LB3 pass: cached whole, reused only while every file it read is unchanged ----------------------


@pytest.fixture
def loop_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "suite"
    shutil.copytree(FIXTURES / "projects" / "session_fixture_no_loop_config", root)
    for path in root.rglob("*"):
        os.utime(path, (OLD, OLD))
    monkeypatch.chdir(root)
    return root


def _tree(root: Path) -> CheckResult:
    found = discover([root], Settings(project_root=root))
    return check_tree(found.python_files, found.config_files, Settings(project_root=root), EVERY_CODE,
                      cache_dir=root / ".loopbound_cache")


def _codes(result: CheckResult) -> list[tuple[str, int, str]]:
    return [(Path(f.path).name, f.start.row, f.code) for f in result.findings]


def _count_project_passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = engine.check_project

    def counting(*args: Any, **kwargs: Any) -> CheckResult:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "check_project", counting)  # cache.project_result looks it up at each call
    return calls


def test_the_project_pass_is_served_from_the_cache(loop_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = _tree(loop_project)
    assert ("conftest.py", 7, "LB302") in _codes(cold) and ("pytest.ini", 1, "LB306") in _codes(cold)
    calls = _count_project_passes(monkeypatch)
    assert _codes(_tree(loop_project)) == _codes(cold)
    assert calls == []


def test_an_edited_test_module_reruns_the_project_pass(loop_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(loop_project)
    calls = _count_project_passes(monkeypatch)
    test_module = loop_project / "test_ticket.py"
    test_module.write_text(test_module.read_text(encoding="utf-8").replace("@pytest.mark.asyncio\n",
                                                                           '@pytest.mark.asyncio(loop_scope="session")\n'),
                           encoding="utf-8")
    warm = _tree(loop_project)
    assert calls == [1]
    assert ("conftest.py", 7, "LB302") not in _codes(warm)


def test_a_new_config_in_a_searched_folder_reruns_the_project_pass(loop_project: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest.ini governs here; a pytest.toml beside it takes precedence once it exists."""
    _tree(loop_project)
    calls = _count_project_passes(monkeypatch)
    (loop_project / "pytest.toml").write_text('[pytest]\nasyncio_default_fixture_loop_scope = "function"\n',
                                               encoding="utf-8")
    warm = _tree(loop_project)
    assert calls == [1]
    assert ("pytest.ini", 1, "LB306") not in _codes(warm)


def test_an_unrelated_new_file_in_a_searched_folder_keeps_the_project_pass(loop_project: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A searched folder's stamp moves with any new entry; only a config, conftest.py or .git counts."""
    cold = _tree(loop_project)
    calls = _count_project_passes(monkeypatch)
    (loop_project / "notes.txt").write_text("unrelated\n", encoding="utf-8")
    assert _codes(_tree(loop_project)) == _codes(cold)
    assert calls == []
    (loop_project / "setup.cfg").write_text("[metadata]\nname = suite\n", encoding="utf-8")
    _tree(loop_project)
    assert calls == [1]


def test_an_edit_that_makes_a_present_file_a_config_reruns_the_project_pass(loop_project: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Searched folders are watched by their stamps; a file edited in place leaves its folder's alone,
    so the config-named files present in them are inputs of their own."""
    (loop_project / "pytest.ini").unlink()
    pyproject = loop_project / "pyproject.toml"
    pyproject.write_text("[project]\nname = 'suite'\n", encoding="utf-8")
    _tree(loop_project)
    calls = _count_project_passes(monkeypatch)
    with pyproject.open("a", encoding="utf-8") as stream:
        stream.write("[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = 'session'\n")
    warm = _tree(loop_project)
    assert calls == [1]
    assert ("pyproject.toml", 4, "LB301") in _codes(warm)


def test_files_modified_just_now_are_not_trusted(loop_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An edit within the same clock tick could keep its stamp: such files are checked every run."""
    just_before_the_run = time.time() + LATER - 1
    os.utime(loop_project / "test_ticket.py", (just_before_the_run, just_before_the_run))
    _tree(loop_project)
    calls = _count_project_passes(monkeypatch)
    parsed: list[str] = []
    real = engine.check_source

    def counting(data: bytes, shown: str, *args: Any, **kwargs: Any) -> Any:
        parsed.append(shown)
        return real(data, shown, *args, **kwargs)

    monkeypatch.setattr(engine, "check_source", counting)
    _tree(loop_project)
    assert calls == [1]
    assert parsed == ["test_ticket.py"]


def _counted_module_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the modules the LB3 pass reads from now on, in order."""
    from loopbound import project

    read: list[str] = []
    real = project.read_module_file

    def counting(path: Path, is_test: bool, *registry: Any) -> Any:
        read.append(path.name)
        return real(path, is_test, *registry)

    monkeypatch.setattr(project, "read_module_file", counting)
    return read


def test_after_editing_one_test_module_only_that_module_is_read_again(loop_project: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cold = _tree(loop_project)
    read = _counted_module_reads(monkeypatch)
    test_module = loop_project / "test_ticket.py"
    test_module.write_text(test_module.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    warm = _tree(loop_project)
    assert read == ["test_ticket.py"]
    assert _codes(warm) == _codes(cold)


def test_a_few_modules_read_again_do_not_rewrite_the_module_store(loop_project: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cold = _tree(loop_project)
    store = next((loop_project / ".loopbound_cache").glob("modules-*.pickle"))
    written = store.stat().st_mtime_ns
    read = _counted_module_reads(monkeypatch)
    test_module = loop_project / "test_ticket.py"
    test_module.write_text(test_module.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert _codes(_tree(loop_project)) == _codes(cold)
    test_module.write_text(test_module.read_text(encoding="utf-8") + "\n# again\n", encoding="utf-8")
    assert _codes(_tree(loop_project)) == _codes(cold)
    assert read == ["test_ticket.py", "test_ticket.py"]
    assert store.stat().st_mtime_ns == written
