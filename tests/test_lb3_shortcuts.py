"""The LB3 pass's shortcuts answer as the work they skip would: each is compared with that work, written out
here, on every fixture project (and on made-up folders where a layout decides)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from loopbound import asyncio_versions
from loopbound import module_facts as facts
from loopbound import project as project_module
from loopbound.asyncio_declarations import _holds_declaration, declaration_files
from loopbound.asyncio_versions import AsyncioVersions, Feature, combine, parse_version
from loopbound.config import Settings
from loopbound.discovery import discover, real_path
from loopbound.project import (
    Project,
    _governed_by_broken_config,
    build,
    conftest_paths,
    is_test_module,
    locate_config,
)
from loopbound.rules.loop_scope import _other_plugin_in_scope

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROJECTS = sorted(path for path in (FIXTURES / "projects").iterdir() if path.is_dir())


def _project(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Project, list[Path]]:
    monkeypatch.chdir(root)
    settings = Settings(project_root=root)
    found = discover([Path(".")], settings)
    files = [file.path for file in found.python_files]
    return build(files, found.config_files, settings.project_root), files


def _closure_in_full(project: Project, test: facts.Test) -> tuple[facts.Fixture, ...]:
    """`Project._closure` with the autouse fixtures asked for each test, and every fixture resolved in full."""
    found: list[facts.Fixture] = []
    seen: set[int] = set()
    pending: list[tuple[str, facts.Fixture | None]] = [(name, None) for name in test.requests]
    pending += [(fixture.name, None) for fixture in project.autouse(test)]
    for name, requester in pending:
        candidates = list(project._visible(test, name))
        below = requester if requester and requester.name == name else None
        if below is not None and below in candidates:
            candidates = candidates[candidates.index(below) + 1:]
        fixture = candidates[0] if candidates else None
        if fixture is None or id(fixture) in seen:
            continue
        seen.add(id(fixture))
        found.append(fixture)
        pending += [(request, fixture) for request in fixture.requests]
    return tuple(found)


SHADOWING = {
    "conftest.py": """import pytest

@pytest.fixture(autouse=True)
async def outer_auto():
    yield

@pytest.fixture(scope="session")
async def client():
    yield 1

@pytest.fixture
async def settings(client):
    yield 2
""",
    "pkg/conftest.py": """import pytest

@pytest.fixture(autouse=True)
async def inner_auto(settings):
    yield

@pytest.fixture
async def client(client):
    yield client
""",
    "pkg/test_shadowing.py": """import pytest

@pytest.fixture(autouse=True)
async def module_auto(client):
    yield

@pytest.fixture
async def settings(settings):
    yield settings

@pytest.mark.asyncio
async def test_plain(client, settings):
    pass

class TestGrouped:
    @pytest.fixture(autouse=True)
    async def class_auto(self, settings):
        yield

    @pytest.fixture
    async def client(self):
        yield 3

    @pytest.mark.asyncio
    async def test_in_class(self, client):
        pass
""",
}


def _shadowing_project(tmp_path: Path) -> Path:
    for name, text in SHADOWING.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    return tmp_path


def test_the_shadowing_project_shadows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The project below does ask what the comparisons are about: names defined at several levels, several
    autouse fixtures, fixtures requesting their own name."""
    project, _ = _project(_shadowing_project(tmp_path), monkeypatch)
    tests = [test for module in project.modules.values() for test in module.tests]
    assert {test.name for test in tests} == {"test_plain", "test_in_class"}
    for test in tests:
        assert len(list(project._visible(test, "client"))) >= 2
        assert len(list(project.autouse(test))) >= 3
        assert len(project.closure(test)) >= 5


