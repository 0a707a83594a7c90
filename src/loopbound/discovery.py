"""Which files to check: explicit paths, directories walked with .gitignore and excludes applied."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pathspec

from loopbound.config import Settings

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".bzr", ".venv", "venv", ".env", "env", "node_modules", "build", "dist",
    "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".loopbound_cache",
    "site-packages", ".eggs", "*.egg-info", "__pypackages__", ".direnv",
)
PYTEST_CONFIG_NAMES = frozenset({"pytest.toml", ".pytest.toml", "pytest.ini", ".pytest.ini", "pyproject.toml",
                                 "tox.ini", "setup.cfg"})


class DiscoveryError(Exception):
    """A path given on the command line that does not exist or cannot be listed."""


@dataclass
class Discovered:
    python_files: list[Path] = field(default_factory=list)
    config_files: list[Path] = field(default_factory=list)  # pytest configs: inputs of the LB3 rules
    errors: list[str] = field(default_factory=list)


@lru_cache(maxsize=8192)
def _real_directory(directory: str) -> str:
    """Resolving every file's path was half of a warm run: the folders of a tree resolve once each."""
    return os.path.realpath(directory)


def real_path(path: Path) -> Path:
    """The resolved path, or the absolute one where resolving fails (a symlink loop)."""
    try:
        if path.is_symlink():
            return path.resolve()
        folder, name = os.path.split(os.path.abspath(path))
        return Path(_real_directory(folder), name) if name else Path(_real_directory(folder))
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def display_path(path: Path) -> str:
    """Relative to the current directory when the file is under it, as ruff prints it."""
    try:
        return real_path(path).relative_to(_real_directory(os.getcwd())).as_posix()
    except ValueError:
        return path.as_posix()


def relative_to_root(path: Path, settings: Settings) -> str:
    """The path as patterns in the configuration see it: relative to the project root, with slashes."""
    try:
        return real_path(path).relative_to(settings.project_root).as_posix()
    except ValueError:
        return path.as_posix()


def _spec(patterns: tuple[str, ...] | list[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def _is_virtualenv(directory: Path) -> bool:
    return (directory / "pyvenv.cfg").is_file()


def discover(paths: list[Path], settings: Settings) -> Discovered:
    found = Discovered()
    excludes = _spec([*DEFAULT_EXCLUDES, *settings.exclude, *settings.extend_exclude])
    seen: set[Path] = set()
    for path in paths:
        if not os.path.lexists(path):
            raise DiscoveryError(f"{path}: no such file or directory")
        if path.is_dir():
            for file in _walk(path, excludes, settings, found):
                _add(file, found, seen)
        elif path.is_file() or path.is_symlink():
            _add(path, found, seen, explicit=True)
    found.python_files.sort()
    found.config_files.sort()
    return found


def _add(path: Path, found: Discovered, seen: set[Path], explicit: bool = False) -> None:
    key = real_path(path)
    if key in seen:
        return
    seen.add(key)
    if path.suffix in (".py", ".pyi") or (explicit and path.name not in PYTEST_CONFIG_NAMES):
        found.python_files.append(path)
    elif path.name in PYTEST_CONFIG_NAMES:
        found.config_files.append(path)


def _walk(root: Path, excludes: pathspec.GitIgnoreSpec, settings: Settings, found: Discovered) -> Iterator[Path]:
    ignores: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    if settings.respect_gitignore:
        ignores = _parent_gitignores(root)
    yield from _walk_directory(root, ignores, excludes, settings, found)


def _parent_gitignores(root: Path) -> list[tuple[Path, pathspec.GitIgnoreSpec]]:
    """.gitignore files above the walked directory, up to the repository root, still apply."""
    specs: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    for folder in real_path(root).parents:
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
    return _spec(lines)


def _ignored(path: Path, is_dir: bool, ignores: list[tuple[Path, pathspec.GitIgnoreSpec]]) -> bool:
    resolved = real_path(path)
    for base, spec in ignores:
        try:
            relative = resolved.relative_to(real_path(base)).as_posix()
        except ValueError:
            continue
        if spec.match_file(relative + ("/" if is_dir else "")):
            return True
    return False


def _excluded(path: Path, is_dir: bool, excludes: pathspec.GitIgnoreSpec, settings: Settings) -> bool:
    if excludes.match_file(path.name + ("/" if is_dir else "")):
        return True
    return excludes.match_file(relative_to_root(path, settings) + ("/" if is_dir else ""))


def _walk_directory(directory: Path, ignores: list[tuple[Path, pathspec.GitIgnoreSpec]], excludes: pathspec.GitIgnoreSpec,
                    settings: Settings, found: Discovered) -> Iterator[Path]:
    if settings.respect_gitignore:
        spec = _read_gitignore(directory)
        if spec:
            ignores = [*ignores, (directory, spec)]
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as error:
        found.errors.append(f"{directory}: cannot list the directory: {error.strerror}")
        return
    for entry in entries:
        path = Path(entry.path)
        # Directory symlinks are not followed: that is what keeps a symlink loop from looping.
        is_dir = entry.is_dir(follow_symlinks=False)
        if _excluded(path, is_dir, excludes, settings) or (ignores and _ignored(path, is_dir, ignores)):
            continue
        if is_dir:
            if not _is_virtualenv(path):
                yield from _walk_directory(path, ignores, excludes, settings, found)
        elif path.suffix in (".py", ".pyi") or path.name in PYTEST_CONFIG_NAMES:
            yield path


def is_test_file(path: Path, settings: Settings) -> bool:
    """Test modules and conftest.py get fixture-shaped fixes and the pytest rules."""
    relative = relative_to_root(path, settings)
    return matches_any(settings.test_files, relative) or matches_any(settings.test_files, path.name)


_SPECS: dict[tuple[str, ...], pathspec.GitIgnoreSpec] = {}


def matches_any(patterns: tuple[str, ...], relative: str) -> bool:
    """Whether a gitignore-style pattern list matches; each list is compiled once, not per file."""
    if patterns not in _SPECS:
        _SPECS[patterns] = _spec(list(patterns))
    return _SPECS[patterns].match_file(relative)
