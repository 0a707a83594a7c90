"""unittest's test classes in the loop model: which classes of a test module pytest hands to unittest, and
whether each of their tests runs on an event loop of its own.

pytest collects every `unittest.TestCase` subclass of a test module, whatever its name, and unittest runs
its tests: an `async def` test runs only where the class drives a loop. `IsolatedAsyncioTestCase` gives
each test a new one; so does a class whose `setUp` (its own, or the one of a base it hands over to) makes a
new loop. The bases are followed through the project's modules the way pytest's default import mode finds
them (the folder above the topmost package, `pythonpath`, the rootdir), and `setUp` in Python's method
order; where a base is found nowhere, what it could change is not decided here: the verdict is then left
to the rest of the model.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from loopbound.module_facts import Module, parse
from loopbound.names import ImportTable
from loopbound.project import Project
from loopbound.source import SourceError, decode, read_bytes
from loopbound.test_case_facts import LOCAL_CLASS, BaseRef, ClassFacts, read_classes, relative_names

ISOLATED = frozenset({"unittest.IsolatedAsyncioTestCase", "unittest.async_case.IsolatedAsyncioTestCase"})
TEST_CASES = frozenset({"unittest.TestCase", "unittest.case.TestCase", *ISOLATED, "django.test.TestCase",
                        "django.test.TransactionTestCase", "django.test.SimpleTestCase",
                        "django.test.LiveServerTestCase"})
_MAX_HOPS = 32  # re-exports followed from one module to the next before giving up


@dataclass
class ClassesOf:
    """One module's classes and the names its `from` imports bind (re-exports lead through them).

    A module read for its bases alone is read class by class: its import statements, then the text of each
    class asked for (parsing a whole large test module to learn one base class was most of this pass)."""

    classes: dict[str, ClassFacts | None]
    imported: dict[str, BaseRef] = field(default_factory=dict)
    path: Path | None = None  # while read class by class: the module, its text, imports and class names
    source: str = ""
    imports: ImportTable | None = None
    names: set[str] = field(default_factory=set)

    def get(self, name: str) -> ClassFacts | None:
        if name not in self.classes and name in self.names and self.imports is not None and self.path is not None:
            try:
                self.classes[name] = _class_from_text(self.source, name, self.imports, self.names)
            except _Unreadable:
                whole = _parsed_classes(self.path)
                self.classes, self.imported = (whole.classes, whole.imported) if whole else ({}, {})
                self.imports = None
        return self.classes.get(name)


Found = tuple[Path, ClassFacts] | str | None  # a project class, one of unittest's (qualified), or nothing known
Node = tuple["tuple[Path, str] | str", "ClassFacts | str"]  # (identity, the class or unittest's qualified name)


@dataclass
class _Reads:
    """What one pass read and resolved: test modules share their bases, and bases their own bases."""

    modules: dict[Path, ClassesOf | None] = field(default_factory=dict)
    resolved: dict[tuple[Path, BaseRef], Found] = field(default_factory=dict)
    orders: dict[tuple[Path, str], list[Node] | None] = field(default_factory=dict)
    roots: dict[Path, list[Path]] = field(default_factory=dict)
    files: dict[tuple[Path, tuple[str, ...]], Path | None] = field(default_factory=dict)  # _module_file's answers


def _reads(project: Project) -> _Reads:
    if not isinstance(project.test_case_reads, _Reads):
        project.test_case_reads = _Reads()
    return project.test_case_reads


class _Unreadable(Exception):
    """A class's text, cut from its module, does not parse alone: the module is parsed whole."""


def own_loop_test_case(project: Project, module: Module) -> ClassFacts | None:
    """The first class of a test module that pytest collects for unittest and whose tests each run on a new
    loop; None when there is none."""
    for facts in module.test_cases:
        lineage = list(_lineage(project, module.path, facts))
        terminals = {item for item in lineage if isinstance(item, str)}
        if not terminals & TEST_CASES:
            continue
        order = _method_order(project, module.path, facts, frozenset())
        if not _collected(order or lineage):
            continue
        if terminals & ISOLATED or (order is not None and _setup_makes_loop(order)):
            return facts
    return None


