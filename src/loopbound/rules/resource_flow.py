"""A per-function view of each loop-bound resource: made, entered, released, escaped, on which paths.

The LB2 rules ask one question of every resource a function makes from the registry: is it released
on every path out of the function? Rather than a full control-flow graph, a small abstract interpreter
walks the function's statements with the set of states the resource may be in (not made yet, open,
closed), following `if`/loops/`try`/`with`/`return`/`raise`. Anything it cannot follow counts as an
escape, which is never reported: precision matters more than recall for a linter people keep on.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from loopbound.names import ImportTable
from loopbound.registry import Kind, Resource
from loopbound.rules.base import FileContext, function_nodes
from loopbound.rules.resource_calls import resource_of

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
Function = ast.FunctionDef | ast.AsyncFunctionDef
State = Literal["absent", "open", "closed"]
ABSENT: State = "absent"
OPEN: State = "open"
CLOSED: State = "closed"
States = frozenset[State]
Event = Literal["create", "release", "escape", "rebind", "return", "yield"]
LeakKind = Literal["return", "end", "again", "raise"]

FIXTURE_DECORATORS = frozenset({"pytest.fixture", "pytest_asyncio.fixture"})
CONTEXT_MANAGER_DECORATORS = frozenset({"contextlib.asynccontextmanager", "contextlib.contextmanager"})
# Calls that look at a resource without taking it over; any other call it is passed to may own it.
BORROWING_CALLS = frozenset({
    "print", "isinstance", "len", "repr", "str", "id", "type", "getattr", "hasattr", "bool",
    "sqlalchemy.ext.asyncio.async_sessionmaker", "sqlalchemy.orm.sessionmaker",
    "sqlalchemy.ext.asyncio.AsyncSession", "sqlmodel.ext.asyncio.session.AsyncSession",
})
# Logging calls take no ownership, and an exception from one is not what leaks a resource.
QUIET_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print"})
# Keyword arguments (and the value, None for any) that make a client borrow its pool instead of owning it.
NOT_OWNING_ARGUMENTS: dict[str, str | None] = {"connection_pool": None, "connector_owner": "False"}
# Methods that release what a resource holds (its connections, pools, transports).
MEMBER_RELEASES = frozenset({"close", "aclose", "dispose", "disconnect", "stop", "wait_closed"})
_CATCH_ALL = frozenset({"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"})


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


def statement_of(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.stmt:
    while not isinstance(node, ast.stmt):
        node = parents[node]
    return node


def created_resource(value: ast.expr | None, ctx: FileContext, imports: ImportTable) -> Resource | None:
    """The resource `value` makes when it is a registry call (awaited or not), else None."""
    if isinstance(value, ast.Await):
        value = value.value
    if not isinstance(value, ast.Call):
        return None
    resource = resource_of(value, ctx, imports)
    return resource if resource is not None and resource.kind is Kind.RESOURCE else None


def release_text(resource: Resource, receiver: str) -> str:
    """`await engine.dispose()`: how this receiver is released, as a message shows it."""
    return "; ".join(resource.release_statements(receiver))


@dataclass(frozen=True)
class Creation:
    """One registry call in a function and what its value becomes."""

    call: ast.Call
    resource: Resource
    statement: ast.stmt
    variable: str | None = None  # the local name it is bound to (tracked through the function)
    dropped: bool = False  # used for one method call (`await httpx.AsyncClient().get(url)`) and lost
    handed: ast.stmt | None = None  # `return X()` / `yield X()`: given to the caller as it is made

    @property
    def constructor(self) -> str:
        return ast.unparse(self.call.func)


def _inside_lambda(node: ast.AST, stop: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node is not stop:
        if isinstance(node, ast.Lambda):
            return True
        node = parents[node]
    return False


def find_creations(own_nodes: list[ast.AST], ctx: FileContext, imports: ImportTable,
                   parents: dict[ast.AST, ast.AST]) -> Iterator[Creation]:
    """Registry calls among a function's own nodes (`function_nodes`), with what each becomes."""
    for node in own_nodes:
        if not isinstance(node, ast.Call):
            continue
        resource = resource_of(node, ctx, imports)
        if resource is None or resource.kind is not Kind.RESOURCE or _borrows_its_pool(node):
            continue
        statement = statement_of(node, parents)
        if _inside_lambda(node, statement, parents):
            continue
        creation = _classify(node, resource, statement, parents)
        if creation is not None and not _expected_to_fail(statement, parents):
            yield creation


