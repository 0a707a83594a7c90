"""Where a project says which pytest-asyncio it runs on: lock files, then requirement declarations.

Read from the nearest directory (walking up from the pytest config) that holds one of DECLARATION_NAMES
or a `requirements*.txt`, never past a repository root. Each reader returns (specifier, where) pairs;
`asyncio_versions.combine` turns them into releases. A file that cannot be read declares nothing: the
checker must not fail on a project's packaging files, which pytest itself never reads.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from loopbound.asyncio_versions import AsyncioVersions, VersionError, combine
from loopbound.stamps import Stamp, is_settled, stamp

LOCK_NAMES = ("uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock")
RANGE_NAMES = ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "Pipfile")
DECLARATION_NAMES = (*LOCK_NAMES, *RANGE_NAMES)
_NAME = "pytest-asyncio"
_REQUIREMENT = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;#@]*)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_specifier(line: str) -> str | None:
    """The specifier of a PEP 508 requirement naming pytest-asyncio ('' for any version); None otherwise."""
    match = _REQUIREMENT.match(line)
    if match is None or _normal(match.group("name")) != _NAME or "@" in line.split(";")[0]:
        return None
    return match.group("spec").strip().strip("()").strip()


def declaration_files(folder: Path) -> list[Path]:
    """Every file in `folder` that could declare pytest-asyncio, present or not matters to the cache."""
    return [folder / name for name in DECLARATION_NAMES] + _requirements_files(folder)


def _requirements_files(folder: Path) -> list[Path]:
    """The requirements files of `folder`, found by listing it and its `requirements` folder."""
    return sorted(folder.glob("requirements*.txt")) + sorted(folder.glob("requirements/*.txt"))


# Every spelling of the name `_normal` maps to it holds this (a lock file's escapes aside).
_MENTION = re.compile(r"pytest[-_.]+asyncio", re.IGNORECASE)


def _tomllib() -> Any:
    """tomllib, imported by the runs that read a TOML file (one named file needs none)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    return tomllib


