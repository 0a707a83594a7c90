"""Which functions of a file the LB2 rules look at, and what one pass over its statements tells them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TypeVar

from loopbound.names import ImportTable
from loopbound.rules.base import FileContext, child_nodes, on_self, statement_children, word_rows
from loopbound.rules.resource_creations import FUNCTIONS, Function
from loopbound.rules.source_rows import spanning, spans_a_row

_Node = TypeVar("_Node", bound=ast.AST)


class Candidates:
    """The functions worth a closer look: those whose lines hold a word a finding needs.

    Creating a resource takes a call whose text ends in a registry name or in a name bound to one
    (`from httpx import AsyncClient as Client`, `Client = httpx.AsyncClient`); an un-awaited release
    takes a release method's name. A function whose lines hold none of these words has no LB2 finding,
    and neither has any function nested in it, so the walks skip it whole: most functions of a file.
    A candidate whose lines hold only a release method's name (`close` is on many lines) creates
    nothing: only its statements are looked at, for an un-awaited release.
    """

    def __init__(self, ctx: FileContext) -> None:
        registry_words = ctx.registry.name_words
        creating = registry_words | _aliases(ctx, registry_words)
        if ctx.index is not None:
            creating |= ctx.index.words
        scanned = registry_words | ctx.registry.release_methods
        # The registry's words come from the file's one shared scan; aliases and the project's makers are few.
        found = [*ctx.registry_rows, *word_rows(creating - scanned, ctx.source)]
        self.rows = sorted({row for row, _ in found})
        self.creating_rows = sorted({row for row, word in found if word in creating})
        self.creating = creating  # the last word of every call that makes a resource

    def __contains__(self, function: Function) -> bool:
        return spans_a_row(function, self.rows)

    def creates(self, function: Function) -> bool:
        """Whether the function's lines name something that makes a resource (a candidate that may create one)."""
        return spans_a_row(function, self.creating_rows)


def candidates_of(ctx: FileContext) -> Candidates:
    """The file's `Candidates`, found once for LB1 and LB2."""
    found = ctx.shared.get("candidates")
    if not isinstance(found, Candidates):
        found = ctx.shared["candidates"] = Candidates(ctx)
    return found


def _aliases(ctx: FileContext, words: frozenset[str]) -> set[str]:
    """Names bound, in any scope, to one of `words` or to an alias of one (import `as`, assignment).

    A binding names the word it binds to on its own lines, so only the statements whose lines hold a
    known word are read: those of the rows the shared scan found, then those of each new alias's rows.
    """
    rows = {row for row, word in ctx.registry_rows if word in words}
    aliases: set[str] = set()
    while True:
        known = words | aliases
        found = {name for name, last in _bindings(ctx.tree, sorted(rows)) if last in known} - known
        if not found:
            return aliases
        aliases |= found
        rows.update(row for row, _ in word_rows(found, ctx.source))


def _bindings(tree: ast.Module, rows: list[int]) -> Iterator[tuple[str, str]]:
    """(bound name, the last word of what it is bound to) of the statements, in any scope, whose lines
    hold one of the sorted `rows`."""
    stack = spanning(statement_children(tree), rows)
    while stack:
        node = stack.pop()
        stack.extend(spanning(statement_children(node), rows))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from ((alias.asname, alias.name.rsplit(".", 1)[-1]) for alias in node.names if alias.asname)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, (ast.Name, ast.Attribute)):
            last = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            yield from ((target.id, last) for target in targets if isinstance(target, ast.Name))


