"""The resource a call makes (a registry row, or the project's own maker of one) unless its arguments make it
safe: what the LB1 and LB2 rules and the project index all ask of a call."""

from __future__ import annotations

import ast

from loopbound.fixture_handover import loop_free_call
from loopbound.names import ImportTable
from loopbound.registry import Resource
from loopbound.rules.base import FileContext


def is_safe_call(call: ast.Call, resource: Resource, imports: ImportTable) -> bool:
    """`poolclass=NullPool`, `open=False`: the arguments the registry says make the call safe."""
    for keyword in call.keywords:
        for safe in resource.safe_arguments:
            if keyword.arg != safe.keyword:
                continue
            value = keyword.value
            if isinstance(value, ast.Constant) and repr(value.value) == safe.value:
                return True
            if imports.qualify(value) == safe.value:
                return True
    return False


def resource_of(call: ast.Call, ctx: FileContext, imports: ImportTable) -> Resource | None:
    """The registry row a call makes, or the resource a project function or class makes for it."""
    resource = ctx.registry.lookup(imports.qualify(call.func))
    if resource is None:
        return ctx.made_by_project(call)
    return None if is_safe_call(call, resource, imports) else resource


def loop_bound(call: ast.Call, ctx: FileContext, imports: ImportTable) -> Resource | None:
    """What a call made once and shared would hold bound to a loop: not a client over an in-process
    ASGI transport or an engine with `NullPool` (the registry's `loop_free_arguments`), which serve
    every loop (fixtures/runtime/httpx_module_asgi_client passes with one client for every test loop)."""
    resource = resource_of(call, ctx, imports)
    return None if resource is None or loop_free_call(call, resource, imports) else resource
