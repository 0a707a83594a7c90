"""pytest's configuration, found and read the way pytest 9 finds and reads it, with the line of every key.

pytest stops at the first directory, walking up from its arguments, that holds a file with pytest
configuration, and within one directory takes the first of CONFIG_NAMES that has some: `pytest.toml`
and `pytest.ini` (and their dot-names) count even when empty. The LB3 rules need the lines so that
their findings can point into the config file; neither tomllib nor iniconfig keeps them, so both
formats are read here line by line, and TOML values by tomllib itself.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from loopbound import unsaved
from loopbound.discovery import real_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# pytest's CONFIG_LOADERS_BY_NAME, in precedence order.
CONFIG_NAMES = ("pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
DEDICATED = frozenset({"pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini"})
ASYNCIO_KEYS = ("asyncio_mode", "asyncio_default_fixture_loop_scope", "asyncio_default_test_loop_scope")


class PytestConfigError(Exception):
    """A config file pytest itself would refuse; the message names the file and the line."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line


@dataclass(frozen=True)
class Setting:
    """One value as pytest-asyncio sees it, with where it was written (an addopts `-o` counts too)."""

    value: str
    path: Path
    line: int
    key: str  # the key written at that line: the option itself, or `addopts`


@dataclass(frozen=True)
class PytestConfig:
    path: Path
    section: str  # the table or section the values came from: `tool.pytest.ini_options`, `pytest`, ...
    section_line: int  # 0 when the file counts without a section (an empty pytest.ini)
    keys: Mapping[str, Setting] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.path.parent

    def asyncio(self, key: str) -> Setting | None:
        """An asyncio option, `-o key=value` / `--asyncio-mode=` inside addopts winning as on the command line."""
        return _addopts_overrides(self).get(key) or self.keys.get(key)

    @property
    def mode(self) -> str:
        setting = self.asyncio("asyncio_mode")
        return setting.value.strip() if setting else "strict"


def _addopts_overrides(config: PytestConfig) -> Mapping[str, Setting]:
    addopts = config.keys.get("addopts")
    return {} if addopts is None else _overrides_in(addopts)


@lru_cache(maxsize=256)
def _overrides_in(addopts: Setting) -> Mapping[str, Setting]:
    """Split once per addopts value: the LB3 pass asks for every module's defaults."""
    import shlex

    try:
        words = shlex.split(addopts.value)
    except ValueError:
        words = addopts.value.split()
    found: dict[str, Setting] = {}
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        assignment = None
        if word in ("-o", "--override-ini"):
            assignment = following
        elif word.startswith("--override-ini="):
            assignment = word.partition("=")[2]
        elif word.startswith("-o") and len(word) > 2:
            assignment = word[2:]
        elif word == "--asyncio-mode":
            assignment = f"asyncio_mode={following}"
        elif word.startswith("--asyncio-mode="):
            assignment = f"asyncio_mode={word.partition('=')[2]}"
        if assignment and "=" in assignment:
            key, _, value = assignment.partition("=")
            if key.strip() in ASYNCIO_KEYS:
                found[key.strip()] = Setting(value, addopts.path, addopts.line, "addopts")
    return found


def locate(start: Path, cache: dict[Path, PytestConfig | None] | None = None,
           searched: list[str] | None = None) -> PytestConfig | None:
    """The config pytest uses when run on `start` (a file or directory): the nearest one walking up.

    `searched` (without `cache`) gets every config file looked at, present or not, up to the one taken,
    a file that fails to load included: what the answer depends on (the fix cache records them)."""
    return locate_from(real_path(start if start.is_dir() else start.parent), cache, searched)


def locate_from(directory: Path, cache: dict[Path, PytestConfig | None] | None = None,
                searched: list[str] | None = None) -> PytestConfig | None:
    """`locate` from a resolved directory."""
    visited: list[Path] = []
    found: PytestConfig | None = None
    for folder in itertools.chain((directory,), directory.parents):  # lazily: most stop at a cached folder
        if cache is not None and folder in cache:
            found = cache[folder]
            break
        visited.append(folder)
        found = _config_in(folder, searched)
        if found is not None:
            break
    if cache is not None:
        for folder in visited:
            cache[folder] = found
    return found


def _config_in(folder: Path, searched: list[str] | None = None) -> PytestConfig | None:
    text = str(folder)
    for name in CONFIG_NAMES:
        candidate = os.path.join(text, name)
        if searched is not None:
            searched.append(candidate)
        if os.path.isfile(candidate):  # most folders hold none: no Path is built for them
            config = load(folder / name)
            if config is not None:
                return config
    return None


def load(path: Path) -> PytestConfig | None:
    """The pytest configuration in `path`, or None when that file holds none (a pyproject.toml without it)."""
    try:
        text = unsaved.read_text(path)
    except UnicodeDecodeError as error:
        raise PytestConfigError(path, text_line(path, error.start), "cannot decode the file as UTF-8") from None
    except OSError as error:
        raise PytestConfigError(path, 1, f"cannot read the file: {error.strerror}") from None
    return _parsed(path, text)


@lru_cache(maxsize=128)
def _parsed(path: Path, text: str) -> PytestConfig | None:
    """Parsed once per text: the LB3 pass loads each config passed in, then finds it again walking up from
    its folder (45 loads of 26 files on the benchmark corpus). A config is never changed once made."""
    if path.suffix == ".toml":
        return _load_toml(path, text)
    return _load_ini(path, text)


def text_line(path: Path, offset: int) -> int:
    try:
        return unsaved.read_bytes(path)[:offset].count(b"\n") + 1
    except OSError:
        return 1


# ---- TOML ----------------------------------------------------------------------------------------------