def _classify(call: ast.Call, resource: Resource, statement: ast.stmt,
              parents: dict[ast.AST, ast.AST]) -> Creation | None:
    """What the made object becomes; None when it is entered, passed on, or out of our sight."""
    node: ast.AST = call
    parent = parents[node]
    if isinstance(parent, ast.Await):
        node, parent = parent, parents[parent]
    through_method = awaited_method = False
    while isinstance(parent, ast.Attribute) and isinstance(parents.get(parent), ast.Call):
        method_call = parents[parent]
        if method_call.func is not parent or parent.attr in resource.release:  # type: ignore[attr-defined]
            return None
        node, parent, through_method = method_call, parents[method_call], True
        if isinstance(parent, ast.Await):
            node, parent, awaited_method = parent, parents[parent], True
    if awaited_method or (isinstance(parent, ast.Expr) and through_method):
        return Creation(call, resource, statement, dropped=True)
    if isinstance(parent, ast.withitem):
        return Creation(call, resource, statement, dropped=True) if through_method else None
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
        return Creation(call, resource, statement, variable=parent.targets[0].id)
    if isinstance(parent, ast.AnnAssign) and isinstance(parent.target, ast.Name):
        return Creation(call, resource, statement, variable=parent.target.id)
    if isinstance(parent, (ast.Return, ast.Yield)) and not through_method:
        return Creation(call, resource, statement, handed=statement)
    return None


def _borrows_its_pool(call: ast.Call) -> bool:
    """`Redis(connection_pool=pool)`, `ClientSession(connector=c, connector_owner=False)`: the caller's
    pool is what holds connections, and closing the client leaves it open (redis-py 5, aiohttp 3)."""
    for keyword in call.keywords:
        if keyword.arg is None:
            continue
        if keyword.arg in NOT_OWNING_ARGUMENTS:
            expected = NOT_OWNING_ARGUMENTS[keyword.arg]
            value = keyword.value
            if expected is None or (isinstance(value, ast.Constant) and repr(value.value) == expected):
                return True
    return False


