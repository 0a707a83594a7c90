"""Which files to check: explicit paths, directories walked with .gitignore and excludes applied."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from loopbound import recorder
from loopbound.config import Settings
from loopbound.patterns import gitignore_spec, matcher_of, matches_any

if TYPE_CHECKING:  # imported where a pattern needs it: most runs of one named file match none of its kinds
    import pathspec

# ruff's default excludes, so that both tools check the same files, plus loopbound's own cache. A
# virtual environment's packages are skipped by their folder's name (site-packages), not by the
# pyvenv.cfg beside them: a folder holding one may hold the project's own sources, which ruff checks.
DEFAULT_EXCLUDES = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache", ".nox",
    ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv", ".vscode",
    "__pypackages__", "_build", "buck-out", "dist", "node_modules", "site-packages", "venv", ".loopbound_cache",
)
# Folders named like `{{cookiecutter.project_slug}}` or `{% if docker %}docker{% endif %}` are
# templates: their files become Python only once rendered, and their configs TOML.
TEMPLATE_MARKERS = ("{{", "{%")
PYTEST_CONFIG_NAMES = frozenset({"pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml",
                                 "tox.ini", "setup.cfg"})


class DiscoveryError(Exception):
    """A path given on the command line that does not exist or cannot be listed."""


@dataclass(frozen=True)
class CheckedFile:
    """A file to check with what every later step needs of its path, worked out once, by discovery.

    No stamp: a discovery outlives the moment it was made (a warm run in part replays the recorded
    one, the server keeps one between edits), so a file is stamped when it is checked.
    """

    path: Path  # as given on the command line or found by the walk
    shown: str  # as findings show it (display_path)
    real: Path  # symlinks resolved: one module however it is reached
    relative: str  # to the project root, with slashes: what per-file-ignores and test-files match
    is_test: bool


@dataclass
class Discovered:
    python_files: list[CheckedFile] = field(default_factory=list)
    config_files: list[Path] = field(default_factory=list)  # pytest configs: inputs of the LB3 rules
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user may want to know, on stderr


# Resolved paths the walk already knows: a folder it descends into is no symlink (those are not
# followed), so its real path is its parent's plus its name, and so is a file's that is no symlink.
_KNOWN_REAL: dict[str, str] = {}


@lru_cache(maxsize=65536)
def _real_directory(directory: str) -> str:
    """Resolving every file's path was half of a warm run: the folders of a tree resolve once each."""
    return _KNOWN_REAL.get(directory) or os.path.realpath(directory)


@lru_cache(maxsize=65536)
def _resolved(absolute: str) -> str:
    known = _KNOWN_REAL.get(absolute)
    if known is not None:
        return known
    try:
        if os.path.islink(absolute):
            return str(Path(absolute).resolve())
        folder, name = os.path.split(absolute)
        return os.path.join(_real_directory(folder), name) if name else _real_directory(folder)
    except (OSError, RuntimeError):
        return absolute


def real_path(path: Path) -> Path:
    """The resolved path, or the absolute one where resolving fails (a symlink loop)."""
    return Path(real_path_text(path))


def real_path_text(path: str | os.PathLike[str]) -> str:
    """`real_path` as text: no Path is built (the LB3 pass asks for every file's and keeps few)."""
    return _resolved(os.path.abspath(path))


def _relative(path: str, base: str) -> str | None:
    """`path` under `base` with slashes, as `Path.relative_to` would give it, without building Paths."""
    if path == base:
        return "."
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix):].replace(os.sep, "/")


def display_path(path: Path) -> str:
    """Relative to the current directory when the file is under it, as ruff prints it."""
    return _display_path(path, os.getcwd())


@lru_cache(maxsize=65536)
def _display_path(path: Path, cwd: str) -> str:
    shown = _relative(_resolved(os.path.normpath(os.path.join(cwd, path))), _real_directory(cwd))
    return shown if shown is not None else path.as_posix()


def relative_to_root(path: Path | str, settings: Settings) -> str:
    """The path as patterns in the configuration see it: relative to the project root, with slashes."""
    relative = _relative(_resolved(os.path.abspath(path)), str(settings.project_root))
    return relative if relative is not None else PurePath(path).as_posix()


def checked_file(path: Path, settings: Settings) -> CheckedFile:
    relative = relative_to_root(path, settings)
    return CheckedFile(path, display_path(path), real_path(path), relative, _is_test(path.name, relative, settings))


def discover(paths: list[Path], settings: Settings) -> Discovered:
    partial = recorder.partial()
    if partial is not None:  # nothing a walk reads has changed since the recorded run
        found, known_real = partial.state()[0]
        _KNOWN_REAL.update(known_real)
    else:
        found = _discover(paths, settings)
    recording = recorder.recording()
    if recording is not None:
        recording.discovered = (found, _KNOWN_REAL)  # for the next run, should it run in part
    return found  # type: ignore[no-any-return]


