"""Fixes inside one function parse only that function's statement (`fixes/windows.py`): the windows must
be exactly the statements `ast` sees, and a fix built on a window must equal the one built on the file."""

from __future__ import annotations

import ast
import dataclasses
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES

from loopbound.config import Settings
from loopbound.engine import check_source
from loopbound.fixes.builders import WITHIN_STATEMENT, attach_fixes, builder_for
from loopbound.fixes.context import FixContext
from loopbound.fixes.windows import Windows

TRICKY = textwrap.dedent('''\
    import asyncio
    SQL = """
    def not_a_statement():
        pass
    """
    VALUES = [
    1,
    ]
    TOTAL = 1 + \\
    2
    if TOTAL:
        pass
    else:
        pass


    @decorator(
    "x")
    # a comment between the decorator and the definition
    async def first():
        text = \'\'\'
    class NotAClass:
    \'\'\'
        return text
    x = 1; y = 2


    class Large:
        """Docstring."""

        @property
        def one(self):
            return """
    def inside_a_string(): pass
    """

        if True:
            two = 2
        else:
            two = 3
''') + "".join(f"\n    def method_{n}(self):\n        return {n}\n" for n in range(60))


def _ast_starts(tree: ast.Module | ast.ClassDef) -> list[int]:
    rows: list[int] = []
    for node in tree.body:
        row = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        if not rows or rows[-1] != row and node.lineno != getattr(tree.body[tree.body.index(node) - 1], "end_lineno", 0):
            rows.append(row)
    return rows


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_windows_are_the_statements_ast_sees(newline: str) -> None:
    text = TRICKY.replace("\n", newline)
    tree = ast.parse(text)
    windows = Windows(text)
    assert windows.rows == _ast_starts(tree)
    large = tree.body[-1]
    assert isinstance(large, ast.ClassDef)
    for member in large.body[1:]:
        found = windows.around(member.end_lineno or member.lineno, newline)
        assert found is not None
        window, first_row = found
        assert first_row == min([member.lineno, *(d.lineno for d in getattr(member, "decorator_list", []))]) - 1
        assert window.startswith(f"class _:{newline}")
        assert ast.parse(window).body[0].body[0].lineno + first_row - 1 == member.lineno  # type: ignore[attr-defined]


LB2_INPUTS = sorted(path for code in WITHIN_STATEMENT for path in (FIXTURES / "fixes" / code).glob("*/input.py"))


@pytest.mark.parametrize("input_file", LB2_INPUTS, ids=lambda path: f"{path.parent.parent.name}-{path.parent.name}")
@pytest.mark.parametrize("padding", [0, 120])
def test_a_fix_on_a_window_equals_the_fix_on_the_file(input_file: Path, padding: int, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Each LB201/LB203/LB204 snapshot, as it is and with its functions moved into a large class."""
    text = input_file.read_text(encoding="utf-8")
    if padding:
        text = _in_a_large_class(text, padding)
    place = tmp_path / "tests" / "test_windows.py"
    place.parent.mkdir()
    place.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = Settings(project_root=tmp_path)
    result = check_source(text.encode(), "tests/test_windows.py", settings, frozenset(WITHIN_STATEMENT), is_test=True)
    findings = [finding for finding in result.findings if finding.code in WITHIN_STATEMENT]
    if padding:  # the fixes below are built on one member of the class
        assert findings and all((Windows(text).around(finding.start.row) or ("",))[0].startswith("class _:")
                                for finding in findings)
    windowed = attach_fixes(findings, settings, read=lambda path: text)
    whole = [dataclasses.replace(finding, fix=_whole_file_fix(finding, text, settings)) for finding in findings]
    assert [finding.fix for finding in windowed] == [finding.fix for finding in whole]
    assert any(finding.fix for finding in windowed) or "declined" in input_file.parent.name or not findings


def _whole_file_fix(finding: object, text: str, settings: Settings) -> object:
    builder = builder_for(finding.code)  # type: ignore[attr-defined]
    assert builder is not None
    return builder(finding, FixContext(finding.path, text, settings, True, lambda path: text))  # type: ignore[arg-type,attr-defined]


def _in_a_large_class(text: str, methods: int) -> str:
    """The module's functions as methods of a class longer than a window's limit."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    first = min((min([node.lineno, *(d.lineno for d in node.decorator_list)]) for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))), default=len(lines) + 1)
    head, body = "".join(lines[:first - 1]), lines[first - 1:]
    indented = "".join(f"    {line}" if line.strip() else line for line in body)
    filler = "".join(f"    def filler_{n}(self):\n        return {n}\n\n" for n in range(methods // 3))
    return f"{head}class TestLarge:\n{filler}{indented}"
