"""The index's modules by every dotted name they may be imported by, and who imports whom.

Module names follow how Python finds them: a folder with `__init__.py` is a package of its parent's
name, the first folder without one is a source root (`src/` layouts, `tests/` folders that pytest
puts on `sys.path`); every shorter suffix of the path counts too, so `import db` from a test folder
and `from app import db` from a namespace folder both find `app/db.py`.

What a module imports depends on its own import statements and on the names of the other modules,
which the file list gives before any file is read: a cold run resolves each file's imports as its
result comes in (`ExpectedModules`), while the workers still check theirs, instead of after them all.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loopbound.index.model import Binding, BindingRow, FunctionSummary, ModuleSummary

if TYPE_CHECKING:
    from loopbound.discovery import CheckedFile

# What a module stands on until its file's summary comes in (ExpectedModules).
_NOT_YET = ModuleSummary(bindings=(), imports=(), functions=(), classes=(), hooks=(), entries=(), import_time_calls=(),
                         light=True)


@dataclass(eq=False)
class IndexedModule:
    path_text: str  # resolved, as a Path writes it
    shown: str  # as findings show it
    name: str  # canonical dotted name
    is_package: bool
    is_test: bool
    summary: ModuleSummary
    functions: dict[str, FunctionSummary] = field(init=False)

    def __post_init__(self) -> None:
        self._path: Path | None = None
        self._summarised()

    @property
    def path(self) -> Path:
        """The resolved path, made on first need: most modules are never asked, and a Path for each of a
        large project's modules was a third of the index's preparation."""
        if self._path is None:
            self._path = Path(self.path_text)
        return self._path

    def _summarised(self) -> None:
        self.functions = {function.name: function for function in self.summary.functions}
        self.class_names = {cls.name for cls in self.summary.classes}
        self._bindings: dict[str, BindingRow] | None = None

    def binding(self, name: str) -> Binding | None:
        """What an import statement of the module binds to `name` (most modules are never asked)."""
        if self._bindings is None:
            self._bindings = {row[0]: row for row in self.summary.bindings}
        row = self._bindings.get(name)
        return Binding._make(row) if row is not None else None

    def refined(self, summary: ModuleSummary) -> None:
        """The module's summary: its file's, once it comes in (ExpectedModules), or a light one replaced by the
        full one once the index needs more than the imports (which are read from the bytes: they stay)."""
        self.summary = summary
        self._summarised()


def module_names(path: Path, root: Path, packages: dict[str, int] | None = None) -> tuple[str, list[str]]:
    """The canonical dotted name (by `__init__.py` files) and every other name the module may be imported by.

    Plain string work on the path, with `packages` (how many package folders end at a folder) kept across
    the calls of one index: pathlib and a stat per folder level per module cost a run on one named file a
    third of a second over a large project.
    """
    canonical, aliases, _ = _ModuleNamer(root, packages).names(str(path))
    return canonical, aliases


class _ModuleNamer:
    """module_names for the modules of one index: the root's prefix worked out once, and the folders known to
    hold an `__init__.py` file (the index's own package modules) not stat-ed again."""

    def __init__(self, root: Path, packages: dict[str, int] | None = None, known: Collection[str] = ()) -> None:
        text = str(root)
        self.prefix = text if text.endswith(os.sep) else text + os.sep
        self.packages: dict[str, int] = {} if packages is None else packages
        self.known = known
        self._folders: dict[str, tuple[str, list[str]]] = {}

    def names(self, text: str) -> tuple[str, list[str], bool]:
        """The module at the resolved path `text`: its canonical name, its other names, whether it is a package.
        A module's names are its folder's (worked out once for all its modules) with its own name after them."""
        folder, _, name = text.rpartition(os.sep)
        if not name.endswith(".py") or name.startswith(".") or not folder or folder.endswith(os.sep):
            folder, name = os.path.split(text)  # what the plain split below would not give as os.path does
            stem = os.path.splitext(name)[0]
        else:
            stem = name[:-3]
        if stem == "__init__":
            return self._names(text)
        place = self._folders.get(folder)
        if place is None:
            place = self._folders[folder] = self._folder(folder)
        package, suffixes = place
        return package + stem, [suffix + stem for suffix in suffixes], False

    def _folder(self, folder: str) -> tuple[str, list[str]]:
        """What names a folder's modules take: its packages' dotted name (with a dot after it, or nothing) and
        the suffixes of its path from the root (each with a dot after it, and the empty one)."""
        parts = folder.split(os.sep)
        depth = self._package_depth(folder)
        package = "".join(part + "." for part in parts[len(parts) - depth:]) if depth else ""
        within = folder + os.sep
        if within.startswith(self.prefix):
            relative = within[len(self.prefix):].split(os.sep)[:-1]
        else:
            relative = parts[len(parts) - depth:] if depth else []
        return package, [*(".".join(relative[start:]) + "." for start in range(len(relative))), ""]

    def _names(self, text: str) -> tuple[str, list[str], bool]:
        folder, name = os.path.split(text)
        stem = os.path.splitext(name)[0]
        parts = folder.split(os.sep)
        if stem != "__init__":
            parts.append(stem)
        package_depth = self._package_depth(folder)
        own = 0 if name == "__init__.py" else 1
        taken = parts[len(parts) - package_depth - own:]
        canonical = ".".join(taken) if package_depth + own else parts[-1]
        if text.startswith(self.prefix):
            relative = text[len(self.prefix):].split(os.sep)
            relative[-1] = stem
        else:
            relative = taken
        if relative and relative[-1] == "__init__":
            relative.pop()
        aliases = [".".join(relative[start:]) for start in range(len(relative))]
        return canonical, [alias for alias in aliases if alias], name == "__init__.py"

    def _package_depth(self, folder: str) -> int:
        """How many folders, from `folder` up, hold an `__init__.py` without a gap."""
        packages = self.packages
        depth = packages.get(folder)
        if depth is None:
            parent = os.path.dirname(folder)
            is_package = parent != folder and (folder in self.known
                                               or os.path.isfile(os.path.join(folder, "__init__.py")))
            depth = packages[folder] = self._package_depth(parent) + 1 if is_package else 0
        return depth


def absolute_module(importer: str, is_package: bool, level: int, name: str) -> str:
    """A relative import's module as an absolute dotted name, seen from the module named `importer`."""
    if not level:
        return name
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level - 1 <= len(package) else []
    return ".".join([*base, name] if name else base)


def indexed_module(file: CheckedFile, summary: ModuleSummary, namer: _ModuleNamer) -> tuple[IndexedModule, list[str]]:
    """The file's module and every name it may be imported by."""
    resolved = file.real_text
    name, names, is_package = namer.names(resolved)
    return IndexedModule(resolved, file.shown, name, is_package, file.is_test, summary), names


def _package_folders(files: Iterable[CheckedFile]) -> set[str]:
    """The folders whose `__init__.py` is one of the files: they need no stat to be known as packages."""
    return {os.path.dirname(text) for text in (file.real_text for file in files) if text.endswith(_INIT)}


_INIT = os.sep + "__init__.py"


class ModuleGraph:
    """The modules by name, and the project modules each one's import statements load (resolved on first need)."""

    def __init__(self, modules: list[IndexedModule], aliases: dict[IndexedModule, list[str]]) -> None:
        self.modules = modules
        # By resolved path as text (one text per Path: the texts are as a Path writes them), no Path made.
        self.by_path_text = {module.path_text: module for module in modules}
        self.by_name: dict[str, list[IndexedModule]] = {}
        for module in modules:
            for name in dict.fromkeys([module.name, *aliases.get(module, ())]):
                self.by_name.setdefault(name, []).append(module)
        self._heads = {name.split(".", 1)[0] for name in self.by_name}  # first parts of every module name
        self._chosen: dict[tuple[str, str], IndexedModule] = {}
        # By statement: the modules it loads by names no other module has, and its names that several have.
        self._statements: dict[tuple[str, tuple[str, ...]], tuple[list[IndexedModule], tuple[str, ...]]] = {}
        self._imported: dict[IndexedModule, list[IndexedModule]] = {}

    def importers(self) -> dict[IndexedModule, list[IndexedModule]]:
        """Each module's importers, in module order: the import graph, reversed."""
        importers: dict[IndexedModule, list[IndexedModule]] = {}
        for importer in self.modules:
            imported = self._imported.get(importer)
            for module in imported if imported is not None else self.resolve(importer):
                importers.setdefault(module, []).append(importer)
        return importers

    def resolve(self, importer: IndexedModule) -> list[IndexedModule]:
        """The other project modules `importer`'s import statements load, each once. What a statement loads
        depends only on the statement and, for a name several modules have, on the importer's folder:
        resolved once for each."""
        folder: str | None = None
        imported: list[IndexedModule] = []
        heads, statements = self._heads, self._statements
        for level, name, names in importer.summary.imports:
            if level:
                key = (absolute_module(importer.name, importer.is_package, level, name), names)
            elif name.partition(".")[0] in heads:
                key = (name, names)
            else:
                continue  # `import os`: every name it could load starts with a part no project module has
            statement = statements.get(key)
            if statement is None:
                statement = statements[key] = self._statement(*key)
            unique, shared = statement
            imported += unique
            if shared:
                if folder is None:
                    folder = os.path.dirname(importer.path_text) + "/"
                imported += [self.in_folder(target, folder) for target in shared]
        resolved = self._imported[importer] = [module for module in dict.fromkeys(imported) if module is not importer]
        return resolved

    def _statement(self, base: str, names: tuple[str, ...]) -> tuple[list[IndexedModule], tuple[str, ...]]:
        """What an import of `names` from `base` may load, packages above them included: the modules named by a
        name no other module has, and the names that several modules have."""
        parts = base.split(".") if base else []
        unique: list[IndexedModule] = []
        shared: list[str] = []
        get = self.by_name.get
        for target in [base, *(f"{base}.{imported}" if base else imported for imported in names if imported != "*"),
                       *(".".join(parts[:end]) for end in range(1, len(parts)))]:
            modules = get(target) if target else None
            if modules is not None:
                if len(modules) == 1:
                    unique.append(modules[0])
                else:
                    shared.append(target)
        return unique, tuple(shared)

    def in_folder(self, name: str, folder: str) -> IndexedModule:
        """The module `name` names (a key of by_name), seen from a module in `folder` ("": from nowhere)."""
        candidates = self.by_name[name]
        if len(candidates) == 1:
            return candidates[0]
        key = (name, folder)
        if key not in self._chosen:
            canonical = [module for module in candidates if module.name == name] or candidates
            near = [module for module in canonical if folder and module.path_text.startswith(folder)]
            self._chosen[key] = min(near or canonical, key=lambda module: module.path_text.count("/"))
        return self._chosen[key]


def module_graph(files: Iterable[CheckedFile], summaries: dict[str, ModuleSummary], root: Path) -> ModuleGraph:
    """Every file with a summary as a module (not stubs), nothing resolved yet."""
    modules: list[IndexedModule] = []
    aliases: dict[IndexedModule, list[str]] = {}
    kept = [file for file in files if file.shown in summaries and file.has_py_suffix]  # not unreadable,
    namer = _ModuleNamer(root, known=_package_folders(kept))                                    # unparsable, stubs
    for file in kept:
        module, aliases[module] = indexed_module(file, summaries[file.shown], namer)
        modules.append(module)
    return ModuleGraph(modules, aliases)


class ExpectedModules:
    """The graph of the modules a run expects to index (from the file list), resolved file by file as their
    summaries come in. It serves the index once, if the modules with a summary are the ones it was given
    (`graph_for`); the rest of a project checked in part, and it is built anew."""

    def __init__(self, files: Sequence[CheckedFile], root: Path, unindexed: Collection[str] = ()) -> None:
        """`unindexed`: the files (shown) whose codes, after per-file-ignores, leave them without a summary."""
        self._aliases: dict[IndexedModule, list[str]] = {}
        modules: list[IndexedModule] = []
        kept = [file for file in files if file.has_py_suffix and file.shown not in unindexed]
        namer = _ModuleNamer(root, known=_package_folders(kept))
        for file in kept:
            module, self._aliases[module] = indexed_module(file, _NOT_YET, namer)
            modules.append(module)
        self.graph: ModuleGraph | None = ModuleGraph(modules, self._aliases)
        self._by_shown = {module.shown: module for module in modules}
        self._given: dict[str, ModuleSummary] = {}

    def add(self, shown: str, summary: ModuleSummary | None) -> None:
        """A file's summary, as its result comes in: its imports are resolved now."""
        module = self._by_shown.get(shown)
        if summary is None or module is None or self.graph is None:
            return
        module.refined(summary)
        self._given[shown] = summary
        self.graph.resolve(module)

    def graph_for(self, files: Iterable[CheckedFile], summaries: dict[str, ModuleSummary]) -> ModuleGraph | None:
        """The graph, once, if the modules with a summary among `files` are ones expected, with the summaries
        given; else None. Without a module expected (a file that turned out unparsable), the others' imports
        are resolved again: what a name loads depends on every module that has it."""
        graph, self.graph = self.graph, None
        if graph is None:
            return None
        present = [module for module in graph.modules if module.shown in self._given]
        kept = [file for file in files if file.has_py_suffix and file.shown in summaries]
        if len(kept) != len(present) or any(module.shown != file.shown
                                            or self._given[module.shown] is not summaries[file.shown]
                                            for module, file in zip(present, kept)):
            return None
        return graph if len(present) == len(graph.modules) else ModuleGraph(present, self._aliases)
