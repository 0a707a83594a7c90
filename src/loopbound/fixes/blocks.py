"""Finding the statement a rule reported, by row, together with the block that holds it."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Sequence
from typing import cast

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from loopbound.fixes.context import FixContext

_Found = tuple[cst.IndentedBlock, int]
_TRY: tuple[type[ast.stmt], ...] = (ast.Try, ast.TryStar) if sys.version_info >= (3, 11) else (ast.Try,)


def statement_block(ctx: FixContext, row: int) -> _Found | None:
    """The indented block holding the statement that starts at `row` (of the file), and its index there.

    `ast` gives each statement's row at C speed, and libcst's tree has the same statements in the same
    order, so the two are walked side by side down to `row` (`_descend`): libcst's positions, a pass over
    every node of the file in Python, cost nine tenths of an LB203 fix. Where the two trees do not line
    up (`_Mismatch`) or `ast` cannot parse the text, one walk with positions indexes every block's
    statements instead (`_indexed`). The nodes belong to `ctx.module()`.
    """
    found: dict[int, _Found | None] = ctx.memo.setdefault("statement_at", {})
    relative = row - ctx.first_row + 1
    if relative not in found:
        found[relative] = _located(ctx, relative)
    return found[relative]


def function_of(ctx: FixContext, block: cst.IndentedBlock) -> cst.FunctionDef | None:
    """The function whose body is `block` (a block `statement_block` returned)."""
    functions: dict[int, cst.FunctionDef] = ctx.memo.setdefault("function_of", {})
    return functions.get(id(block))


class _Mismatch(Exception):
    """The ast and libcst trees do not line up where the walk went."""


def _located(ctx: FixContext, row: int) -> _Found | None:
    functions: dict[int, cst.FunctionDef] = ctx.memo.setdefault("function_of", {})
    if "ast" not in ctx.memo:
        try:
            ctx.memo["ast"] = ast.parse(ctx.text)
        except (SyntaxError, ValueError):
            ctx.memo["ast"] = None
    tree = ctx.memo["ast"]
    if tree is not None:
        try:
            return _descend(ctx.module().body, tree.body, None, row, functions, ctx.memo.setdefault("top_level", {}))
        except _Mismatch:
            pass
    by_row = _indexed(ctx, functions)
    return by_row.get(row)


def _descend(statements: Sequence[cst.BaseStatement], nodes: list[ast.stmt], block: cst.IndentedBlock | None,
             row: int, functions: dict[int, cst.FunctionDef], top_level: dict[int, cst.BaseStatement],
             top: cst.BaseStatement | None = None) -> _Found | None:
    """In libcst's `statements` (of `block`, None for the module's) and ast's `nodes` for them: the
    statement starting at `row`, or the walk into the compound statement whose lines hold it. Each block
    found is noted with its function (`function_of`) and the module's statement holding it
    (`FixContext.top_level`)."""
    paired = list(_paired(statements, nodes))
    for index, (statement, node) in enumerate(paired):
        if node.lineno == row:
            return (block, index) if block is not None else None
        if isinstance(statement, cst.SimpleStatementLine) or not node.lineno < row <= (node.end_lineno or 0):
            continue
        for suite, inner, owner in _suites(statement, node):
            if isinstance(suite, cst.IndentedBlock) and inner and inner[0].lineno <= row <= (inner[-1].end_lineno or 0):
                if owner is not None:
                    functions[id(suite)] = owner
                top_level[id(suite)] = top or statement
                return _descend(suite.body, inner, suite, row, functions, top_level, top or statement)
        return None
    return None


def _paired(statements: Sequence[cst.BaseStatement], nodes: list[ast.stmt]) -> Iterator[
        tuple[cst.BaseStatement, ast.stmt]]:
    """Each libcst statement with ast's first statement of it (`a; b` is one line in libcst, two in ast)."""
    position = 0
    for statement in statements:
        if position >= len(nodes):
            raise _Mismatch
        yield statement, nodes[position]
        position += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
    if position != len(nodes):
        raise _Mismatch


