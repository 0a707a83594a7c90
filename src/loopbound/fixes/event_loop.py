"""LB303: retire a custom `event_loop` fixture, and requests for it.

pytest-asyncio 1.x ignores a fixture named `event_loop`: the loop it makes is used by nobody but the
tests that request it by name. What the fixture meant under 0.21, one loop of its scope for the
fixtures and tests below it, is what `asyncio_default_fixture_loop_scope` and
`asyncio_default_test_loop_scope` say today, so the fix removes the fixture (and the imports only it
used) and writes its scope into those two keys of the governing pytest config; a function-scoped
fixture is only removed, since function loops are the default. Without any pytest config, the keys
go into a new `[tool.pytest.ini_options]` table of the pyproject.toml nearest above the fixture (inside
the project); with no such file the scope has nowhere to go and there is no fix. The keys govern every
test, so a fixture is carried there only when every checked test module under that config saw it (a
conftest.py above them all); one in a class, or one that other test modules did not see, set the loop of
some tests only, and has no fix.

A coroutine that requests `event_loop` gets `event_loop = asyncio.get_running_loop()` in place of the
parameter: the loop it runs on, which is what the fixture gave it before 1.0. A plain function has no
running loop, so its request is left for a person, and while one is left the fixture is not removed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from loopbound.discovery import display_path
from loopbound.findings import Applicability, Finding, Fix
from loopbound.fixes.config_keys import FIXTURE_KEY, TEST_KEY, new_pytest_table, set_keys
from loopbound.fixes.blocks import function_at
from loopbound.fixes.context import FixContext, fix_from_texts
from loopbound.fixes.imports import add_stdlib_import, is_docstring, local_name_of_module


def retire_event_loop(finding: Finding, ctx: FixContext) -> Fix | None:
    kind = finding.datum("kind")
    if kind == "request":
        return _replace_request(finding, ctx)
    if kind != "fixture" or finding.datum("requested_by_sync"):
        return None  # `event_loop_policy` overrides have no mechanical replacement
    if finding.datum("keys_unknown"):
        return None  # a release the project runs on reads neither loop-scope key: it still needs the fixture
    scope = finding.datum("scope")
    if not scope:
        return None  # a callable scope: which loop it meant is not in the source
    if scope != "function" and not finding.datum("covers_tree"):
        return None  # it set the loop of some tests only: the config keys would move every test
    removed = remove_function(ctx.module(), finding.start.row)
    if removed is None:
        return None
    old, new = {ctx.path: ctx.text}, {ctx.path: removed}
    message = "Remove the `event_loop` fixture pytest-asyncio 1.x ignores"
    if scope != "function":
        config = _carry_scope(finding, ctx, scope)
        if config is None:
            return None
        path, before, after = config
        old[path], new[path] = before, after
        message += f"; run fixtures and tests on the {scope}-scoped loop as it did"
    return fix_from_texts(Applicability.UNSAFE, message, old, new)


def _carry_scope(finding: Finding, ctx: FixContext, scope: str) -> tuple[str, str, str] | None:
    """(config path, text, new text) with both loop-scope defaults set to `scope`; None when impossible."""
    values = [(FIXTURE_KEY, scope), (TEST_KEY, scope)]
    path, section_line = finding.datum("config_display"), finding.datum("section_line")
    if path:
        if finding.datum("overridden") or not section_line:
            return None  # `-o` in addopts wins over the keys; a pytest.ini without a section has none to edit
        text = ctx.read(path)
        new = set_keys(text, path.endswith(".toml"), int(section_line), values)
        return (path, text, new) if new is not None else None
    pyproject = _nearest_pyproject(Path(ctx.path), ctx.settings.project_root, ctx.inputs.exists)
    if pyproject is None:
        return None
    text = ctx.read(pyproject)
    return pyproject, text, new_pytest_table(text, values)


def _nearest_pyproject(path: Path, root: Path, exists: Callable[[Path], bool]) -> str | None:
    start = path.resolve().parent
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if exists(candidate):
            return display_path(candidate)
        if folder == root.resolve():
            break
    return None


def remove_function(module: cst.Module, row: int) -> str | None:
    """The module without the function defined at `row` (decorators and comments above it included), and
    without the imports nothing else used; None when there is none or its class would be left empty."""
    copy, target = function_at(module, row)
    if target is None:
        return None
    emptied: list[bool] = []

    class Remover(cst.CSTTransformer):
        def leave_FunctionDef(self, original_node: cst.FunctionDef,
                              updated_node: cst.FunctionDef) -> cst.FunctionDef | cst.RemovalSentinel:
            return cst.RemoveFromParent() if original_node is target else updated_node

        def leave_IndentedBlock(self, original_node: cst.IndentedBlock,
                                updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
            if not updated_node.body and original_node.body:
                emptied.append(True)
            return updated_node

    without = copy.visit(Remover())
    if emptied:
        return None
    used = copy.code_for_node(target)
    if _requests_event_loop(without.code):
        used = re.sub(r"\basyncio\b", "", used)  # the requests' fix, made from the same text, needs `asyncio`
    cleaned = _drop_unused_imports(without, used)
    return cleaned.code if cleaned.body or cleaned.header else ""


def _bound_names(statement: cst.BaseStatement) -> list[tuple[int, str]]:
    """(alias index, name the import binds) for a one-import statement line."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return []
    small = statement.body[0]
    if not isinstance(small, (cst.Import, cst.ImportFrom)) or isinstance(small.names, cst.ImportStar):
        return []
    if isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name) and small.module.value == "__future__":
        return []
    bound = []
    for index, alias in enumerate(small.names):
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            bound.append((index, alias.asname.name.value))
        else:
            name = alias.name
            while isinstance(name, cst.Attribute):
                name = name.value  # type: ignore[assignment]
            if isinstance(name, cst.Name):
                bound.append((index, name.value))
    return bound


