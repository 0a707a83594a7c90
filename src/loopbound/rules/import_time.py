"""LB101-LB107: a loop-bound object made once, at import time or in a cache, and shared by every loop."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from loopbound.findings import Finding
from loopbound.names import ImportTable, is_main_guard, is_type_checking
from loopbound.registry import LOOP_METHODS, LOOP_RECEIVER_METHODS, Kind, Resource
from loopbound.rules.base import LEAF_KINDS, FileContext, FileRuleGroup, child_nodes, function_nodes, word_rows
from loopbound.rules.import_time_rules import (
    ASYNCIO_PRIMITIVE,
    CACHED_FACTORY,
    CLASS_ATTRIBUTE,
    DEFAULT_ARGUMENT,
    GLOBAL_SINGLETON,
    IMPORT_TIME_LOOP,
    MODULE_LEVEL,
    RULES,
)
from loopbound.rules.lifecycle_index import candidates_of
from loopbound.rules.resource_calls import loop_bound
from loopbound.rules.source_rows import functions_around, holds_a_row, rows_are_lines

CACHE_DECORATORS = frozenset({"functools.lru_cache", "functools.cache", "async_lru.alru_cache"})
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
Where = Literal["module", "class", "default"]


def _runs_a_loop(func: ast.Attribute) -> bool:
    """`loop.run_until_complete(...)`, `get_event_loop().run_forever()`; not `ws.run_forever()`."""
    if func.attr in LOOP_METHODS:
        return True
    if func.attr not in LOOP_RECEIVER_METHODS:
        return False
    receiver = func.value.func if isinstance(func.value, ast.Call) else func.value
    name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
    return "loop" in name.lower()


def _evaluated_calls(node: ast.AST) -> list[ast.Call]:
    """The calls evaluated with the expression, in the order of a walk down its nodes: lambda bodies run
    later, so they are skipped. Kinds are told by class (the parser makes no subclass), and a name or a
    constant, which holds no node, is not asked for its children."""
    calls: list[ast.Call] = []
    stack = [node]
    pop = stack.pop
    while stack:
        current = pop()
        if current.__class__ is ast.Call:
            calls.append(current)
        elif current.__class__ is ast.Lambda:
            stack.extend(current.args.defaults)
            stack.extend(default for default in current.args.kw_defaults if default)
            continue
        elif current.__class__ is ast.GeneratorExp:
            stack.append(current.generators[0].iter)  # only the first iterable runs before iteration
            continue
        elif current.__class__ in LEAF_KINDS:
            continue
        stack.extend(child_nodes(current))
    return calls


_LOOP_RUNS = LOOP_METHODS | LOOP_RECEIVER_METHODS


def import_time_rows(ctx: FileContext) -> list[int] | None:
    """The rows a finding of LB101-LB104, LB106 or LB107 can be on, in order; None for every row.

    Each is a call of a registry row, of a name bound to one or of a project's maker (`Candidates`'
    creating words), or of a loop's `run_until_complete` / `run_forever`: the statements and definitions
    whose lines (decorators included) hold none of these words are not walked, which is most of a module.
    """
    if not rows_are_lines(ctx.source):
        return None
    loop_runs = [row for row, _ in word_rows(_LOOP_RUNS, ctx.source)]
    return sorted({*candidates_of(ctx).creating_rows, *loop_runs})


@dataclass
class _ImportTimeWalker:
    ctx: FileContext
    rows: list[int] | None = field(init=False, default=None)  # import_time_rows, once the walk starts

    def run(self) -> Iterator[Finding]:
        self.rows = import_time_rows(self.ctx)
        yield from self._statements(self.ctx.tree.body, "module")
        yield from self._singletons()

    def _statements(self, body: list[ast.stmt], where: Where, owner: str = "") -> Iterator[Finding]:
        for statement in body:
            yield from self._statement(statement, where, owner)

    def _statement(self, statement: ast.stmt, where: Where, owner: str = "") -> Iterator[Finding]:
        if self.rows is not None and not holds_a_row(statement, self.rows):
            return
        imports = self.ctx.imports
        if isinstance(statement, ast.If) and (is_main_guard(statement.test)
                                              or is_type_checking(statement.test, imports)):
            yield from self._statements(statement.orelse, where, owner)
            return
        if isinstance(statement, _FUNCTIONS):
            yield from self._function_definition(statement, where)
            return
        if isinstance(statement, ast.ClassDef):
            for expression in [*statement.decorator_list, *statement.bases, *statement.keywords]:
                yield from self._expression(expression, where, statement, owner)
            yield from self._statements(statement.body, "class", statement.name)
            return
        for name, value in ast.iter_fields(statement):
            if isinstance(statement, ast.AnnAssign) and name == "annotation":
                continue
            values = value if isinstance(value, list) else [value]
            for child in values:
                if isinstance(child, ast.stmt):
                    yield from self._statement(child, where, owner)
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    yield from self._statements(child.body, where, owner)
                elif isinstance(child, (ast.expr, ast.withitem, ast.keyword)):
                    yield from self._expression(child, where, statement, owner)

    def _function_definition(self, function: ast.FunctionDef | ast.AsyncFunctionDef,
                             where: Where) -> Iterator[Finding]:
        for decorator in function.decorator_list:
            yield from self._expression(decorator, where, function)
        arguments = function.args
        for default in [*arguments.defaults, *(d for d in arguments.kw_defaults if d)]:
            yield from self._expression(default, "default", function)
        yield from self._cached_factory(function)

    def _expression(self, node: ast.AST, where: Where, statement: ast.stmt, owner: str = "") -> Iterator[Finding]:
        for child in _evaluated_calls(node):
            if isinstance(child.func, ast.Attribute) and _runs_a_loop(child.func):
                yield self.ctx.finding(IMPORT_TIME_LOOP, child,
                                       f"`.{child.func.attr}()` runs an event loop at import time")
                continue
            resource = loop_bound(child, self.ctx, self.ctx.imports)
            if resource is not None:
                yield self._report(child, resource, where, statement, owner)

    def _report(self, call: ast.Call, resource: Resource, where: Where, statement: ast.stmt,
                owner: str) -> Finding:
        name = self.ctx.described(call, resource)
        via = self.ctx.via(call)
        if resource.kind is Kind.LOOP:
            return self.ctx.finding(IMPORT_TIME_LOOP, call, f"{name} runs at import time, before the event "
                                    "loop that tests or the server will use exists")
        if resource.kind is Kind.PRIMITIVE:
            return self.ctx.finding(ASYNCIO_PRIMITIVE, call, f"{name} is created at import time and binds to "
                                    "the event loop of its first contended use")
        if where == "class":
            return self.ctx.finding(CLASS_ATTRIBUTE, call, f"{name} is created in the body of class `{owner}` at "
                                    "import time and shared by every instance and every event loop", **via)
        if where == "default":
            function = statement.name if isinstance(statement, _FUNCTIONS) else "a function"
            return self.ctx.finding(DEFAULT_ARGUMENT, call, f"{name} is created once as a parameter default of "
                                    f"`{function}()` and shared by every call and every event loop", **via)
        binding = _bound_name(statement, call)
        data = {"binding": binding, **via} if binding else via
        return self.ctx.finding(MODULE_LEVEL, call, f"{name} is created at import time and bound to the first "
                                "event loop that uses it", constructor=resource.qualname, **data)

    def _cached_factory(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Finding]:
        decorators = [d.func if isinstance(d, ast.Call) else d for d in function.decorator_list]
        if not any(self.ctx.imports.qualify(d) in CACHE_DECORATORS for d in decorators):
            return
        imports = self.ctx.scope_imports(function, self.ctx.imports)
        made: dict[str, tuple[Resource, ast.expr]] = {}
        for node in function_nodes(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                resource = self._created(node.value, imports)
                if resource:
                    made[node.targets[0].id] = (resource, node.value)
            elif isinstance(node, ast.Return) and node.value is not None:
                value = node.value
                resource = self._created(value, imports)
                found = made.get(value.id) if isinstance(value, ast.Name) else (resource, value) if resource else None
                if found and found[0].kind is Kind.RESOURCE:
                    call = _call_in(found[1])
                    yield self.ctx.finding(CACHED_FACTORY, self.ctx.definition(function), f"`{function.name}()` is cached, so the "
                                           f"{self.ctx.described(call, found[0])} it returns is bound to the first event "
                                           "loop and handed to every later one", **self.ctx.via(call))
                    return

    def _created(self, value: ast.expr, imports: ImportTable) -> Resource | None:
        """The resource a value may hold: `await make()`, `_g or make()`, `make() if x else None`."""
        if isinstance(value, ast.Await):
            return self._created(value.value, imports)
        if isinstance(value, ast.BoolOp):
            alternatives = value.values
        elif isinstance(value, ast.IfExp):
            alternatives = [value.body, value.orelse]
        else:
            return loop_bound(value, self.ctx, imports) if isinstance(value, ast.Call) else None
        return next(filter(None, (self._created(alternative, imports) for alternative in alternatives)), None)

    def _singletons(self) -> Iterator[Finding]:
        """LB105. Only functions with a `global` statement can make or reset a singleton."""
        if "global" not in self.ctx.source:
            return  # skips walking every function of files that cannot have one: most files
        release_methods = self.ctx.registry.release_methods
        scopes = [_GlobalScope.of(node) for node in functions_around(self.ctx.tree, _GLOBAL_WORD, self.ctx.source)]
        scopes = [scope for scope in scopes if scope.declared]
        resets = {name for scope in scopes for name in scope.reset_globals(release_methods)}
        for scope in scopes:
            imports = self.ctx.imports.for_function(scope.function)
            for node in scope.nodes:
                if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                    continue
                resource = self._created(node.value, imports)
                if resource is None or resource.kind is not Kind.RESOURCE:
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                call = _call_in(node.value)
                via = self.ctx.via(call)
                stored = self.ctx.described(call, resource) if via else f"a `{resource.qualname}`"
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in scope.declared and target.id not in resets:
                        yield self.ctx.finding(GLOBAL_SINGLETON, node, f"`{scope.function.name}()` stores "
                                               f"{stored} in the global `{target.id}`, "
                                               "which outlives the event loop that made it and is never released "
                                               "and reset", variable=target.id, **via)


@dataclass(frozen=True)
class _GlobalScope:
    """A function's own nodes, walked once, and the names it declares `global`."""

    function: ast.FunctionDef | ast.AsyncFunctionDef
    nodes: tuple[ast.AST, ...]
    declared: frozenset[str]

    @classmethod
    def of(cls, function: ast.FunctionDef | ast.AsyncFunctionDef) -> _GlobalScope:
        nodes = tuple(function_nodes(function))
        declared = frozenset(name for node in nodes if isinstance(node, ast.Global) for name in node.names)
        return cls(function, nodes, declared)

    def reset_globals(self, release_methods: frozenset[str]) -> set[str]:
        """Globals this function both releases (`await g.aclose()`, a registry release method) and sets to None."""
        released: set[str] = set()
        cleared: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in release_methods:
                receiver = node.func.value
                if isinstance(receiver, ast.Name) and receiver.id in self.declared:
                    released.add(receiver.id)
            elif isinstance(node, (ast.Assign, ast.Delete)) and (isinstance(node, ast.Delete) or _is_none(node.value)):
                cleared.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id in self.declared)
        return released & cleared


_GLOBAL_WORD = re.compile(r"\bglobal\b")


def _call_in(value: ast.expr) -> ast.expr:
    """The call inside `await make()`, `_g or make()`, `make() if x else None`: what the message names."""
    if isinstance(value, ast.Await):
        return _call_in(value.value)
    alternatives = value.values if isinstance(value, ast.BoolOp) else (
        [value.body, value.orelse] if isinstance(value, ast.IfExp) else [])
    calls = [_call_in(alternative) for alternative in alternatives]
    return next((call for call in calls if isinstance(call, ast.Call)), value)


def _is_none(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and value.value is None


def _bound_name(statement: ast.stmt, call: ast.Call) -> str | None:
    """The global a plain `name = constructor(...)` binds: what the fixes rename into a fixture."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
    elif isinstance(statement, ast.AnnAssign):
        target = statement.target
    else:
        return None
    value = statement.value
    while isinstance(value, ast.Call) and value is not call and isinstance(value.func, ast.Attribute):
        value = value.func.value  # a chained call: engine = create_async_engine(...).execution_options(...)
    if value is call and isinstance(target, ast.Name):
        return target.id
    return None


IMPORT_TIME = FileRuleGroup(RULES, lambda ctx: _ImportTimeWalker(ctx).run())
