"""Parsing an edited buffer again without parsing what the edit left alone.

An edit touches a few lines; the module's other top-level statements parse to the same nodes as
before. The lines from the first statement the edit touches to the last one it touches are parsed
alone (after as many blank lines as come before them, so every node keeps its line number) and put
between the previous tree's statements before and after them. When the edit changes the number of
lines, the statements after it would need new line numbers: everything from the edit on is parsed.
The tree is the one `ast.parse` gives the whole text (tests/test_server_reparse.py checks it on random
edits); anything unusual (carriage returns, a `__future__` import in the part parsed, a syntax error)
parses the whole text.
"""

from __future__ import annotations

import ast

from loopbound.fixes.text import common_prefix


class Reparser:
    """`ast.parse` for the successive versions of one buffer, reusing the last version's statements."""

    def __init__(self) -> None:
        self._lines: list[str] | None = None
        self._tree: ast.Module | None = None

    def __call__(self, source: str, filename: str) -> ast.Module:
        lines = source.split("\n")
        tree = self._reuse(source, lines, filename)
        if tree is None:
            self._lines, self._tree = None, None  # a syntax error below leaves nothing to reuse
            tree = ast.parse(source, filename=filename)
        self._lines, self._tree = lines, tree
        return tree

    def _reuse(self, source: str, lines: list[str], filename: str) -> ast.Module | None:
        old_lines, old = self._lines, self._tree
        if old_lines is None or old is None or "\r" in source or "barry_as_FLUFL" in source:
            return None
        same_before = common_prefix(old_lines, lines)
        if same_before == len(lines) == len(old_lines):
            return old
        body = old.body
        # Statements ending before the first changed line (1-based: same_before + 1), on lines of their own.
        first = 0
        while first < len(body) and (body[first].end_lineno or 0) <= same_before:
            first += 1
        while 0 < first < len(body) and (body[first - 1].end_lineno or 0) >= _first_line(body[first]):
            first -= 1  # `a = 1; b = 2`: cut only where a line holds one statement's end and nothing more
        start = (body[first - 1].end_lineno or 0) + 1 if first else 1
        after: list[ast.stmt] = []
        end = len(lines)
        if len(lines) == len(old_lines):
            same_after = _common_suffix(old_lines, lines, same_before)
            last_changed = len(lines) - same_after  # the last changed line, 1-based
            kept = len(body)
            while kept > first and _first_line(body[kept - 1]) > last_changed:
                kept -= 1
            while first < kept < len(body) and (body[kept - 1].end_lineno or 0) >= _first_line(body[kept]):
                kept += 1
            after = body[kept:]
            end = _first_line(after[0]) - 1 if after else len(lines)
        part = "\n".join(lines[start - 1:end])
        if "__future__" in part:
            return None  # where a future import may stand depends on what comes before it
        try:
            parsed = ast.parse("\n" * (start - 1) + part, filename=filename)
        except SyntaxError:
            return None
        return ast.Module(body=[*body[:first], *parsed.body, *after], type_ignores=[])


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", None)
    return min([statement.lineno, *(decorator.lineno for decorator in decorators)]) if decorators else statement.lineno


def _common_suffix(old: list[str], new: list[str], prefix: int) -> int:
    count = 0
    limit = min(len(old), len(new)) - prefix
    while count < limit and old[-1 - count] == new[-1 - count]:
        count += 1
    return count