def _names_in(code: str) -> set[str]:
    """Every name the code reads, and every word of its strings other than docstrings (string annotations,
    `__all__`, `getattr`)."""
    names: set[str] = set()
    tree = ast.parse(code)
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            names.update(re.findall(r"\w+", node.value))
    return names


def _requests_event_loop(code: str) -> bool:
    """A function left in the module still takes `event_loop`: the requests' fix will need `asyncio`."""
    return any(isinstance(node, ast.arg) and node.arg == "event_loop" for node in ast.walk(ast.parse(code)))


def _drop_unused_imports(module: cst.Module, removed_code: str) -> cst.Module:
    """Top-level imports of names the removed code used and no code or string left mentions."""
    body = list(module.body)
    index = 0
    while index < len(body):
        statement = body[index]
        names = [(alias, name) for alias, name in _bound_names(statement)
                 if re.search(rf"\b{re.escape(name)}\b", removed_code)]
        rest = _names_in(module.with_changes(body=body[:index] + body[index + 1:]).code) if names else set()
        unused = {alias for alias, name in names if name not in rest}
        if not unused:
            index += 1
            continue
        assert isinstance(statement, cst.SimpleStatementLine)
        small = statement.body[0]
        assert isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar)
        kept = [alias for position, alias in enumerate(small.names) if position not in unused]
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            body[index] = statement.with_changes(body=[small.with_changes(names=kept)])
            index += 1
            continue
        del body[index]
        if index < len(body) and (index == 0 or not body[index].leading_lines):
            body[index] = body[index].with_changes(leading_lines=statement.leading_lines)
    return module.with_changes(body=body)


def _replace_request(finding: Finding, ctx: FixContext) -> Fix | None:
    """`async def f(event_loop)` -> `async def f()` starting with `event_loop = asyncio.get_running_loop()`."""
    new = replace_request(ctx.module(), finding.start.row, finding.datum("function") or "")
    if new is None:
        return None
    return fix_from_texts(Applicability.UNSAFE, "Use `asyncio.get_running_loop()` instead of the `event_loop` fixture",
                          {ctx.path: ctx.text}, {ctx.path: new})


def replace_request(module: cst.Module, row: int, function: str) -> str | None:
    wrapper = MetadataWrapper(module)
    positions = wrapper.resolve(PositionProvider)
    targets: list[cst.FunctionDef] = []

    class Finder(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            if node.name.value == function and node.asynchronous is not None and any(
                    param.name.value == "event_loop" and positions[param.name].start.line == row
                    for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params)):
                targets.append(node)

    wrapper.module.visit(Finder())
    if len(targets) != 1 or not isinstance(targets[0].body, cst.IndentedBlock):
        return None
    target = targets[0]
    local = local_name_of_module(wrapper.module, "asyncio") or "asyncio"
    uses_loop = re.search(r"\bevent_loop\b", wrapper.module.code_for_node(target.body)) is not None

    class Replacer(cst.CSTTransformer):
        def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
            if original_node is not target:
                return updated_node
            params = updated_node.params
            params = params.with_changes(
                posonly_params=[p for p in params.posonly_params if p.name.value != "event_loop"],
                params=[p for p in params.params if p.name.value != "event_loop"],
                kwonly_params=[p for p in params.kwonly_params if p.name.value != "event_loop"])
            params = _without_dangling_comma(params)
            if not uses_loop:
                return updated_node.with_changes(params=params)
            body = updated_node.body
            assert isinstance(body, cst.IndentedBlock)
            statements = list(body.body)
            at = 1 if statements and is_docstring(statements[0]) else 0
            statements.insert(at, cst.parse_statement(f"event_loop = {local}.get_running_loop()\n"))
            return updated_node.with_changes(params=params, body=body.with_changes(body=statements))

    new = wrapper.module.visit(Replacer())
    if uses_loop and local_name_of_module(new, "asyncio") is None:
        new = add_stdlib_import(new, "asyncio")
    return new.code


def _without_dangling_comma(params: cst.Parameters) -> cst.Parameters:
    """`def f(a, event_loop)` must become `def f(a)`, not `def f(a, )`: the new last parameter drops its comma."""
    groups = [("kwonly_params", params.kwonly_params), ("params", params.params),
              ("posonly_params", params.posonly_params)]
    if params.star_arg is not cst.MaybeSentinel.DEFAULT or params.star_kwarg is not None:
        return params
    for name, group in groups:
        if group:
            last = group[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return params.with_changes(**{name: [*group[:-1], last]})
    return params