def _collected(order: list[ClassFacts | str | None]) -> bool:
    """pytest skips a class whose `__test__` (its own or inherited) is false, and unittest one without tests."""
    classes = [item for item in order if isinstance(item, ClassFacts)]
    flag = next((facts.test_flag for facts in classes if facts.test_flag is not None), True)
    return flag and any(facts.has_tests for facts in classes)


def _setup_makes_loop(order: list[ClassFacts | str | None]) -> bool:
    """The `setUp` each test runs (the first in the method order) makes a new event loop, itself or through the
    bases it hands over to. unittest's own `setUp` does nothing."""
    for item in order:
        if not isinstance(item, ClassFacts):
            return False
        if item.setup == "new":
            return True
        if item.setup == "other":
            return False
    return False


def _method_order(project: Project, path: Path, facts: ClassFacts,
                  active: frozenset[tuple[Path, str]]) -> list[ClassFacts | str | None] | None:
    """Python's method resolution order (C3) of the class; None when a base is found nowhere, the bases
    loop, or no order exists."""
    nodes = _c3(project, path, facts, active)
    return None if nodes is None else [payload for _, payload in nodes]


def _c3(project: Project, path: Path, facts: ClassFacts, active: frozenset[tuple[Path, str]]) -> list[Node] | None:
    key = (path, facts.name)
    if key in active or len(active) > _MAX_HOPS:
        return None
    orders = _reads(project).orders
    if key not in orders:
        orders[key] = _merged(project, path, facts, active | {key})
    return orders[key]


def _merged(project: Project, path: Path, facts: ClassFacts, active: frozenset[tuple[Path, str]]) -> list[Node] | None:
    key = (path, facts.name)
    sequences: list[list[Node]] = []
    for base in facts.bases:
        if base == (0, "object"):
            continue
        found = _resolve(project, path, base)
        if found is None:
            return None
        if isinstance(found, str):
            terminal: list[Node] = [(found, found)]
            sequences.append(terminal + [("unittest.TestCase", "unittest.TestCase")] if found in ISOLATED else terminal)
            continue
        inner = _c3(project, *found, active)
        if inner is None:
            return None
        sequences.append(inner)
    sequences.append([sequence[0] for sequence in sequences])
    merged: list[Node] = [(key, facts)]
    while any(sequences):
        sequences = [sequence for sequence in sequences if sequence]
        head = next((sequence[0] for sequence in sequences
                     if not any(sequence[0][0] in (node[0] for node in other[1:]) for other in sequences)), None)
        if head is None:
            return None
        merged.append(head)
        sequences = [sequence[1:] if sequence[0][0] == head[0] else sequence for sequence in sequences]
    return merged


def _lineage(project: Project, path: Path, facts: ClassFacts) -> Iterator[ClassFacts | str | None]:
    """The class and its bases, depth first and left to right, each once; a base found nowhere is None (what
    it reaches decides whether it is a TestCase, whatever the other bases are)."""
    seen: set[tuple[Path, str]] = set()
    stack: list[Found] = [(path, facts)]
    while stack:
        item = stack.pop()
        if not isinstance(item, tuple):
            yield item
            continue
        where, current = item
        name = (where, current.name)
        if name in seen:
            continue
        seen.add(name)
        yield current
        stack.extend(reversed([_resolve(project, where, base) for base in current.bases]))


def _resolve(project: Project, path: Path, ref: BaseRef) -> Found:
    resolved = _reads(project).resolved
    if (path, ref) not in resolved:
        resolved[(path, ref)] = _followed(project, path, ref)
    return resolved[(path, ref)]


def _followed(project: Project, path: Path, ref: BaseRef) -> Found:
    for _ in range(_MAX_HOPS):
        level, name = ref
        if level == 0 and name in TEST_CASES:
            return name
        located = _locate(project, path, ref)
        if located is None:
            return None
        path, attribute = located
        classes = _classes_of(project, path)
        if classes is None:
            return None
        found = classes.get(attribute)
        if found is not None:
            return path, found
        if attribute not in classes.imported:
            return None
        ref = classes.imported[attribute]
    return None


