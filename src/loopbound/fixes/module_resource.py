"""LB101's fixes: a module-level resource becomes a fixture, a per-call factory or a per-loop accessor.

In a module pytest collects the global becomes

    @pytest_asyncio.fixture
    async def engine():
        engine = create_async_engine(URL)
        yield engine
        await engine.dispose()

and every test and fixture that read the global requests it instead (safe). When no fixture reaches a
reader (helpers, unittest classes) it becomes `get_engine()` and each function that read it makes its
own and releases it in `finally`, the fix of incident 000: one per test. In application code one per
call would lose the connection pool, so it becomes a per-loop accessor (`per_loop.py`). Both change
the module's names: unsafe. No fix when another module uses the name (`importers.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import libcst as cst

from loopbound.findings import Applicability, Finding, Fix
from loopbound.fixes.context import FixContext, fix_from_module
from loopbound.fixes.escapes import escapes
from loopbound.fixes.importers import importers
from loopbound.fixes.imports import dotted_name, ensure_module_import, is_docstring
from loopbound.fixes.module_globals import Unfixable, Usage, analyse, assigned_name, value_of
from loopbound.fixes.per_loop import CallGetters, accessor, generated_names
from loopbound.fixes.type_comments import signature_type_comment, split_signature_comment, variable_type_comment
from loopbound.registry import Resource

_FUNCTION_SCOPE = ('"function"', "'function'")


def build(finding: Finding, ctx: FixContext) -> Fix | None:
    name, constructor = finding.datum("binding"), finding.datum("constructor")
    resource = ctx.settings.registry.lookup(constructor)
    if not name or resource is None or (not ctx.is_test and _in_memory_database_at(ctx, name, finding.start.row)):
        return None
    try:
        usage = analyse(ctx, name, finding.start.row)
    except Unfixable:
        return None
    fix = _rewrite(ctx, usage, resource)
    names = {name, *usage.dependents}
    ctx.inputs.searched(names)
    if fix is not None and importers(ctx.path, names, ctx.files, ctx.peek or ctx.read, ctx.settings.project_root,
                                     used=ctx.inputs.used):
        return None  # another module imports the name: renaming or removing it would break that module
    return fix


def _rewrite(ctx: FixContext, usage: Usage, resource: Resource) -> Fix | None:
    name = usage.name
    if not ctx.is_test:
        per_loop = _as_accessor(usage, resource)
        if per_loop is None:
            return None
        return fix_from_module(ctx, Applicability.UNSAFE, f"Replace `{name}` with `get_{name}()`, one per running "
                               "event loop", per_loop)
    fixture = _as_fixture(usage, resource)
    if fixture is not None:
        return fix_from_module(ctx, Applicability.SAFE, f"Turn `{name}` into a pytest-asyncio fixture", fixture)
    factory = _as_factory(usage, resource)
    if factory is None:
        return None
    return fix_from_module(ctx, Applicability.UNSAFE, f"Replace `{name}` with a factory `get_{name}()` and "
                           "release it in each function that uses it", factory)


def _in_memory_database_at(ctx: FixContext, name: str, row: int) -> bool:
    """`name = create_async_engine("sqlite+aiosqlite://")` on `row`, read from that statement alone: application
    code gets no fix for it (`_as_accessor`), known before the whole module's scope analysis."""
    found = ctx.windows().around(row)
    if found is None or found[1] != row or len(found[0]) > 10_000:
        return False
    try:
        statement = cst.parse_module(found[0]).body[0]
    except cst.ParserSyntaxError:
        return False
    return (isinstance(statement, cst.SimpleStatementLine) and assigned_name(statement) == name
            and _in_memory_database(statement))


def _release(name: str, resource: Resource) -> list[cst.BaseStatement]:
    return [cst.parse_statement(f"{statement}\n") for statement in resource.release_statements(name)]


def _is_fixture(function: cst.FunctionDef) -> bool:
    for decorator in function.decorators:
        target = decorator.decorator.func if isinstance(decorator.decorator, cst.Call) else decorator.decorator
        if (isinstance(target, cst.Name) and target.value == "fixture") or (
                isinstance(target, cst.Attribute) and target.attr.value == "fixture"):
            return True
    return False


def _wider_than_function(function: cst.FunctionDef) -> bool:
    for decorator in function.decorators:
        if isinstance(decorator.decorator, cst.Call):
            for argument in decorator.decorator.args:
                if argument.keyword is not None and argument.keyword.value == "scope":
                    value = argument.value
                    return not (isinstance(value, cst.SimpleString) and value.value in _FUNCTION_SCOPE)
    return False


