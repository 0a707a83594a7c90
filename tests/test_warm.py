"""The warm run: a recorded report is replayed only while nothing it depended on has changed."""

from __future__ import annotations

import gc
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES

from loopbound import parallel, snapshots, warm
from loopbound.unseen_edits import same_outcome

LATER = 60.0  # runs happen "a minute later", so that the files the test just wrote are settled
COMMAND = ["check", "--output-format", "concise", "."]


def _a_minute_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs' clocks move forward, since a file's change time cannot be set back."""
    for module in (warm, parallel):
        real = module.now
        monkeypatch.setattr(module, "now", lambda real=real: real() + LATER)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "rules", root / "rules")
    (root / "loopbound.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    yield root
    gc.enable()  # main() turns the collector off for the rest of the process


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], arguments: list[str],
          replay_only: bool = False) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["loopbound", *arguments])

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the command line ran instead of the replay")

    with monkeypatch.context() as patches, pytest.raises(SystemExit) as exit:
        if replay_only:
            patches.setattr("loopbound.cli.cli", refuse)
            patches.setattr("loopbound.command.main", refuse)
        warm.main()
    out, err = capsys.readouterr()
    code = exit.value.code
    return code if isinstance(code, int) else 0, out, err


def _full(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
          arguments: list[str] = COMMAND) -> tuple[int, str, str]:
    return _main(monkeypatch, capsys, arguments)


def test_an_unchanged_tree_is_replayed(project: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _full(monkeypatch, capsys)  # creates .loopbound_cache/, which changes the project folder
    first = _full(monkeypatch, capsys)
    assert first[0] == 1 and "LB101" in first[1] and "checked" in first[2]
    assert list((project / ".loopbound_cache").glob("warm-*.marshal"))
    assert _main(monkeypatch, capsys, COMMAND, replay_only=True) == first


def test_a_changed_file_is_checked_again(project: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _full(monkeypatch, capsys)
    target = project / "rules" / "LB101.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nimport httpx\nlate = httpx.AsyncClient()\n",
                      encoding="utf-8")
    code, out, _ = _full(monkeypatch, capsys)
    row = len(target.read_text(encoding="utf-8").splitlines())
    assert f"rules/LB101.py:{row}:" in out


def test_a_new_file_in_a_walked_folder_is_checked(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _full(monkeypatch, capsys)
    (project / "rules" / "added.py").write_text("import httpx\nclient = httpx.AsyncClient()\n", encoding="utf-8")
    _, out, _ = _full(monkeypatch, capsys)
    assert "rules/added.py:2:" in out


def test_a_new_config_changes_the_report(project: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _full(monkeypatch, capsys)
    (project / "loopbound.toml").write_text('[tool.loopbound]\nignore = ["LB101"]\n', encoding="utf-8")
    _, out, _ = _full(monkeypatch, capsys)
    assert "LB101" not in out


def test_files_changed_just_before_a_run_are_not_trusted(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    just_before_the_run = time.time() + LATER - 1
    os.utime(project / "rules" / "LB101.py", (just_before_the_run, just_before_the_run))
    _full(monkeypatch, capsys)
    assert not list((project / ".loopbound_cache").glob("warm-*.marshal"))


def test_other_arguments_are_another_run(project: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _full(monkeypatch, capsys)
    code, out, _ = _full(monkeypatch, capsys, ["check", "--output-format", "concise", "--select", "LB2", "."])
    assert "LB2" in out and "LB101" not in out


@pytest.mark.parametrize("arguments", [
    ["check", "--fix", "."], ["check", "--diff", "."], ["check", "--no-cache", "."], ["check", "-"],
    ["check", "--output-file=report.txt", "."], ["check", "--add-noqa", "."], ["rule", "LB101"], [],
])
def test_runs_with_effects_are_never_replayed(arguments: list[str]) -> None:
    assert not warm.replayable(arguments)


def test_the_key_ignores_variables_that_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    key = warm.run_key(COMMAND)
    monkeypatch.setenv("HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET", "xxxx")
    monkeypatch.setenv("OLDPWD", "/elsewhere")
    assert warm.run_key(COMMAND) == key
    monkeypatch.setenv("NO_COLOR", "1")
    assert warm.run_key(COMMAND) != key


def test_changes_in_folders_above_the_project_do_not_matter(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """/tmp or a home folder changes all the time: only the config files that could appear there count."""
    _full(monkeypatch, capsys)
    first = _full(monkeypatch, capsys)
    (project.parent / "unrelated.txt").write_text("x", encoding="utf-8")
    assert _main(monkeypatch, capsys, COMMAND, replay_only=True) == first
    (project.parent / "loopbound.toml").write_text("", encoding="utf-8")
    assert _full(monkeypatch, capsys) == first, "a config above the project is another run (same findings here)"


def _fresh(project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           arguments: list[str] = COMMAND) -> tuple[int, str, str]:
    """What a run without any cache or snapshot prints."""
    shutil.rmtree(project / ".loopbound_cache")
    return _full(monkeypatch, capsys, arguments)


def _refuse_walks_and_count_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from loopbound import discovery

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the tree was walked again")

    checked: list[str] = []
    real = parallel.check_path

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        checked.append(path.name)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(discovery, "_discover", refuse)
    monkeypatch.setattr(parallel, "check_path", counting)
    return checked


def test_after_one_file_changed_only_that_file_is_checked(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _full(monkeypatch, capsys)
    _full(monkeypatch, capsys)
    target = project / "rules" / "LB101.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nimport httpx\nlate = httpx.AsyncClient()\n",
                      encoding="utf-8")
    with monkeypatch.context() as patches:
        checked = _refuse_walks_and_count_checks(patches)  # type: ignore[arg-type]
        in_part = _full(monkeypatch, capsys)
    assert checked == ["LB101.py"]
    row = len(target.read_text(encoding="utf-8").splitlines())
    assert f"rules/LB101.py:{row}:" in in_part[1]
    assert _main(monkeypatch, capsys, COMMAND, replay_only=True) == in_part  # recorded with the new stamp
    target.write_text(target.read_text(encoding="utf-8") + "\nagain = httpx.AsyncClient()\n", encoding="utf-8")
    with monkeypatch.context() as patches:
        checked = _refuse_walks_and_count_checks(patches)  # type: ignore[arg-type]
        in_part = _full(monkeypatch, capsys)  # a run in part records what the next one needs too
    assert checked == ["LB101.py"]
    assert f"rules/LB101.py:{row + 2}:" in in_part[1]
    assert _fresh(project, monkeypatch, capsys) == in_part


def test_an_edited_test_module_reruns_the_project_pass_without_a_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "suite"
    shutil.copytree(FIXTURES / "projects" / "session_fixture_no_loop_config", root)
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    _full(monkeypatch, capsys)
    before = _full(monkeypatch, capsys)
    assert "conftest.py:7:" in before[1] and "LB302" in before[1]
    test_module = root / "test_ticket.py"
    test_module.write_text(test_module.read_text(encoding="utf-8").replace(
        "@pytest.mark.asyncio\n", '@pytest.mark.asyncio(loop_scope="session")\n'), encoding="utf-8")
    with monkeypatch.context() as patches:
        checked = _refuse_walks_and_count_checks(patches)  # type: ignore[arg-type]
        in_part = _full(monkeypatch, capsys)
    gc.enable()
    assert checked == ["test_ticket.py"]
    assert "LB302" not in in_part[1]
    assert _fresh(root, monkeypatch, capsys) == in_part


def test_a_changed_config_is_a_full_run(project: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    _full(monkeypatch, capsys)
    _full(monkeypatch, capsys)
    (project / "loopbound.toml").write_text('ignore = ["LB101"]\n', encoding="utf-8")
    with monkeypatch.context() as patches:
        _refuse_walks_and_count_checks(patches)  # type: ignore[arg-type]
        with pytest.raises(AssertionError, match="walked again"):
            _full(monkeypatch, capsys)


def _app_project(root: Path, files: dict[str, str]) -> Path:
    """A repository whose app/db.py makes an engine at import, a pytest config, and `files`."""
    (root / "app").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / ".git").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "db.py").write_text('from sqlalchemy.ext.asyncio import create_async_engine\n\n'
                                        'engine = create_async_engine("postgresql+asyncpg://localhost/db")\n')
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_a_run_in_part_resolves_the_project_index_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Only the edited test module is checked again, yet another module's finding changes with it: the
    test module now imports the engine's module, so a loop per test reaches it (latent becomes error)."""
    root = _app_project(tmp_path / "app_project", {
        "tests/test_api.py": "import pytest\n\n\n@pytest.mark.asyncio\nasync def test_a():\n    assert True\n"})
    test_module = root / "tests" / "test_api.py"
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    _full(monkeypatch, capsys)
    before = _full(monkeypatch, capsys)
    assert "app/db.py:3:10: LB101 (latent)" in before[1]
    test_module.write_text("import pytest\n\nfrom app.db import engine\n\n\n@pytest.mark.asyncio\n"
                           "async def test_a():\n    assert engine\n")
    with monkeypatch.context() as patches:
        checked = _refuse_walks_and_count_checks(patches)  # type: ignore[arg-type]
        in_part = _full(monkeypatch, capsys)
    gc.enable()
    assert checked == ["test_api.py"]
    assert "app/db.py:3:10: LB101 `sqlalchemy" in in_part[1] and "imports app/db.py" in in_part[1]
    assert _fresh(root, monkeypatch, capsys) == in_part