def _expected_to_fail(statement: ast.stmt, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside `with pytest.raises(...)` / `self.assertRaises(...)`: the call is meant to fail."""
    node: ast.AST = statement
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                call = item.context_expr
                func = call.func if isinstance(call, ast.Call) else call
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                if name.lower().endswith("raises") or name.startswith("assertRaises") or "expect_raises" in name:
                    return True
        if isinstance(node, FUNCTIONS):
            return False
    return False


def _catches_all(handler: ast.ExceptHandler, imports: ImportTable) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any((imports.qualify(t) or "") in _CATCH_ALL or (isinstance(t, ast.Name) and t.id in _CATCH_ALL)
               for t in types)


def _quiet(statement: ast.stmt) -> bool:
    """`logger.warning(...)`, `print(...)`: not where a resource leaks from."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    func = statement.value.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in QUIET_METHODS


def _header(statement: ast.stmt) -> list[ast.AST]:
    """The parts of a statement evaluated before (or instead of) its nested blocks."""
    if isinstance(statement, (ast.If, ast.While)):
        return [statement.test]
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return [statement.iter]
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return list(statement.items)
    if isinstance(statement, ast.Match):
        return [statement.subject]
    if isinstance(statement, (ast.Try, *FUNCTIONS, ast.ClassDef)):
        return []
    return [statement]


def may_raise(statement: ast.stmt) -> bool:
    """A call or an await can raise; a bare `yield` does not (pytest and lifespans never throw into it)."""
    if _quiet(statement):
        return False
    for part in _header(statement):
        for node in ast.walk(part):
            if isinstance(node, ast.Lambda):
                continue
            if isinstance(node, (ast.Call, ast.Await)):
                return True
    return False


@dataclass
class Usage:
    """Where one local variable holding a resource is made, released, lent and lost, per statement."""

    variable: str
    resource: Resource
    sites: list[Creation]
    events: dict[ast.stmt, list[Event]] = field(default_factory=dict)
    releases: list[ast.Call] = field(default_factory=list)  # the release calls, in source order
    entered_attribute: str = ""  # `async with engine.connect()`: what users mistake for a release
    used: bool = False  # mentioned outside `assert` statements: something may have opened a connection

    def add(self, statement: ast.stmt, event: Event) -> None:
        self.events.setdefault(statement, []).append(event)

    @property
    def closes_anywhere(self) -> bool:
        return any(event in ("release", "escape") for events in self.events.values() for event in events)


class UsageBuilder:
    """Classifies every mention of a tracked variable in one function."""

    def __init__(self, function: Function, imports: ImportTable, parents: dict[ast.AST, ast.AST],
                 lends: bool, own: list[ast.AST]) -> None:
        self.function = function
        self.own = own
        self.imports = imports
        self.parents = parents
        self.lends = lends  # a fixture or context manager: `yield x` lends x, the code after it must release

    def build(self, variable: str, sites: list[Creation]) -> Usage:
        usage = Usage(variable, sites[0].resource, sites)
        site_statements = {site.statement for site in sites}
        for statement in site_statements:
            usage.add(statement, "create")
        nested = self._nested_functions()
        for node in self.own:
            if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
                self._nested(node, nested, usage)
            elif isinstance(node, ast.Lambda) and any(isinstance(n, ast.Name) and n.id == variable
                                                      for n in ast.walk(node)):
                usage.add(statement_of(node, self.parents), "escape")
            elif isinstance(node, ast.Name) and node.id == variable:
                self._mention(node, usage, site_statements)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in nested
                  and self._releases(nested[node.func.id], usage)):
                usage.add(statement_of(node, self.parents), "release")
        usage.releases.sort(key=lambda call: (call.lineno, call.col_offset))
        return usage

    def _nested_functions(self) -> dict[str, Function]:
        """Nested functions that are only ever called here: their releases run where they are called."""
        nested = {node.name: node for node in self.own
                  if isinstance(node, FUNCTIONS) and not node.decorator_list}
        for node in self.own:
            if isinstance(node, ast.Name) and node.id in nested:
                parent = self.parents[node]
                if not (isinstance(parent, ast.Call) and parent.func is node):
                    nested.pop(node.id)
        return nested

    def _releases(self, function: Function, usage: Usage) -> bool:
        for node in ast.walk(function):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == usage.variable
                    and node.func.attr in usage.resource.release):
                return True
        return False

    def _nested(self, node: Function | ast.ClassDef, nested: dict[str, Function], usage: Usage) -> None:
        """A nested def or class that captures the variable and is handed on (a hook, a finalizer)."""
        if isinstance(node, FUNCTIONS) and node.name in nested:
            return
        if any(isinstance(n, ast.Name) and n.id == usage.variable for n in ast.walk(node)):
            usage.add(node, "escape")

    def _mention(self, name: ast.Name, usage: Usage, sites: set[ast.stmt]) -> None:
        statement = statement_of(name, self.parents)
        if isinstance(name.ctx, (ast.Store, ast.Del)):
            if statement not in sites:
                usage.add(statement, "rebind")
            return
        first_site = min(site.statement.lineno for site in usage.sites)
        inspects = isinstance(statement, ast.Assert) and not any(isinstance(n, ast.Await) for n in ast.walk(statement))
        if not inspects and statement.lineno >= first_site:
            usage.used = True
        event = self._load_event(name, usage)
        if event is not None:
            usage.add(statement, event)

    def _load_event(self, name: ast.Name, usage: Usage) -> Event | None:
        parent = self.parents[name]
        if isinstance(parent, ast.Attribute):
            return self._attribute_event(parent, usage)
        if isinstance(parent, (ast.Await, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.FormattedValue,
                               ast.If, ast.While, ast.IfExp, ast.Assert, ast.Subscript)):
            return None
        if isinstance(parent, ast.keyword):
            parent = self.parents[parent]
        if isinstance(parent, ast.Call) and self._borrows(parent):
            return None
        handed = self._handed(name)
        if handed is not None:
            return handed
        return "escape"

    def _attribute_event(self, attribute: ast.Attribute, usage: Usage) -> Event | None:
        if self._releases_members(attribute):
            return "release"
        call = self.parents.get(attribute)
        is_call = isinstance(call, ast.Call) and call.func is attribute
        if attribute.attr in usage.resource.release:
            if is_call:
                usage.releases.append(call)  # type: ignore[arg-type]
            return "release" if is_call else "escape"  # `stack.push_async_callback(client.aclose)`
        if is_call and attribute.attr in MEMBER_RELEASES:
            return "escape"  # `await pool.disconnect()`: another way to close it than the registry's
        if is_call and isinstance(self.parents.get(call), ast.withitem) and not usage.entered_attribute:  # type: ignore[arg-type]
            usage.entered_attribute = f"{usage.variable}.{attribute.attr}()"
        return None

    def _releases_members(self, attribute: ast.Attribute) -> bool:
        """`await sentinel.connection.aclose()`, `for s in sentinel.sentinels: await s.aclose()`.

        Closing what the resource holds is how some teardowns release it; precision first, it counts.
        """
        outer: ast.AST = attribute
        while isinstance(self.parents.get(outer), ast.Attribute):
            outer = self.parents[outer]
        parent = self.parents.get(outer)
        if outer is not attribute and isinstance(parent, ast.Call) and parent.func is outer:
            return outer.attr in MEMBER_RELEASES  # type: ignore[attr-defined]
        if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is outer and isinstance(parent.target, ast.Name):
            member = parent.target.id
            return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                       and isinstance(node.func.value, ast.Name) and node.func.value.id == member
                       and node.func.attr in MEMBER_RELEASES for node in ast.walk(parent))
        return False

    def _borrows(self, call: ast.Call) -> bool:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in QUIET_METHODS:
            return True
        if isinstance(func, ast.Name) and func.id in BORROWING_CALLS:
            return True
        return (self.imports.qualify(func) or "") in BORROWING_CALLS

    def _handed(self, name: ast.Name) -> Event | None:
        """`return x`, `yield x`, `yield x, y`, `return {"c": x}`: the caller gets x itself."""
        node: ast.AST = name
        parent = self.parents[node]
        while isinstance(parent, (ast.Tuple, ast.List, ast.Dict)):
            node, parent = parent, self.parents[parent]
        if isinstance(parent, ast.Return):
            return "return"
        if isinstance(parent, ast.Yield):
            return "yield" if self.lends else "escape"
        return None


