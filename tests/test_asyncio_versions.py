"""Which pytest-asyncio releases a project runs on: specifiers, declarations, the installed one, the setting."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import write_files

from loopbound import asyncio_declarations, asyncio_versions
from loopbound.asyncio_declarations import detect, target
from loopbound.asyncio_versions import (
    RELEASES,
    AsyncioVersions,
    Feature,
    VersionError,
    admitted,
    show,
)
from loopbound.config import ConfigError, load_settings


def releases(specifier: str) -> list[str]:
    return [show(version) for version in admitted(specifier)]


@pytest.mark.parametrize(("specifier", "first", "last"), [
    (">=0.23,<0.24", "0.23.0", "0.23.8"),
    ("^0.23", "0.23.0", "0.23.8"),  # Poetry: 0.x carets stop at the next minor
    ("^1.0", "1.0.0", "1.5.0"),
    ("~0.21.1", "0.21.1", "0.21.2"),
    ("~=0.23.5", "0.23.5", "0.23.8"),
    ("==0.23.*", "0.23.0", "0.23.8"),
    (">= 0.21, < 0.24", "0.21.0", "0.23.8"),
    ("0.21.1", "0.21.1", "0.21.1"),  # Poetry's bare version is a pin
    (">0.26", "1.0.0", "1.5.0"),
    ("*", "0.10.0", "1.5.0"),
])
def test_specifiers(specifier: str, first: str, last: str) -> None:
    found = releases(specifier)
    assert (found[0], found[-1]) == (first, last)


def test_exclusions_and_unions() -> None:
    assert "1.3.0" not in releases(">=1.2,!=1.3.0")
    assert releases("^0.18 || ^0.23") == [r for r in RELEASES if r.startswith(("0.18.", "0.23."))]
    assert releases(">0.23.5")[0] == "0.23.6"  # PEP 440: not 0.23.5.post1
    assert releases("==0.23.5") == ["0.23.5"]


def test_unreadable_specifier() -> None:
    with pytest.raises(VersionError):
        admitted(">>0.23")


def test_features_follow_the_releases() -> None:
    only_023 = AsyncioVersions(admitted("^0.23"), "test")
    assert only_023.lacks(Feature.LOOP_SCOPE) and not only_023.has(Feature.LOOP_SCOPE, every=False)
    spanning = AsyncioVersions(admitted(">=0.24,<1.3"), "test")
    assert spanning.has(Feature.FIXTURE_DEFAULT_KEY) and spanning.lacks(Feature.TEST_DEFAULT_KEY)
    assert spanning.has(Feature.TEST_DEFAULT_KEY, every=False)
    unknown = AsyncioVersions.unknown()
    assert not unknown.lacks(Feature.LOOP_SCOPE)  # nothing declared: nothing to report
    # nothing known: a fix writes what every release that has the key accepts
    assert unknown.key_accepted(Feature.TEST_DEFAULT_KEY, Feature.TEST_DEFAULT_KEY)
    assert not unknown.key_accepted(Feature.FIXTURE_SCOPE_VALUE, Feature.FIXTURE_DEFAULT_KEY)


def found(tmp_path: Path, files: dict[str, str], installed: str | None = None) -> AsyncioVersions:
    write_files(tmp_path, files)
    return detect(tmp_path, tmp_path, installed, [])


def span(versions: AsyncioVersions) -> tuple[str, str]:
    return show(versions.versions[0]), show(versions.versions[-1])


LOCK = '[[package]]\nname = "pytest-asyncio"\nversion = "0.23.8"\n\n[[package]]\nname = "pytest"\nversion = "8.0.0"\n'


@pytest.mark.parametrize("name", ["uv.lock", "poetry.lock", "pdm.lock"])
def test_toml_lock_files(tmp_path: Path, name: str) -> None:
    versions = found(tmp_path, {name: LOCK, "pyproject.toml": '[project]\ndependencies = ["pytest-asyncio>=0.21"]\n'},
                     installed="1.5.0")
    assert span(versions) == ("0.23.8", "0.23.8") and versions.source == name


@pytest.mark.parametrize("written", ["Pytest_Asyncio", "pytest.-asyncio", "\\u0070ytest-asyncio"])
def test_a_lock_file_names_the_package_in_any_spelling(tmp_path: Path, written: str) -> None:
    """A lock file that does not spell the name plainly is parsed all the same (one that never names
    pytest-asyncio is not parsed at all)."""
    lock = LOCK.replace('"pytest-asyncio"', f'"{written}"')
    assert span(found(tmp_path, {"uv.lock": lock})) == ("0.23.8", "0.23.8")
    pipfile = '{"_meta": {}, "develop": {"%s": {"version": "==0.21.1"}}}' % written
    assert span(found(tmp_path, {"uv.lock": "", "Pipfile.lock": pipfile})) == ("0.21.1", "0.21.1")


def test_pipfile_lock(tmp_path: Path) -> None:
    lock = {"_meta": {}, "develop": {"pytest-asyncio": {"version": "==0.21.1"}}}
    assert span(found(tmp_path, {"Pipfile.lock": json.dumps(lock)})) == ("0.21.1", "0.21.1")


@pytest.mark.parametrize("pyproject", [
    '[project]\ndependencies = ["pytest-asyncio>=0.24,<0.26"]\n',
    '[project.optional-dependencies]\ntest = ["pytest", "pytest_asyncio[testing] >=0.24, <0.26 ; python_version>\'3\'"]\n',
    '[dependency-groups]\ndev = ["Pytest.Asyncio>=0.24,<0.26", {include-group = "lint"}]\nlint = ["ruff"]\n',
    '[tool.poetry.group.test.dependencies]\npytest-asyncio = "^0.24 || ^0.25"\n',
    '[tool.poetry.dev-dependencies]\npytest-asyncio = { version = ">=0.24,<0.26", optional = true }\n',
])
def test_pyproject_ranges(tmp_path: Path, pyproject: str) -> None:
    versions = found(tmp_path, {"pyproject.toml": pyproject})
    assert versions.declared and span(versions) == ("0.24.0", "0.25.3")


@pytest.mark.parametrize(("name", "text"), [
    ("requirements-dev.txt", "pytest\npytest-asyncio==0.23.8  # pinned\n"),
    ("requirements/test.txt", "-r base.txt\npytest-asyncio == 0.23.8\n"),
    ("setup.cfg", "[options.extras_require]\ntest =\n    pytest\n    pytest-asyncio==0.23.8\n"),
    ("tox.ini", "[testenv]\ndeps =\n    py311: pytest-asyncio==0.23.8\n"),
    ("Pipfile", '[dev-packages]\npytest-asyncio = "==0.23.8"\n'),
])
def test_other_declarations(tmp_path: Path, name: str, text: str) -> None:
    assert span(found(tmp_path, {name: text}, installed="1.5.0")) == ("0.23.8", "0.23.8")


def test_installed_counts_only_inside_the_range(tmp_path: Path) -> None:
    inside = found(tmp_path, {"pyproject.toml": '[project]\ndependencies = ["pytest-asyncio>=0.23"]\n'}, "1.4.1")
    assert span(inside) == ("1.4.1", "1.4.1")
    outside = found(tmp_path, {"pyproject.toml": '[project]\ndependencies = ["pytest-asyncio<0.24"]\n'}, "1.4.1")
    assert span(outside) == ("0.10.0", "0.23.8")


def test_nothing_declared(tmp_path: Path) -> None:
    assert span(found(tmp_path, {"pyproject.toml": "[tool.pytest.ini_options]\n"}, "1.5.0")) == ("1.5.0", "1.5.0")
    assert not found(tmp_path, {}, None).known


def test_nearest_declaring_folder_and_repository_root(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "requirements.txt").write_text("pytest-asyncio==0.21.1\n", encoding="utf-8")
    (tmp_path / "repo" / "service" / "tests").mkdir(parents=True)
    (tmp_path / "repo" / "service" / "pyproject.toml").write_text(
        '[project]\ndependencies = ["pytest-asyncio==1.0.0"]\n', encoding="utf-8")
    searched: list[Path] = []
    versions = detect(tmp_path / "repo" / "service" / "tests", tmp_path / "nowhere", None, searched)
    assert span(versions) == ("1.0.0", "1.0.0") and searched[-1] == tmp_path / "repo" / "service"
    assert not detect(tmp_path / "repo", tmp_path / "nowhere", None, []).known  # not past the repository root


def test_unreadable_declarations_declare_nothing(tmp_path: Path) -> None:
    assert not found(tmp_path, {"pyproject.toml": "[project\n", "uv.lock": "not toml ["}).known


def test_installed_version_reads_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # this suite stubs it out; here the real lookup is under test
    installed = asyncio_versions.installed_version()
    assert installed is None or asyncio_versions.parse_version(installed) >= (0,)


def test_target_setting(tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.loopbound]\ntarget-pytest-asyncio = ">=0.23,<0.24"\n', encoding="utf-8")
    settings = load_settings(config)
    assert settings.target_pytest_asyncio == ">=0.23,<0.24"
    assert target(">=0.23,<0.24").lacks(Feature.LOOP_SCOPE)
    for bad in ('"<0.1"', '">>1"', "1"):
        config.write_text(f"[tool.loopbound]\ntarget-pytest-asyncio = {bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="target-pytest-asyncio"):
            load_settings(config)


def test_setup_py_literals_are_read_not_run(tmp_path: Path) -> None:
    setup = 'import sys\nsys.exit(1)\nsetup(extras_require={"testing": ["pytest-asyncio==0.21.*", "httpx"]})\n'
    assert span(found(tmp_path, {"setup.py": setup}, installed="1.5.0")) == ("0.21.0", "0.21.2")


def test_the_installed_release_alone_never_decides_what_a_fix_writes() -> None:
    """`fixture-scope` stops pytest-asyncio 1.2-1.4 with a UsageError: a fix may write it only when every
    release the project declares knows it, whatever is installed next to loopbound."""
    from loopbound.asyncio_versions import Feature, combine

    value, key = Feature.FIXTURE_SCOPE_VALUE, Feature.FIXTURE_DEFAULT_KEY
    assert not combine([], False, "1.5.0").key_accepted(value, key)
    assert not combine([(">=1.0", "requirements-dev.txt")], False, "1.5.0").key_accepted(value, key)
    assert combine([(">=1.5", "requirements-dev.txt")], False, "1.5.0").key_accepted(value, key)
    assert combine([("==1.5.0", "uv.lock")], True, None).key_accepted(value, key)
    assert combine([], False, "1.5.0").has(value)  # rules still speak of the installed release


def test_the_folder_lookup_of_a_version_agrees_with_importlib_metadata() -> None:
    """installed_version reads the first dist-info folder on sys.path itself (importlib.metadata costs a
    tenth of a one-file run); for every installed distribution it finds, importlib.metadata says the same."""
    import re
    from importlib import metadata

    names = {re.sub(r"[-_.]+", "_", dist.metadata["Name"]).lower() for dist in metadata.distributions()}
    found = {name: asyncio_versions._dist_info_version(name) for name in sorted(names)}
    assert len([version for version in found.values() if version is not None]) > 10
    assert {name: version for name, version in found.items() if version is not None} == {
        name: metadata.version(name) for name, version in found.items() if version is not None}


def _count_lock_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    reads: list[Path] = []
    reading = asyncio_declarations._read_locked
    monkeypatch.setattr(asyncio_declarations, "_read_locked", lambda path: reads.append(path) or reading(path))
    return reads


def test_lock_files_read_ahead_answer_as_read_then_and_are_read_again_once_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold run's worker reads the lock files beside the configs before its chunks, for its LB3 pass; a lock
    file is read again once its stamp moved, even when the edit kept its size and its modification time."""
    (tmp_path / "tests").mkdir()
    lock = tmp_path / "uv.lock"
    lock.write_text(LOCK, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    real = asyncio_declarations.now
    monkeypatch.setattr(asyncio_declarations, "now", lambda: real() + 60)  # the files written above are settled
    monkeypatch.setattr(asyncio_declarations, "KNOWN_LOCKS", {})
    asyncio_declarations.read_locks_ahead([tmp_path / "tests"], tmp_path)
    assert list(asyncio_declarations.KNOWN_LOCKS) == [lock]
    reads = _count_lock_reads(monkeypatch)
    assert span(detect(tmp_path / "tests", tmp_path, None, [])) == ("0.23.8", "0.23.8") and not reads
    recorded = lock.stat()
    lock.write_text(LOCK.replace("0.23.8", "0.21.1"), encoding="utf-8")  # same size
    os.utime(lock, ns=(recorded.st_atime_ns, recorded.st_mtime_ns))  # as `cp -p` or a checkout may leave it
    assert span(detect(tmp_path / "tests", tmp_path, None, [])) == ("0.21.1", "0.21.1")
    assert span(detect(tmp_path / "tests", tmp_path, None, [])) == ("0.21.1", "0.21.1")
    assert reads == [lock]


def test_a_lock_file_changed_in_the_last_seconds_is_read_each_time(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An edit in the same clock tick could keep a stamp: a lock file changed just now is not remembered."""
    (tmp_path / "uv.lock").write_text(LOCK, encoding="utf-8")
    monkeypatch.setattr(asyncio_declarations, "KNOWN_LOCKS", {})
    reads = _count_lock_reads(monkeypatch)
    for _ in range(2):
        assert span(detect(tmp_path, tmp_path, None, [])) == ("0.23.8", "0.23.8")
    assert reads == [tmp_path / "uv.lock"] * 2 and not asyncio_declarations.KNOWN_LOCKS


@pytest.mark.parametrize(("text", "declares"), [
    ('[project]\ndependencies = ["pytest-asyncio>=0.23"]\n', True),
    ('[project]\ndependencies = ["Pytest_Asyncio==0.21.1"]\n', True),
    ('[project]\ndependencies = ["\\u0070ytest-asyncio>=0.23"]\n', True),  # an escape spells the name
    ('[project]\ndependencies = ["""pytest-\\\n    asyncio>=0.23"""]\n', True),  # a line-ending backslash joins it
    ('[tool.poetry.dev-dependencies]\n"pytest.asyncio" = "^0.23"\n', True),
    ('[project]\ndependencies = ["pytest", "asyncio"]\n[tool.ruff]\nexclude = ["a\\\\.py"]\n', False),
    ('[project\ndependencies = ["pytest-asyncio"]\n', False),  # no TOML: declares nothing
])
def test_a_pyproject_that_cannot_name_pytest_asyncio_is_not_parsed(tmp_path: Path, text: str, declares: bool) -> None:
    """`may_name` lets through every text whose TOML strings or keys can spell the name, so the declarations
    are those of a full parse; the others are not parsed at all."""
    tomllib = asyncio_declarations._tomllib()
    path = tmp_path / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    try:
        parsed = list(asyncio_declarations._pyproject(tomllib.loads(text)))
    except tomllib.TOMLDecodeError:
        parsed = []
    assert asyncio_declarations._ranges(path) == parsed and bool(parsed) == declares


def test_test_folders_finding_one_declaration_folder_read_it_once(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path, {"pyproject.toml": '[project]\ndependencies = ["pytest-asyncio==0.23.8"]\n',
                           "a/tests/x.py": "", "b/tests/y.py": ""})
    reads: list[Path] = []
    real = asyncio_declarations._ranges
    monkeypatch.setattr(asyncio_declarations, "_ranges", lambda path: reads.append(path) or real(path))
    known: dict[Path, asyncio_versions.AsyncioVersions] = {}
    searched: list[Path] = []
    first = detect(tmp_path / "a" / "tests", tmp_path, None, searched, known)
    assert detect(tmp_path / "b" / "tests", tmp_path, None, searched, known) is first
    assert span(first) == ("0.23.8", "0.23.8") and reads == [tmp_path / "pyproject.toml"]
    assert tmp_path / "b" / "tests" in searched  # every folder looked in is still an input of the cache


_TABLES = ('version = 1\n\n[[package]]\nname = "anyio"\nversion = "4.4.0"\n\n[[package.wheels]]\nurl = "a.whl"\n\n'
           '[[package]]\nname = "pytest-asyncio"\nversion = "0.24.0"\ndependencies = [{ name = "pytest" }]\n\n'
           '[package.optional-dependencies]\ntesting = [{ name = "hypothesis" }]\n\n[[package.wheels]]\nurl = "b.whl"\n\n'
           '  [[ package ]]\nname = "pytest"\nversion = "8.0.0"\n\n[metadata]\nlock-version = "2.0"\n')


@pytest.mark.parametrize("text", [
    _TABLES,
    _TABLES.replace('"pytest"\nversion = "8.0.0"', '"pytest-asyncio"\nversion = "0.23.8"'),  # two of them
    _TABLES.replace('"anyio"', '"""\n[[package]]\nname = "pytest-asyncio"\nversion = "9.9"\n"""'),  # one string
    _TABLES.replace('version = "4.4.0"', 'version = "4.4.0"\ndescription = "pytest-asyncio\'s friend"'),
    _TABLES.replace('[package.optional-dependencies]', '[package.optional-dependencies'),  # no TOML: nothing
])
def test_a_lock_file_read_table_by_table_declares_what_the_whole_file_does(tmp_path: Path, text: str) -> None:
    """Only the `[[package]]` tables that can be pytest-asyncio are parsed, each alone; the versions are those
    of a parse of the whole file."""
    tomllib = asyncio_declarations._tomllib()
    try:
        packages = tomllib.loads(text).get("package", [])
    except tomllib.TOMLDecodeError:
        packages = []
    expected = [package["version"] for package in packages if package["name"] == "pytest-asyncio"]
    (tmp_path / "uv.lock").write_text(text, encoding="utf-8")
    assert asyncio_declarations._read_locked(tmp_path / "uv.lock") == expected
