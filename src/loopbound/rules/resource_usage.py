"""What each mention of a variable holding a resource does to it, per statement: makes, releases, lends
or loses it (the events the path walk follows)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

from loopbound.names import ImportTable
from loopbound.registry import Resource
from loopbound.rules.resource_creations import FUNCTIONS, Creation, Function, statement_of

Event = Literal["create", "release", "escape", "rebind", "return", "yield"]
# Calls that look at a resource without taking it over; any other call it is passed to may own it.
BORROWING_CALLS = frozenset({
    "print", "isinstance", "len", "repr", "str", "id", "type", "getattr", "hasattr", "bool",
    "sqlalchemy.ext.asyncio.async_sessionmaker", "sqlalchemy.orm.sessionmaker",
    "sqlalchemy.ext.asyncio.AsyncSession", "sqlmodel.ext.asyncio.session.AsyncSession",
})
# Logging calls take no ownership, and an exception from one is not what leaks a resource.
QUIET_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print"})
# Methods that release what a resource holds (its connections, pools, transports).
MEMBER_RELEASES = frozenset({"close", "aclose", "dispose", "disconnect", "stop", "wait_closed"})


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
