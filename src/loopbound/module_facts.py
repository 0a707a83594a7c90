"""The LB3 facts of one module: its fixtures (scope, loop scope, what each hands over), its tests with
their marks, and the hooks and marks that set loop scopes, read from `ast` once; project.py resolves
them across modules (fixture lookup, configs, conftest.py chains).

Nothing here is imported or run. A module keeps only the nodes findings point at once read.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from loopbound.fixture_handover import Handover, fixture_handover, module_bound_names
from loopbound.names import ImportTable
from loopbound.registry import Registry
from loopbound.source import SourceError, decode, read_bytes
from loopbound.test_case_facts import ClassFacts, read_classes

SCOPES = ("function", "class", "module", "package", "session")
FIXTURE_SCOPE = "fixture-scope"  # asyncio_default_fixture_loop_scope: "use each fixture's own scope"
_PYTEST_ASYNCIO_FIXTURE = "pytest_asyncio.fixture"
_OTHER_ASYNC_PLUGINS = frozenset({"anyio", "trio"})


def wider(scope: str, than: str) -> bool:
    return SCOPES.index(scope) > SCOPES.index(than)


@dataclass(frozen=True)
class Literal:
    """A keyword argument's value when it is a string literal, with the node to point at."""

    value: str
    node: ast.expr


@dataclass
class Mark:
    """One `pytest.mark.<name>(...)` application."""

    name: str
    node: ast.expr
    keywords: dict[str, ast.expr]
    args: list[ast.expr]

    def literal(self, key: str) -> Literal | None:
        return _literal(self.keywords.get(key))

    @property
    def loop_scope(self) -> Literal | None:
        """pytest-asyncio reads `loop_scope`, falling back to the deprecated `scope`."""
        return self.literal("loop_scope") or self.literal("scope")


@dataclass
class Fixture:
    name: str
    module: Module
    node: ast.FunctionDef | ast.AsyncFunctionDef
    decorator: str  # "pytest.fixture" or "pytest_asyncio.fixture"
    scope: str | None  # None: a callable or unreadable scope
    loop_scope: Literal | None
    requests: tuple[str, ...]
    autouse: bool
    class_name: str | None
    handover: Handover = Handover.UNKNOWN  # what its tests receive; read before the body is dropped
    builds_on: tuple[str, ...] = ()  # requested fixtures whose values it builds what it hands over from

    @property
    def is_async(self) -> bool:
        return isinstance(self.node, ast.AsyncFunctionDef)


@dataclass
class Test:
    name: str
    module: Module
    node: ast.FunctionDef | ast.AsyncFunctionDef
    class_name: str | None
    marks: list[Mark]  # closest first: the function's own, then its class's, then the module's
    requests: tuple[str, ...]
    own_marks: int = 0  # how many of `marks` are the function's own decorators

    @property
    def is_async(self) -> bool:
        return isinstance(self.node, ast.AsyncFunctionDef)

    def closest(self, name: str) -> Mark | None:
        return next((mark for mark in self.marks if mark.name == name), None)

    @property
    def other_plugin(self) -> bool:
        """anyio and trio tests belong to their own plugins, not to pytest-asyncio."""
        return any(mark.name in _OTHER_ASYNC_PLUGINS for mark in self.marks)


@dataclass
class Module:
    path: Path
    display: str
    source: str
    tree: ast.Module
    imports: ImportTable = field(init=False)
    fixtures: dict[str, Fixture] = field(default_factory=dict)
    class_fixtures: dict[str, dict[str, Fixture]] = field(default_factory=dict)
    all_fixtures: list[Fixture] = field(default_factory=list)
    tests: list[Test] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)  # every mark written in the file, for LB305/LB307
    event_loop_requests: list[tuple[ast.arg, str]] = field(default_factory=list)
    asyncio_use: ast.AST | None = None  # the first sign that the module uses pytest-asyncio
    # `pytest_collection_modifyitems` adding `pytest.mark.asyncio(loop_scope=...)` to the tests, as
    # pytest-asyncio's how-to "run all tests in the session loop" shows.
    hook_loop_scope: Literal | None = None
    hook_prepends: bool = False  # `add_marker(mark, append=False)`: closer than the test's own marks
    test_cases: tuple[ClassFacts, ...] = ()  # a test module's classes, for unittest (rules/test_cases.py)

    def __post_init__(self) -> None:
        self.imports = ImportTable.for_module(self.tree)

    @property
    def is_conftest(self) -> bool:
        return self.path.name == "conftest.py"

    @property
    def mentions_other_plugin(self) -> bool:
        return any(word in self.source for word in ("anyio", "trio"))


def _literal(node: ast.expr | None) -> Literal | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return Literal(node.value, node)
    return None


