"""Does an async fixture hand over something loop-bound? The question behind LB301 and LB302's severity.

A fixture on a wider loop than its tests breaks them only when what it hands over (what it returns or
yields, or leaves in module state) holds objects of its loop: a registry resource (a pool, a client, an
asyncio primitive, a future), or something built from one. An in-process ASGI client, plain data, a
mock or `None` crosses loops harmlessly. Read from the fixture's own body and its module's top level
only; the project-wide index of function summaries (issue 12) can answer the UNKNOWN cases later, in
`fixture_handover`, without the rules changing.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Iterable

from loopbound.names import ImportTable, scope_statements
from loopbound.registry import Registry, Resource, SafeArgument

_MOCKS = ("unittest.mock.", "mock.", "pytest_mock.")
_LOOP_GETTERS = frozenset({"asyncio.get_running_loop", "asyncio.get_event_loop", "asyncio.events.get_running_loop",
                           "asyncio.events.get_event_loop"})


class Handover(enum.Enum):
    LOOP_BOUND = "loop-bound"  # a registry resource, or something built from one, crosses loops
    NOTHING_BOUND = "nothing loop-bound"  # None, plain data, mocks, an in-process ASGI client
    UNKNOWN = "unknown"  # a call the fixture's module cannot see into

    def join(self, other: Handover) -> Handover:
        order = (Handover.NOTHING_BOUND, Handover.UNKNOWN, Handover.LOOP_BOUND)
        return max(self, other, key=order.index)


def _argument_matches(value: ast.expr, safe: SafeArgument, imports: ImportTable) -> bool:
    if safe.value == "*":
        return True
    if isinstance(value, ast.Constant):
        return repr(value.value) == safe.value
    callee = value.func if isinstance(value, ast.Call) else value
    return imports.qualify(callee) == safe.value


def loop_free_call(call: ast.Call, resource: Resource, imports: ImportTable) -> bool:
    """The registry row says these arguments leave the resource holding nothing loop-bound."""
    return any(keyword.arg == safe.keyword and _argument_matches(keyword.value, safe, imports)
               for keyword in call.keywords for safe in resource.loop_free_arguments)


class _Reader:
    def __init__(self, imports: ImportTable, registry: Registry, module_bound: frozenset[str],
                 parameters: frozenset[str] = frozenset()) -> None:
        self.imports = imports
        self.registry = registry
        self.module_bound = module_bound
        self.parameters = parameters
        self.local: dict[str, Handover] = {}
        self.flows: set[str] = set()  # parameters (other fixtures) whose values the body builds on

    def value(self, node: ast.expr | None) -> Handover:
        if node is None or isinstance(node, (ast.Constant, ast.JoinedStr, ast.Lambda)):
            return Handover.NOTHING_BOUND
        if isinstance(node, ast.Await):
            return self.value(node.value)
        if isinstance(node, ast.Name):
            if node.id in self.local:
                return self.local[node.id]
            if node.id in self.parameters:
                self.flows.add(node.id)
            return Handover.LOOP_BOUND if node.id in self.module_bound else Handover.UNKNOWN
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return self._all(node.elts)
        if isinstance(node, ast.Dict):
            return self._all([value for value in node.values if value is not None])
        if isinstance(node, ast.Attribute):
            return self.value(node.value)
        if isinstance(node, ast.Call):
            return self._call(node)
        return Handover.UNKNOWN

    def _all(self, nodes: Iterable[ast.expr]) -> Handover:
        result = Handover.NOTHING_BOUND
        for node in nodes:
            result = result.join(self.value(node))
        return result

    def _call(self, call: ast.Call) -> Handover:
        qualified = self.imports.qualify(call.func) or ""
        resource = self.registry.lookup(qualified)
        if resource is not None:
            return Handover.NOTHING_BOUND if loop_free_call(call, resource, self.imports) else Handover.LOOP_BOUND
        if qualified.startswith(_MOCKS) or qualified in _LOOP_GETTERS:
            return Handover.NOTHING_BOUND if qualified.startswith(_MOCKS) else Handover.LOOP_BOUND
        if isinstance(call.func, ast.Attribute) and self.value(call.func.value) is Handover.LOOP_BOUND:
            return Handover.LOOP_BOUND  # `loop.create_future()`, `engine.connect()`
        arguments = self._all([*call.args, *(keyword.value for keyword in call.keywords)])
        return Handover.LOOP_BOUND if arguments is Handover.LOOP_BOUND else Handover.UNKNOWN

    def bind(self, target: ast.expr, value: Handover) -> None:
        if isinstance(target, ast.Name):
            self.local[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind(element, value)


def module_bound_names(tree: ast.Module, imports: ImportTable, registry: Registry) -> frozenset[str]:
    """Top-level names bound to a registry resource (a pooled engine made at import): shared module state."""
    reader = _Reader(imports, registry, frozenset())
    names: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and reader.value(statement.value) is Handover.LOOP_BOUND:
            names.update(target.id for target in statement.targets if isinstance(target, ast.Name))
    return frozenset(names)


def fixture_handover(node: ast.FunctionDef | ast.AsyncFunctionDef, imports: ImportTable, registry: Registry,
                     module_bound: frozenset[str]) -> tuple[Handover, tuple[str, ...]]:
    """What the fixture hands to the tests: the join of what it returns and yields, LOOP_BOUND too when it
    touches a module-level resource (its pool then holds connections of the fixture's loop) or stores a
    loop-bound value in module state (`global`); and the fixtures it requests whose values it builds on
    (an UNKNOWN answer is LOOP_BOUND when one of them hands over something loop-bound)."""
    arguments = node.args
    parameters = frozenset(arg.arg for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs))
    reader = _Reader(imports, registry, module_bound, parameters)
    declared_global: set[str] = set()
    result = Handover.NOTHING_BOUND
    for statement in scope_statements(node.body):
        if isinstance(statement, ast.Global):
            declared_global.update(statement.names)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
            value = reader.value(statement.value)
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            for target in targets:
                reader.bind(target, value)
                stored = isinstance(target, ast.Name) and target.id in declared_global
                if (stored or isinstance(target, ast.Attribute)) and value is Handover.LOOP_BOUND:
                    result = Handover.LOOP_BOUND
        elif isinstance(statement, (ast.With, ast.AsyncWith)):
            for item in statement.items:
                if item.optional_vars is not None:
                    reader.bind(item.optional_vars, reader.value(item.context_expr))
        elif isinstance(statement, ast.Return):
            result = result.join(reader.value(statement.value))
        if isinstance(statement, ast.Expr) and isinstance(statement.value, (ast.Yield, ast.Await)):
            inner = statement.value.value
            if isinstance(statement.value, ast.Yield):
                result = result.join(reader.value(inner))
    if any(isinstance(name, ast.Name) and name.id in module_bound for name in ast.walk(node)):
        result = Handover.LOOP_BOUND
    return result, tuple(sorted(reader.flows))

