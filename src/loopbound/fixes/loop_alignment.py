"""LB302: move the tests that use a fixture onto the fixture's event loop.

The fixture is left alone: its loop is usually wide on purpose (one connection pool, one server for
the session), and narrowing it would need its caching `scope` narrowed too, since pytest refuses a
fixture that requests a narrower-scoped loop runner. pytest-asyncio runs a test on the loop named by
its closest `asyncio` mark, so each test gets `loop_scope=` on its own `@pytest.mark.asyncio` (added
when it has none; a class or module mark is left as it is for the other tests it covers). When both
loop scopes come from the config defaults (the LB301 case), the fix is LB301's: the test default
follows the fixture default, the same edit, so the two fixes never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from loopbound.findings import Applicability, Finding, Fix
from loopbound.fixes.config_keys import TEST_KEY, set_keys
from loopbound.fixes.context import FixContext, fix_from_texts
from loopbound.fixes.imports import add_import, dotted_name, local_name_of_module


def align_test_loops(finding: Finding, ctx: FixContext) -> Fix | None:
    loop = finding.datum("fixture_loop_scope")
    align = finding.datum("align")
    if not loop or not align:
        return None
    if align == "config":
        return _align_config(finding, ctx, loop)
    texts = _marked_targets(finding, ctx, loop, {})
    if texts is None:
        return None
    old, new = texts
    return fix_from_texts(Applicability.UNSAFE,
                          f"Run the {_count(finding)} test(s) using `{finding.datum('fixture')}` on its {loop}-scoped "
                          "loop", old, new)


def widen_fixture_loop(finding: Finding, ctx: FixContext) -> Fix | None:
    """LB308: `loop_scope=` set to the fixture's own scope, and the tests using it on a narrower loop moved
    onto that loop (LB302's edit)."""
    scope = finding.datum("fixture_scope")
    if not scope or finding.datum("align") != "marks":
        return None
    widened = _with_fixture_loop_scope(ctx, finding.start.row, scope)
    if widened is None:
        return None
    texts = _marked_targets(finding, ctx, scope, {ctx.path: widened})
    if texts is None:
        return None
    old, new = texts
    old.setdefault(ctx.path, ctx.text)
    new.setdefault(ctx.path, widened)
    moved = f", and its {_count(finding)} test(s) with it" if _count(finding) else ""
    return fix_from_texts(Applicability.UNSAFE, f"Run `{finding.datum('fixture')}` on a {scope}-scoped loop{moved}",
                          old, new)


def _count(finding: Finding) -> int:
    return len((finding.datum("targets") or "").splitlines())


def _marked_targets(finding: Finding, ctx: FixContext, loop: str,
                    edited: dict[str, str]) -> tuple[dict[str, str], dict[str, str]] | None:
    """(old, new) texts of every file holding a test of the finding's `targets`, each test marked to run on
    `loop`; `edited` holds files already changed by the same fix (marked on top of that change)."""
    targets: dict[str, list[int]] = {}
    for target in (finding.datum("targets") or "").splitlines():
        path, _, row = target.rpartition("\t")
        targets.setdefault(path, []).append(int(row))
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    for path, rows in targets.items():
        text = ctx.text if path == ctx.path else ctx.read(path)
        if path in edited:
            module = cst.parse_module(edited[path])
        else:
            module = ctx.module() if path == ctx.path else cst.parse_module(text)
        marked = mark_tests(module, rows, loop)
        if marked is None:
            return None
        old[path], new[path] = text, marked
    return old, new


def _with_fixture_loop_scope(ctx: FixContext, row: int, scope: str) -> str | None:
    """ctx's module with `loop_scope=scope` on the `pytest_asyncio.fixture` decorator of the function at `row`."""
    positions = ctx.metadata().resolve(PositionProvider)
    changed = False

    class Widen(cst.CSTTransformer):
        def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
            nonlocal changed
            if positions[original_node.name].start.line != row:
                return updated_node
            decorators = list(updated_node.decorators)
            for index, decorator in enumerate(decorators):
                expression = decorator.decorator
                callee = expression.func if isinstance(expression, cst.Call) else expression
                if dotted_name(callee).rsplit(".", 1)[-1] != "fixture" or dotted_name(callee) == "pytest.fixture":
                    continue
                decorators[index] = _with_keyword(decorator, "loop_scope", scope)
                changed = True
                break
            return updated_node.with_changes(decorators=decorators)

    transformed = ctx.module().visit(Widen())
    return transformed.code if changed else None


def _align_config(finding: Finding, ctx: FixContext, loop: str) -> Fix | None:
    path, section_line = finding.datum("config_display"), finding.datum("section_line")
    if not path or not section_line:
        return None
    text = ctx.read(path)
    new = set_keys(text, path.endswith(".toml"), int(section_line), [(TEST_KEY, loop)])
    if new is None:
        return None
    return fix_from_texts(Applicability.UNSAFE,
                          f"Run tests on the {loop}-scoped loop too: set `asyncio_default_test_loop_scope = {loop}`",
                          {path: text}, {path: new})


def _is_asyncio_mark(decorator: cst.Decorator) -> bool:
    expression = decorator.decorator
    if isinstance(expression, cst.Call):
        expression = expression.func
    return dotted_name(expression) in ("pytest.mark.asyncio", "mark.asyncio")


def _keyword_argument(keyword: str, value: str) -> cst.Arg:
    no_space = cst.SimpleWhitespace("")
    return cst.Arg(cst.SimpleString(f'"{value}"'), keyword=cst.Name(keyword),
                   equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space))