@pytest.mark.parametrize("root", [*PROJECTS, None], ids=lambda path: path.name if path else "shadowing")
def test_fixture_lookup_and_closures_answer_as_in_full(root: Path | None, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = _project(root or _shadowing_project(tmp_path), monkeypatch)
    for module in project.modules.values():
        for test in module.tests:
            names = {*test.requests, "event_loop", "anyio_backend", "request", "no_such_fixture"}
            names |= {fixture.name for fixture in _closure_in_full(project, test)}
            for name in sorted(names):
                visible = list(project._visible(test, name))
                assert project.resolve(test, name) is (visible[0] if visible else None)
            assert project.closure(test) == _closure_in_full(project, test)
            assert [id(fixture) for fixture in project.closure(test)] == [
                id(fixture) for fixture in _closure_in_full(project, test)]


@pytest.mark.parametrize("root", PROJECTS, ids=lambda path: path.name)
def test_the_test_modules_a_build_reads_are_those_pytest_collects(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`build` matches names with one matcher per folder: the modules it reads are those `is_test_module` names
    under each file's own config (and the conftest.py files)."""
    project, files = _project(root, monkeypatch)
    wanted = set()
    for path in files:
        resolved = real_path(path)
        if is_test_module(resolved.name, locate_config(project, resolved)) and not _governed_by_broken_config(
                project, resolved):
            wanted.add(resolved)
    assert {path for path in project.read_files if path.name != "conftest.py"} == wanted


def test_a_matcher_per_folder_follows_python_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "pytest.ini").write_text("[pytest]\npython_files = check_*.py\n", encoding="utf-8")
    source = "async def test_one():\n    pass\n"
    for path in (tmp_path / "test_a.py", tmp_path / "check_a.py", custom / "test_b.py", custom / "check_b.py"):
        path.write_text(source, encoding="utf-8")
    project, _ = _project(tmp_path, monkeypatch)
    assert sorted(os.path.relpath(path, real_path(tmp_path)) for path in project.checked) == [
        os.path.join("custom", "check_b.py"), "test_a.py"]


@pytest.mark.parametrize("layout", [
    {}, {"pyproject.toml": ""}, {"pyproject.toml/": ""}, {"uv.lock": ""}, {"setup.py": ""}, {"Pipfile": ""},
    {"requirements.txt": ""}, {"requirements-dev.txt": ""}, {"requirements.txt/": ""}, {"requirements/base.txt": ""},
    {"requirements/": ""}, {"requirements/base.in": ""}, {"requirements/nested/": ""}, {"other.txt": ""},
    {"pyproject.toml/": "", "requirements/dev.txt": ""}, {"tox.ini/": "", "requirements_test.txt": ""},
], ids=lambda layout: ",".join(layout) or "empty")
def test_a_folder_holds_a_declaration_as_its_declaration_files_say(tmp_path: Path, layout: dict[str, str]) -> None:
    for name, text in layout.items():
        path = tmp_path / name.rstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir(exist_ok=True)
        else:
            path.write_text(text, encoding="utf-8")
    assert _holds_declaration(tmp_path) == any(path.is_file() for path in declaration_files(tmp_path))


def _has_in_full(versions: AsyncioVersions, feature: Feature, every: bool, among: Feature | None) -> bool:
    """`AsyncioVersions.has`, each release compared every time."""
    since = parse_version(asyncio_versions._SINCE[feature])
    kept = versions.versions
    if not versions.known and among is not None:
        floor = parse_version(asyncio_versions._SINCE[among])
        kept = tuple(version for version in kept if asyncio_versions._compare(version, floor) >= 0)
    answers = [asyncio_versions._compare(version, since) >= 0 for version in kept]
    return all(answers) if every else any(answers)


def test_what_the_releases_have_is_answered_as_in_full_however_often_asked() -> None:
    """`has` is remembered per question: every set of releases, feature, `every` and `among` answers as
    comparing each release does, asked in turn and again."""
    sets = [AsyncioVersions.unknown(), combine([], False, None), combine([], False, "1.0.0"),
            combine([], False, "0.23.5.post1"), combine([(">=0.21,<0.24", "pyproject.toml")], False, None),
            combine([("==0.23.5.post1", "uv.lock")], True, None), combine([(">=0.23", "setup.cfg")], False, "1.5.0"),
            AsyncioVersions(asyncio_versions.KNOWN[::-1], "reversed", known=False),
            AsyncioVersions((), "nothing", known=True)]
    questions = [(feature, every, among) for feature in Feature for every in (True, False)
                 for among in (None, *Feature)]
    for _ in range(2):
        for versions in sets:
            for feature, every, among in questions:
                assert versions.has(feature, every=every, among=among) == _has_in_full(versions, feature, every, among)


@pytest.mark.parametrize("root", [*PROJECTS, None], ids=lambda path: path.name if path else "other-plugin")
def test_other_plugins_are_found_as_by_searching_each_source(root: Path | None, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`_other_plugin_in_scope` searches each module once per pass: it answers as searching every time does."""
    if root is None:
        _shadowing_project(tmp_path)
        (tmp_path / "pkg" / "conftest.py").write_text(SHADOWING["pkg/conftest.py"] + "# runs under trio too\n",
                                                      encoding="utf-8")
        (tmp_path / "test_top.py").write_text("import pytest\n\nasync def test_top():\n    pass\n", encoding="utf-8")
    project, _ = _project(root or tmp_path, monkeypatch)
    answers = []
    modules = list(project.checked_modules())
    for order in (modules, modules[::-1]):
        mentions: dict[int, bool] = {}
        for module in order + order:
            in_full = module.mentions_other_plugin or any(conftest.mentions_other_plugin
                                                          for conftest in project.conftests(module))
            assert _other_plugin_in_scope(project, module, mentions) == in_full
            answers.append(in_full)
    if root is None:
        assert True in answers and False in answers


@pytest.mark.parametrize("root", PROJECTS, ids=lambda path: path.name)
def test_a_config_found_per_folder_is_the_one_found_per_file(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`build` finds each folder's config without a Path for the file it asks for: the configs, the broken ones
    and the folders searched are those `locate_config` of that file records."""
    per_folder, _ = _project(root, monkeypatch)
    monkeypatch.setattr(project_module, "folder_config",
                        lambda project, folder: locate_config(project, folder / "any_file.py"))
    per_file, _ = _project(root, monkeypatch)
    assert per_folder.config_cache.keys() == per_file.config_cache.keys()
    assert {folder: config and config.path for folder, config in per_folder.config_cache.items()} == {
        folder: config and config.path for folder, config in per_file.config_cache.items()}
    assert per_folder.config_errors.keys() == per_file.config_errors.keys()
    assert per_folder.checked == per_file.checked


@pytest.mark.parametrize("root", [*PROJECTS, None], ids=lambda path: path.name if path else "shadowing")
def test_a_folder_conftest_chain_is_each_module_own(root: Path | None, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`build` works out the conftest.py files of a folder once: each module's chain is what walking up from it
    finds, and the configs of those files are the module's."""
    if root is None:
        _shadowing_project(tmp_path)
        (tmp_path / "pkg" / "test_second.py").write_text("async def test_second():\n    pass\n", encoding="utf-8")
        (tmp_path / "pkg" / "deeper").mkdir()
        (tmp_path / "pkg" / "deeper" / "conftest.py").write_text("def broken(:\n", encoding="utf-8")
        (tmp_path / "pkg" / "deeper" / "test_third.py").write_text("async def test_third():\n    pass\n",
                                                                    encoding="utf-8")
    project, _ = _project(root or tmp_path, monkeypatch)
    chains = 0
    for path in project.checked:
        config = project.configs[path]
        walked = [conftest for conftest in conftest_paths(path, config, project.project_root)
                  if conftest in project.modules]
        assert [module.path for module in project.conftest_chains[path]] == walked
        assert all(project.configs[conftest] is config for conftest in walked)
        chains += len(walked) > 1
    if root is None:
        assert chains >= 3