class FileIndex:
    """One pass over the statements of a file in source order: their parent map, the candidate functions
    with the import table of their scope (nested ones see their parents'), the own statements of each
    candidate function that creates nothing, and the few assignments and release calls LB202 looks at.

    Only statements are walked (and the call of each expression statement is given its parent), and
    outside the candidates only those whose lines hold one of the candidates' rows: nothing else is
    looked up but inside a function that makes a resource, whose every node gets its parent before its
    flow is followed (`parent_all`), or from a statement on those rows. A lookup that finds no parent
    means "not inside a function". A function's own nodes are those of its body, not of the functions, classes and
    lambdas nested in it, in the order `scope_nodes` gives them (`FileContext.own`, which the summary
    reads too); of a candidate that creates nothing, its own statements in that order.
    """

    def __init__(self, ctx: FileContext, candidates: Candidates) -> None:
        self.ctx = ctx
        self.candidates = candidates
        self.parents: dict[ast.AST, ast.AST] = {}
        self._statements: dict[Function, list[ast.AST]] = {}
        self._parented: set[Function] = set()
        self.functions: list[tuple[Function, ImportTable]] = []  # the candidates, in source order
        self.tables: dict[Function, ImportTable] = {}
        self.self_assignments: list[ast.Assign | ast.AnnAssign] = []  # `self.x = ...` anywhere
        self.stored_assignments: list[ast.Assign] = []  # `app.state.x = make()`, `app["x"] = make()`
        self.release_calls: list[ast.Expr] = []  # `x.close()` as a statement, a release method named: LB202's look
        release_methods = ctx.registry.release_methods
        # (node, the own statements it belongs to, the import table of its scope, whether it is inside a
        # candidate). Outside the candidates only the statements on their rows are walked: the others hold
        # none, and nothing outside a function is looked up but from a statement on a candidate's rows.
        parents, rows = self.parents, candidates.rows
        stack: list[tuple[ast.AST, list[ast.AST] | None, ImportTable, bool]] = [(ctx.tree, None, ctx.imports, False)]
        pop, push = stack.pop, stack.append
        while stack:
            node, owner, table, inside = pop()
            if owner is not None:
                owner.append(node)
            # The simple statements, most of a file, are told by their class (the parser makes no subclass).
            if node.__class__ is ast.Expr:
                value = node.value
                parents[value] = node  # LB202 asks whether the call is in an async function
                if (value.__class__ is ast.Call and value.func.__class__ is ast.Attribute
                        and value.func.attr in release_methods):
                    self.release_calls.append(node)
                continue  # a simple statement holds no statement: no look at its fields
            if node.__class__ is ast.Assign:
                self._assignment(node)
                continue
            if node.__class__ is ast.AnnAssign:
                if on_self(node.target):
                    self.self_assignments.append(node)
                continue
            if isinstance(node, FUNCTIONS):
                if node not in candidates:
                    continue  # nothing inside is ever looked up, nor in the functions nested in it
                table = self.tables[node] = ctx.scope_imports(node, table)
                self.functions.append((node, table))
                owner = None if candidates.creates(node) else self._statements.setdefault(node, [])
                inside = True
            elif isinstance(node, ast.ClassDef):
                owner = None
            children = statement_children(node) if inside else spanning(statement_children(node), rows)
            for child in reversed(children):
                parents[child] = node
                push((child, owner, table, inside))

    def parent_all(self, function: Function) -> None:
        """Give every node inside the function its parent: the flow of a function that makes a resource
        looks up from its names and calls."""
        if function in self._parented:
            return
        self._parented.add(function)
        parents = self.parents
        stack: list[ast.AST] = [function]
        while stack:
            node = stack.pop()
            children = child_nodes(node)
            for child in children:
                parents[child] = node
            stack.extend(children)

    def _assignment(self, node: ast.Assign) -> None:
        if any(on_self(target) for target in node.targets):
            self.self_assignments.append(node)
        if len(node.targets) == 1:
            target, value = node.targets[0], node.value
            if isinstance(value, ast.Await):
                value = value.value
            if (isinstance(target, (ast.Attribute, ast.Subscript)) and not on_self(target)
                    and isinstance(value, ast.Call)):
                self.stored_assignments.append(node)

    def own(self, function: Function) -> list[ast.AST]:
        """The function's own nodes, listed once: the LB201 flow and the LB202 scope both read them (only
        its statements, when it creates nothing: all the LB202 scope looks at)."""
        statements = self._statements.get(function)
        return statements if statements is not None else self.ctx.own(function)

    def by_function(self, nodes: list[_Node]) -> dict[ast.AST, list[_Node]]:
        """Each function's nodes among `nodes` (its nested functions' included), in the same order."""
        inside: dict[ast.AST, list[_Node]] = {}
        for node in nodes:
            ancestor: ast.AST = node
            while ancestor in self.parents:
                ancestor = self.parents[ancestor]
                if isinstance(ancestor, FUNCTIONS):
                    inside.setdefault(ancestor, []).append(node)
        return inside
