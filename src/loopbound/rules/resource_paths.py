"""The path walk: one tracked resource followed through a function's branches, loops and `try` blocks, with the
states it may be in, to the paths that leave the function with it open."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

from loopbound.names import ImportTable
from loopbound.rules.resource_creations import FUNCTIONS, Function
from loopbound.rules.resource_usage import QUIET_METHODS, Usage

State = Literal["absent", "open", "closed"]
ABSENT: State = "absent"
OPEN: State = "open"
CLOSED: State = "closed"
States = frozenset[State]
LeakKind = Literal["return", "end", "again", "raise"]
_CATCH_ALL = frozenset({"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"})


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