_Suite = tuple[cst.BaseSuite, list[ast.stmt], cst.FunctionDef | None]


def _suites(statement: cst.BaseStatement, node: ast.stmt) -> list[_Suite]:
    """The bodies of a compound statement in both trees, with the function a body belongs to."""
    if isinstance(statement, cst.FunctionDef) and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [(statement.body, node.body, statement)]
    if isinstance(statement, cst.ClassDef) and isinstance(node, ast.ClassDef):
        return [(statement.body, node.body, None)]
    if isinstance(statement, cst.If) and isinstance(node, ast.If):
        suites: list[_Suite] = [(statement.body, node.body, None)]
        if isinstance(statement.orelse, cst.If):
            if len(node.orelse) != 1:
                raise _Mismatch
            return suites + _suites(statement.orelse, node.orelse[0])
        return suites + _else(statement.orelse, node.orelse)
    if (isinstance(statement, cst.For) and isinstance(node, (ast.For, ast.AsyncFor))) or (
            isinstance(statement, cst.While) and isinstance(node, ast.While)):
        return [(statement.body, node.body, None), *_else(statement.orelse, node.orelse)]
    if isinstance(statement, cst.With) and isinstance(node, (ast.With, ast.AsyncWith)):
        return [(statement.body, node.body, None)]
    if isinstance(statement, (cst.Try, cst.TryStar)) and isinstance(node, _TRY):
        tried = cast(ast.Try, node)  # or ast.TryStar, which has the same fields
        handlers: Sequence[cst.ExceptHandler | cst.ExceptStarHandler] = statement.handlers
        if len(handlers) != len(tried.handlers):
            raise _Mismatch
        return [(statement.body, tried.body, None),
                *((handler.body, ast_handler.body, None) for handler, ast_handler in zip(handlers, tried.handlers)),
                *_else(statement.orelse, tried.orelse), *_else(statement.finalbody, tried.finalbody)]
    if isinstance(statement, cst.Match) and isinstance(node, ast.Match):
        if len(statement.cases) != len(node.cases):
            raise _Mismatch
        return [(case.body, ast_case.body, None) for case, ast_case in zip(statement.cases, node.cases)]
    raise _Mismatch


def _else(orelse: cst.Else | cst.Finally | None, nodes: list[ast.stmt]) -> list[_Suite]:
    """An `else:` or `finally:` clause's body in both trees; none when neither has the clause."""
    if orelse is None:
        if nodes:
            raise _Mismatch
        return []
    return [(orelse.body, nodes, None)]


def _indexed(ctx: FixContext, functions: dict[int, cst.FunctionDef]) -> dict[int, _Found]:
    """Each block's statements by their row in ctx's text (the innermost wins), by libcst's positions:
    one walk of the whole tree, done once per context."""
    if "blocks" not in ctx.memo:
        positions = ctx.metadata().resolve(PositionProvider)
        by_row: dict[int, _Found] = {}

        class Indexer(cst.CSTVisitor):
            def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
                for index, statement in enumerate(node.body):
                    by_row[positions[statement].start.line] = (node, index)

            def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
                functions[id(node.body)] = node

        ctx.module().visit(Indexer())
        ctx.memo["blocks"] = by_row
    index: dict[int, _Found] = ctx.memo["blocks"]
    return index


def function_at(module: cst.Module, row: int) -> tuple[cst.Module, cst.FunctionDef | None]:
    """The function whose name is on `row` (where findings point), in the copy of `module` returned
    with it: transformers must visit that copy for `is` comparisons with the function to hold."""
    wrapper = MetadataWrapper(module)
    positions = wrapper.resolve(PositionProvider)

    class Finder(cst.CSTVisitor):
        found: cst.FunctionDef | None = None

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            if self.found is None and positions[node.name].start.line == row:
                self.found = node

    finder = Finder()
    wrapper.module.visit(finder)
    return wrapper.module, finder.found
