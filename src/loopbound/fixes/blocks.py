"""Finding the statement a rule reported, by row, together with the block that holds it."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from loopbound.fixes.context import FixContext


def statement_block(ctx: FixContext, row: int) -> tuple[cst.IndentedBlock, int] | None:
    """The indented block holding the statement that starts at `row` (of the file), and its index there.

    One walk per file indexes every block's statements by row (the innermost wins), so that a file
    with hundreds of findings is not walked once per finding. The nodes belong to `ctx.module()`.
    """
    return _index(ctx)[0].get(row - ctx.first_row + 1)


def function_of(ctx: FixContext, block: cst.IndentedBlock) -> cst.FunctionDef | None:
    """The function whose body is `block` (a block `statement_block` returned)."""
    return _index(ctx)[1].get(id(block))


_Index = tuple[dict[int, tuple[cst.IndentedBlock, int]], dict[int, cst.FunctionDef]]


def _index(ctx: FixContext) -> _Index:
    """Each block's statements by their row in ctx's text, and each function by its body's id: one walk per context."""
    if "blocks" not in ctx.memo:
        positions = ctx.metadata().resolve(PositionProvider)
        by_row: dict[int, tuple[cst.IndentedBlock, int]] = {}
        functions: dict[int, cst.FunctionDef] = {}

        class Indexer(cst.CSTVisitor):
            def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
                for index, statement in enumerate(node.body):
                    by_row[positions[statement].start.line] = (node, index)

            def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
                functions[id(node.body)] = node

        ctx.module().visit(Indexer())
        ctx.memo["blocks"] = (by_row, functions)
    index: _Index = ctx.memo["blocks"]
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