def _as_fixture(usage: Usage, resource: Resource) -> cst.Module | None:
    """Only when every reader can request a function-scoped fixture: tests and function-scoped fixtures."""
    if usage.dependents:
        return None
    in_classes = _methods_of_derived_classes(usage.module)
    for user in usage.users:
        if user in in_classes or signature_type_comment(user) is not None:
            return None  # unittest passes no fixtures; a `# type: (...)` signature would lose count
        test = user.name.value.startswith("test")
        if _is_fixture(user):
            if _wider_than_function(user):
                return None
        elif not test:
            return None
    module, decorator = ensure_module_import(usage.module, "pytest_asyncio", near="pytest")
    name = usage.name
    statement = usage.definition
    body = [statement.with_changes(leading_lines=()), cst.parse_statement(f"yield {name}\n"),
            *_release(name, resource)]
    fixture = cst.FunctionDef(
        name=cst.Name(name), params=cst.Parameters(), body=cst.IndentedBlock(body),
        decorators=[cst.Decorator(cst.parse_expression(f"{decorator}.fixture"))],
        asynchronous=cst.Asynchronous(), leading_lines=statement.leading_lines)
    transformer = _Rewriter({statement: fixture}, {user: _request(user, name) for user in usage.users})
    return _spaced(module.visit(transformer), transformer.created)


def _methods_of_derived_classes(module: cst.Module) -> set[cst.FunctionDef]:
    """Methods of classes with a base (`unittest.TestCase`, `IsolatedAsyncioTestCase`, a mixin): unittest
    runs those and passes no fixtures, and a plain base gives no way to tell the two apart."""
    found: set[cst.FunctionDef] = set()
    for statement in module.body:
        if isinstance(statement, cst.ClassDef) and any(
                not (isinstance(base.value, cst.Name) and base.value.value == "object") for base in statement.bases):
            found.update(item for item in statement.body.body if isinstance(item, cst.FunctionDef))
    return found


def _request(function: cst.FunctionDef, name: str) -> cst.FunctionDef:
    """Add `name` as the last parameter without a default: pytest passes fixtures by name."""
    params = list(function.params.params)
    at = next((i for i, param in enumerate(params) if param.default is not None), len(params))
    new = cst.Param(cst.Name(name))
    if at and isinstance(params[at - 1].comma, cst.Comma) and at == len(params) \
            and function.params.star_arg is cst.MaybeSentinel.DEFAULT:
        # A trailing comma (`(\n    a,\n)`): the new parameter takes the layout of the one before it.
        previous = params[at - 1]
        before = params[at - 2].comma if at >= 2 else None
        separator = before.whitespace_after if isinstance(before, cst.Comma) else function.whitespace_before_params
        new = new.with_changes(comma=previous.comma)
        params[at - 1] = previous.with_changes(comma=cst.Comma(whitespace_after=separator))
    params.insert(at, new)
    return function.with_changes(params=function.params.with_changes(params=params))


def _as_factory(usage: Usage, resource: Resource) -> cst.Module | None:
    names = [usage.name, *usage.dependents]
    taken = _module_names(usage.module)
    if any(f"get_{name}" in taken for name in names) or usage.exports or _in_memory_database(usage.definition):
        return None  # a name others import would vanish; a fresh in-memory database per call starts empty
    replacements: dict[cst.CSTNode, cst.CSTNode | cst.FlattenSentinel[cst.BaseStatement]] = {
        usage.definition: _factory(usage.definition, usage.name, ())}
    for dependent, statement in usage.dependents.items():
        replacements[statement] = _factory(statement, dependent, (usage.name,))
    users = {}
    for user, read in usage.users.items():
        if resource.awaited and resource.release and user.asynchronous is None:
            return None  # a sync function cannot await the release
        if escapes(user, set(names)):
            return None  # the instance would be used after `finally` released it
        users[user] = _own_instance(user, usage, read, resource)
    transformer = _Rewriter(replacements, users)
    return _spaced(usage.module.visit(transformer), transformer.created)


