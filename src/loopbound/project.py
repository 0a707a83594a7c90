"""The whole-tree view the LB3 rules need: test modules, the conftest.py files above them, and the
pytest config that governs them, with every test's and every async fixture's event-loop scope
computed the way pytest-asyncio 1.x computes it. Each module's own facts are module_facts.py's; this
resolves them across modules.

Fixture lookup follows pytest: a name resolves to the definition closest to the test (its class,
then its module, then the nearest conftest.py walking up to the rootdir); a fixture that requests
its own name gets the next one out. Nothing here is imported or run: it is all read from `ast`.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from loopbound import asyncio_versions
from loopbound.asyncio_declarations import detect
from loopbound.asyncio_versions import AsyncioVersions, Feature
from loopbound.discovery import display_path, real_path, real_path_text
from loopbound.fixture_handover import Handover
from loopbound.module_facts import (
    SCOPES,
    Fixture,
    Module,
    Test,
    facts_of,
    may_matter,
    parse_data,
    read_facts,
)
from loopbound.pytest_config import (
    PytestConfig,
    PytestConfigError,
    locate,
    locate_from,
)
from loopbound.pytest_config import load as load_config
from loopbound.registry import DEFAULT_REGISTRY, Registry
from loopbound.source import paused_gc
from loopbound.stamps import Stamp, is_settled, stamp

DEFAULT_PYTHON_FILES = ("test_*.py", "*_test.py")
ModuleReaderFunction = Callable[[Path, bool], "Module | None"]  # (path, is it a test module)


@dataclass
class LoopDefaults:
    """What a test tree's config says, as pytest-asyncio 1.x would apply it."""

    config: PytestConfig | None
    mode: str = "strict"
    fixture_loop_scope: str | None = None  # None: unset or `fixture-scope`: each fixture's own scope
    test_loop_scope: str = "function"

    @classmethod
    def of(cls, config: PytestConfig | None) -> LoopDefaults:
        defaults = cls(config)
        if config is None:
            return defaults
        defaults.mode = config.mode
        fixture_setting = config.asyncio("asyncio_default_fixture_loop_scope")
        if fixture_setting and fixture_setting.value.strip() in SCOPES:
            defaults.fixture_loop_scope = fixture_setting.value.strip()
        test_setting = config.asyncio("asyncio_default_test_loop_scope")
        if test_setting and test_setting.value.strip() in SCOPES:
            defaults.test_loop_scope = test_setting.value.strip()
        return defaults