def _with_loop_scope(decorator: cst.Decorator, loop: str) -> cst.Decorator:
    """The mark with `loop_scope=loop`: the value replaced (the deprecated `scope=` renamed), else added."""
    return _with_keyword(decorator, "loop_scope", loop, renames=("scope",))


def _with_keyword(decorator: cst.Decorator, keyword: str, value: str, renames: tuple[str, ...] = ()) -> cst.Decorator:
    """The decorator called with `keyword="value"`: an existing one (or one of `renames`) replaced, else added."""
    expression = decorator.decorator
    if not isinstance(expression, cst.Call):
        return decorator.with_changes(decorator=cst.Call(expression, [_keyword_argument(keyword, value)]))
    args = list(expression.args)
    for index, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value in (keyword, *renames):
            args[index] = arg.with_changes(keyword=cst.Name(keyword), value=cst.SimpleString(f'"{value}"'))
            return decorator.with_changes(decorator=expression.with_changes(args=args))
    return decorator.with_changes(decorator=expression.with_changes(args=[*args, _keyword_argument(keyword, value)]))


def mark_tests(module: cst.Module, rows: Sequence[int], loop: str) -> str | None:
    """The module with each test defined at one of `rows` marked to run on the `loop`-scoped loop;
    None when a row holds no function (the file changed since the check)."""
    wrapper = MetadataWrapper(module)
    positions = wrapper.resolve(PositionProvider)
    wanted = set(rows)
    found: set[int] = set()

    class Finder(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            line = positions[node.name].start.line
            if line in wanted:
                found.add(line)

    wrapper.module.visit(Finder())
    if found != wanted:
        return None
    imported = local_name_of_module(wrapper.module, "pytest")
    local = imported or "pytest"

    class Marker(cst.CSTTransformer):
        added = False

        def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
            if positions[original_node.name].start.line not in wanted:
                return updated_node
            decorators = list(updated_node.decorators)
            own = [index for index, decorator in enumerate(decorators) if _is_asyncio_mark(decorator)]
            if own:
                decorators[own[-1]] = _with_loop_scope(decorators[own[-1]], loop)
            else:
                mark = cst.parse_expression(f'{local}.mark.asyncio(loop_scope="{loop}")')
                decorators.append(cst.Decorator(mark))
                self.added = True
            return updated_node.with_changes(decorators=decorators)

    marker = Marker()
    transformed = wrapper.module.visit(marker)
    if imported is None and marker.added:
        transformed = add_import(transformed, "pytest")
    return transformed.code
