"""What the loop model reads of one module's classes for unittest: their bases as the module names them,
whether they define test methods, `__test__`, and what their `setUp` does about event loops.

pytest collects a `unittest.TestCase` subclass of a test module whatever its name (`python_classes` does
not apply to it) and lets unittest run it: rules/test_cases.py follows the bases across the project's
modules to learn whether each test gets an event loop of its own. Nothing here is imported or run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from loopbound.names import ImportTable, dotted

LOCAL_CLASS = -1  # a base's level when the module defines it itself
# What makes a new event loop each time `setUp` runs: a test's code then meets a loop no other test saw.
NEW_LOOPS = frozenset({"asyncio.new_event_loop", "asyncio.events.new_event_loop", "asyncio.run",
                       "asyncio.runners.run", "asyncio.Runner", "asyncio.runners.Runner", "uvloop.new_event_loop",
                       "uvloop.run"})
BaseRef = tuple[int, str]  # (level of a relative import, or 0, or LOCAL_CLASS; the dotted name)


@dataclass(frozen=True)
class ClassFacts:
    name: str  # no position: nothing points at it, and the LB3 digest of a test module keeps its facts whole
    bases: tuple[BaseRef, ...]  # an unreadable base is kept as written, level 0: it resolves to nothing
    has_tests: bool  # defines a method whose name starts with `test`, as unittest's loader looks for them
    test_flag: bool | None  # `__test__ = True/False` in the body; None when it does not set it
    # Its own `setUp`: "" when it defines none, "new" when it makes a new event loop, "super" when it only
    # hands over to a base's `setUp`, "other" when it does neither.
    setup: str


def read_classes(tree: ast.Module, imports: ImportTable, classes: set[str] | None = None) -> Iterator[ClassFacts]:
    """The top-level classes, in the module's order. `classes`: the names of every class the module defines,
    when `tree` holds only some of them."""
    if classes is None:
        classes = {statement.name for statement in tree.body if isinstance(statement, ast.ClassDef)}
    relative = dict(relative_names(tree.body))
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef):
            bases = tuple(_base(base, imports, classes, relative) for base in statement.bases)
            yield ClassFacts(statement.name, bases, _has_tests(statement.body),
                             _test_flag(statement.body), _setup(statement.body, imports))


def relative_names(body: list[ast.stmt]) -> Iterator[tuple[str, BaseRef]]:
    """The names the module's relative imports bind: `from .base import Case` -> Case: (1, "base.Case")."""
    for statement in body:
        if isinstance(statement, ast.ImportFrom) and statement.level:
            for alias in statement.names:
                if alias.name != "*":
                    target = f"{statement.module}.{alias.name}" if statement.module else alias.name
                    yield alias.asname or alias.name, (statement.level, target)


def _base(node: ast.expr, imports: ImportTable, classes: set[str], relative: dict[str, BaseRef]) -> BaseRef:
    written = dotted(node) or ""
    head, _, rest = written.partition(".")
    if head in relative:
        level, target = relative[head]
        return level, f"{target}.{rest}" if rest else target
    qualified = imports.qualify(node) if written else None
    if qualified is not None:
        return 0, qualified
    return (LOCAL_CLASS, written) if written in classes else (0, written)


def _has_tests(body: list[ast.stmt]) -> bool:
    return any(isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name.startswith("test")
               for statement in body)


def _test_flag(body: list[ast.stmt]) -> bool | None:
    flag = None
    for statement in body:
        if (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
                and any(isinstance(target, ast.Name) and target.id == "__test__" for target in statement.targets)):
            flag = bool(statement.value.value)
    return flag


def _setup(body: list[ast.stmt], imports: ImportTable) -> str:
    setup = next((statement for statement in body if isinstance(statement, ast.FunctionDef)
                  and statement.name == "setUp"), None)
    if setup is None:
        return ""
    scope = imports.for_function(setup)
    calls = [node for node in _own_nodes(setup.body) if isinstance(node, ast.Call)]
    if any(scope.qualify(call.func) in NEW_LOOPS for call in calls):
        return "new"
    if any(isinstance(call.func, ast.Attribute) and call.func.attr == "setUp" for call in calls):
        return "super"
    return "other"


def _own_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes `setUp` runs itself: not the bodies of functions or classes it only defines."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in ast.iter_child_nodes(node)
                     if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)))