@dataclass
class Project:
    """Parsed modules (checked ones and the conftest.py files above them) and the configs governing them."""

    modules: dict[Path, Module] = field(default_factory=dict)
    checked: list[Path] = field(default_factory=list)  # the modules the user asked about
    configs: dict[Path, PytestConfig | None] = field(default_factory=dict)  # per resolved module path
    config_cache: dict[Path, PytestConfig | None] = field(default_factory=dict)
    config_errors: dict[Path, PytestConfigError] = field(default_factory=dict)
    config_warnings: dict[Path, PytestConfigError] = field(default_factory=dict)  # broken, governing nothing read
    explicit_configs: list[PytestConfig] = field(default_factory=list)
    conftest_chains: dict[Path, list[Module]] = field(default_factory=dict)
    project_root: Path = field(default_factory=Path.cwd)
    read_errors: list[str] = field(default_factory=list)
    read_files: set[Path] = field(default_factory=set)  # every Python file read, kept or not: the cache's inputs
    registry: Registry = DEFAULT_REGISTRY
    target: AsyncioVersions | None = None  # `target-pytest-asyncio`: the user's word over any declaration
    installed: str | None = None  # the pytest-asyncio next to loopbound, from its metadata
    versions: dict[Path, AsyncioVersions] = field(default_factory=dict)  # per folder the search started in
    declared: dict[Path, AsyncioVersions] = field(default_factory=dict, repr=False)  # per declaration folder
    declaration_folders: list[Path] = field(default_factory=list)
    # loop_model.first_asyncio_user's answer per config (by identity): asked once per module otherwise
    asyncio_users: dict[int, Module | None] = field(default_factory=dict, repr=False)
    module_versions: dict[Path, AsyncioVersions] = field(default_factory=dict, repr=False)  # asked per fixture
    module_defaults: dict[Path, LoopDefaults] = field(default_factory=dict, repr=False)  # likewise
    closures: dict[int, tuple[Fixture, ...]] = field(default_factory=dict, repr=False)  # by the test's id
    # the names of the autouse fixtures a test sees, by (id of its module, its class): the same for all its tests
    autouse_names: dict[tuple[int, str | None], list[str]] = field(default_factory=dict, repr=False)
    # What rules/test_cases.py read and resolved of unittest classes' bases, kept for the whole pass
    test_case_reads: object = field(default=None, repr=False)

    def asyncio_versions(self, module: Module) -> AsyncioVersions:
        """The pytest-asyncio releases the module's tests run on: declared next to its pytest config (or
        above the module when there is none), else installed, else any."""
        if self.target is not None:
            return self.target
        versions = self.module_versions.get(module.path)  # one lookup: hashing a Path is a Python call
        if versions is None:
            config = self.config_for(module.path)
            versions = self.module_versions[module.path] = self._versions_at(config.directory if config is not None
                                                                             else module.path.parent)
        return versions

    def config_versions(self, config: PytestConfig | None) -> AsyncioVersions:
        """The releases governed by `config`: those of the first module it governs."""
        module = next((module for path, module in self.modules.items() if self.configs.get(path) is config), None)
        if module is None and config is not None:
            return self.target if self.target is not None else self._versions_at(config.directory)
        return self.asyncio_versions(module) if module is not None else AsyncioVersions.unknown()

    def _versions_at(self, start: Path) -> AsyncioVersions:
        """The declarations found searching up from `start`, detected once per folder."""
        if start not in self.versions:
            self.versions[start] = detect(start, real_path(self.project_root), self.installed,
                                          self.declaration_folders, self.declared)
        return self.versions[start]

    reader: ModuleReaderFunction | None = field(default=None, repr=False)  # the LB3 module store's, if any

    def config_for(self, path: Path) -> PytestConfig | None:
        return self.configs.get(path)

    def defaults_for(self, module: Module) -> LoopDefaults:
        """The config's defaults, without the keys no release the module's tests run on reads (worked out
        once per module: the rules ask for every fixture of every test; the answer is read, never changed)."""
        defaults = self.module_defaults.get(module.path)
        if defaults is None:
            defaults = self.module_defaults[module.path] = self._defaults_for(module)
        return defaults

    def _defaults_for(self, module: Module) -> LoopDefaults:
        defaults = LoopDefaults.of(self.config_for(module.path))
        versions = self.asyncio_versions(module)
        if not versions.has(Feature.FIXTURE_DEFAULT_KEY, every=False):
            defaults.fixture_loop_scope = None
        if not versions.has(Feature.TEST_DEFAULT_KEY, every=False):
            defaults.test_loop_scope = "function"
        return defaults

    def checked_modules(self) -> Iterator[Module]:
        for path in self.checked:
            module = self.modules.get(path)
            if module is not None:
                yield module

    def conftests(self, module: Module) -> list[Module]:
        """conftest.py files that apply to `module`, nearest first (a conftest.py applies to itself too)."""
        return self.conftest_chains.get(module.path, [])

    def hook_loop_scope(self, module: Module) -> tuple[str, bool] | None:
        """The loop scope a `pytest_collection_modifyitems` hook marks tests with (nearest hook), and
        whether it prepends the mark."""
        for candidate in (module, *self.conftests(module)):
            if candidate.hook_loop_scope is not None:
                return candidate.hook_loop_scope.value, candidate.hook_prepends
        return None

    def resolve(self, test: Test, name: str, below: Fixture | None = None) -> Fixture | None:
        """The fixture `name` as `test` sees it; `below` skips definitions up to and including it."""
        if below is None:  # the nearest definition: the rules ask for every test's fixtures
            return next(self._visible(test, name), None)
        candidates = list(self._visible(test, name))
        if below in candidates:
            candidates = candidates[candidates.index(below) + 1:]
        return candidates[0] if candidates else None

    def _visible(self, test: Test, name: str) -> Iterator[Fixture]:
        module = test.module
        if test.class_name and name in module.class_fixtures.get(test.class_name, {}):
            yield module.class_fixtures[test.class_name][name]
        yield from self.module_level(module, name)

    def module_level(self, module: Module, name: str) -> Iterator[Fixture]:
        """The module-level fixtures `name` as the module sees them, nearest first: its own, then its
        conftest.py files'."""
        if name in module.fixtures:
            yield module.fixtures[name]
        for conftest in self.conftests(module):
            if conftest is not module and name in conftest.fixtures:
                yield conftest.fixtures[name]

    def autouse(self, test: Test) -> Iterator[Fixture]:
        module = test.module
        scopes: list[Iterable[Fixture]] = [module.fixtures.values()]
        if test.class_name:
            scopes.insert(0, module.class_fixtures.get(test.class_name, {}).values())
        scopes += [conftest.fixtures.values() for conftest in self.conftests(module) if conftest is not module]
        for fixtures in scopes:
            yield from (fixture for fixture in fixtures if fixture.autouse)

    def hands_over_loop_bound(self, fixture: Fixture, test: Test | None = None) -> bool:
        """Does this fixture hand its tests something loop-bound? Its own body says so, or it builds on a
        requested fixture that does (resolved as `test` sees it; without a test, any fixture of that name
        under the same config). The one question LB301 and LB302's severity ask."""
        pending, seen = [fixture], set()
        while pending:
            current = pending.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            if current.handover is Handover.LOOP_BOUND:
                return True
            if current.handover is Handover.UNKNOWN:
                pending += [other for name in current.builds_on for other in self._named(name, current, test)]
        return False

    def _named(self, name: str, requester: Fixture, test: Test | None) -> list[Fixture]:
        if test is not None:
            found = self.resolve(test, name, below=requester if requester.name == name else None)
            return [found] if found is not None else []
        config = self.config_for(requester.module.path)
        return [fixture for path, module in self.modules.items() if self.configs.get(path) is config
                for fixture in module.all_fixtures if fixture.name == name and fixture is not requester]

    def closure(self, test: Test) -> tuple[Fixture, ...]:
        """Every fixture the test ends up using: requested, autouse, and what those request in turn (worked out
        once per test: LB302 asks for every asyncio test's, LB306 again for each fixture it reports)."""
        if id(test) not in self.closures:
            self.closures[id(test)] = self._closure(test)
        return self.closures[id(test)]

    def _closure(self, test: Test) -> tuple[Fixture, ...]:
        found: list[Fixture] = []
        seen: set[int] = set()  # by identity: a fixture is one definition
        pending: list[tuple[str, Fixture | None]] = [(name, None) for name in test.requests]
        autouse_key = (id(test.module), test.class_name)
        if autouse_key not in self.autouse_names:  # what `autouse` yields depends on the module and class alone
            self.autouse_names[autouse_key] = [fixture.name for fixture in self.autouse(test)]
        pending += [(name, None) for name in self.autouse_names[autouse_key]]
        for name, requester in pending:  # grows as it goes: first come, first found
            fixture = self.resolve(test, name, below=requester if requester and requester.name == name else None)
            if fixture is None or id(fixture) in seen:
                continue
            seen.add(id(fixture))
            found.append(fixture)
            pending += [(request, fixture) for request in fixture.requests]
        return tuple(found)


