"""`fixes/blocks.py` finds the statement a fix rewrites by walking `ast`'s tree beside libcst's: it must
find, on every row, what libcst's own positions find (the block, the index in it, the function and the
module's statement around it), and fall back to those positions where the two trees do not line up."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from conftest import FIXTURES

from loopbound.config import Settings
from loopbound.fixes import blocks
from loopbound.fixes.context import FixContext
from loopbound.fixes.files import read_source

EVERY_BLOCK = textwrap.dedent('''\
    import asyncio; import os


    @decorator
    async def fixture(request):
        client = make(); other = 1
        if client:
            pass
        elif other:
            x = 1
            if x: y = 2
        else:
            z = 3
        for item in range(3):
            continue
        else:
            done = True
        async for item in stream():
            pass
        while other:
            break
        else:
            other = 0
        try:
            await client.get()
        except ValueError:
            raise
        except (TypeError,
                KeyError):
            pass
        else:
            result = 1
        finally:
            await client.aclose()
        with open("f") as f, \\
                open("g") as g:
            data = f.read()
        async with client:
            def inner():
                return (
                    1,
                )
            class Local:
                attribute = 1

                @property
                def value(self):
                    return self.attribute
        match result:
            case 1:
                one = 1
            case _:
                pass
        yield client
        await client.aclose()


    class Tests:
        """Doc."""
        async def test_one(self):
            session = Session()
            await session.get()
            await session.close()
    # a comment at the end
''')

TRY_STAR = textwrap.dedent('''\
    def grouped():
        try:
            work()
        except* ValueError:
            handled = True
        finally:
            cleanup()
''')


def _context(text: str) -> FixContext:
    return FixContext("t.py", text, Settings(), False, lambda path: "")


def _by_positions(text: str) -> tuple[FixContext, dict[int, tuple[cst.IndentedBlock, int]], dict[int, cst.FunctionDef]]:
    context = _context(text)
    functions: dict[int, cst.FunctionDef] = {}
    return context, blocks._indexed(context, functions), functions


def _assert_found_as_positions_find(text: str) -> None:
    context, expected, functions = _by_positions(text)
    rows = text.count("\n") + 1
    found = {row: blocks.statement_block(context, row) for row in range(1, rows + 1)}
    for row in range(1, rows + 1):
        want, got = expected.get(row), found[row]
        if want is None:
            assert got is None, row
            continue
        assert got is not None and got[0] is want[0] and got[1] == want[1], row
        assert blocks.function_of(context, got[0]) is functions.get(id(got[0])), row
        module = context.module()
        top = next(statement for statement in module.body if _holds(statement, got[0]))
        assert context.top_level(got[0]) is top, row
    assert any(value is not None for value in found.values())


def _holds(statement: cst.CSTNode, node: cst.CSTNode) -> bool:
    class Finder(cst.CSTVisitor):
        seen = False

        def on_visit(self, visited: cst.CSTNode) -> bool:
            self.seen = self.seen or visited is node
            return not self.seen

    finder = Finder()
    statement.visit(finder)
    return finder.seen


@pytest.mark.parametrize("text", [EVERY_BLOCK, TRY_STAR], ids=["every_block", "try_star"])
def test_every_row_finds_what_libcst_positions_find(text: str) -> None:
    if text is TRY_STAR and not hasattr(ast, "TryStar"):
        pytest.skip("except* needs Python 3.11")
    _assert_found_as_positions_find(text)


@pytest.mark.parametrize("path", sorted((FIXTURES / "rules").glob("LB2*.py")) + sorted(
    (FIXTURES / "fixes").rglob("*.py"))[:40], ids=lambda path: str(path.relative_to(FIXTURES)))
def test_fixture_files_find_what_libcst_positions_find(path: Path) -> None:
    text = read_source(str(path)).text
    try:
        ast.parse(text)
        cst.parse_module(text)
    except (SyntaxError, cst.ParserSyntaxError):
        pytest.skip("not parsed by both")
    if "\n    " not in text:
        pytest.skip("no indented block")
    _assert_found_as_positions_find(text)


def test_a_window_is_walked_from_its_own_first_row() -> None:
    member = "    async def test_one(self):\n        session = Session()\n        await session.close()\n"
    context = FixContext("t.py", f"class _:\n{member}", Settings(), False, lambda path: "", first_row=40)
    found = blocks.statement_block(context, 43)  # the stand-in `class _:` is row 40: the release is row 43
    assert found is not None
    block, index = found
    assert index == 1 and blocks.function_of(context, block) is not None


def test_trees_that_do_not_line_up_fall_back_to_libcst_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    def mismatch(statement: cst.BaseStatement, node: ast.stmt) -> list[object]:
        raise blocks._Mismatch

    monkeypatch.setattr(blocks, "_suites", mismatch)
    context = _context(EVERY_BLOCK)
    found = blocks.statement_block(context, EVERY_BLOCK.splitlines().index("        await session.close()") + 1)
    assert "blocks" in context.memo  # the positions' index answered
    assert found is not None and found[1] == 2
    assert blocks.function_of(context, found[0]) is not None
