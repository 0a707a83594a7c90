"""LB202: a release coroutine called as a statement and never awaited, on a receiver known to hold a resource."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import cast

from loopbound.findings import Finding
from loopbound.names import ImportTable
from loopbound.registry import Kind, Registry, Resource
from loopbound.rules.base import FileContext, on_self, per_registry, statement_children
from loopbound.rules.lifecycle_index import FileIndex
from loopbound.rules.lifecycle_rules import NOT_AWAITED
from loopbound.rules.resource_creations import FUNCTIONS, Function, created_resource
from loopbound.rules.source_rows import spanning


class UnawaitedReleases:
    """LB202: `x.dispose()` as a statement, where x is known to hold a resource whose release is a coroutine."""

    def __init__(self, ctx: FileContext, index: FileIndex, functions: list[tuple[Function, ImportTable]],
                 rows: list[int]) -> None:
        self.ctx = ctx
        self.rows = rows  # unawaited_release_rows: no other statement holds a finding
        self.parents = index.parents
        self.index = index
        self.candidates = index.candidates
        self.self_assigned = index.by_function(index.self_assignments)
        self.stored = index.by_function(index.stored_assignments)
        self.module_types = self._scope_types(ctx.tree.body, ctx.imports, None)
        self.paths = self._stored_paths(functions)

    def run(self) -> Iterator[Finding]:
        yield from self._visit(self.ctx.tree, [self.module_types], {}, self.ctx.imports)

    def _visit(self, node: ast.AST, scopes: list[dict[str, Resource | None]],
               attributes: dict[str, Resource], imports: ImportTable) -> Iterator[Finding]:
        # A statement that names no coroutine release holds no finding, and its scopes serve only it.
        for child in spanning(statement_children(node), self.rows):
            if isinstance(child, ast.ClassDef):
                yield from self._visit(child, scopes, self._class_attributes(child, imports), imports)
            elif isinstance(child, FUNCTIONS):
                if child not in self.candidates:
                    continue
                inner = self.index.tables.get(child) or imports.for_function(child)
                types = self._scope_types(child.body, inner, child)
                yield from self._visit(child, [types, *scopes], attributes, inner)
            else:
                if isinstance(child, ast.Expr) and isinstance(child.value, ast.Call):
                    finding = self._check(child.value, scopes, attributes)
                    if finding is not None:
                        yield finding
                yield from self._visit(child, scopes, attributes, imports)

    def _check(self, call: ast.Call, scopes: list[dict[str, Resource | None]],
               attributes: dict[str, Resource]) -> Finding | None:
        func = call.func
        if not isinstance(func, ast.Attribute):
            return None
        resource = self._receiver(func.value, scopes, attributes)
        if resource is None or func.attr not in resource.awaited_release:
            return None
        receiver = ast.unparse(func.value)
        return self.ctx.finding(NOT_AWAITED, call, f"`{receiver}.{func.attr}()` makes a coroutine that is never "
                                f"awaited, so the `{resource.qualname}` is never released: "
                                f"`await {receiver}.{func.attr}()`", variable=receiver, release=func.attr,
                                awaited="true", constructor=resource.qualname,
                                in_async=str(self._in_async(call)).lower())

    def _in_async(self, node: ast.AST) -> bool:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, FUNCTIONS):
                return isinstance(node, ast.AsyncFunctionDef)
        return False

    def _receiver(self, value: ast.expr, scopes: list[dict[str, Resource | None]],
                  attributes: dict[str, Resource]) -> Resource | None:
        if isinstance(value, ast.Name):
            for scope in scopes:
                if value.id in scope:
                    return scope[value.id]
            return None
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id in ("self", "cls"):
            return attributes.get(value.attr)
        return self.paths.get(ast.unparse(value))

    def _annotation(self, annotation: ast.expr | None, imports: ImportTable) -> Resource | None:
        """`httpx.AsyncClient`, `AsyncEngine | None`, `Optional["Redis"]`: the resource type it names."""
        if annotation is None:
            return None
        for node in ast.walk(annotation):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                try:
                    parsed = ast.parse(node.value, mode="eval").body
                except SyntaxError:
                    continue
                found = self._annotation(parsed, imports)
                if found:
                    return found
            elif isinstance(node, (ast.Name, ast.Attribute)):
                resource = self.ctx.registry.lookup(imports.qualify(node))
                if resource is not None and resource.kind is Kind.RESOURCE:
                    return resource
        return None

    def _scope_types(self, body: list[ast.stmt], imports: ImportTable,
                     function: Function | None) -> dict[str, Resource | None]:
        """Names of one scope bound to a resource; names bound to anything else map to None (shadowing)."""
        types: dict[str, Resource | None] = {}
        if function is not None:
            arguments = function.args
            for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                             *(a for a in (arguments.vararg, arguments.kwarg) if a)]:
                types[argument.arg] = self._annotation(argument.annotation, imports)
        nodes = _scope_statements(body) if function is None else self.index.own(function)
        for node in nodes:  # looked up by class (the parser makes no subclass): most nodes are neither
            kind = node.__class__
            if kind is ast.Assign:
                assign = cast(ast.Assign, node)
                for target in assign.targets:
                    if isinstance(target, ast.Name):
                        made = created_resource(assign.value, self.ctx, imports)
                        types[target.id] = made if made else (types.get(target.id) if target.id in types else None)
            elif kind is ast.AnnAssign:
                annotated = cast(ast.AnnAssign, node)
                if isinstance(annotated.target, ast.Name):
                    types[annotated.target.id] = (self._annotation(annotated.annotation, imports)
                                                  or created_resource(annotated.value, self.ctx, imports))
        return types

    def _class_attributes(self, cls: ast.ClassDef, imports: ImportTable) -> dict[str, Resource]:
        attributes: dict[str, Resource] = {}
        for node in cls.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                resource = self._annotation(node.annotation, imports)
                if resource:
                    attributes[node.target.id] = resource
        for method in cls.body:
            if isinstance(method, FUNCTIONS) and method in self.candidates:
                table = self.index.tables.get(method) or imports.for_function(method)
                self._self_assignments(method, table, attributes)
        return attributes

    def _self_assignments(self, method: Function, imports: ImportTable, attributes: dict[str, Resource]) -> None:
        """`self.client = httpx.AsyncClient()` / `self.engine: AsyncEngine = ...` in any method."""
        for node in self.self_assigned.get(method, ()):
            targets: list[ast.expr]
            value: ast.expr | None
            annotation: ast.expr | None
            if isinstance(node, ast.Assign):
                targets, value, annotation = node.targets, node.value, None
            elif isinstance(node, ast.AnnAssign):
                targets, value, annotation = [node.target], node.value, node.annotation
            else:
                continue
            resource = created_resource(value, self.ctx, imports) or self._annotation(annotation, imports)
            for target in targets:
                if resource and on_self(target):
                    attributes.setdefault(target.attr, resource)  # type: ignore[attr-defined]

    def _stored_paths(self, functions: list[tuple[Function, ImportTable]]) -> dict[str, Resource]:
        """`app.state.client = httpx.AsyncClient()`, `app["db"] = ...`: object paths holding a resource."""
        paths: dict[str, Resource] = {}
        for function, imports in functions:
            for node in self.stored.get(function, ()):
                resource = created_resource(node.value, self.ctx, imports)
                if resource:
                    paths.setdefault(ast.unparse(node.targets[0]), resource)
        return paths


def _scope_statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The statements of a scope (and its handlers and cases) in `scope_nodes`' order, without the
    expressions: all that a module's names are bound by."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            children = statement_children(node)
            children.reverse()
            stack.extend(children)


def unawaited_release_rows(ctx: FileContext, index: FileIndex) -> list[int]:
    """The first rows of the statements that call a release method returning a coroutine (`dispose`, `aclose`)
    and drop it (`FileIndex.release_calls`): LB202 reports only such statements, so it visits only those on
    these rows (and their enclosing statements), and nothing in a file without one."""
    words = _awaited_release_words(ctx.registry)
    return sorted({call.lineno for call in index.release_calls
                   if call.value.func.attr in words})  # type: ignore[attr-defined]


@per_registry
def _awaited_release_words(registry: Registry) -> frozenset[str]:
    return frozenset().union(*(resource.awaited_release for resource in registry.resources))
