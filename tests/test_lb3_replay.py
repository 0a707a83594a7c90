"""Edits of modules the LB3 pass reads: replayed when the facts it reads from them keep their digest
(lb3_digest.py), checked again otherwise, and in both cases the report of a run without any cache."""

from __future__ import annotations

import gc
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES
from test_warm import _a_minute_later, _fresh, _full, _main, _replays_unchanged

from loopbound import asyncio_declarations, engine, parallel
from loopbound.config import Settings
from loopbound.engine import check_project
from loopbound.lb3_digest import NO_FACTS, facts_digest, module_digest
from loopbound.project import read_module_file
from loopbound.rules import ALL_RULES

COMMAND = ["check", "--output-format", "concise", "."]
CONFTEST = '''import pytest


@pytest.fixture(scope="module")
async def ticket():
    """A fixture of its own loop, wider than the tests' loops."""
    yield object()
'''
# Names no registry module (nor `noqa`): the per-file pre-filter clears it, only the LB3 pass reads it.
TEST_MODULE = '''import pytest


async def test_first(ticket):
    assert ticket


@pytest.mark.usefixtures("ticket")
async def test_marked():
    pass


def test_old_loop(event_loop):
    assert event_loop


class TestGroup:
    async def test_in_class(self, ticket):
        assert ticket
'''


@pytest.fixture
def suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "suite"
    (root / "tests").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    (root / "tests" / "conftest.py").write_text(CONFTEST)
    (root / "tests" / "test_tickets.py").write_text(TEST_MODULE)
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    yield root
    gc.enable()


def _recorded(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    _full(monkeypatch, capsys, COMMAND)
    before = _full(monkeypatch, capsys, COMMAND)
    assert "tests/conftest.py:5:1: LB308" in before[1] and "tests/test_tickets.py:13:19: LB303" in before[1]
    return before


@pytest.mark.parametrize(("file", "edit", "replayed"), [
    ("test_tickets.py", lambda text: text + "\n# a comment, and a blank line\n\n", True),
    ("test_tickets.py", lambda text: text + "\n\nasync def test_added(ticket):\n    assert ticket\n", False),
    ("test_tickets.py", lambda text: text.replace('usefixtures("ticket")', 'usefixtures("event_loop")'), False),
    ("test_tickets.py", lambda text: text.replace("(event_loop):", "(event_loop):  # noqa: LB303"), False),
    ("test_tickets.py", lambda text: "# moves every line down\n" + text, False),
    ("test_tickets.py", lambda text: text + "# trio\n", False),  # anyio and trio tests are their plugins'
    ("test_tickets.py", lambda text: text.replace("async def test_first", "def test_first"), False),
    ("conftest.py", lambda text: text + "\n# a comment\n", True),
    ("conftest.py", lambda text: text.replace('scope="module"', 'scope="function"'), False),
    ("conftest.py", lambda text: text.replace("async def ticket", "def ticket"), False),
])
def test_an_edit_of_a_module_the_lb3_pass_read(suite: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str], file: str,
                                               edit: object, replayed: bool) -> None:
    before = _recorded(monkeypatch, capsys)
    path = suite / "tests" / file
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    assert _replays_unchanged(COMMAND) is replayed
    if replayed:
        assert _main(monkeypatch, capsys, COMMAND, replay_only=True) == before
    after = _full(monkeypatch, capsys, COMMAND)
    assert after == _fresh(suite, monkeypatch, capsys, COMMAND)
    assert (after == before) or not replayed