class ModuleReader:
    """Reads one module's fixtures, tests and marks; `is_test_module` decides whether tests count."""

    def __init__(self, module: Module, is_test_module: bool) -> None:
        self.module = module
        self.is_test_module = is_test_module

    def read(self) -> Module:
        module = self.module
        module_marks = self._pytestmark(module.tree.body)
        for statement in module.tree.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._function(statement, None, [], module_marks)
            elif isinstance(statement, ast.ClassDef):
                self._class(statement, module_marks)
            elif isinstance(statement, (ast.Import, ast.ImportFrom)):
                self._note_import(statement)
            if isinstance(statement, ast.FunctionDef) and statement.name == "pytest_collection_modifyitems":
                self._modifyitems(statement)
        if self.is_test_module:
            module.test_cases = tuple(read_classes(module.tree, module.imports))
        return module

    def _note_import(self, statement: ast.Import | ast.ImportFrom) -> None:
        names: list[str] = []
        if isinstance(statement, ast.Import):
            names = [alias.name for alias in statement.names]
        elif isinstance(statement, ast.ImportFrom) and statement.module:
            names = [statement.module]
        if any(name.split(".")[0] == "pytest_asyncio" for name in names):
            self._use(statement)

    def _modifyitems(self, hook: ast.FunctionDef) -> None:
        for node in ast.walk(hook):
            if isinstance(node, ast.Call) and self.module.imports.qualify(node.func) == "pytest.mark.asyncio":
                for keyword in node.keywords:
                    if keyword.arg in ("loop_scope", "scope") and _literal(keyword.value):
                        self.module.hook_loop_scope = _literal(keyword.value)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_marker":
                self.module.hook_prepends |= any(keyword.arg == "append" and isinstance(keyword.value, ast.Constant)
                                                 and keyword.value.value is False for keyword in node.keywords)

    def _use(self, node: ast.AST) -> None:
        if self.module.asyncio_use is None or node.lineno < self.module.asyncio_use.lineno:  # type: ignore[attr-defined]
            self.module.asyncio_use = node

    def _class(self, node: ast.ClassDef, module_marks: list[Mark]) -> None:
        decorators = node.decorator_list
        class_marks = self._pytestmark(node.body) + self._decorator_marks(
            decorators, [self._qualified(decorator) for decorator in decorators])
        for statement in node.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._function(statement, node.name, class_marks, module_marks)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, class_name: str | None,
                  class_marks: list[Mark], module_marks: list[Mark]) -> None:
        arguments = node.args
        parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        if class_name is not None and parameters and parameters[0].arg in ("self", "cls"):
            del parameters[0]
        names = [arg.arg for arg in parameters]
        decorators = node.decorator_list  # most functions of a test module have none: no fixture, no mark
        qualified = [self._qualified(decorator) for decorator in decorators]
        fixture = self._fixture(node, class_name, names, qualified) if decorators else None
        own_marks = self._decorator_marks(decorators, qualified) if decorators else []
        is_test = (fixture is None and self.is_test_module and node.name.startswith("test")
                   and (class_name is None or class_name.startswith("Test")))
        if (fixture is not None or is_test) and "event_loop" in names:
            self.module.event_loop_requests.extend((arg, node.name) for arg in parameters if arg.arg == "event_loop")
        if not is_test:
            return
        marks = own_marks + class_marks + module_marks
        requests = names
        for mark in marks:
            if mark.name == "usefixtures":
                requests += [literal.value for literal in map(_literal, mark.args) if literal]
        self.module.tests.append(Test(node.name, self.module, node, class_name, marks, tuple(requests),
                                      own_marks=len(own_marks)))

    def _fixture(self, node: ast.FunctionDef | ast.AsyncFunctionDef, class_name: str | None,
                 requests: list[str], decorators_qualified: list[str | None]) -> Fixture | None:
        for decorator, qualified in zip(node.decorator_list, decorators_qualified):
            call = decorator if isinstance(decorator, ast.Call) else None
            if qualified is None or qualified not in ("pytest.fixture", _PYTEST_ASYNCIO_FIXTURE):
                continue
            if qualified == _PYTEST_ASYNCIO_FIXTURE:
                self._use(decorator)
            keywords = {keyword.arg: keyword.value for keyword in (call.keywords if call else []) if keyword.arg}
            scope_node = keywords.get("scope")
            scope: str | None = "function"
            if scope_node is not None:
                literal = _literal(scope_node)
                scope = literal.value if literal and literal.value in SCOPES else None
            name = _literal(keywords.get("name"))
            autouse = keywords.get("autouse")
            fixture = Fixture(
                name=name.value if name else node.name, module=self.module, node=node, decorator=qualified,
                scope=scope, loop_scope=_literal(keywords.get("loop_scope")),
                requests=tuple(arg for arg in requests if arg != "request"),
                autouse=isinstance(autouse, ast.Constant) and autouse.value is True, class_name=class_name,
            )
            self.module.all_fixtures.append(fixture)
            target = (self.module.fixtures if class_name is None
                      else self.module.class_fixtures.setdefault(class_name, {}))
            target.setdefault(fixture.name, fixture)
            return fixture
        return None

    def _pytestmark(self, body: list[ast.stmt]) -> list[Mark]:
        marks: list[Mark] = []
        for statement in body:
            if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is None:
                continue
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            if any(isinstance(target, ast.Name) and target.id == "pytestmark" for target in targets):
                value = statement.value
                items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
                marks = [mark for item in items if item is not None
                         for mark in self._mark(item, self._qualified(item))]
        return marks

    def _decorator_marks(self, decorators: list[ast.expr], qualified: list[str | None]) -> list[Mark]:
        """Closest first: the decorator nearest the `def` is applied first, as pytest stores them."""
        return [mark for decorator, name in zip(reversed(decorators), reversed(qualified))
                for mark in self._mark(decorator, name)]

    def _qualified(self, node: ast.expr) -> str | None:
        """The dotted name a decorator or mark calls or names, through the module's imports (asked once each)."""
        return self.module.imports.qualify(node.func if isinstance(node, ast.Call) else node)

    def _mark(self, node: ast.expr, qualified: str | None) -> Iterator[Mark]:
        call = node if isinstance(node, ast.Call) else None
        if not qualified or not qualified.startswith("pytest.mark."):
            return
        name = qualified[len("pytest.mark."):]
        if name == "asyncio":
            self._use(node)
        keywords = {keyword.arg: keyword.value for keyword in (call.keywords if call else []) if keyword.arg}
        mark = Mark(name, node, keywords, list(call.args) if call else [])
        self.module.marks.append(mark)
        yield mark


