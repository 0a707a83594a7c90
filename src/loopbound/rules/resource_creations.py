"""Where a function makes a loop-bound resource, and what each made object becomes: bound to a name, used
once and dropped, handed to the caller, or out of sight (entered, passed on)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from loopbound.names import ImportTable
from loopbound.registry import Kind, Resource
from loopbound.rules.base import FileContext
from loopbound.rules.resource_calls import resource_of

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
Function = ast.FunctionDef | ast.AsyncFunctionDef
# Keyword arguments (and the value, None for any) that make a client borrow its pool instead of owning it.
NOT_OWNING_ARGUMENTS: dict[str, str | None] = {"connection_pool": None, "connector_owner": "False"}


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