def _toml(path: Path) -> dict[str, Any]:
    """The file's TOML document; empty when it cannot name pytest-asyncio (`may_name`) or is no TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    if not may_name(text):
        return {}  # a pyproject.toml seldom declares pytest-asyncio: parsing each one was most of this module's CPU
    tomllib = _tomllib()
    try:
        return tomllib.loads(text)  # type: ignore[no-any-return]
    except tomllib.TOMLDecodeError:
        return {}


# A backslash ending a line of a multi-line TOML string: it joins the next line's first word to the text before.
_LINE_JOINED = re.compile(r"\\[ \t]*\r?\n")


def _mentions_or_escapes(text: str) -> bool:
    """Whether the text spells the name, or holds a `\\u`/`\\U` escape that could spell it."""
    return _MENTION.search(text) is not None or "\\u" in text or "\\U" in text


def may_name(text: str) -> bool:
    """Whether a TOML text may hold the name pytest-asyncio (any spelling `_normal` maps to it) in a string or
    key: a file without it declares nothing, whatever it holds."""
    return _mentions_or_escapes(text) or _LINE_JOINED.search(text) is not None


# What each lock file read by this process, or by an earlier run (cache.py keeps them in the cache folder),
# declares, by path, with the stamp the file had: an answer stands while its file keeps that stamp, and is
# kept only once that stamp is settled (stamps.py: an edit in the same clock tick could keep it). A cold
# run's worker reads the lock files here ahead of its LB3 pass, once it has checked its first chunk.
KNOWN_LOCKS: dict[Path, tuple[Stamp, list[str]]] = {}


def read_locks_ahead(starts: Iterable[Path], stop: Path) -> None:
    """Read the lock files of the folders `detect` would pick, starting from each of `starts`."""
    for start in starts:
        folder = project_folder(start, stop, [])
        for path in [folder / name for name in LOCK_NAMES] if folder is not None else []:
            _locked(path)


def now() -> float:
    import time

    return time.time()


def _locked(path: Path) -> list[str]:
    """Exact versions of pytest-asyncio in a lock file: read once per stamp (uv.lock files are large TOML)."""
    started = now()
    file_stamp = stamp(path)
    if file_stamp is None:
        return []
    known = KNOWN_LOCKS.get(path)
    if known is not None and known[0] == file_stamp:
        return list(known[1])
    versions = _read_locked(path)
    if is_settled(file_stamp, started):
        KNOWN_LOCKS[path] = (file_stamp, versions)
    return list(versions)


def _read_locked(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if not _mentions_or_escapes(text):
        return []  # hundreds of kilobytes of TOML or JSON, and no word of pytest-asyncio: nothing to parse
    if path.name == "Pipfile.lock":
        import json

        try:
            data = json.loads(text)
        except ValueError:
            return []
        entries = [section.get(name) for section in data.values() if isinstance(section, dict)
                   for name in section if _normal(name) == _NAME]
        return [str(entry["version"]).lstrip("=") for entry in entries
                if isinstance(entry, dict) and isinstance(entry.get("version"), str)]
    tomllib = _tomllib()
    try:
        packages = _packages(text)
    except tomllib.TOMLDecodeError:
        return []
    return [str(package["version"]) for package in packages if isinstance(package, dict)
            and _normal(str(package.get("name", ""))) == _NAME and isinstance(package.get("version"), str)]


_PACKAGE_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*package[ \t]*\]\]", re.M)


def _packages(text: str) -> Any:
    """The `package` array of a TOML lock file, or of those of its `[[package]]` tables that can be pytest-asyncio:
    parsing all of a uv.lock or poetry.lock (hundreds of kilobytes of wheels and hashes) was the most of the
    LB3 pass's CPU on a project with one. A table's text starts at its header and ends at the next one's
    (each key after `[[package]]`, and each `[package.*]` table, belongs to the last package), so each can be
    parsed alone, unless a multi-line string could hold a header's line; a table that does not parse alone
    has the whole file parsed. A file whose other tables are no valid TOML still declares what these hold."""
    tomllib = _tomllib()
    starts = [match.start() for match in _PACKAGE_HEADER.finditer(text)]
    if not starts or '"""' in text or "'''" in text:
        return tomllib.loads(text).get("package", [])
    packages: list[Any] = []
    for start, end in zip([0, *starts], [*starts, len(text)]):
        table = text[start:end]
        if not _mentions_or_escapes(table):
            continue
        try:
            found = tomllib.loads(table).get("package", [])
        except tomllib.TOMLDecodeError:
            found = None
        if not isinstance(found, list):
            return tomllib.loads(text).get("package", [])
        packages += found
    return packages


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _poetry_value(value: Any) -> Iterator[str]:
    """`pytest-asyncio = "^0.23"`, `{ version = "^0.23" }` or a list of such tables."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and isinstance(value.get("version"), str):
        yield value["version"]
    elif isinstance(value, list):
        for item in value:
            yield from _poetry_value(item)


def _pyproject(data: dict[str, Any]) -> Iterator[str]:
    project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
    requirements = [*_strings(project.get("dependencies", [])), *_strings(project.get("optional-dependencies", {})),
                    *_strings(data.get("dependency-groups", {}))]
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    for manager in ("pdm", "uv"):
        section = tool.get(manager, {})
        if isinstance(section, dict):
            requirements += _strings(section.get("dev-dependencies", []))
    for requirement in requirements:
        specifier = requirement_specifier(requirement)
        if specifier is not None:
            yield specifier
    poetry = tool.get("poetry", {})
    if isinstance(poetry, dict):
        tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
        groups = poetry.get("group", {})
        if isinstance(groups, dict):
            tables += [group.get("dependencies") for group in groups.values() if isinstance(group, dict)]
        for table in tables:
            if isinstance(table, dict):
                for name, value in table.items():
                    if _normal(name) == _NAME:
                        yield from _poetry_value(value)


def _pipfile(data: dict[str, Any]) -> Iterator[str]:
    for section in ("packages", "dev-packages"):
        table = data.get(section, {})
        if isinstance(table, dict):
            for name, value in table.items():
                if _normal(name) == _NAME:
                    yield from _poetry_value(value)


def _ini_requirements(path: Path) -> Iterator[str]:
    import configparser  # not imported by runs that read no ini file

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    if _MENTION.search(text) is None:
        return  # each line of a value is matched as written: without the name, no line names pytest-asyncio
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return
    for section in parser.sections():
        wanted = (section.startswith("testenv") if path.name == "tox.ini"
                  else section in ("options", "options.extras_require"))
        if not wanted:
            continue
        for key, value in parser.items(section):
            if path.name == "tox.ini" and key != "deps" or section == "options" and key != "install_requires":
                continue
            for line in value.splitlines():
                specifier = requirement_specifier(re.sub(r"^[\w{}\-,]+:\s*", "", line.strip()))
                if specifier is not None:
                    yield specifier


def _requirements_txt(path: Path) -> Iterator[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    for line in lines:
        specifier = requirement_specifier(line.split(" #")[0])
        if specifier is not None:
            yield specifier


def _setup_py(path: Path) -> Iterator[str]:
    """Requirement strings written as literals anywhere in setup.py (`extras_require={"testing": [...]}`);
    read with `ast`, never run."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            specifier = requirement_specifier(node.value)
            if specifier is not None:
                yield specifier