_TOML_LINE = re.compile(r"line (\d+)")
_TABLE = re.compile(r"^\s*\[\s*(?P<name>[^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*(?P<key>[A-Za-z0-9_.\-"' ]+?)\s*=""")


def _load_toml(path: Path, text: str) -> PytestConfig | None:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = _TOML_LINE.search(str(error))
        line = int(match.group(1)) if match else 1
        raise PytestConfigError(path, line, f"invalid TOML: {error}") from None
    tables = _table_lines(text)
    if path.name == "pyproject.toml":
        return _pyproject(path, document, tables, text)
    table = document.get("pytest")
    if table is not None and not isinstance(table, dict):
        raise PytestConfigError(path, _key_line(text, "pytest", 0), "`pytest` must be a table")
    if path.name in DEDICATED:
        return _toml_config(path, "pytest", table or {}, tables, text)
    return _toml_config(path, "pytest", table, tables, text) if table is not None else None


def _pyproject(path: Path, document: dict[str, Any], tables: dict[str, int], text: str) -> PytestConfig | None:
    tool = document.get("tool", {})
    pytest_table = tool.get("pytest", {}) if isinstance(tool, dict) else {}
    if not isinstance(pytest_table, dict):
        return None
    native = {key: value for key, value in pytest_table.items() if key != "ini_options"}
    ini_options = pytest_table.get("ini_options")
    if native and ini_options is not None:
        raise PytestConfigError(
            path, tables.get("tool.pytest", 1),
            "Cannot use both [tool.pytest] (native TOML types) and [tool.pytest.ini_options] (string-based INI "
            "format) simultaneously, as pytest 9 refuses them",
        )
    if native:
        return _toml_config(path, "tool.pytest", native, tables, text)
    if isinstance(ini_options, dict):
        return _toml_config(path, "tool.pytest.ini_options", ini_options, tables, text)
    return None


def _toml_config(path: Path, section: str, table: dict[str, Any], tables: dict[str, int], text: str) -> PytestConfig:
    section_line = tables.get(section, 0)
    keys = {}
    for key, value in table.items():
        if isinstance(value, list):
            import shlex

            rendered = " ".join(shlex.quote(str(item)) for item in value) if key == "addopts" else " ".join(
                str(item) for item in value)
        else:
            rendered = str(value).lower() if isinstance(value, bool) else str(value)
        line = _key_line(text, key, section_line) if section_line else 0
        keys[key] = Setting(rendered, path, line or section_line or 1, key)
    return PytestConfig(path, section, section_line, keys)


def _table_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for row, line in enumerate(text.splitlines(), start=1):
        match = _TABLE.match(line)
        if match and not line.lstrip().startswith("[["):
            lines.setdefault(re.sub(r"\s*\.\s*", ".", match.group("name")).replace('"', ""), row)
    return lines


def _key_line(text: str, key: str, after: int) -> int:
    """The row of `key = ...` in the table that starts at row `after` (before the next table)."""
    for row, line in enumerate(text.splitlines()[after:], start=after + 1):
        if row > after + 1 and _TABLE.match(line):
            break
        match = _KEY.match(line)
        if match and match.group("key").strip().strip("\"'") == key:
            return row
    return 0


# ---- INI (iniconfig's grammar, which pytest uses) -------------------------------------------------------

def _load_ini(path: Path, text: str) -> PytestConfig | None:
    sections = _parse_ini(path, text)
    wanted = "tool:pytest" if path.name == "setup.cfg" else "pytest"
    if path.name == "setup.cfg" and wanted not in sections and "pytest" in sections:
        raise PytestConfigError(path, sections["pytest"][0],
                                "[pytest] section in setup.cfg files is no longer supported, change to [tool:pytest]")
    if wanted in sections:
        row, values = sections[wanted]
        return PytestConfig(path, wanted, row, values)
    if path.name in DEDICATED:
        return PytestConfig(path, "pytest", 0, {})
    return None


def _parse_ini(path: Path, text: str) -> dict[str, tuple[int, dict[str, Setting]]]:
    sections: dict[str, tuple[int, dict[str, Setting]]] = {}
    current: dict[str, Setting] | None = None
    last_key: str | None = None
    for row, raw in enumerate(text.splitlines(), start=1):
        line = "" if raw.lstrip()[:1] in ("#", ";") else raw.rstrip()
        if not line:
            continue
        if line[0] == "[":
            header = line
            for comment in "#;":
                header = header.split(comment)[0].rstrip()
            if header.endswith("]"):
                name = header[1:-1]
                if not name:
                    raise PytestConfigError(path, row, "empty section name")
                if name in sections:
                    raise PytestConfigError(path, row, f"duplicate section {name!r}")
                current, last_key = {}, None
                sections[name] = (row, current)
                continue
            line = " " + line  # iniconfig reads a malformed header as a continuation
        if not line[0].isspace():
            key, value = _ini_assignment(path, row, line)
            if current is None:
                raise PytestConfigError(path, row, "no section header defined")
            if key in current:
                raise PytestConfigError(path, row, f"duplicate name {key!r}")
            current[key] = Setting(value, path, row, key)
            last_key = key
        else:
            if current is None or last_key is None:
                raise PytestConfigError(path, row, "unexpected value continuation")
            previous = current[last_key]
            joined = f"{previous.value}\n{line.strip()}" if previous.value else line.strip()
            current[last_key] = Setting(joined, path, previous.line, last_key)
    return sections


def _ini_assignment(path: Path, row: int, line: str) -> tuple[str, str]:
    name, equals, value = line.partition("=")
    if not equals or ":" in name:
        name, colon, value = line.partition(":")
        if not colon:
            raise PytestConfigError(path, row, f"unexpected line: {line!r}")
    return name.strip(), value.strip()