def _locate(project: Project, path: Path, ref: BaseRef) -> tuple[Path, str] | None:
    """The module file a base's name leads to, and the name to look up in it."""
    level, name = ref
    if level == LOCAL_CLASS:
        return path, name
    *module, attribute = name.split(".")
    if level > 0:
        package = path.parent
        for _ in range(level - 1):
            package = package.parent
        roots = [package]
    elif not module:
        return None
    else:
        roots = _import_roots(project, path)
    files = _reads(project).files
    for root in roots:
        key = (root, tuple(module))
        if key not in files:  # the test modules of a folder name the same modules from the same roots
            files[key] = _module_file(root, module)
        found = files[key]
        if found is not None:
            return found, attribute
    return None


def _module_file(root: Path, parts: list[str]) -> Path | None:
    folder = root.joinpath(*parts)
    for candidate in ((folder / "__init__.py",) if not parts else (folder.with_suffix(".py"), folder / "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _import_roots(project: Project, path: Path) -> list[Path]:
    roots = _reads(project).roots
    if path not in roots:
        roots[path] = _roots(project, path)
    return roots[path]


def _roots(project: Project, path: Path) -> list[Path]:
    """Where an absolute import from `path` finds the project's modules under pytest's `prepend` import mode:
    the folder above the module's topmost package (pytest puts it first on `sys.path`), then the rootdir's
    `pythonpath` entries and the rootdir."""
    base = path.parent
    while (base / "__init__.py").is_file() and base.parent != base:
        base = base.parent
    roots = [base]
    config = project.config_for(path)
    if config is not None:
        setting = config.keys.get("pythonpath")
        roots += [config.directory / entry for entry in (setting.value.split() if setting else [])]
        roots.append(config.directory)
    return list(dict.fromkeys(roots))


def _classes_of(project: Project, path: Path) -> ClassesOf | None:
    """A module's classes, read once per pass; the file becomes an input of the pass's answer."""
    modules = _reads(project).modules
    if path not in modules:
        project.read_files.add(path)
        module = project.modules.get(path)
        if module is not None and module.test_cases:
            modules[path] = ClassesOf({facts.name: facts for facts in module.test_cases})
        else:
            modules[path] = _read_classes(path)
    return modules[path]


_IMPORT = re.compile(r"^(?:from[ \t]+[\w.]+[ \t]+import[ \t]*(?:\([^)]*\)|[^\n]*)|import[ \t][^\n]*)", re.M)
_CLASS = re.compile(r"^class[ \t]+(\w+)", re.M)
_TOP_LEVEL = re.compile(r"^(?=[^\s#)\]}])", re.M)  # a line that starts a statement at column 0


def _read_classes(path: Path) -> ClassesOf | None:
    try:
        source = decode(read_bytes(path))
        tree = ast.parse("\n".join(match.group() for match in _IMPORT.finditer(source)))
    except (SourceError, ValueError):
        return None
    except SyntaxError:  # an import cut short (a `\` continuation): the module is parsed whole
        return _parsed_classes(path)
    return ClassesOf({}, _imported(tree), path, source, ImportTable.for_module(tree), set(_CLASS.findall(source)))


def _class_from_text(source: str, name: str, imports: ImportTable, names: set[str]) -> ClassFacts | None:
    start = None
    for start in re.finditer(rf"^class[ \t]+{re.escape(name)}\b", source, re.M):
        pass  # the last definition is the one the module keeps
    if start is None:
        return None
    line_end = source.find("\n", start.start())
    end = _TOP_LEVEL.search(source, line_end + 1) if line_end >= 0 else None
    try:
        tree = ast.parse(source[start.start():end.start() if end else len(source)])
    except SyntaxError as error:
        raise _Unreadable(name) from error
    return next((facts for facts in read_classes(tree, imports, names) if facts.name == name), None)


def _parsed_classes(path: Path) -> ClassesOf | None:
    parsed = parse(path)
    if parsed is None:
        return None
    found = read_classes(parsed.tree, parsed.imports)
    return ClassesOf({facts.name: facts for facts in found}, _imported(parsed.tree))


def _imported(tree: ast.Module) -> dict[str, BaseRef]:
    imported = dict(relative_names(tree.body))
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and not statement.level and statement.module:
            imported.update((alias.asname or alias.name, (0, f"{statement.module}.{alias.name}"))
                            for alias in statement.names if alias.name != "*")
    return imported
