"""Where LB101's fixes look before rewriting a module-level resource: the statement that makes it, the
globals computed from it, and every function that reads them (by libcst's scope analysis).

A global read anywhere a rewrite cannot follow (at import time, in a class body, under `global`,
reassigned) raises `Unfixable`: the finding then stays without a fix.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, ScopeProvider

from loopbound.fixes.context import FixContext


class Unfixable(Exception):
    """The global is used in a way no mechanical rewrite keeps working; the finding stays unfixed."""


@dataclass
class Usage:
    """Where a global and the globals computed from it are read."""

    module: cst.Module
    name: str
    definition: cst.SimpleStatementLine
    dependents: dict[str, cst.SimpleStatementLine] = field(default_factory=dict)  # `factory = sessionmaker(engine)`
    users: dict[cst.FunctionDef, set[str]] = field(default_factory=dict)  # function -> the names it reads
    reads: list[cst.Name] = field(default_factory=list)  # every read of them, as scope analysis found it
    sync_reads: bool = False  # a read whose nearest function is sync or a lambda: maybe no running loop there
    exports: set[cst.SimpleString] = field(default_factory=set)  # the strings naming them in `__all__`


def analyse(ctx: FixContext, name: str, row: int) -> Usage:
    wrapper = ctx.metadata()
    parents = wrapper.resolve(ParentNodeProvider)
    scope = wrapper.resolve(ScopeProvider)[wrapper.module]
    assert scope is not None
    definition = _statement_at(ctx, row)
    if not isinstance(definition, cst.SimpleStatementLine) or assigned_name(definition) != name:
        raise Unfixable
    usage = Usage(wrapper.module, name, definition)
    for reader in _readers(scope, name, parents, usage.reads):
        if isinstance(reader, cst.SimpleStatementLine):
            dependent = assigned_name(reader)
            if dependent is None or reader is definition or not isinstance(value_of(reader), cst.Call):
                raise Unfixable
            usage.dependents[dependent] = reader
        else:
            assert isinstance(reader, cst.FunctionDef)
            usage.users.setdefault(reader, set()).add(name)
    for dependent in usage.dependents:
        for reader in _readers(scope, dependent, parents, usage.reads):
            if not isinstance(reader, cst.FunctionDef):
                raise Unfixable
            usage.users.setdefault(reader, set()).add(dependent)
    usage.sync_reads = any(_in_sync_code(read, parents) for read in usage.reads)
    names = {name, *usage.dependents}
    if any(_declares_global(user, names) for user in usage.users):
        raise Unfixable  # `global engine`: a local of the same name would be a SyntaxError
    usage.exports = _exports(wrapper.module, names)
    return usage


def _statement_at(ctx: FixContext, row: int) -> cst.BaseStatement | None:
    """The module-level statement holding `row`: by the text scan's statement rows, one per statement of
    libcst's module body; by libcst's positions (a pass over the whole file) where the two disagree."""
    body = ctx.module().body
    rows = ctx.windows().rows
    if len(rows) == len(body):
        index = bisect.bisect_right(rows, row) - 1
        return body[index] if index >= 0 else None
    positions = ctx.metadata().resolve(PositionProvider)
    return next((statement for statement in body
                 if positions[statement].start.line <= row <= positions[statement].end.line), None)


def _declares_global(function: cst.FunctionDef, names: set[str]) -> bool:
    class Finder(cst.CSTVisitor):
        found = False

        def visit_Global(self, node: cst.Global) -> None:
            self.found = self.found or any(item.name.value in names for item in node.names)

    finder = Finder()
    function.body.visit(finder)
    return finder.found


def assigned_name(statement: cst.SimpleStatementLine) -> str | None:
    if len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value
    if isinstance(small, cst.AnnAssign) and small.value is not None and isinstance(small.target, cst.Name):
        return small.target.value
    return None


def value_of(statement: cst.SimpleStatementLine) -> cst.BaseExpression:
    small = statement.body[0]
    assert isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None
    return small.value


def _in_sync_code(node: cst.CSTNode, parents: object) -> bool:
    """Whether the nearest function around node is a lambda or a plain `def` (a callback may run off the loop)."""
    while not isinstance(node, cst.Module):
        node = parents[node]  # type: ignore[index]
        if isinstance(node, cst.Lambda) or (isinstance(node, cst.FunctionDef) and node.asynchronous is None):
            return True
        if isinstance(node, cst.FunctionDef):
            return False
    return False


def _readers(scope: cst.metadata.Scope, name: str, parents: object, reads: list[cst.Name]) -> list[cst.CSTNode]:
    """For each read of the global: the function whose body reads it, or the module-level statement."""
    assignments = list(scope.assignments[name])
    if len(assignments) != 1:
        raise Unfixable  # reassigned, `global` in a function, or imported too
    readers = []
    for access in assignments[0].references:
        if not isinstance(access.node, cst.Name):
            raise Unfixable  # a string annotation or an `import` that rebinds it
        reads.append(access.node)
        readers.append(_reader(access.node, parents))
    return readers


def _reader(node: cst.CSTNode, parents: object) -> cst.CSTNode:
    """The outermost function (or method) whose body contains node, else its module-level statement."""
    chain = [node]
    while not isinstance(chain[-1], cst.Module):
        chain.append(parents[chain[-1]])  # type: ignore[index]
    top = chain[-2]
    if isinstance(top, cst.ClassDef):
        body = top.body
        method = chain[chain.index(body) - 1] if body in chain else None
        if isinstance(method, cst.FunctionDef) and chain[chain.index(method) - 1] is method.body:
            return method
        raise Unfixable  # read in the class body, at import time
    if isinstance(top, cst.FunctionDef):
        if chain[chain.index(top) - 1] is not top.body:
            raise Unfixable  # a decorator, default or annotation: evaluated at import time
        return top
    if isinstance(top, cst.SimpleStatementLine):
        return top
    raise Unfixable


def _exports(module: cst.Module, names: set[str]) -> set[cst.SimpleString]:
    found: set[cst.SimpleString] = set()
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine) and assigned_name(statement) == "__all__":
            value = value_of(statement)
            if isinstance(value, (cst.List, cst.Tuple)):
                for element in value.elements:
                    if isinstance(element.value, cst.SimpleString) and element.value.evaluated_value in names:
                        found.add(element.value)
    return found