def _service_project(root: Path) -> Path:
    """An engine made at import in app/db.py, which nothing imports yet; app/service.py, which the pre-filter
    clears, is imported by a test module that runs each test on its own loop."""
    return _app_project(root, {
        "app/service.py": "from app import dc\n\n\ndef answer():\n    return 42\n",
        "tests/test_api.py": ("import pytest\n\nfrom app.service import answer\n\n\n"
                              "@pytest.mark.asyncio\nasync def test_a():\n    assert answer()\n")})


def _replays_unchanged(arguments: list[str] = COMMAND) -> bool:
    """Whether the recorded run's output is still the answer, decided without a run: from the changed files
    alone, each checked again by the per-file pass if the pre-filter may not clear it."""
    key = warm.run_key(arguments)
    snapshot = warm._find(key, arguments)
    assert snapshot is not None
    changed = warm._changes(snapshot)
    return bool(changed) and warm.Partial.of(snapshot, changed) is not None and same_outcome(snapshot, changed)


def test_an_edit_the_checker_cannot_see_is_replayed_without_loading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    root = _service_project(tmp_path / "app_project")
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    _full(monkeypatch, capsys)
    before = _full(monkeypatch, capsys)
    assert "app/db.py:3:10: LB101 (latent)" in before[1]
    service = root / "app" / "service.py"
    service.write_text(service.read_text() + "\n# a comment, and a blank line\n\n")
    assert _replays_unchanged()
    assert _main(monkeypatch, capsys, COMMAND, replay_only=True) == before
    assert _fresh(root, monkeypatch, capsys) == before


