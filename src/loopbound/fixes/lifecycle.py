"""LB2 fixes: await the release (LB202), release in `finally` (LB203), release after a fixture's yield (LB204).

Each works from what the rule recorded in `Finding.data` (the variable, the release methods, whether
they are awaited, the row of the release or of the fixture's exit), and gives up when the code is
not in the one plain shape it knows how to rewrite.
"""

from __future__ import annotations

from collections.abc import Sequence
import libcst as cst

from loopbound.findings import Applicability, Edit, Finding, Fix
from loopbound.fixes.blocks import function_of, statement_block
from loopbound.fixes.context import FixContext, fix_from_module, replace_in_module
from loopbound.fixes.type_comments import reachable


def add_await(finding: Finding, ctx: FixContext) -> Fix | None:
    """LB202: `engine.dispose()` -> `await engine.dispose()`, only inside `async def`."""
    if finding.datum("in_async") != "true" or finding.datum("awaited") != "true":
        return None
    return Fix(Applicability.SAFE, "Add `await`", (Edit(ctx.path, finding.start, finding.start, "await "),))


def _release_statements(finding: Finding, variable: str) -> list[str]:
    """The registry's release steps, as `Resource.release_statements` writes them (only coroutines awaited)."""
    awaited = set((finding.datum("awaited_release") or "").split(","))
    methods = [method for method in (finding.datum("release") or "").split(",") if method]
    return [f"{'await ' if method in awaited else ''}{variable}.{method}()\n" for method in methods]


def release_in_finally(finding: Finding, ctx: FixContext) -> Fix | None:
    """LB203: the statements between the creation and the release go into `try`, the release into `finally`."""
    variable, row = finding.datum("variable"), finding.datum("release_row")
    if not variable or not row:
        return None
    found = statement_block(ctx, int(row))
    if found is None:
        return None
    block, index = found
    statements = list(block.body)
    creation = next((i for i in range(index - 1, -1, -1) if _assigns(statements[i], variable)), None)
    if creation is None or creation + 1 >= index:
        return None
    guarded = statements[creation + 1:index]
    line = statements[index]
    if not isinstance(line, cst.SimpleStatementLine):
        return None
    split = _split_release(line, variable, finding.datum("release") or "")
    if split is None:
        return None
    before, release, after = split
    guarded += before
    leading = getattr(guarded[0], "leading_lines", ())
    guarded[0] = guarded[0].with_changes(leading_lines=())
    try_node = cst.Try(body=cst.IndentedBlock(guarded), leading_lines=leading,
                       finalbody=cst.Finally(body=cst.IndentedBlock([release])))
    new_block = block.with_changes(body=[*statements[:creation + 1], try_node, *after, *statements[index + 1:]])
    return fix_from_module(ctx, Applicability.SAFE, f"Release `{variable}` in `finally`",
                           replace_in_module(ctx, block, new_block))


def _split_release(line: cst.SimpleStatementLine, variable: str, methods: str) -> tuple[
        list[cst.BaseStatement], cst.SimpleStatementLine, list[cst.BaseStatement]] | None:
    """`work(); await c.aclose(); print(r)` -> the statements before the release (they stay guarded), the
    release alone for `finally` (with the comments above it), and the ones after it (they run after `try`)."""
    releasing = [i for i, small in enumerate(line.body) if _releases(small, variable, methods.split(","))]
    if not releasing:
        return None
    first, last = releasing[0], releasing[-1]
    parts = [list(line.body[:first]), list(line.body[first:last + 1]), list(line.body[last + 1:])]
    parts = [[small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) if i == len(part) - 1 else small
              for i, small in enumerate(part)] for part in parts]
    comments = list(line.leading_lines)
    while comments and comments[0].comment is None:
        comments.pop(0)  # the blank lines that set the release apart stay out of `finally`
    release = cst.SimpleStatementLine(parts[1], leading_lines=comments,
                                      trailing_whitespace=reachable(line.trailing_whitespace) if not parts[2] else
                                      cst.TrailingWhitespace())
    before: list[cst.BaseStatement] = [cst.SimpleStatementLine(parts[0])] if parts[0] else []
    after: list[cst.BaseStatement] = (
        [cst.SimpleStatementLine(parts[2], trailing_whitespace=line.trailing_whitespace)] if parts[2] else [])
    return before, release, after


