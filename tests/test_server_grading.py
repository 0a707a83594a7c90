"""An edited buffer is graded as `loopbound check` grades the saved file: one pass of the rules with the
project's makers in sight gives what the command line's two passes give (index/check.py: the per-file
pass, then the rules again with the makers, keeping what they add)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopbound.rules import PROJECT_RULE_GROUPS
from loopbound.server.documents import check_buffer
from loopbound.server.projects import Projects
from loopbound.server.reparse import Reparser
from loopbound.server.tree import FolderCheck

PROJECTS = Path(__file__).resolve().parent.parent / "fixtures" / "projects"
INDEX_PROJECTS = sorted(path.name for path in PROJECTS.glob("index_*"))
PROJECT_CODES = frozenset().union(*(group.codes for group in PROJECT_RULE_GROUPS))


def folder_check(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Projects, FolderCheck]:
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root)
    (root / "loopbound.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(root)
    projects = Projects(folders=[root.resolve()])
    result, files, config, selected, started = projects.check_folder(root.resolve())
    return projects, FolderCheck.of(result, files, config, selected, PROJECT_CODES, started)


@pytest.mark.parametrize("name", INDEX_PROJECTS)
def test_a_buffer_as_on_disk_is_graded_as_the_whole_check_graded_it(name: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    projects, check = folder_check(name, tmp_path, monkeypatch)
    compared = 0
    for path in sorted(file.path for file in check.python_files):
        setup = projects.setup(path.resolve())
        text = path.read_text(encoding="utf-8")
        checked, _ = check_buffer(text, 1, setup, Reparser(), check.view(setup, text))
        assert check.grade(setup, text, checked.findings, checked.seen_makers) == check.current(setup.path)
        compared += bool(check.current(setup.path))
    assert compared or name.endswith("_clean")  # the others have findings to compare


EDITS = ["", "    x = 1", "client = ApiClient('http://x')", "api = ApiClient('http://x')", "# noqa: LB101",
         "async def f():\n    c = ApiClient('u')\n    return await c.status()", "import httpx",
         "engine = make_engine(URL)", "r = make_redis()"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.data())
@pytest.mark.parametrize("name", ["index_wrapper_class", "index_cross_module_factory", "index_same_module_helper"])
def test_one_pass_with_the_makers_grades_edits_as_the_command_lines_two_passes(
        name: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
        data: st.DataObject) -> None:
    projects, check = folder_check(name, tmp_path_factory.mktemp("grading"), monkeypatch)
    callers = [file.path for file in check.python_files if "(" in file.path.read_text(encoding="utf-8")]
    path = data.draw(st.sampled_from(sorted(callers)))
    setup = projects.setup(path.resolve())
    lines = path.read_text(encoding="utf-8").split("\n")
    reparse = Reparser()
    for _ in range(data.draw(st.integers(1, 4))):
        lines.insert(data.draw(st.integers(0, len(lines))), data.draw(st.sampled_from(EDITS)))
        text = "\n".join(lines)
        one, _ = check_buffer(text, 1, setup, reparse, check.view(setup, text))
        two, _ = check_buffer(text, 1, setup)
        assert check.grade(setup, text, one.findings, one.seen_makers) == check.grade(setup, text, two.findings)


def test_an_edit_is_graded_with_the_loop_table_of_the_last_lb3_pass(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The editor runs the LB3 pass on a save: a new pin (pytest-asyncio 0.21 to 1.2, which ignores the
    session `event_loop` fixture) moves the loop table, and the next edit of the engine's module is graded
    with it, as `loopbound check` would grade the saved file."""
    projects, check = folder_check("index_session_event_loop_pinned_0_21", tmp_path, monkeypatch)
    root = Path.cwd()
    setup = projects.setup((root / "app" / "db.py").resolve())
    text = (root / "app" / "db.py").read_text(encoding="utf-8") + "\n"

    def engine_severity() -> str:
        checked, _ = check_buffer(text, 1, setup, Reparser(), check.view(setup, text))
        [engine] = [finding for finding in check.grade(setup, text, checked.findings, checked.seen_makers)
                    if finding.code == "LB101"]
        return engine.severity.value

    assert engine_severity() == "latent"
    assert not check.ran_lb3(projects.check_project(root).loops)  # nothing moved
    (root / "requirements.txt").write_text("pytest-asyncio==1.2.0\n", encoding="utf-8")
    assert check.ran_lb3(projects.check_project(root).loops)
    assert engine_severity() == "error"
