"""Finding the statement a rule reported, by row, together with the block that holds it."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider


def statement_block(module: cst.Module, row: int) -> tuple[cst.IndentedBlock, int] | None:
    """The indented block holding the statement that starts at `row`, and its index there.

    The wrapper skips its defensive copy, so the nodes returned belong to `module` itself and
    `module.deep_replace` can swap them.
    """
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)

    class Finder(cst.CSTVisitor):
        found: tuple[cst.IndentedBlock, int] | None = None

        def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
            for index, statement in enumerate(node.body):
                if positions[statement].start.line == row:
                    self.found = (node, index)

    finder = Finder()
    module.visit(finder)
    return finder.found


def function_of(module: cst.Module, block: cst.IndentedBlock) -> cst.FunctionDef | None:
    """The function whose body is `block`."""

    class Finder(cst.CSTVisitor):
        found: cst.FunctionDef | None = None

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            if node.body is block:
                self.found = node

    finder = Finder()
    module.visit(finder)
    return finder.found


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