def _releases(small: cst.BaseSmallStatement, variable: str, methods: list[str]) -> bool:
    """`c.aclose()` or `await c.aclose()` as a statement of its own."""
    if not isinstance(small, cst.Expr):
        return False
    call = small.value.expression if isinstance(small.value, cst.Await) else small.value
    return (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value in methods
            and isinstance(call.func.value, cst.Name) and call.func.value.value == variable)


def _assigns(statement: cst.BaseStatement, variable: str) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    targets: Sequence[cst.BaseExpression] = ()
    if isinstance(small, cst.Assign):
        targets = [target.target for target in small.targets]
    elif isinstance(small, cst.AnnAssign):
        targets = [small.target]
    return any(isinstance(target, cst.Name) and target.value == variable for target in targets)


def release_after_yield(finding: Finding, ctx: FixContext) -> Fix | None:
    """LB204: `return x` -> `yield x` plus the release; a bare `yield x` gets the release after it.

    Only when that statement ends the fixture's body, so nothing else runs between yield and release.
    """
    variable, row, path = finding.datum("variable"), finding.datum("exit_row"), finding.datum("path")
    if not variable or not row or path not in ("return", "yield"):
        return None
    found = statement_block(ctx, int(row))
    if found is None:
        return None
    block, index = found
    statements = list(block.body)
    function = function_of(ctx, block)
    if function is None or index != len(statements) - 1:
        return None
    if finding.datum("awaited") == "true" and function.asynchronous is None:
        return None  # a sync fixture cannot await the release
    exit_statement = statements[index]
    if not isinstance(exit_statement, cst.SimpleStatementLine) or len(exit_statement.body) != 1:
        return None
    small = exit_statement.body[0]
    value = small.value if isinstance(small, cst.Return) else (
        small.value.value if isinstance(small, cst.Expr) and isinstance(small.value, cst.Yield) else None)
    if not (isinstance(value, cst.Name) and value.value == variable):
        return None
    if isinstance(small, cst.Return):
        exit_statement = exit_statement.with_changes(body=[cst.Expr(cst.Yield(value))])
    releases = [cst.parse_statement(text) for text in _release_statements(finding, variable)]
    if not releases:
        return None
    new_block = block.with_changes(body=[*statements[:index], exit_statement, *releases])
    return fix_from_module(ctx, Applicability.SAFE, f"Yield `{variable}` and release it after the `yield`",
                           replace_in_module(ctx, block, new_block))


def wrap_in_async_with(finding: Finding, ctx: FixContext) -> Fix | None:
    """LB201: `client = C(...)` and the rest of its block become `async with C(...) as client:` + that rest.

    Not when the rest releases it already, hands it out with `return`, or rebinds the name.
    """
    variable = finding.datum("variable")
    resource = ctx.settings.registry.lookup(finding.datum("constructor"))
    if not variable or resource is None or not resource.async_with:
        return None
    found = statement_block(ctx, finding.start.row)
    if found is None:
        return None
    block, index = found
    statements = list(block.body)
    creation, rest = statements[index], statements[index + 1:]
    function = function_of(ctx, block)
    if function is None or function.asynchronous is None or not rest or not _assigns(creation, variable):
        return None
    assert isinstance(creation, cst.SimpleStatementLine)
    value = creation.body[0].value  # type: ignore[attr-defined]
    if not isinstance(value, cst.Call) or any(_touches(statement, variable, resource.release) for statement in rest):
        return None
    with_node = cst.With(
        items=[cst.WithItem(value, asname=cst.AsName(cst.Name(variable)))], body=cst.IndentedBlock(rest),
        asynchronous=cst.Asynchronous(), leading_lines=creation.leading_lines)
    new_block = block.with_changes(body=[*statements[:index], with_node])
    return fix_from_module(ctx, Applicability.UNSAFE, f"Use `{variable}` in `async with`",
                           replace_in_module(ctx, block, new_block))


def _touches(statement: cst.BaseStatement, variable: str, release: Sequence[str]) -> bool:
    """A release call on it, a `return` of it, or a new binding of the name."""

    class Finder(cst.CSTVisitor):
        found = False

        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if (isinstance(func, cst.Attribute) and func.attr.value in release and isinstance(func.value, cst.Name)
                    and func.value.value == variable):
                self.found = True

        def visit_Return(self, node: cst.Return) -> None:
            if isinstance(node.value, cst.Name) and node.value.value == variable:
                self.found = True

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            if isinstance(node.target, cst.Name) and node.target.value == variable:
                self.found = True

    finder = Finder()
    statement.visit(finder)
    return finder.found