# A test module without any of these cannot hold an LB3 finding nor an asyncio test: no async test
# or fixture, no asyncio mark, no event_loop (`pytest_asyncio` contains `asyncio`). conftest.py files
# are always read, since their fixtures serve the tests below them.
_AFTER_ASYNC = re.compile(rb"io|\s+def\b")  # `async` then one of these, or `event_loop`


def may_matter(data: bytes) -> bool:
    """Whether a test module's bytes hold a word without which it holds nothing for the LB3 rules.

    Each `async` is found by a substring search and only what follows it is matched: searching the bytes
    with the whole expression cost as much as every other check of a test module's name and bytes."""
    start = data.find(b"async")
    while start >= 0:
        if _AFTER_ASYNC.match(data, start + 5):
            return True
        start = data.find(b"async", start + 5)
    return b"event_loop" in data


def parse(path: Path, prefilter: bool = False, display: str | None = None) -> Module | None:
    """A module for the project view; None when it cannot be read or parsed (the per-file pass says why).

    `display`: the path findings show, when the caller knows it (discovery, which works it out, is not
    imported by the warm replay, which reads facts only to compare them)."""
    try:
        data = read_bytes(path)
    except (SourceError, ValueError):
        return None
    if prefilter and not may_matter(data):
        return None
    return parse_data(data, path, display)


def parse_data(data: bytes, path: Path, display: str | None = None) -> Module | None:
    """`parse` of bytes already read (the per-file pass's, project.FactsKeeper)."""
    try:
        source = decode(data)
        tree = ast.parse(source, filename=str(path))
    except (SourceError, SyntaxError, ValueError):
        return None
    if display is None:
        from loopbound.discovery import display_path

        display = display_path(path)
    return Module(path, display, source, tree)


def read_facts(path: Path, is_test: bool, registry: Registry, display: str | None = None) -> Module | None:
    """One module as the LB3 rules see it (its fixtures, tests, marks and what each fixture hands over),
    or None when it holds none."""
    module = parse(path, prefilter=is_test, display=display)
    return None if module is None else facts_of(module, is_test, registry)


def facts_of(module: Module, is_test: bool, registry: Registry) -> Module:
    """A parsed module's facts, its syntax tree then stripped to the nodes findings point at."""
    return release_trees(note_handovers(ModuleReader(module, is_test).read(), registry))


def note_handovers(module: Module, registry: Registry) -> Module:
    """What each async fixture hands over, while its body is still there."""
    bound = module_bound_names(module.tree, module.imports, registry)
    for fixture in module.all_fixtures:
        if fixture.is_async:
            fixture.handover, fixture.builds_on = fixture_handover(fixture.node, module.imports, registry, bound)
    return module


def release_trees(module: Module) -> Module:
    """Once read, a module keeps only the nodes findings point at.

    Nothing after `ModuleReader.read` walks a test's or a fixture's body or the module tree, yet on a
    large test suite they are most of the memory the project pass holds.
    """
    for function in [fixture.node for fixture in module.all_fixtures] + [test.node for test in module.tests]:
        function.body = []
    module.tree = ast.Module(body=[], type_ignores=[])
    return module
