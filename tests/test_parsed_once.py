"""A cold run without the LB3 cache parses a test module once: the LB3 pass takes the facts of the test
modules and conftest.py files its process parsed for the per-file rules (project.PARSED), while their
stamps vouch for their bytes."""

from __future__ import annotations

import fnmatch
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES
from test_scheduling import _check_tree as _run
from test_scheduling import _summary

from loopbound import parallel, project, scheduling, stamps
from loopbound.config import Settings
from loopbound.discovery import discover, real_path
from loopbound.engine import FileResult, check_project, needs_parse
from loopbound.module_facts import may_matter
from loopbound.pytest_config import PytestConfig, Setting
from loopbound.registry import DEFAULT_REGISTRY
from loopbound.rules import ALL_RULES
from loopbound.stamps import stamp

EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)
SUITES = ("session_fixture_no_loop_config", "asgi_client_session_latent", "index_cross_module_factory")


@pytest.fixture
def suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Test suites with per-file and LB3 findings, and a test module the LB3 pass has no word for."""
    for name in SUITES:
        shutil.copytree(FIXTURES / "projects" / name, tmp_path / name)
    (tmp_path / SUITES[0] / "test_plain.py").write_text("def test_plain():\n    assert True\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file's change time cannot be set back: a fresh stamp vouches for nothing, unless files written a
    minute ago count as settled."""
    monkeypatch.setattr(stamps, "RACY_SECONDS", stamps.RACY_SECONDS - 60)