@pytest.mark.parametrize(("edit", "replayed"), [
    ("from app import db\n\n\ndef answer():\n    return 42\n", False),  # the import graph moves (same size)
    # The checker reads these; checked again, the file is still cleared and summarised alike: the report stands.
    ("from app import dc\n\n\ndef answer():\n    return 42  # noqa\n", True),  # a noqa comment
    ("from app import dc\n\n\ndef answer():\n    return 42\n# asyncio\n", True),  # a registry module's name
])
def test_an_edit_the_checker_may_see_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], edit: str, replayed: bool) -> None:
    root = _service_project(tmp_path / "app_project")
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    _full(monkeypatch, capsys)
    before = _full(monkeypatch, capsys)
    service = root / "app" / "service.py"
    recorded = service.stat()
    service.write_text(edit)
    os.utime(service, ns=(recorded.st_atime_ns, recorded.st_mtime_ns))  # as `cp -p` or a checkout may leave it
    assert _replays_unchanged() == replayed
    after = _main(monkeypatch, capsys, COMMAND, replay_only=replayed)
    assert after == _fresh(root, monkeypatch, capsys)
    assert (after == before) or not replayed


def test_an_edit_of_a_module_the_index_searched_for_words_is_checked_when_it_adds_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root = _service_project(tmp_path / "app_project")
    (root / "app" / "service.py").write_text("from app import db\n\n\ndef answer():\n    return 42\n")
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    _full(monkeypatch, capsys)
    before = _full(monkeypatch, capsys)
    assert "app/db.py:3:10: LB101 `sqlalchemy" in before[1]  # the test module reaches it through app/service.py
    service = root / "app" / "service.py"
    original = service.read_text()
    service.write_text(original + "# nothing the index looks for\n")
    assert _replays_unchanged()
    service.write_text(original + "# uvicorn\n")  # a word of code that runs a loop: the index parses the file
    assert not _replays_unchanged()
    assert _full(monkeypatch, capsys) == _fresh(root, monkeypatch, capsys) == before