@dataclass
class _TryFrame:
    catches_all: bool
    finally_releases: bool
    raised: set[State] = field(default_factory=set)  # states at the points where the body may raise


@dataclass
class _LoopFrame:
    leaving: set[State] = field(default_factory=set)  # states at `break`
    repeating: set[State] = field(default_factory=set)  # states at `continue`


@dataclass(frozen=True)
class Leak:
    kind: LeakKind
    node: ast.AST  # where control leaves with the resource still open


class PathWalk:
    """Follows the statements of one function with the states one tracked resource may be in."""

    def __init__(self, usage: Usage, imports: ImportTable, lends: bool) -> None:
        self.usage = usage
        self.imports = imports
        self.lends = lends
        self.tries: list[_TryFrame] = []
        self.loops: list[_LoopFrame] = []
        self.leaks: dict[tuple[LeakKind, int, int], Leak] = {}
        self.returned: ast.stmt | None = None  # a fixture's `return x`
        self.yielded: ast.stmt | None = None  # a fixture's or context manager's `yield x`

    def run(self, function: Function) -> list[Leak]:
        end = self.block(function.body, {ABSENT})
        if OPEN in end:
            self._leak("end", function.body[-1])
        return sorted(self.leaks.values(), key=lambda leak: (leak.node.lineno, leak.node.col_offset))  # type: ignore[attr-defined]

    def _leak(self, kind: LeakKind, node: ast.AST) -> None:
        self.leaks.setdefault((kind, node.lineno, node.col_offset), Leak(kind, node))  # type: ignore[attr-defined]

    def block(self, body: list[ast.stmt], states: set[State]) -> set[State]:
        for statement in body:
            if not states:
                return states
            states = self.statement(statement, states)
        return states

    def statement(self, statement: ast.stmt, states: set[State]) -> set[State]:
        states = self._events(statement, states)
        if isinstance(statement, ast.Return):
            return self._return(statement, states)
        if isinstance(statement, ast.Raise):
            self._raise(statement, states)
            return set()
        if isinstance(statement, (ast.Break, ast.Continue)) and self.loops:
            target = self.loops[-1].leaving if isinstance(statement, ast.Break) else self.loops[-1].repeating
            target |= states
            return set()
        if isinstance(statement, ast.If):
            return self._if(statement, states)
        if isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
            return self._loop(statement, states)
        if isinstance(statement, ast.Try) or type(statement).__name__ == "TryStar":
            return self._try(statement, states)  # type: ignore[arg-type]
        if isinstance(statement, (ast.With, ast.AsyncWith)):
            return self.block(statement.body, states)
        if isinstance(statement, ast.Match):
            out: set[State] = set(states)
            for case in statement.cases:
                out |= self.block(case.body, set(states))
            return out
        return states

    def _events(self, statement: ast.stmt, states: set[State]) -> set[State]:
        events = self.usage.events.get(statement, [])
        if "create" in events:
            if OPEN in states:
                self._leak("again", statement)
            return {OPEN}
        if not ({"release", "escape"} & set(events)) and may_raise(statement):
            self._raise(statement, states)
        for event in events:
            if event in ("release", "escape", "rebind"):
                states = _closed(states)
            elif event == "return":
                if self.lends:
                    self.returned = statement
                states = _closed(states)
            elif event == "yield" and OPEN in states:
                self.yielded = statement
        return states

    def _return(self, statement: ast.Return, states: set[State]) -> set[State]:
        if any(frame.finally_releases for frame in self.tries):
            states = _closed(states)
        if OPEN in states:
            self._leak("return", statement)
        return set()

    def _raise(self, statement: ast.stmt, states: set[State]) -> None:
        states = set(states)
        for frame in reversed(self.tries):
            frame.raised |= states
            if frame.catches_all:
                return
            if frame.finally_releases:
                states = _closed(states)
        if OPEN in states:
            self._leak("raise", statement)

    def _if(self, statement: ast.If, states: set[State]) -> set[State]:
        body = self.block(statement.body, set(states))
        orelse = self.block(statement.orelse, set(states))
        out = body | orelse
        guards = any(isinstance(n, ast.Name) and n.id == self.usage.variable for n in ast.walk(statement.test))
        one_releases = any(branch and OPEN not in branch for branch in (body, orelse))
        if guards and OPEN in states and one_releases:
            out.discard(OPEN)  # `if client is not None: await client.aclose()`
        return out

    def _loop(self, statement: ast.For | ast.AsyncFor | ast.While, states: set[State]) -> set[State]:
        frame = _LoopFrame()
        self.loops.append(frame)
        entry = set(states)
        for _ in range(2):  # the second pass sees what the first iteration leaves behind
            entry |= self.block(statement.body, set(entry)) | frame.repeating
        self.loops.pop()
        endless = isinstance(statement, ast.While) and isinstance(statement.test, ast.Constant) and bool(
            statement.test.value)
        after = set() if endless else entry
        if statement.orelse and after:
            after = self.block(statement.orelse, after)
        return after | frame.leaving

    def _try(self, statement: ast.Try, states: set[State]) -> set[State]:
        finally_releases = any(
            event in ("release", "escape")
            for node in statement.finalbody for inner in ast.walk(node) if isinstance(inner, ast.stmt)
            for event in self.usage.events.get(inner, [])
        )
        catches_all = any(_catches_all(handler, self.imports) for handler in statement.handlers)
        frame = _TryFrame(catches_all, finally_releases)
        self.tries.append(frame)
        out = self.block(statement.orelse, self.block(statement.body, set(states)))
        self.tries.pop()
        if statement.handlers:
            self.tries.append(_TryFrame(False, finally_releases))
            for handler in statement.handlers:
                out |= self.block(handler.body, set(frame.raised))
            self.tries.pop()
        if statement.finalbody and out:
            out = self.block(statement.finalbody, out)
        return out


def _closed(states: set[State]) -> set[State]:
    return {CLOSED if state == OPEN else state for state in states}


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
    finalizer = any(isinstance(node, ast.Attribute) and node.attr == "addfinalizer" for node in own)
    declared = {name for node in own if isinstance(node, (ast.Global, ast.Nonlocal)) for name in node.names}
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