def _read_by_the_lb3_pass(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    real = project.read_module_file

    def counting(path: Path, is_test: bool, *args: Any) -> Any:
        read.append(str(path))
        return real(path, is_test, *args)

    monkeypatch.setattr(project, "read_module_file", counting)
    return read


def _candidates(suites: Path) -> dict[str, bytes]:
    """The test modules and conftest.py files of the tree: those the LB3 pass asks for."""
    settings = Settings(project_root=suites)
    return {str(real_path(file.path)): file.path.read_bytes() for file in discover([suites], settings).python_files
            if file.path.name == "conftest.py" or file.path.name.startswith("test_")}


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_lb3_pass_reads_again_none_of_the_test_modules_the_per_file_pass_read(
        suites: Path, settled: None, monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    monkeypatch.setattr(scheduling, "MIN_BYTES_PER_WORKER", 1)  # a worker even for a tree this small
    settings = Settings(project_root=suites)
    found = discover([suites], settings)
    alone = check_project([file.path for file in found.python_files], found.config_files, settings, EVERY_CODE)
    read = _read_by_the_lb3_pass(monkeypatch)
    result = _run(suites, jobs)
    # The per-file pass parses some; the others are parsed for the LB3 pass where they are checked, or
    # found to hold no word it looks for.
    candidates = _candidates(suites)
    parsed = {path for path, data in candidates.items() if needs_parse(data, settings, EVERY_CODE)}
    without_words = {path for path, data in candidates.items()
                     if Path(path).name.startswith("test_") and not may_matter(data)}
    assert parsed and without_words and candidates.keys() - parsed - without_words
    if jobs == 1:  # a forked worker counts in its own copy of `read`: with jobs=2 see the next test
        assert read == []
    assert [finding for finding in _summary(result) if finding[1].startswith("LB3")] == _summary(alone)
    assert project.PARSED is None  # nothing is kept once the run is over


def _kept_for_the_pass() -> list[str]:
    """Run in the worker in place of the LB3 pass: what it would find kept."""
    return sorted(str(path) for path, _ in project.PARSED or {})


def test_the_worker_running_the_lb3_pass_gets_the_facts_the_main_process_kept(
        suites: Path, settled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(project_root=suites)
    jobs = [scheduling.Job(str(file.path), file.shown, EVERY_CODE, file.is_test, stamp(file.path), None)
            for file in discover([suites], settings).python_files]
    starting, checking = scheduling._init_worker, scheduling._check
    in_main: list[str] = []

    def slow_start(worker_settings: Settings, *rest: Any) -> None:
        time.sleep(0.5)  # the worker starts late: the main process takes the chunks queued last
        starting(worker_settings, *rest)

    def counted(job: scheduling.Job, job_settings: Settings) -> FileResult:
        in_main.append(job.path)  # a forked worker appends to its own copy of the list
        return checking(job, job_settings)

    monkeypatch.setattr(scheduling, "_init_worker", slow_start)
    monkeypatch.setattr(scheduling, "_check", counted)
    monkeypatch.setattr(scheduling, "CHUNKS_PER_PROCESS", len(jobs))  # a file a chunk
    scheduled = scheduling.Scheduled(jobs, settings, 2, _kept_for_the_pass, keep_parsed=True)  # type: ignore[arg-type]
    assert len(list(scheduled)) == len(jobs)
    assert scheduled.then_result() == sorted(_candidates(suites))
    assert {str(real_path(Path(path))) for path in in_main} & _candidates(suites).keys(), "the main process kept some"
    assert project.PARSED is None  # the main process kept them for the worker only


def test_output_with_and_without_the_parsed_facts_is_the_same(suites: Path, settled: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    kept = _run(suites, jobs=1)
    monkeypatch.setattr(project, "parsed_keeper", lambda *args: None)
    assert _summary(_run(suites, jobs=1)) == _summary(kept)


def test_facts_whose_file_changed_since_are_not_taken(suites: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    test_module = real_path(suites / "session_fixture_no_loop_config" / "test_ticket.py")
    stale = project.read_module_file(test_module, True)
    assert stale is not None and stale.tests
    test_module.write_text("import pytest\n", encoding="utf-8")
    monkeypatch.setattr(project, "PARSED", {(test_module, True): (stamp(test_module), stale)})
    assert project._read(test_module, True, DEFAULT_REGISTRY) is stale  # same stamp: taken
    monkeypatch.setattr(project, "PARSED", {(test_module, True): ((0, 0, 0, 0), stale)})
    assert project._read(test_module, True, DEFAULT_REGISTRY) is None  # another stamp: read again


def test_a_file_changed_within_the_racy_window_is_not_kept(suites: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    test_module = suites / "session_fixture_no_loop_config" / "test_ticket.py"  # written just now
    data = test_module.read_bytes()
    monkeypatch.setattr(project, "PARSED", {})
    assert project.parsed_keeper(test_module, stamp(test_module), data, DEFAULT_REGISTRY) is None
    monkeypatch.setattr(stamps, "RACY_SECONDS", stamps.RACY_SECONDS - 60)
    assert project.parsed_keeper(test_module, stamp(test_module), data, DEFAULT_REGISTRY) is not None


@pytest.mark.parametrize("text", [b"", b"async", b"asyncio", b"async def", b"async  def f", b"async\tdef", b"asyncdef",
                                  b"async defx", b"async def(", b"x = 'async'\nasync\n\n def", b"event_loo",
                                  b"def f(event_loop): ...", b"asynchronous async_ async def", b"asyncasyncio",
                                  b"pytest_asyncio"])
def test_may_matter_is_its_expression_searched_anywhere(text: bytes) -> None:
    assert may_matter(text) == (re.search(rb"async(?:io|\s+def\b)|event_loop", text) is not None)


@pytest.mark.parametrize("patterns", [None, "check_*.py", "*.py test_[ab].py", "tests.py *_spec.py"])
def test_is_test_module_matches_as_fnmatch_does_pattern_by_pattern(patterns: str | None) -> None:
    config = None
    if patterns is not None:
        setting = Setting(patterns, Path("pytest.ini"), 2, "python_files")
        config = PytestConfig(Path("pytest.ini"), "pytest", 1, {"python_files": setting})
    names = ["test_.py", "test_x.py", "x_test.py", "test_x.pyc", "Test_x.py", "testx.py", "check_a.py", "test_a.py",
             "test_c.py", "tests.py", "a_spec.py", "conftest.py", "x.py", "test_x.py.orig", "_test.py"]
    for name in names:
        expected = any(fnmatch.fnmatch(name, pattern) for pattern in project.test_module_patterns(config))
        assert project.is_test_module(name, config) == expected, name