def test_a_file_that_names_no_registry_module_nor_noqa_is_cleared_by_the_pre_filter() -> None:
    """What the replay of an unseen edit relies on (unseen_edits.same_outcome); holds for every fixture file."""
    from loopbound.config import Settings
    from loopbound.engine import needs_parse
    from loopbound.rules import ALL_RULES

    settings = Settings()
    words = [word.encode() for word in settings.registry.names_by_module] + [b"noqa"]
    every_code = frozenset(rule.code for rule in ALL_RULES)
    files = sorted(FIXTURES.rglob("*.py"))
    unnamed = [path for path in files if not any(word in path.read_bytes() for word in words)]
    assert len(unnamed) > 10
    assert not [path for path in unnamed if needs_parse(path.read_bytes(), settings, every_code)]


def test_a_warm_replay_reads_only_the_head_of_its_snapshot(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _full(monkeypatch, capsys)
    first = _full(monkeypatch, capsys)
    rests = list((project / ".loopbound_cache").glob("warm-*.marshal.rest"))
    assert rests
    for rest in rests:
        rest.write_bytes(b"not a snapshot")
    assert _main(monkeypatch, capsys, COMMAND, replay_only=True) == first


def test_a_rest_from_another_write_is_not_used(project: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _full(monkeypatch, capsys)
    _full(monkeypatch, capsys)
    cache = project / ".loopbound_cache"
    [head] = [path for path in cache.glob("warm-*.marshal") if (cache / (path.name + ".rest")).exists()]
    older_rest = (cache / (head.name + ".rest")).read_bytes()
    target = project / "rules" / "LB101.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nimport httpx\nlate = httpx.AsyncClient()\n",
                      encoding="utf-8")
    _full(monkeypatch, capsys)
    (cache / (head.name + ".rest")).write_bytes(older_rest)  # the results recorded before the edit
    target.write_text(target.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    code, out, _ = _full(monkeypatch, capsys)
    assert snapshots.load_rest(warm._find(warm.run_key(COMMAND), COMMAND) or {}) is True
    shutil.rmtree(cache)
    assert (code, out) == _full(monkeypatch, capsys)[:2]
    row = len(target.read_text(encoding="utf-8").splitlines()) - 2
    assert f"rules/LB101.py:{row}:" in out


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two modules with a finding each, which the project index grades without reading them again."""
    root = tmp_path / "library"
    (root / "pkg").mkdir(parents=True)
    (root / "loopbound.toml").write_text("", encoding="utf-8")
    (root / "pkg" / "api.py").write_text("import httpx\n\nclient = httpx.AsyncClient()\n", encoding="utf-8")
    (root / "pkg" / "locks.py").write_text("import asyncio\n\nlock = asyncio.Lock()\n", encoding="utf-8")
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    yield root
    gc.enable()


def test_an_edits_replay_reads_no_state_and_a_run_in_part_needs_its_own(library: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The recorded discovery and results (`.state`) are read by a run in part only, and only the state written
    with the head: without it, the run is a full one, and prints what a run without any cache prints."""
    _full(monkeypatch, capsys)
    before = _full(monkeypatch, capsys)
    cache = library / ".loopbound_cache"
    [state] = [path for path in cache.glob("warm-*.marshal.state")
               if path.with_name(path.name.removesuffix(".state")).exists()]
    state.write_bytes(b"not a state")
    target = library / "pkg" / "api.py"
    original = target.read_text(encoding="utf-8")
    target.write_text(original + "\n# a comment\n", encoding="utf-8")
    assert _main(monkeypatch, capsys, COMMAND, replay_only=True) == before
    target.write_text(original + "\nlate = httpx.AsyncClient()\n", encoding="utf-8")
    from loopbound import discovery

    walks: list[int] = []
    real = discovery._discover
    monkeypatch.setattr(discovery, "_discover", lambda *args: walks.append(1) or real(*args))
    after = _full(monkeypatch, capsys)
    assert walks  # not a run in part: the state is not this write's
    assert after != before and after == _fresh(library, monkeypatch, capsys)


@pytest.mark.parametrize(("edit", "replayed"), [
    (lambda text: text + "\n# a comment below the finding\n", True),
    (lambda text: text + "\n\nasync def fetch():\n    return await client.get('/')\n", True),  # new code, no finding
    (lambda text: "\n" + text, False),  # the finding moves down a line
    (lambda text: text + "\nlate = httpx.AsyncClient()\n", False),  # one more finding
])
def test_an_edited_file_with_findings_is_replayed_when_checking_it_again_finds_the_same(
        library: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], edit: object,
        replayed: bool) -> None:
    _full(monkeypatch, capsys)
    before = _full(monkeypatch, capsys)
    target = library / "pkg" / "api.py"
    assert "pkg/api.py:3:10: LB101" in before[1]
    target.write_text(edit(target.read_text(encoding="utf-8")), encoding="utf-8")  # type: ignore[operator]
    assert _replays_unchanged() is replayed
    after = _main(monkeypatch, capsys, COMMAND, replay_only=replayed)
    assert after == _fresh(library, monkeypatch, capsys)
    assert (after == before) is replayed


def test_a_report_that_shows_an_edited_files_lines_is_not_replayed(library: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """GitLab's fingerprints hash the lines of each finding: the same findings in edited lines change them."""
    command = ["check", "--output-format", "gitlab", "."]
    _full(monkeypatch, capsys, command)
    _full(monkeypatch, capsys, command)
    target = library / "pkg" / "api.py"
    before = _full(monkeypatch, capsys, command)
    target.write_text(target.read_text(encoding="utf-8").replace("AsyncClient()", "AsyncClient()  # here"),
                      encoding="utf-8")  # the finding stays where it was; its line is not what it was
    assert not _replays_unchanged(command)
    after = _full(monkeypatch, capsys, command)
    assert after == _fresh(library, monkeypatch, capsys, command)
    assert after != before


def _variants(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    return [data, *(b"\n".join([*lines[:row], b"import asyncio  # " + lines[row], *lines[row + 1:]])
                     for row in range(0, len(lines), 7)),
            data + b"\nfrom httpx import Client\n", data + b"\nimport httpx\nx = AsyncClient\n",
            data.replace(b"import ", b"import \\\n    ", 1), data.replace(b"\n", b"\r\n")]


def test_the_replays_pre_filter_clears_only_what_the_pre_filter_clears() -> None:
    """unseen_edits.pre_filter_clears decides without the checker that an edited file stays cleared: over every
    fixture file and edits of its import lines, it never clears what engine.may_have_findings lets through,
    and it does clear most of what the pre-filter clears (a test module that imports aiohttp and makes nothing)."""
    from loopbound.engine import may_have_findings
    from loopbound.registry import DEFAULT_REGISTRY
    from loopbound.unseen_edits import pre_filter_clears, trigger_words

    names = {module: sorted(words) for module, words in DEFAULT_REGISTRY.names_by_module.items()}
    triggers = trigger_words()
    cleared = agreed = 0
    for path in sorted(FIXTURES.rglob("*.py")):
        for data in _variants(path.read_bytes()):
            passes = may_have_findings(data, DEFAULT_REGISTRY)
            if pre_filter_clears(data, names, triggers):
                assert not passes, path
                agreed += 1
            cleared += not passes
    assert cleared and agreed > cleared / 2
    assert pre_filter_clears(b"import aiohttp\n\n\nasync def test_get():\n    assert aiohttp\n", names, triggers)
    assert not pre_filter_clears(b"import aiohttp\n\nsession = aiohttp.ClientSession()\n", names, triggers)


def test_a_cleared_files_imports_stand_for_its_light_summary() -> None:
    """The replay compares an edited cleared file's imports, read again, with the digest recorded for it
    (unseen_edits.cleared): over every fixture file and edits of its import lines, the digests are equal
    exactly when the light summaries are, and a summary that is not a plain light one is recorded as not
    cleared."""
    import dataclasses

    from loopbound.config import Settings
    from loopbound.engine import check_source
    from loopbound.index.light import light_summary, read_imports
    from loopbound.rules import ALL_RULES
    from loopbound.unseen_edits import _imports_digest, cleared

    settings = Settings()
    every_code = frozenset(rule.code for rule in ALL_RULES)
    seen: dict[str, object] = {}
    recorded = 0
    for path in sorted(FIXTURES.rglob("*.py")):
        for data in _variants(path.read_bytes()):
            result = check_source(data, "module.py", settings, every_code)
            entry = cleared(False, result)
            if entry is None:
                assert result.parsed or result.findings or result.error is not None
                continue
            recorded += 1
            digest = entry[1]
            assert digest == _imports_digest(*read_imports(data))
            summary = light_summary(data, False)
            assert result.summary == summary
            assert seen.setdefault(digest, summary) == summary
    assert recorded > 10 and len(seen) > 5
    result = check_source(b"import os\n", "module.py", settings, every_code)
    assert cleared(False, result) is not None
    result.summary = dataclasses.replace(result.summary, runs_loops=True)
    assert cleared(False, result) is None


@pytest.mark.parametrize(("comment", "replayed"), [
    ("# a comment\n", True),  # no fix reads app/service.py, and it names nothing a fix removes
    ("# engine\n", False),  # it names the engine the LB101 fix removes: it might import it now
])
def test_a_report_with_fixes_is_replayed_after_an_edit_no_fix_depends_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], comment: str,
        replayed: bool) -> None:
    """The full output marks the fixable findings and JSON prints their edits: the fixes' inputs, recorded
    by the fix cache, decide whether an edit can change them."""
    root = _service_project(tmp_path / "app_project")
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    for command in (["check", "."], ["check", "--output-format", "json", "."]):
        _full(monkeypatch, capsys, command)
        before = _full(monkeypatch, capsys, command)
        assert "get_engine()" in before[1] or "[*]" in before[1]
        service = root / "app" / "service.py"
        original = service.read_text()
        service.write_text(original + comment)
        assert _replays_unchanged(command) is replayed
        after = _main(monkeypatch, capsys, command, replay_only=replayed)
        assert after == before == _fresh(root, monkeypatch, capsys, command)
        service.write_text(original)
        _full(monkeypatch, capsys, command)


def test_a_report_with_fixes_is_not_replayed_after_an_edit_of_a_file_a_fix_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A comment below the engine moves no finding, but the fix's edits are made from the file's text."""
    root = _service_project(tmp_path / "app_project")
    monkeypatch.chdir(root)
    _a_minute_later(monkeypatch)
    command = ["check", "--output-format", "json", "."]
    _full(monkeypatch, capsys, command)
    before = _full(monkeypatch, capsys, command)
    db = root / "app" / "db.py"
    db.write_text(db.read_text() + "# the end\n")
    assert not _replays_unchanged(command)
    assert _full(monkeypatch, capsys, command) == _fresh(root, monkeypatch, capsys, command)
    assert before[1]
