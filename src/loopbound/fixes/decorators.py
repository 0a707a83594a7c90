"""The libcst half of LB304: swap an async fixture's `pytest.fixture` decorator for pytest-asyncio's."""

from __future__ import annotations

import libcst as cst

from loopbound.fixes.blocks import function_at
from loopbound.fixes.imports import ensure_module_import


def _is_pytest_fixture(expression: cst.BaseExpression) -> bool:
    if isinstance(expression, cst.Call):
        expression = expression.func
    if isinstance(expression, cst.Attribute):
        return (expression.attr.value == "fixture" and isinstance(expression.value, cst.Name)
                and expression.value.value == "pytest")
    return isinstance(expression, cst.Name) and expression.value == "fixture"


def switch_fixture_decorator(module: cst.Module, row: int) -> str | None:
    """The module's new code, or None when the async def at `row` is not decorated with pytest's fixture.

    The row, not the name, finds it: `@pytest.fixture(name="client")` names the fixture, not the function.
    """
    copy, target = function_at(module, row)
    if target is None or not target.asynchronous or not any(_is_pytest_fixture(d.decorator) for d in target.decorators):
        return None
    new_module, local = ensure_module_import(copy, "pytest_asyncio", near="pytest")
    replacement = cst.parse_expression(f"{local}.fixture")

    def switched(decorator: cst.Decorator) -> cst.Decorator:
        expression = decorator.decorator
        if not _is_pytest_fixture(expression):
            return decorator
        if isinstance(expression, cst.Call):
            return decorator.with_changes(decorator=expression.with_changes(func=replacement))
        return decorator.with_changes(decorator=replacement)

    class Switcher(cst.CSTTransformer):
        def leave_FunctionDef(self, original_node: cst.FunctionDef,
                              updated_node: cst.FunctionDef) -> cst.FunctionDef:
            if original_node is not target:
                return updated_node
            return updated_node.with_changes(decorators=[switched(d) for d in updated_node.decorators])

    return new_module.visit(Switcher()).code
