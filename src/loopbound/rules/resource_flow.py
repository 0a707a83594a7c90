"""A per-function view of each loop-bound resource: made, entered, released, escaped, on which paths.

The LB2 rules ask one question of every resource a function makes from the registry: is it released
on every path out of the function? Rather than a full control-flow graph, a small abstract interpreter
walks the function's statements with the set of states the resource may be in (not made yet, open,
closed), following `if`/loops/`try`/`with`/`return`/`raise`. Anything it cannot follow counts as an
escape, which is never reported: precision matters more than recall for a linter people keep on.
What is made is resource_creations.py, what each mention does resource_usage.py, the walk resource_paths.py.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import cast

from loopbound.names import ImportTable
from loopbound.rules.base import FileContext, function_nodes
from loopbound.rules.resource_creations import Creation, Function, find_creations
from loopbound.rules.resource_paths import Leak, PathWalk
from loopbound.rules.resource_usage import Usage, UsageBuilder

FIXTURE_DECORATORS = frozenset({"pytest.fixture", "pytest_asyncio.fixture"})
CONTEXT_MANAGER_DECORATORS = frozenset({"contextlib.asynccontextmanager", "contextlib.contextmanager"})
_DECLARATIONS = frozenset({ast.Global, ast.Nonlocal})


def decorator_names(function: Function, imports: ImportTable) -> set[str]:
    names = set()
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        qualified = imports.qualify(target)
        if qualified:
            names.add(qualified)
    return names


def own_nodes(function: Function) -> list[ast.AST]:
    """The function's own nodes (`function_nodes`), listed once and shared by every look at them."""
    return list(function_nodes(function))


@dataclass(frozen=True)
class FunctionFlow:
    """What the LB2 rules need to know about one function."""

    function: Function
    fixture: bool
    lends: bool  # a fixture or a context manager: what it yields is lent, and released after the yield
    finalizer: bool  # calls `request.addfinalizer(...)`: the teardown lives elsewhere
    creations: tuple[Creation, ...]
    tracked: tuple[tuple[Usage, tuple[Leak, ...], PathWalk], ...]


def analyse(function: Function, ctx: FileContext, imports: ImportTable,
            parents: dict[ast.AST, ast.AST], own: list[ast.AST] | None = None) -> FunctionFlow:
    decorators = decorator_names(function, imports)
    fixture = bool(decorators & FIXTURE_DECORATORS)
    lends = fixture or bool(decorators & CONTEXT_MANAGER_DECORATORS)
    own = own_nodes(function) if own is None else own
    creations = tuple(find_creations(own, ctx, imports, parents))
    # Looked up by class (the parser makes no subclass): one set test per node, no isinstance call.
    finalizer = any(node.attr == "addfinalizer" for node in own if node.__class__ is ast.Attribute)
    declared = {name for node in own if node.__class__ in _DECLARATIONS for name in cast(ast.Global, node).names}
    by_variable: dict[str, list[Creation]] = {}
    for creation in creations:
        if creation.variable and creation.variable not in declared:
            by_variable.setdefault(creation.variable, []).append(creation)
    builder = UsageBuilder(function, imports, parents, lends, own)
    tracked = []
    for variable, sites in by_variable.items():
        usage = builder.build(variable, sites)
        walk = PathWalk(usage, imports, lends)
        tracked.append((usage, tuple(walk.run(function)), walk))
    return FunctionFlow(function, fixture, lends, finalizer, creations, tuple(tracked))