def test_module_patterns(config: PytestConfig | None) -> tuple[str, ...]:
    setting = config.keys.get("python_files") if config else None
    return tuple(setting.value.split()) if setting and setting.value.split() else DEFAULT_PYTHON_FILES


def is_test_module(name: str, config: PytestConfig | None) -> bool:
    """Whether `name` matches one of the patterns, as `fnmatch.fnmatch` matches each."""
    return test_module_matcher(config)(os.path.normcase(name)) is not None


def test_module_matcher(config: PytestConfig | None) -> Callable[[str], re.Match[str] | None]:
    """What `is_test_module` matches a normcased name with under `config` (asked once per folder by `build`)."""
    return _test_module_name(test_module_patterns(config)).match


@lru_cache(maxsize=None)
def _test_module_name(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """The patterns as one regular expression: every file of a run is asked about (fnmatch, pattern by
    pattern, was a tenth of the LB3 facts' CPU on the benchmark corpus)."""
    return re.compile("|".join(fnmatch.translate(os.path.normcase(pattern)) for pattern in patterns))


_DEFAULT_TEST_MODULE = test_module_matcher(None)  # parsed_keeper asks it of every file of a cold run


def conftest_paths(path: Path, config: PytestConfig | None, project_root: Path) -> list[Path]:
    """conftest.py files from the module's directory up to the rootdir, nearest first.

    pytest's confcutdir is the config file's directory; without a config, the walk stops at the
    repository root or at loopbound's project root, whichever comes first.
    """
    directory = path.parent
    stop = config.directory if config else None
    found: list[Path] = []
    for folder in (directory, *directory.parents):
        candidate = folder / "conftest.py"
        if candidate.is_file():
            found.append(candidate)
        if folder == stop or (stop is None and (folder == project_root or (folder / ".git").exists())):
            break
    return found


def locate_config(project: Project, path: Path) -> PytestConfig | None:
    """The governing config of `path`; a broken one is recorded once and treated as missing."""
    try:
        return locate(path, project.config_cache)
    except PytestConfigError as error:
        _note_broken(project, error, path.parent)
        return None


def folder_config(project: Project, folder: Path) -> PytestConfig | None:
    """`locate_config` of a file in the resolved `folder`, without a Path for the file (`build` asks per folder)."""
    try:
        return locate_from(folder, project.config_cache)
    except PytestConfigError as error:
        _note_broken(project, error, folder)
        return None


def _note_broken(project: Project, error: PytestConfigError, start: Path) -> None:
    """A broken config is recorded once, and governs nothing from `start` up to its folder."""
    project.config_errors.setdefault(real_path(error.path), error)
    for folder in (start, *start.parents):
        project.config_cache.setdefault(folder, None)
        if folder == real_path(error.path).parent:
            break


def load_explicit_config(project: Project, path: Path) -> None:
    """A config file among the inputs is checked when it is the one pytest would use in its directory."""
    try:
        config = load_config(path)
    except PytestConfigError as error:
        # Only a warning unless a checked module is governed by it (locate_config then records an error).
        project.config_warnings.setdefault(real_path(error.path), error)
        return
    if config is None:
        return
    governing = locate_config(project, path)
    if governing is not None and real_path(governing.path) == real_path(path):
        project.explicit_configs.append(governing)


def build(python_files: Iterable[Path], config_files: Iterable[Path], project_root: Path,
          target: AsyncioVersions | None = None, registry: Registry = DEFAULT_REGISTRY,
          reader: ModuleReaderFunction | None = None) -> Project:
    """The project view of the checked files: their configs, and every conftest.py above the test modules.

    The cyclic garbage collector is paused while the trees are built: they hold no cycles, and each
    collection would rescan every node kept so far (3.0 s to 2.5 s CPU on a 1,000-file corpus).
    `reader` reads one module (path, is it a test module); the cache passes one that keeps them.
    """
    with paused_gc():
        return _build(python_files, config_files, project_root, target, registry, reader)


def _build(python_files: Iterable[Path], config_files: Iterable[Path], project_root: Path,
           target: AsyncioVersions | None, registry: Registry, reader: ModuleReaderFunction | None) -> Project:
    project = Project(project_root=project_root, target=target, installed=asyncio_versions.installed_version(),
                      registry=registry, reader=reader)
    for path in config_files:
        load_explicit_config(project, path)
    # What a folder decides for all its files, found once per folder rather than once per file.
    # by folder: its config, and the test-module matcher under it
    folder_configs: dict[str, tuple[PytestConfig | None, Callable[[str], re.Match[str] | None]]] = {}
    folder_chains: dict[str, list[Module]] = {}
    normcase = os.path.normcase
    for path in python_files:
        resolved_text = real_path_text(path)  # known to discovery for the files it found: no system call
        folder, name = os.path.split(resolved_text)
        found = folder_configs.get(folder)
        if found is None:
            config = folder_config(project, Path(folder))
            found = folder_configs[folder] = (config, test_module_matcher(config))
        config, matcher = found
        is_test = matcher(normcase(name)) is not None
        if not (is_test or name == "conftest.py"):
            continue
        resolved = Path(resolved_text)
        if _governed_by_broken_config(project, resolved):
            continue
        module = _module(project, resolved, is_test)
        if module is None:
            continue
        resolved = _own_path(module, resolved)
        project.checked.append(resolved)
        project.configs[resolved] = config
        chain = folder_chains.get(folder)
        if chain is None:  # the same for every module of the folder, which has the same config
            chain = folder_chains[folder] = []
            for conftest_path in conftest_paths(resolved, config, project_root):
                conftest = _module(project, conftest_path, False)
                if conftest is not None:
                    project.configs.setdefault(_own_path(conftest, conftest_path), config)
                    chain.append(conftest)
        project.conftest_chains[resolved] = list(chain)
    for module in project.checked_modules():
        project.asyncio_versions(module)  # now, so that `inputs` knows every declaration folder searched
    return project


def inputs(project: Project) -> list[Path]:
    """The Python files whose contents decide this project's findings."""
    return sorted(project.read_files)


def searched_folders(project: Project) -> list[Path]:
    """The folders searched for a pytest config or a pytest-asyncio declaration (and conftest.py files,
    a subset): such a file created later in any of them changes the answer."""
    return sorted(set(project.config_cache) | set(project.declaration_folders))


def _governed_by_broken_config(project: Project, path: Path) -> bool:
    return any(path.is_relative_to(broken.parent) and project.config_cache.get(path.parent, 0) is None
               for broken in project.config_errors)


def _module(project: Project, path: Path, is_test: bool) -> Module | None:
    if path not in project.modules:
        project.read_files.add(path)
        module = project.reader(path, is_test) if project.reader else _read(path, is_test, project.registry)
        if module is None:
            return None
        project.modules[_own_path(module, path)] = module
    return project.modules[path]


def _own_path(module: Module, path: Path) -> Path:
    """`path` as the module's own Path object when they are equal: the rules look modules up by `module.path`
    (configs, versions, defaults; a pass over apps/ did 20,000 times), and a dict compares a key it holds
    by identity before comparing Paths part by part."""
    return module.path if module.path == path else path


# Modules read by earlier passes of a long-lived process (`loopbound server` re-runs this pass on every
# save), by (path, read as a test module): reused while the file keeps its stamp. None in a
# `loopbound check` run, which reads each file once.
MEMO: dict[tuple[Path, bool], tuple[Stamp, Module | None]] | None = None


# The LB3 facts of the test modules and conftest.py files the per-file pass of a `loopbound check` run
# read (None for a test module without a word the LB3 pass looks for), by (resolved path, read as a test
# module), with the stamp the file had before it was read: the LB3 pass takes them instead of reading the
# files again. None where nothing is kept (scheduling.py turns it on in the processes of a cold run; the
# facts of the main process's files go to the worker that runs the pass).
PARSED: dict[tuple[Path, bool], tuple[Stamp, Module | None]] | None = None


class FactsKeeper:
    """Notes in PARSED the LB3 facts of one file the per-file pass read: from the text and tree the
    per-file rules parsed once they are done with it (`__call__`: it strips the tree), or from its bytes
    when they did not parse it (`finish`). Parsing there spreads the LB3 pass's parsing over every process
    of a cold run, where the pass itself runs in one."""

    def __init__(self, kept: dict[tuple[Path, bool], tuple[Stamp, Module | None]], resolved: Path, is_test: bool,
                 file_stamp: Stamp, registry: Registry) -> None:
        self.kept = kept
        self.key = (resolved, is_test)
        self.stamp = file_stamp
        self.registry = registry

    def __call__(self, source: str, tree: ast.Module) -> None:
        resolved, is_test = self.key
        self.kept[self.key] = (self.stamp, facts_of(Module(resolved, display_path(resolved), source, tree),
                                                    is_test, self.registry))

    def finish(self, data: bytes) -> None:
        """The facts from `data`, as the LB3 pass would read them (module_facts.parse), unless noted already."""
        if self.key in self.kept:
            return
        resolved, is_test = self.key
        with paused_gc():
            module = parse_data(data, resolved, display_path(resolved))
            self.kept[self.key] = (self.stamp, None if module is None else facts_of(module, is_test, self.registry))


def read_by_the_pass(path: str) -> bool:
    """Whether the LB3 pass reads the file, by its name: a conftest.py, or a test module as pytest names them
    by default."""
    name = os.path.basename(path)
    return name == "conftest.py" or _named_as_test(name)


def _named_as_test(name: str) -> bool:
    """`is_test_module(name, None)`, with the default patterns' matcher made once: every file of a cold run asks."""
    return _DEFAULT_TEST_MODULE(os.path.normcase(name)) is not None


def parsed_keeper(path: str | Path, file_stamp: Stamp, data: bytes, registry: Registry) -> FactsKeeper | None:
    """What notes in PARSED the facts of a file the per-file pass read; None when there is nothing more to
    note: the LB3 pass will not ask for the file as read here (not a conftest.py nor named as pytest names
    test modules by default), its answer is noted already (a test module without an LB3 word), or the
    file's stamp is too recent to vouch for its bytes later. Every file of a cold run passes here: its
    name is read from the text, and a Path is made only for the files kept."""
    kept = PARSED
    if kept is None:
        return None
    name = os.path.basename(path)
    is_test = _named_as_test(name)
    if not (is_test or name == "conftest.py") or file_stamp is None or not is_settled(file_stamp, time.time()):
        return None
    resolved = Path(real_path_text(path))
    if is_test and not may_matter(data):
        kept[(resolved, is_test)] = (file_stamp, None)
        return None
    return FactsKeeper(kept, resolved, is_test, file_stamp, registry)


def _read(path: Path, is_test: bool, registry: Registry) -> Module | None:
    """The module, from MEMO while its file keeps the stamp the results cache trusts (size, times, inode),
    or from PARSED."""
    from loopbound import unsaved

    parsed = PARSED.pop((path, is_test), None) if PARSED is not None else None
    if parsed is not None and parsed[0] == stamp(path):
        return parsed[1]
    if MEMO is None or unsaved.stands_in(path):
        return read_module_file(path, is_test, registry)
    recorded = stamp(path)
    hit = MEMO.get((path, is_test))
    if recorded is not None and hit is not None and hit[0] == recorded:
        return hit[1]
    read = read_module_file(path, is_test, registry)
    if recorded is not None and is_settled(recorded, time.time()):
        MEMO[(path, is_test)] = (recorded, read)
    return read


def read_module_file(path: Path, is_test: bool, registry: Registry = DEFAULT_REGISTRY) -> Module | None:
    """One module as the LB3 rules see it (its fixtures, tests, marks and what each fixture hands over),
    or None when it holds none."""
    return read_facts(path, is_test, registry)