def _discover(paths: list[Path], settings: Settings) -> Discovered:
    found = Discovered()
    excludes = Excludes.of([*DEFAULT_EXCLUDES, *settings.exclude, *settings.extend_exclude])
    seen: set[str] = set()
    for path in paths:
        if not os.path.lexists(path):
            raise DiscoveryError(f"{path}: no such file or directory")
        if path.is_dir():
            walked = _Walked(settings)
            for directory, name, absolute, real_folder in _walk(path, excludes, settings, found):
                if real_folder is None:  # a symlink
                    _add(Path(os.path.join(directory, name)), found, seen, settings, absolute=absolute)
                else:
                    walked.add(directory, name, real_folder, found, seen)
        elif path.is_file() or path.is_symlink():
            _add(path, found, seen, settings, explicit=True)
    found.python_files.sort(key=lambda file: file.path)
    found.config_files.sort()
    return found


def _add(path: Path, found: Discovered, seen: set[str], settings: Settings, explicit: bool = False,
         absolute: str | None = None) -> None:
    key = _resolved(absolute or os.path.abspath(path))
    if key in seen:
        return
    seen.add(key)
    if path.suffix in (".py", ".pyi") or (explicit and path.name not in PYTEST_CONFIG_NAMES):
        found.python_files.append(checked_file(path, settings))
    elif path.name in PYTEST_CONFIG_NAMES:
        found.config_files.append(path)


class _Walked:
    """A walked file that is no symlink, made into a CheckedFile from the strings the walk already has:
    its real path is its folder's plus its name, so what `checked_file` works out with a realpath, a
    getcwd and a path parse per call comes from one prefix test each (the same answers), and its
    Paths are its folders' (made once per folder) joined with its name."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = str(settings.project_root)
        self.cwd = _real_directory(os.getcwd())
        self.folders: dict[str, Path] = {}
        self.test_path = matcher_of(settings.test_files)
        self.test_names: dict[str, bool] = {}  # most names recur (`__init__.py`, `models.py`)

    def add(self, directory: str, name: str, real_folder: str, found: Discovered, seen: set[str]) -> None:
        real = os.path.join(real_folder, name)
        if real in seen:
            return
        seen.add(real)
        if name in PYTEST_CONFIG_NAMES:
            found.config_files.append(self.folder(directory) / name)
        elif name not in (".py", ".pyi"):  # as `Path.suffix` has it: a name that is only a suffix has none
            path = self.folder(directory) / name
            relative = _relative(real, self.root)
            if relative is None:
                relative = path.as_posix()
            shown = _relative(real, self.cwd)
            found.python_files.append(CheckedFile(path, shown if shown is not None else path.as_posix(),
                                                  self.folder(real_folder) / name, relative,
                                                  self.test_path(relative) or self.is_test_name(name)))

    def is_test_name(self, name: str) -> bool:
        known = self.test_names.get(name)
        if known is None:
            known = self.test_names[name] = self.test_path(name)
        return known

    def folder(self, directory: str) -> Path:
        known = self.folders.get(directory)
        if known is None:
            known = self.folders[directory] = Path(directory)
        return known


Ignores = list[tuple[str, "pathspec.GitIgnoreSpec"]]  # (resolved folder of a .gitignore, its patterns)


def _walk(root: Path, excludes: Excludes, settings: Settings, found: Discovered) -> list[tuple[str, str, str, str | None]]:
    """The files to check under `root`, as (folder as given, name, absolute path, real folder unless
    the file is a symlink) strings: a tree's worth of Path objects is a third of a warm run."""
    ignores: Ignores = []
    if settings.respect_gitignore:
        ignores = [(str(real_path(folder)), spec) for folder, spec in _parent_gitignores(root)]
    files: list[tuple[str, str, str, str | None]] = []
    absolute = os.path.abspath(root)
    _walk_directory(str(root), _Place(absolute, _real_directory(absolute)), ignores, excludes, settings, found, files)
    return files


@dataclass(frozen=True)
class _Place:
    """A walked folder's absolute and resolved paths, carried down instead of resolved per folder."""

    absolute: str
    real: str

    def child(self, name: str, is_symlink: bool) -> str:
        absolute = os.path.join(self.absolute, name)
        if not is_symlink:
            _KNOWN_REAL[absolute] = os.path.join(self.real, name)
        return absolute


def _parent_gitignores(root: Path) -> list[tuple[Path, pathspec.GitIgnoreSpec]]:
    """.gitignore files above the walked directory, up to the repository root, still apply."""
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    recording = recorder.recording()
    for folder in real_path(root).parents:
        if recording is not None:
            recording.note([folder / ".gitignore"])
            recording.note_presence(folder / ".git")
        spec = _read_gitignore(folder)
        if spec:
            specs.insert(0, (folder, spec))
        if (folder / ".git").exists():
            break
    return specs