def _ranges(path: Path) -> list[str]:
    if path.name == "setup.py":
        return list(_setup_py(path))
    if path.name == "pyproject.toml":
        return list(_pyproject(_toml(path)))
    if path.name == "Pipfile":
        return list(_pipfile(_toml(path)))
    if path.suffix == ".txt":
        return list(_requirements_txt(path))
    return list(_ini_requirements(path))


def declared_in(folder: Path) -> tuple[list[tuple[str, str]], bool] | None:
    """(specifier, file) pairs declared in `folder` and whether they are locked; None when the folder holds
    none of the files that could declare pytest-asyncio."""
    files = [path for path in declaration_files(folder) if path.is_file()]
    if not files:
        return None
    locked = [(f"=={version}", path.name) for path in files if path.name in LOCK_NAMES for version in _locked(path)]
    if locked:
        return locked, True
    shown = {path: str(path.relative_to(folder)) for path in files}
    return [(specifier, shown[path]) for path in files if path.name not in LOCK_NAMES
            for specifier in _ranges(path)], False


def project_folder(start: Path, stop: Path, searched: list[Path]) -> Path | None:
    """The nearest folder, from `start` up to `stop` (loopbound's project root) or the repository root,
    whichever comes first, holding a declaration file; every folder looked in is added to `searched`
    (a declaration created there later changes the answer)."""
    for folder in (start, *start.parents):
        searched.append(folder)
        if _holds_declaration(folder):
            return folder
        if folder == stop or (folder / ".git").exists():
            return None
    return None


def _holds_declaration(folder: Path) -> bool:
    """Whether one of `declaration_files(folder)` is a file: the fixed names first, and the globs, which list the
    folder and its `requirements` folder, only where none of those is a file."""
    return (any((folder / name).is_file() for name in DECLARATION_NAMES)
            or any(path.is_file() for path in _requirements_files(folder)))


def detect(start: Path, stop: Path, installed: str | None, searched: list[Path],
           known: dict[Path, AsyncioVersions] | None = None) -> AsyncioVersions:
    """The pytest-asyncio releases the project around `start` runs on (`installed`: next to loopbound).

    `known`: the answers of the declaration folders read so far for the same `installed` (the test folders
    of one project all find its pyproject.toml: it was read once per test folder)."""
    folder = project_folder(start, stop, searched)
    if folder is not None and known is not None and folder in known:
        return known[folder]
    found = declared_in(folder) if folder is not None else None
    declarations, locked = found if found is not None else ([], False)
    try:
        versions = combine(declarations, locked, installed)
    except VersionError:
        versions = combine([], False, installed)
    if folder is not None and known is not None:
        known[folder] = versions
    return versions


def target(specifier: str) -> AsyncioVersions:
    """`target-pytest-asyncio` from [tool.loopbound]: the user's word, over anything declared."""
    return combine([(specifier, "target-pytest-asyncio")], locked=True, installed=None)
