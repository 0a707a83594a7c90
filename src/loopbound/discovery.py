"""Which files to check: explicit paths, directories walked with .gitignore and excludes applied."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from loopbound import recorder
from loopbound.config import Settings
from loopbound.patterns import Matcher, gitignore_matcher, gitignore_spec, matcher_of, matches_any

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
PYTHON_SUFFIXES = (".py", ".pyi")
PYTEST_CONFIG_NAMES = frozenset({"pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml",
                                 "tox.ini", "setup.cfg"})


class DiscoveryError(Exception):
    """A path given on the command line that does not exist or cannot be listed."""


class CheckedFile:
    """A file to check with what every later step needs of its path, worked out once, by discovery.

    No stamp: a discovery outlives the moment it was made (a warm run in part replays the recorded
    one, the server keeps one between edits), so a file is stamped when it is checked.

    The walk gives `path` and `real` as text, each made into a Path when first asked for: before the
    first file reaches a worker, the main process needs neither (two Paths per file were a quarter of
    the walk). A value otherwise, compared and hashed by its fields.
    """

    __slots__ = ("_path", "shown", "_real", "relative", "is_test")

    def __init__(self, path: Path | str, shown: str, real: Path | str, relative: str, is_test: bool) -> None:
        self._path = path  # as given on the command line or found by the walk (as str(Path) writes it)
        self.shown = shown  # as findings show it (display_path)
        self._real = real  # symlinks resolved: one module however it is reached
        self.relative = relative  # to the project root, with slashes: what per-file-ignores and test-files match
        self.is_test = is_test

    @property
    def path(self) -> Path:
        if isinstance(self._path, str):
            self._path = Path(self._path)
        return self._path

    @property
    def path_text(self) -> str:
        """`str(self.path)`, without making the Path."""
        return self._path if isinstance(self._path, str) else str(self._path)

    @property
    def real_text(self) -> str:
        """`str(self.real)`, without making the Path: the walk gives it as a Path writes it (os.path.realpath
        and the names below a resolved folder)."""
        return self._real if isinstance(self._real, str) else str(self._real)

    @property
    def has_py_suffix(self) -> bool:
        """`self.path.suffix == ".py"`, read from the text: a name that is only the suffix has none."""
        name = self.path_text.rpartition(os.sep)[2]  # os.path.basename
        return name.endswith(".py") and len(name) > 3

    @property
    def real(self) -> Path:
        if isinstance(self._real, str):
            self._real = Path(self._real)
        return self._real

    def _fields(self) -> tuple[Path, str, Path, str, bool]:
        return self.path, self.shown, self.real, self.relative, self.is_test

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CheckedFile) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        path, shown, real, relative, is_test = self._fields()
        return f"CheckedFile(path={path!r}, shown={shown!r}, real={real!r}, relative={relative!r}, is_test={is_test!r})"


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
            for place, name, is_symlink in _walk(path, excludes, settings, found):
                if is_symlink:
                    _add(Path(os.path.join(place.directory, name)), found, seen, settings,
                         absolute=place.absolute_prefix + name)
                else:
                    walked.add(place, name, found, seen)
        elif path.is_file() or path.is_symlink():
            _add(path, found, seen, settings, explicit=True)
    if len(paths) > 1 or os.path.normcase("A") != "A":
        # One folder's walk, which lists each folder's entries sorted by name and goes into a folder
        # where its name comes, gives its files in Path order already (where Paths compare case-sensitively).
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


def _prefix(folder: str) -> str:
    """`folder` ready for a name to be appended: what `os.path.join(folder, name)` gives, without its checks."""
    return folder if folder.endswith(os.sep) else folder + os.sep


class _Place:
    """A walked folder: as given, absolute and resolved, carried down instead of worked out per entry (a
    folder the walk descends into is no symlink, so its real path is its parent's plus its name)."""

    __slots__ = ("directory", "absolute_prefix", "real", "real_prefix", "_path_prefix", "parent", "name")

    def __init__(self, directory: str, absolute: str, real: str, parent: _Place | None = None, name: str = "") -> None:
        self.directory = directory
        self.absolute_prefix = _prefix(absolute)
        self.real = real
        self.real_prefix = _prefix(real)
        self._path_prefix: str | None = None
        self.parent = parent
        self.name = name

    def child(self, directory: str, name: str) -> _Place:
        return _Place(directory, self.absolute_prefix + name, self.real_prefix + name, self, name)

    @property
    def path_prefix(self) -> str:
        """What `str(Path(directory) / name)` writes before a name: the folder as a Path writes it, made once
        for all its files. A Path drops `.` parts and repeated slashes but keeps a walked folder's name (never
        `.`, `..` nor holding a slash), so a folder's is its parent's, its name and a separator."""
        if self._path_prefix is None:
            if self.parent is not None:
                self._path_prefix = self.parent.path_prefix + self.name + os.sep
            else:
                written = str(Path(self.directory))
                self._path_prefix = "" if written == "." else _prefix(written)
        return self._path_prefix


class _Walked:
    """A walked file that is no symlink, made into a CheckedFile from the strings the walk already has:
    its real path is its folder's plus its name, so what `checked_file` works out with a realpath, a
    getcwd and a path parse per call comes from its folder's, worked out once per folder (the same
    answers), and its Paths are its folders' joined with its name."""

    def __init__(self, settings: Settings) -> None:
        self.root = str(settings.project_root)
        self.cwd = _real_directory(os.getcwd())
        # Per real folder: its path relative to the project root and to the working folder, as prefixes of
        # its files' ("" for the folder itself), None where it is not under it.
        self.prefixes: dict[str, tuple[str | None, str | None]] = {}
        self.test_path = matcher_of(settings.test_files)
        self.test_names: dict[str, bool] = {}  # most names recur (`__init__.py`, `models.py`)

    def add(self, place: _Place, name: str, found: Discovered, seen: set[str]) -> None:
        real = place.real_prefix + name
        if real in seen:
            return
        seen.add(real)
        path = place.path_prefix + name
        if name in PYTEST_CONFIG_NAMES:
            found.config_files.append(Path(path))
        elif name not in PYTHON_SUFFIXES:  # as `Path.suffix` has it: a name that is only a suffix has none
            to_root, to_cwd = self.folder_prefixes(place.real)
            relative = to_root + name if to_root is not None else _posix(path)
            shown = to_cwd + name if to_cwd is not None else _posix(path)
            found.python_files.append(CheckedFile(path, shown, real, relative,
                                                  self.test_path(relative) or self.is_test_name(name)))

    def folder_prefixes(self, real_folder: str) -> tuple[str | None, str | None]:
        known = self.prefixes.get(real_folder)
        if known is None:
            known = self.prefixes[real_folder] = (_folder_prefix(real_folder, self.root),
                                                  _folder_prefix(real_folder, self.cwd))
        return known

    def is_test_name(self, name: str) -> bool:
        known = self.test_names.get(name)
        if known is None:
            known = self.test_names[name] = self.test_path(name)
        return known


def _posix(path: str) -> str:
    """`Path(path).as_posix()` of a path as a Path writes it."""
    return path.replace(os.sep, "/")


def _folder_prefix(folder: str, base: str) -> str | None:
    """What `_relative(file, base)` gives for a file of `folder`, less the file's name."""
    relative = _relative(folder, base)
    if relative is None:
        return None
    return "" if relative == "." else relative + "/"


Ignores = list[tuple[str, "Matcher"]]  # (resolved folder of a .gitignore, its patterns)
Walk = list[tuple[_Place, str, bool]]  # (folder, name, is a symlink)


def _walk(root: Path, excludes: Excludes, settings: Settings, found: Discovered) -> Walk:
    """The files to check under `root`, each as its folder and name: a tree's worth of Path objects is a
    third of a warm run."""
    ignores: Ignores = []
    if settings.respect_gitignore:
        ignores = [(str(real_path(folder)), spec) for folder, spec in _parent_gitignores(root)]
    files: Walk = []
    absolute = os.path.abspath(root)
    _walk_directory(_Place(str(root), absolute, _real_directory(absolute)), ignores, excludes, settings, found, files)
    return files


def _parent_gitignores(root: Path) -> list[tuple[Path, Matcher]]:
    """.gitignore files above the walked directory, up to the repository root, still apply."""
    specs: list[tuple[Path, Matcher]] = []
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


def _read_gitignore(folder: Path) -> Matcher | None:
    """The file's patterns matched as pathspec's GitIgnoreSpec matches them (patterns.matcher_of: one regex
    for a file without negations, where pathspec tried every pattern on every entry, most of the walk of a
    tree with .gitignore files); None for a file without lines."""
    try:
        lines = (folder / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return gitignore_matcher(tuple(lines)) if lines else None


def _ignored(resolved: str, is_dir: bool, ignores: Ignores) -> bool:
    for base, spec in ignores:
        relative = _relative(resolved, base)
        if relative is not None and spec(relative + ("/" if is_dir else "")):
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

    names: frozenset[str]  # `build`: any entry so named
    folder_names: frozenset[str]  # `dist/`: folders only
    suffixes: tuple[str, ...]  # `*.egg-info`: any entry whose name ends so
    folder_suffixes: tuple[str, ...]  # `*.egg-info/`: folders only
    by_name: pathspec.GitIgnoreSpec | None
    by_path: pathspec.GitIgnoreSpec | None

    @classmethod
    def of(cls, patterns: list[str]) -> Excludes:
        if any(pattern.startswith("!") for pattern in patterns):
            return cls(frozenset(), frozenset(), (), (), None, gitignore_spec(patterns))  # a negation may re-include anything
        # Each by whether the pattern is for folders only (ends with a slash).
        names: dict[bool, list[str]] = {False: [], True: []}
        suffixes: dict[bool, list[str]] = {False: [], True: []}
        by_name, by_path = [], []
        for pattern in patterns:
            plain = _PLAIN_NAME.match(pattern)
            if plain:
                (suffixes if plain["star"] else names)[bool(plain["slash"])].append(plain["text"])
            elif "/" in pattern.rstrip("/") or "**" in pattern:
                by_path.append(pattern)
            else:
                by_name.append(pattern)
        return cls(frozenset(names[False]), frozenset(names[True]), tuple(suffixes[False]), tuple(suffixes[True]),
                   gitignore_spec(by_name) if by_name else None, gitignore_spec(by_path) if by_path else None)

    def match(self, path: str, name: str, is_dir: bool, settings: Settings) -> bool:
        if name in self.names or name.endswith(self.suffixes):
            return True
        if is_dir and (name in self.folder_names or name.endswith(self.folder_suffixes)):
            return True
        suffix = "/" if is_dir else ""
        if self.by_name is not None and self.by_name.match_file(name + suffix):
            return True
        return self.by_path is not None and self.by_path.match_file(relative_to_root(path, settings) + suffix)


def _walk_directory(place: _Place, ignores: Ignores, excludes: Excludes, settings: Settings, found: Discovered,
                    files: Walk) -> None:
    """One folder, listed once: its listing also says whether it holds a .gitignore, so no folder
    costs a failed open."""
    directory = place.directory
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
    kept = []
    for entry in entries:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            kept.append((name, True, entry))
        elif name.endswith(PYTHON_SUFFIXES) or name in PYTEST_CONFIG_NAMES:
            kept.append((name, False, entry))
    kept.sort()  # by name alone: no two entries of a folder share one
    for name, is_dir, entry in kept:
        is_symlink = entry.is_symlink()
        absolute = place.absolute_prefix + name
        real = None if is_symlink else place.real_prefix + name
        if real is not None:
            _KNOWN_REAL[absolute] = real
        if excludes.match(absolute, name, is_dir, settings):
            continue
        if ignores and _ignored(_resolved(absolute) if real is None else real, is_dir, ignores):
            continue
        if not is_dir:
            files.append((place, name, is_symlink))
        elif "{" in name and any(marker in name for marker in TEMPLATE_MARKERS):
            found.notes.append(f"{os.path.normpath(entry.path)}: skipped, its name is a template (`{{{{...}}}}`, `{{%...%}}`); "
                               "name it on the command line to check it")
        else:
            _walk_directory(place.child(entry.path, name), ignores, excludes, settings, found, files)


def is_test_file(path: Path, settings: Settings) -> bool:
    """Test modules and conftest.py get fixture-shaped fixes and the pytest rules."""
    return _is_test(path.name, relative_to_root(path, settings), settings)


def _is_test(name: str, relative: str, settings: Settings) -> bool:
    return matches_any(settings.test_files, relative) or matches_any(settings.test_files, name)