def _read_gitignore(folder: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        lines = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return gitignore_spec(lines)


def _ignored(resolved: str, is_dir: bool, ignores: Ignores) -> bool:
    for base, spec in ignores:
        relative = _relative(resolved, base)
        if relative is not None and spec.match_file(relative + ("/" if is_dir else "")):
            return True
    return False


_PLAIN_NAME = re.compile(r"^(?P<star>\*?)(?P<text>[\w.\-]+)(?P<slash>/?)$")


@dataclass(frozen=True)
class Excludes:
    """`exclude` patterns, split so that most entries are decided by their name alone.

    A pattern without an inner slash matches a name at any depth; since the walk prunes excluded
    folders on the way down, the name is all it needs, and a plain name (`build`, `*.egg-info`,
    `dist/`) needs no regex at all. Only patterns with an inner slash, a `**` or a negation are
    matched against the path relative to the project root, which costs a realpath.
    """

    names: frozenset[tuple[str, bool]]  # (name, folders only)
    suffixes: tuple[tuple[str, bool], ...]  # `*.egg-info`: (".egg-info", folders only)
    by_name: pathspec.GitIgnoreSpec | None
    by_path: pathspec.GitIgnoreSpec | None

    @classmethod
    def of(cls, patterns: list[str]) -> Excludes:
        if any(pattern.startswith("!") for pattern in patterns):
            return cls(frozenset(), (), None, gitignore_spec(patterns))  # a negation may re-include anything
        names, suffixes, by_name, by_path = set(), [], [], []
        for pattern in patterns:
            plain = _PLAIN_NAME.match(pattern)
            if plain and plain["star"]:
                suffixes.append((plain["text"], bool(plain["slash"])))
            elif plain:
                names.add((plain["text"], bool(plain["slash"])))
            elif "/" in pattern.rstrip("/") or "**" in pattern:
                by_path.append(pattern)
            else:
                by_name.append(pattern)
        return cls(frozenset(names), tuple(suffixes), gitignore_spec(by_name) if by_name else None,
                   gitignore_spec(by_path) if by_path else None)

    def match(self, path: str, name: str, is_dir: bool, settings: Settings) -> bool:
        if (name, False) in self.names or (is_dir and (name, True) in self.names):
            return True
        if any(name.endswith(suffix) and (is_dir or not folders_only) for suffix, folders_only in self.suffixes):
            return True
        suffix = "/" if is_dir else ""
        if self.by_name is not None and self.by_name.match_file(name + suffix):
            return True
        return self.by_path is not None and self.by_path.match_file(relative_to_root(path, settings) + suffix)


def _walk_directory(directory: str, place: _Place, ignores: Ignores, excludes: Excludes, settings: Settings,
                    found: Discovered, files: list[tuple[str, str, str, str | None]]) -> None:
    """One folder, listed once: its listing also says whether it holds a .gitignore, so no folder
    costs a failed open."""
    recording = recorder.recording()
    if recording is not None:
        recording.note([directory])
    try:
        with os.scandir(directory) as listing:
            entries = list(listing)
    except OSError as error:
        found.errors.append(f"{directory}: cannot list the directory: {error.strerror}")
        return
    if settings.respect_gitignore and any(entry.name == ".gitignore" for entry in entries):
        spec = _read_gitignore(Path(directory))
        if recording is not None:
            recording.note([os.path.join(directory, ".gitignore")])
        if spec:
            ignores = [*ignores, (place.real, spec)]
    # Directory symlinks are not followed: that is what keeps a symlink loop from looping. Most of a
    # tree is decided here, without matching a pattern, and only what is left is sorted.
    kept = sorted(((entry.name, entry) for entry in entries
                   if entry.is_dir(follow_symlinks=False) or entry.name.endswith((".py", ".pyi"))
                   or entry.name in PYTEST_CONFIG_NAMES), key=itemgetter(0))
    for name, entry in kept:
        is_dir = entry.is_dir(follow_symlinks=False)
        is_symlink = entry.is_symlink()
        absolute = place.child(name, is_symlink)
        if excludes.match(absolute, name, is_dir, settings):
            continue
        real = None if is_symlink else _KNOWN_REAL[absolute]
        if ignores and _ignored(_resolved(absolute) if real is None else real, is_dir, ignores):
            continue
        if is_dir and any(marker in name for marker in TEMPLATE_MARKERS):
            found.notes.append(f"{os.path.normpath(entry.path)}: skipped, its name is a template (`{{{{...}}}}`, `{{%...%}}`); "
                               "name it on the command line to check it")
            continue
        if not is_dir:
            files.append((directory, name, absolute, place.real if real is not None else None))
        else:
            _walk_directory(entry.path, _Place(absolute, _KNOWN_REAL[absolute]), ignores, excludes, settings, found,
                            files)


def is_test_file(path: Path, settings: Settings) -> bool:
    """Test modules and conftest.py get fixture-shaped fixes and the pytest rules."""
    return _is_test(path.name, relative_to_root(path, settings), settings)


def _is_test(name: str, relative: str, settings: Settings) -> bool:
    return matches_any(settings.test_files, relative) or matches_any(settings.test_files, name)
