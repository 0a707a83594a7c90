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
        ctx.memo["blocks"], ctx.memo["functions"] = by_row, functions
    found: tuple[cst.IndentedBlock, int] | None = ctx.memo["blocks"].get(row - ctx.first_row + 1)
    return found


def function_of(ctx: FixContext, block: cst.IndentedBlock) -> cst.FunctionDef | None:
    """The function whose body is `block` (a block `statement_block` returned)."""
    statement_block(ctx, 0)
    function: cst.FunctionDef | None = ctx.memo["functions"].get(id(block))
    return function


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