def _as_accessor(usage: Usage, resource: Resource) -> cst.Module | None:
    """Application code keeps one resource per running loop (`per_loop.py`); every read calls the getter."""
    names = [usage.name, *usage.dependents]
    taken = _module_names(usage.module)
    if any(generated_names(name) & taken for name in names) or usage.exports or _in_memory_database(usage.definition):
        return None  # a name others import would vanish; each test loop's in-memory database would start empty
    if usage.sync_reads:
        return None  # a sync function may run with no event loop to key the instance by
    module, asyncio_name = ensure_module_import(usage.module, "asyncio")
    module, weakref_name = ensure_module_import(module, "weakref")
    swap = CallGetters(usage.reads)
    replacements: dict[cst.CSTNode, cst.CSTNode | cst.FlattenSentinel[cst.BaseStatement]] = {}
    for name, statement in {usage.name: usage.definition, **usage.dependents}.items():
        value = value_of(statement).visit(swap)
        assert isinstance(value, cst.BaseExpression)
        value_type = _made_by_class(value, resource if name == usage.name else None)
        if value_type is None:
            module, value_type = _any_type(module)
        created = accessor(name, value, resource if name == usage.name else None, asyncio_name, weakref_name,
                           value_type)
        created[0] = created[0].with_changes(leading_lines=statement.leading_lines)
        replacements[statement] = cst.FlattenSentinel(created)
    users = {user: cast(cst.FunctionDef, user.visit(swap)) for user in usage.users}
    transformer = _Rewriter(replacements, users)
    return _spaced(module.visit(transformer), transformer.created)


def _any_type(module: cst.Module) -> tuple[cst.Module, str]:
    """`Any` where the module has `from typing import Any`, else `typing.Any` (importing `typing`)."""
    for statement in module.body:
        small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) and statement.body else None
        if (isinstance(small, cst.ImportFrom) and not small.relative and small.module is not None
                and dotted_name(small.module) == "typing" and not isinstance(small.names, cst.ImportStar)
                and any(alias.asname is None and dotted_name(alias.name) == "Any" for alias in small.names)):
            return module, "Any"
    module, typing_name = ensure_module_import(module, "typing")
    return module, f"{typing_name}.Any"


def _made_by_class(value: cst.BaseExpression, resource: Resource | None) -> str | None:
    """`httpx.AsyncClient` for `httpx.AsyncClient(...)`: the registry row is a class (a capitalised name),
    called by a plain name or attribute chain that is valid as an annotation in this module."""
    if resource is None or not resource.qualname.rpartition(".")[2][:1].isupper() or not isinstance(value, cst.Call):
        return None
    if not isinstance(value.func, (cst.Name, cst.Attribute)):
        return None
    return cst.Module([]).code_for_node(value.func)


def _in_memory_database(statement: cst.SimpleStatementLine) -> bool:
    """`create_async_engine("sqlite+aiosqlite://")` or `...:memory:`: each engine is a database of its own."""
    value = value_of(statement)
    if not isinstance(value, cst.Call):
        return False
    for argument in value.args:
        if isinstance(argument.value, cst.SimpleString) and (argument.keyword is None or argument.keyword.value == "url"):
            url = argument.value.evaluated_value
            if isinstance(url, str) and url.startswith("sqlite") and (":memory:" in url or url.endswith("://")):
                return True
    return False


def _module_names(module: cst.Module) -> set[str]:
    names = set()
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.add(statement.name.value)
        elif isinstance(statement, cst.SimpleStatementLine):
            assigned = assigned_name(statement)
            if assigned:
                names.add(assigned)
            for small in statement.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                    for alias in small.names:
                        bound = alias.asname.name if alias.asname else alias.name
                        names.add(cst.Module([]).code_for_node(bound).split(".")[0])
    return names


def _factory(statement: cst.SimpleStatementLine, name: str, parameters: Sequence[str]) -> cst.FunctionDef:
    small = statement.body[0]
    returns = cst.Annotation(small.annotation.annotation) if isinstance(small, cst.AnnAssign) else None
    trailing = statement.trailing_whitespace
    leading: list[cst.EmptyLine] = []
    declared = variable_type_comment(trailing.comment)
    if declared is not None:  # `x = C()  # type: C` on a `return` does not parse; it becomes the signature's
        trailing = trailing.with_changes(comment=None, whitespace=cst.SimpleWhitespace(""))
        leading = [cst.EmptyLine(indent=True, comment=cst.Comment(f"# type: ({'...' if parameters else ''}) -> {declared}"))]
    body = cst.SimpleStatementLine([cst.Return(value_of(statement))], trailing_whitespace=trailing,
                                   leading_lines=leading)
    return cst.FunctionDef(
        name=cst.Name(f"get_{name}"),
        params=cst.Parameters([cst.Param(cst.Name(parameter)) for parameter in parameters]),
        body=cst.IndentedBlock([body]), returns=returns, leading_lines=statement.leading_lines)


