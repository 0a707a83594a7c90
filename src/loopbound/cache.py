"""The results cache: a file whose bytes, settings and rules are unchanged is not checked again.

An entry is keyed by everything that decides a file's findings: its stamp (size, modification
and change times, inode: see stamps.py; a warm run reads no file), its shown path (findings carry it), whether
it is a test module, the codes selected for it (after per-file-ignores), the registry (built-in
and configured resources) and the tool itself (its version plus the size and mtime of its own
modules, so an editable install that changed code never serves stale results). A file changed in
the last seconds before the run is not stored: a second edit within the same clock tick could
keep its stamp.

The LB3 project pass is cached whole: its findings are reused while every file it read (the
config files present in the folders it searched included) keeps its stamp, each searched folder
holds the same config, conftest.py and .git names, and the set of checked files is the same.

The cache lives in `.loopbound_cache/` under the project root, marked with a CACHEDIR.TAG and a
`.gitignore` of `*` like ruff's, and holds two pickles per settings fingerprint.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from loopbound.blake2 import blake2b
from loopbound import __version__, recorder
from loopbound.asyncio_declarations import DECLARATION_NAMES
from loopbound.config import Settings
from loopbound.discovery import display_path
from loopbound.engine import CheckResult, FileResult
from loopbound.pytest_config import CONFIG_NAMES
from loopbound.stamps import Stamp, is_settled, stamp

if TYPE_CHECKING:
    from loopbound.module_facts import Module

CACHE_DIR_NAME = ".loopbound_cache"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by loopbound.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
FORMAT = 5


def default_cache_dir(settings: Settings) -> Path:
    return settings.project_root / CACHE_DIR_NAME


@lru_cache(maxsize=1)
def _tool_fingerprint() -> str:
    """The version plus the loopbound modules' sizes and mtimes: a code change is a new tool."""
    package = Path(__file__).parent
    digest = blake2b(f"{__version__}/{FORMAT}".encode(), digest_size=16)
    for module in sorted(package.rglob("*.py")):
        stat = module.stat()
        digest.update(f"{module.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def settings_fingerprint(settings: Settings) -> str:
    """What all files share: the tool and the registry (resources in order, safe names sorted)."""
    registry = settings.registry
    text = "\n".join([_tool_fingerprint(), repr(registry.resources), repr(sorted(registry.safe_names))])
    return blake2b(text.encode(), digest_size=16).hexdigest()


def file_key(file_stamp: Stamp, shown: str, selected: frozenset[str], is_test: bool) -> str:
    """What is particular to one file: its stamp, the path findings carry, its codes, its test status."""
    return f"{shown}\0{file_stamp}\0{_codes(selected)}\0{int(is_test)}"


@lru_cache(maxsize=64)
def _codes(selected: frozenset[str]) -> str:
    """Most files share one selection: sorting and joining it once, not per file."""
    return ",".join(sorted(selected))


@dataclass
class ResultCache:
    """The entries of one settings fingerprint; load once, look up and store per file, save once."""

    path: Path
    entries: dict[str, FileResult] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    dirty: bool = False

    @classmethod
    def open(cls, directory: Path, settings: Settings) -> ResultCache:
        path = directory / f"results-{settings_fingerprint(settings)}.pickle"
        cache = cls(path)
        loaded = read_cache_file(path)
        if isinstance(loaded, dict):
            cache.entries = loaded
        return cache

    def get(self, key: str) -> FileResult | None:
        found = self.entries.get(key)
        if found is not None:
            self.used.add(key)
        return found

    def put(self, key: str, result: FileResult) -> None:
        if result.error is None:
            self.entries[key] = result
            self.used.add(key)
            self.dirty = True

    def save(self) -> None:
        """Drop the old versions of the files this run checked, so entries do not pile up.

        Entries of files this run did not look at stay: checking one file keeps the others warm.
        """
        if not self.dirty:
            return
        checked = {self.entries[key].path for key in self.used if key in self.entries}
        kept = {key: result for key, result in self.entries.items() if key in self.used or result.path not in checked}
        write_cache_file(self.path, kept)


# The names whose appearance or removal in a searched folder can change the LB3 pass's answer: pytest
# configs, pytest-asyncio declarations (locks, pins, ranges; requirements*.txt and requirements/*.txt by
# pattern), conftest.py.
WATCHED_NAMES = (*CONFIG_NAMES, *DECLARATION_NAMES, "conftest.py", ".git")
_WATCHED_PATTERN = "requirements*.txt"
_REQUIREMENTS_FOLDER = "requirements/"  # its own stamp moves when a file is added to it or removed
_NOT_CONTENT = ("conftest.py", ".git")  # read as modules, or only their presence counts
FolderInput = tuple[str, Stamp, tuple[str, ...]]  # a searched folder, its stamp, the watched names in it


@dataclass(frozen=True)
class ProjectEntry:
    """The LB3 pass's result and what it depended on."""

    question: str  # the checked and config files, the codes, the settings that shape findings, the cwd
    inputs: tuple[tuple[str, Stamp], ...]  # files: their contents count
    folders: tuple[FolderInput, ...]  # folders: only which watched names they hold counts
    result: CheckResult
    digests: tuple[tuple[str, bool, str], ...]  # each module read (path, as a test module or not), its facts' digest


def _watched_in(folder: str) -> tuple[str, ...]:
    """The watched names the folder holds: one listing, then a stat only for a name it lists (in any case,
    as a case-insensitive filesystem finds it; the stat leaves out a broken link); a stat per name where
    the folder cannot be listed."""
    try:
        listing = os.listdir(folder)
        listed = {name.lower() for name in listing}
    except OSError:
        listing, listed = [], {name.lower() for name in WATCHED_NAMES}
    named = [name for name in WATCHED_NAMES if name.lower() in listed and os.path.exists(os.path.join(folder, name))]
    requirements = sorted(fnmatch.filter(listing, _WATCHED_PATTERN))
    if "requirements" in listed:  # asyncio_declarations reads requirements/*.txt too
        try:
            inner = sorted(fnmatch.filter(os.listdir(os.path.join(folder, _REQUIREMENTS_FOLDER)), "*.txt"))
            requirements += [_REQUIREMENTS_FOLDER, *(_REQUIREMENTS_FOLDER + name for name in inner)]
        except OSError:
            pass  # a file named `requirements`, or a folder that cannot be listed: asyncio_declarations reads none
    return tuple(dict.fromkeys([*named, *requirements]))


def _folder_unchanged(folder: str, recorded: Stamp, present: tuple[str, ...]) -> bool:
    """A folder whose stamp moved (a file added anywhere in the project root) still counts as unchanged
    while it holds the same watched names: a stat per folder, not one per name a config could have."""
    if _REQUIREMENTS_FOLDER in present:  # a file added to the requirements folder leaves this folder's stamp
        return _watched_in(folder) == present
    return stamp(folder) == recorded or _watched_in(folder) == present


def project_question(python_files: list[Path], config_files: list[Path], settings: Settings,
                     selected: frozenset[str]) -> str:
    from loopbound.asyncio_versions import installed_version

    text = "\n".join([os.getcwd(), ",".join(sorted(selected)), repr(settings.per_file_ignores),
                      repr(settings.target_pytest_asyncio), repr(installed_version()),
                      repr(settings.test_files), *map(str, python_files), "", *map(str, config_files)])
    return blake2b(text.encode(), digest_size=16).hexdigest()


class ProjectCache:
    """One LB3 result per settings fingerprint: reused only when the same question meets unchanged inputs."""

    def __init__(self, directory: Path, settings: Settings, kind: str = "project") -> None:
        self.path = directory / f"{kind}-{settings_fingerprint(settings)}.pickle"

    def get(self, question: str) -> CheckResult | None:
        entry = read_cache_file(self.path)
        if not isinstance(entry, ProjectEntry) or entry.question != question:
            return None
        if any(stamp(path) != recorded for path, recorded in entry.inputs):
            return None
        if not all(_folder_unchanged(*folder) for folder in entry.folders):
            return None
        _note_for_replay(entry.inputs, entry.folders, entry.digests)
        return entry.result

    def put(self, question: str, inputs: list[Path], folders: list[Path], result: CheckResult,
            started: float, digests: dict[tuple[str, bool], str]) -> None:
        _prepare(self.path.parent)  # before the stamps: creating the cache folder changes the project's
        searched = tuple((folder, stamp(folder), _watched_in(folder)) for folder in map(str, folders))
        present = [os.path.join(folder, name) for folder, _, names in searched for name in names
                   if name not in _NOT_CONTENT]
        stamps = tuple((path, stamp(path)) for path in sorted({*map(str, inputs), *present}))
        digested = tuple((path, is_test, digest) for (path, is_test), digest in sorted(digests.items()))
        _note_for_replay(stamps, searched, digested)
        if result.errors or not all(is_settled(recorded, started) for _, recorded in stamps):
            return
        write_cache_file(self.path, ProjectEntry(question, stamps, searched, result, digested))


def project_result(python_files: list[Path], config_files: list[Path], settings: Settings, selected: frozenset[str],
                   cache_dir: Path | None, started: float, kind: str = "project") -> CheckResult:
    """The LB3 pass (engine.check_project) through the project cache and, below it, the module store.
    `kind` names the pair of cache files: the loop table of the files a run in part leaves unchecked has
    its own ("rest"), so that it and the pass over the checked files do not overwrite each other."""
    from loopbound.engine import check_project

    if cache_dir is None:
        return check_project(python_files, config_files, settings, selected)
    cache = ProjectCache(cache_dir, settings, kind)
    question = project_question(python_files, config_files, settings, selected)
    cached = cache.get(question)
    if cached is not None:
        return cached
    read: list[Path] = []
    folders: list[Path] = []
    modules = ModuleStore(cache_dir, settings, started, "modules" if kind == "project" else f"{kind}-modules")
    locks = LockStore(cache_dir)
    result = check_project(python_files, config_files, settings, selected, inputs=read, folders=folders,
                           reader=modules.read)
    cache.put(question, [*config_files, *read], folders, result, started, modules.digests)
    modules.save()
    locks.save()
    return result


class LockStore:
    """What each lock file declares (asyncio_declarations.KNOWN_LOCKS), kept between runs by the file's stamp:
    a run whose LB3 pass is not cached (after one test module changed, or in an editor after a save) reads
    a uv.lock of hundreds of kilobytes with tomllib only once it changed. Shared by every settings
    fingerprint: what a lock file declares depends on its bytes and the tool alone."""

    def __init__(self, directory: Path) -> None:
        from loopbound.asyncio_declarations import KNOWN_LOCKS

        self.path = directory / f"locks-{_tool_fingerprint()}.pickle"
        loaded = read_cache_file(self.path)
        self.loaded: dict[Path, tuple[Stamp, list[str]]] = {
            path: entry for path, entry in (loaded.items() if isinstance(loaded, dict) else ())
            if isinstance(path, Path) and _is_lock_entry(entry)}
        for path, entry in self.loaded.items():
            KNOWN_LOCKS.setdefault(path, entry)

    def save(self) -> None:
        """Written when this run read a lock file again; entries whose file moved or went are dropped."""
        from loopbound.asyncio_declarations import KNOWN_LOCKS

        if all(self.loaded.get(path) == entry for path, entry in KNOWN_LOCKS.items()):
            return
        write_cache_file(self.path, {path: entry for path, entry in KNOWN_LOCKS.items() if stamp(path) == entry[0]})


def _is_lock_entry(entry: object) -> bool:
    if not isinstance(entry, tuple) or len(entry) != 2:
        return False
    file_stamp, versions = entry
    return (isinstance(file_stamp, tuple) and isinstance(versions, list)
            and all(isinstance(version, str) for version in versions))


class ModuleStore:
    """The LB3 pass's facts per module (fixtures, tests, marks, the source for `# noqa`) and their digest
    (lb3_digest.py), kept between runs: after one test module changes, the pass re-reads that module only,
    and the warm replay compares the digest of an edited module with the one recorded here.

    An entry is reused while the file's stamp is unchanged; modules whose stamp is not settled are
    read but not kept. Entries of modules this run did not read are dropped on save. A store that
    differs from this run's by a few modules only is not rewritten: the next run reads those few
    again (a parse each) instead of this one writing every module's facts (megabytes on a large suite).
    """

    FEW = 8

    def __init__(self, directory: Path, settings: Settings, started: float, kind: str = "modules") -> None:
        self.path = directory / f"{kind}-{settings_fingerprint(settings)}.pickle"
        self.registry = settings.registry
        self.started = started
        loaded = read_cache_file(self.path)
        self.entries: dict[tuple[str, bool], tuple[Stamp, Module | None, str]] = (
            loaded if isinstance(loaded, dict) else {})
        self.used: dict[tuple[str, bool], tuple[Stamp, Module | None, str]] = {}
        self.digests: dict[tuple[str, bool], str] = {}  # of every module this run read
        self.fresh = 0  # modules read from their files, not from the store
        self.reused = 0

    def read(self, path: Path, is_test: bool) -> Module | None:
        key = (str(path), is_test)
        file_stamp = stamp(path)
        cached = self.entries.get(key)
        if cached is not None and cached[0] == file_stamp:
            _, module, digest = cached
            self.reused += 1
            if module is not None:
                module.display = display_path(path)  # shown relative to this run's directory
        else:
            from loopbound.lb3_digest import facts_digest
            from loopbound.project import read_module_file

            module = read_module_file(path, is_test, self.registry)
            digest = facts_digest(module)
            self.fresh += 1
        self.digests[key] = digest
        if is_settled(file_stamp, self.started):
            self.used[key] = (file_stamp, module, digest)
        return module

    def save(self) -> None:
        outdated = len(self.entries) - self.reused + self.fresh  # entries not reused, modules not in the store
        if (not self.entries and self.used) or outdated > self.FEW:
            write_cache_file(self.path, self.used)


def _note_for_replay(stamps: tuple[tuple[str, Stamp], ...], folders: tuple[FolderInput, ...],
                     digests: tuple[tuple[str, bool, str], ...]) -> None:
    """The LB3 pass's inputs are the warm replay's inputs too; for a searched folder, the watched names
    it does not hold (the replay drops those of folders it watches itself); the digest of each module's
    facts, which an edit that keeps it leaves the pass's answer as it was."""
    recording = recorder.recording()
    if recording is not None:
        recording.lb3_digests.update(((os.path.abspath(path), is_test), digest) for path, is_test, digest in digests)
        for path, recorded in stamps:
            recording.note_stamped(path, recorded)
        recording.project_inputs.update(path for path, _ in stamps)
        for folder, _, present in folders:
            for name in WATCHED_NAMES:
                if name not in present:
                    recording.note_stamped(os.path.join(folder, name), None)


def read_cache_file(path: Path) -> object | None:
    """What a cache file holds; None when it is missing, unreadable or from another version."""
    import pickle  # not imported by runs without a cache

    try:
        with path.open("rb") as stream:
            loaded: object = pickle.load(stream)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None
    return loaded


def write_cache_file(path: Path, value: object) -> None:
    try:
        _prepare(path.parent)
        _prune(path)
        import pickle
        import tempfile  # only runs that store something need them

        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError:
        return  # a cache that cannot be written only costs speed


KEPT_FINGERPRINTS = 4


def _prune(path: Path) -> None:
    """Each tool version or settings change starts a new pickle: keep the few most recently written."""
    kind = path.name.split("-", 1)[0]
    others = [entry for entry in path.parent.glob(f"{kind}-*.pickle") if entry != path]
    for old in sorted(others, key=lambda entry: entry.stat().st_mtime_ns)[:-(KEPT_FINGERPRINTS - 1)]:
        old.unlink(missing_ok=True)


def _prepare(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tag = directory / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text(CACHEDIR_TAG, encoding="utf-8")
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by loopbound automatically.\n*\n", encoding="utf-8")