def test_a_run_after_a_replayed_edit_still_sees_the_next_one(suite: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The digests recorded before the first edit stay those of the facts: the second edit is compared with them."""
    _recorded(monkeypatch, capsys)
    path = suite / "tests" / "test_tickets.py"
    path.write_text(path.read_text() + "\n# first\n")
    _main(monkeypatch, capsys, COMMAND, replay_only=True)
    path.write_text(path.read_text().replace("def test_old_loop(event_loop)", "def test_old_loop(request)"))
    assert not _replays_unchanged(COMMAND)
    after = _full(monkeypatch, capsys, COMMAND)
    assert "LB303" not in after[1] and "LB308" in after[1]
    assert after == _fresh(suite, monkeypatch, capsys, COMMAND)


@pytest.mark.parametrize(("edit", "replayed", "reruns"), [
    (lambda text: text + "\n# a comment\n", True, False),  # checked again alone, it finds what it found
    (lambda text: text + "\nimport httpx\n\nclient = httpx.AsyncClient()\n", False, True),  # a new finding, new facts
    (lambda text: text.replace("@pytest.mark.asyncio\n", '@pytest.mark.asyncio(loop_scope="session")\n'), False, True),
])
def test_a_checked_edit_reruns_the_lb3_pass_only_when_its_facts_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], edit: object,
        replayed: bool, reruns: bool) -> None:
    """A test module that names asyncio is checked again after an edit: the recorded report stands when the
    per-file pass finds what it found and the LB3 facts are the same; otherwise a run in part keeps the LB3
    pass's recorded result when the module's digest stands."""
    root = tmp_path / "suite"
    shutil.copytree(FIXTURES / "projects" / "session_fixture_no_loop_config", root)
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    _full(monkeypatch, capsys, COMMAND)
    _full(monkeypatch, capsys, COMMAND)
    test_module = root / "test_ticket.py"
    test_module.write_text(edit(test_module.read_text()))  # type: ignore[operator]
    assert _replays_unchanged(COMMAND) is replayed
    passes: list[int] = []
    real = parallel.project_result
    with monkeypatch.context() as patches:
        patches.setattr(parallel, "project_result", lambda *args: passes.append(1) or real(*args))
        after = _main(monkeypatch, capsys, COMMAND, replay_only=replayed)
    assert bool(passes) is reruns
    assert after == _fresh(root, monkeypatch, capsys, COMMAND)


# Edits of one line each; those that keep a module's digest must keep the LB3 pass's findings.
_EDITS = [
    lambda lines, row: [*lines, "# appended"],
    lambda lines, row: [*lines, "# loopbound: noqa: LB3"],  # for the whole file
    lambda lines, row: [*lines, "# anyio"],  # anyio and trio tests are their plugins'
    lambda lines, row: [*lines[:row], "", *lines[row:]],  # a blank line after `row`
    lambda lines, row: [*lines[:row], lines[row] + "  # a comment"] + lines[row + 1:],
    lambda lines, row: [*lines[:row], lines[row] + "  # noqa"] + lines[row + 1:],
    lambda lines, row: [*lines[:row], lines[row].replace("function", "module")] + lines[row + 1:],
    lambda lines, row: [*lines[:row], lines[row].replace("async def", "def")] + lines[row + 1:],
    lambda lines, row: lines[:row] + lines[row + 1:],  # the line removed
]


def _lb3_modules(root: Path) -> list[tuple[Path, bool]]:
    project = [path for path in sorted(root.rglob("*.py"))]
    return [(path, path.name != "conftest.py") for path in project if path.name.startswith(("test_", "conftest"))]


@pytest.mark.parametrize("name", sorted(path.name for path in (FIXTURES / "projects").iterdir() if path.is_dir()))
def test_a_module_whose_digest_holds_keeps_its_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        name: str) -> None:
    """Every fixture project, every module the LB3 pass reads, every line, each edit above: when the
    module's digest is unchanged, so are the pass's findings and errors."""
    root = tmp_path / name
    shutil.copytree(FIXTURES / "projects" / name, root)
    monkeypatch.chdir(root)
    settings = Settings(project_root=root)
    every_code = frozenset(rule.code for rule in ALL_RULES)
    python_files = sorted(path for path in root.rglob("*.py"))
    configs = sorted(path for path in root.rglob("*") if path.name in ("pytest.ini", "pyproject.toml", "setup.cfg",
                                                                        "tox.ini", "pytest.toml", ".pytest.toml"))

    def outcome() -> tuple[list[str], list[str]]:
        result = check_project(python_files, configs, settings, every_code)
        return [repr(finding) for finding in result.findings], [*result.errors, *result.warnings]

    expected = outcome()
    kept = changed = 0
    with_facts = False
    for path, is_test in _lb3_modules(root):
        original = path.read_text()
        digest = module_digest(path.resolve(), is_test, settings.registry)
        with_facts |= digest != NO_FACTS
        assert digest == facts_digest(read_module_file(path.resolve(), is_test, settings.registry))
        lines = original.splitlines()
        for row in range(len(lines)):
            for edit in _EDITS:
                path.write_text("\n".join(edit(lines, row)) + "\n")
                if module_digest(path.resolve(), is_test, settings.registry) == digest:
                    kept += 1
                    assert outcome() == expected, f"{path.name}: line {row + 1}"
                else:
                    changed += 1
        path.write_text(original)
    assert (kept and changed) or not with_facts  # edits of each kind: the test can fail


def test_the_module_store_reads_with_the_configured_registry(tmp_path: Path) -> None:
    """A fixture handing over a configured resource is loop-bound with the cache as without it."""
    import time

    from loopbound.cache import ModuleStore
    from loopbound.config import load_settings
    from loopbound.fixture_handover import Handover

    (tmp_path / "pyproject.toml").write_text('[tool.loopbound.resources]\n'
                                             '"mycompany.http.make_client" = { release = "aclose", awaited = true }\n')
    conftest = tmp_path / "conftest.py"
    conftest.write_text("import pytest_asyncio\nfrom mycompany.http import make_client\n\n\n"
                        '@pytest_asyncio.fixture(scope="session")\nasync def client():\n    yield await make_client()\n')
    settings = load_settings(tmp_path / "pyproject.toml")
    stored = ModuleStore(tmp_path / "cache", settings, time.time()).read(conftest, False)
    assert stored is not None and stored.all_fixtures[0].handover is Handover.LOOP_BOUND


UV_LOCK = 'version = 1\n\n[[package]]\nname = "pytest-asyncio"\nversion = "{}"\n'


def test_a_rerun_of_the_lb3_pass_reads_a_lock_file_again_only_once_it_changed(
        suite: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A new test reruns the LB3 pass; in a new process, the lock file it read last time is not read again
    (cache.LockStore keeps what it declares by its stamp) until it changes, and each run prints what a run
    without any cache prints."""
    lock = suite / "uv.lock"
    lock.write_text(UV_LOCK.format("0.21.1"))
    real_now = asyncio_declarations.now
    monkeypatch.setattr(asyncio_declarations, "now", lambda: real_now() + 60)  # the lock file is settled
    reads: list[Path] = []
    reading = asyncio_declarations._read_locked
    monkeypatch.setattr(asyncio_declarations, "_read_locked", lambda path: reads.append(path) or reading(path))
    _full(monkeypatch, capsys, COMMAND)
    before = _full(monkeypatch, capsys, COMMAND)
    assert reads == [lock.resolve()]
    test_module = suite / "tests" / "test_tickets.py"
    test_module.write_text(test_module.read_text() + "\n\nasync def test_added(ticket):\n    assert ticket\n")
    monkeypatch.setattr(asyncio_declarations, "KNOWN_LOCKS", {})  # what a new process knows
    assert not _replays_unchanged(COMMAND)
    passes: list[int] = []
    real_pass = engine.check_project
    with monkeypatch.context() as patches:
        patches.setattr(engine, "check_project", lambda *args, **kwargs: passes.append(1) or real_pass(*args, **kwargs))
        after = _full(monkeypatch, capsys, COMMAND)
    assert passes and reads == [lock.resolve()] and after == before
    assert after == _fresh(suite, monkeypatch, capsys, COMMAND)
    _full(monkeypatch, capsys, COMMAND)
    reads.clear()
    lock.write_text(UV_LOCK.format("1.2.0"))
    monkeypatch.setattr(asyncio_declarations, "KNOWN_LOCKS", {})
    pinned = _full(monkeypatch, capsys, COMMAND)
    assert reads == [lock.resolve()] and pinned != after
    assert pinned == _fresh(suite, monkeypatch, capsys, COMMAND)