def _own_instance(function: cst.FunctionDef, usage: Usage, read: set[str], resource: Resource) -> cst.FunctionDef:
    """`engine = get_engine()` first, the body in `try`, the release in `finally` (incident 000's fix)."""
    name = usage.name
    block = function.body
    if isinstance(block, cst.IndentedBlock):
        statements: list[cst.BaseStatement] = list(block.body)
    else:  # a one-line body: `async def f(): return await x.y()`
        assert isinstance(block, cst.SimpleStatementSuite)
        statements = [cst.SimpleStatementLine(block.body)]
    docstring = statements[:1] if statements and is_docstring(statements[0]) else []
    rest = statements[len(docstring):]
    signature: list[cst.EmptyLine] = []
    if rest and not docstring:
        signature, rest[0] = split_signature_comment(rest[0])  # `# type: (str) -> dict` stays first
    prelude = [cst.parse_statement(f"{name} = get_{name}()\n").with_changes(leading_lines=signature)]
    prelude += [cst.parse_statement(f"{dependent} = get_{dependent}({name})\n")
                for dependent in usage.dependents if dependent in read]
    release = _release(name, resource)
    if release:
        rest = [cst.Try(body=cst.IndentedBlock(rest), finalbody=cst.Finally(body=cst.IndentedBlock(release)))]
    body = [*docstring, *prelude, *rest]
    new_block = block.with_changes(body=body) if isinstance(block, cst.IndentedBlock) else cst.IndentedBlock(body)
    return function.with_changes(body=new_block)


class _Rewriter(cst.CSTTransformer):
    """Swaps whole nodes of the original tree for their rewritten versions, by identity."""

    def __init__(self, statements: dict[cst.CSTNode, cst.CSTNode | cst.FlattenSentinel[cst.BaseStatement]],
                 functions: dict[cst.FunctionDef, cst.FunctionDef]) -> None:
        super().__init__()
        self.statements = statements
        self.functions = functions
        self.created: list[cst.CSTNode] = []
        self.skipped: set[int] = set()

    def visit_Module(self, node: cst.Module) -> None:
        """Top-level statements that hold nothing to swap are skipped, so they stay the same objects
        (`fix_from_module` then leaves their text alone) and large files are not walked whole."""
        wanted = {id(statement) for statement in self.statements}
        for statement in node.body:
            if id(statement) not in wanted and not any(_holds(statement, function) for function in self.functions):
                self.skipped.add(id(statement))

    def on_visit(self, node: cst.CSTNode) -> bool:
        return id(node) not in self.skipped and super().on_visit(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine) -> cst.BaseStatement:
        replacement = self.statements.get(original_node)
        if replacement is None:
            return updated_node
        self.created.extend(replacement.nodes if isinstance(replacement, cst.FlattenSentinel) else [replacement])
        return replacement  # type: ignore[return-value]

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        return self.functions.get(original_node, updated_node)


def _holds(statement: cst.CSTNode, function: cst.FunctionDef) -> bool:
    if statement is function:
        return True
    return isinstance(statement, cst.ClassDef) and any(item is function for item in statement.body.body)


def _blank_lines(statement: cst.BaseStatement, wanted: int) -> cst.BaseStatement:
    """At least `wanted` blank lines before the statement (and before its leading comments)."""
    lines = list(getattr(statement, "leading_lines", ()))
    blank = 0
    while blank < len(lines) and lines[blank].comment is None:
        blank += 1
    if blank >= wanted:
        return statement
    return statement.with_changes(leading_lines=[cst.EmptyLine()] * (wanted - blank) + lines)


def _spaced(module: cst.Module, created: list[cst.CSTNode]) -> cst.Module:
    """PEP 8's two blank lines around the new top-level functions."""
    body: list[cst.BaseStatement] = list(module.body)
    new = {id(node) for node in created}
    for index, statement in enumerate(body):
        if id(statement) in new:
            if index > 0:
                body[index] = _blank_lines(statement, 2)
            if index + 1 < len(body):
                body[index + 1] = _blank_lines(body[index + 1], 2)
    return module.with_changes(body=body)
