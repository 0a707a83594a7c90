"""Where a file's statements start, found by scanning its text, not by parsing it.

A fix that rewrites code inside one function (LB201, LB203, LB204) needs libcst's tree of that
function's statement only: parsing and positioning the whole file for it made the default output
cost four times the concise one on large test files. The scan tracks strings, comments, brackets and
backslash continuations, so that a line inside any of them is not taken for a statement; a window it
gets wrong fails to parse, and the fix then uses the whole file.
"""

from __future__ import annotations

import bisect
import re

from loopbound.fixes.text import line_starts

_TOKENS = re.compile(r"""
    (?P<string>[rRbBuUfF]{0,2}(?:'''(?:[^\\']|\\.|'(?!''))*'''|\"\"\"(?:[^\\"]|\\.|"(?!""))*\"\"\"
                               |'(?:[^\\'\r\n]|\\.)*'|"(?:[^\\"\r\n]|\\.)*"))
    |(?P<comment>\#[^\r\n]*)
    |(?P<open>[(\[{])
    |(?P<close>[)\]}])
    |(?P<continued>\\(?:\r\n|\r|\n))
    |(?P<line>(?:\r\n|\r|\n)(?=[ \t]*[^\s#]))
""", re.VERBOSE | re.DOTALL)

# Lines that continue the statement before them (at the same indentation) rather than start one.
_CONTINUATIONS = re.compile(r"[ \t]*(?:(?:else|elif|except|finally)\b|[)\]}])")
_INDENT = re.compile(r"[ \t]*")
_CLASS = re.compile(r"class\b")
_LARGE = 100  # lines: a class longer than this is windowed by its members


def _code_lines(text: str) -> list[int]:
    """Where each line that starts code outside brackets, strings and continuations begins."""
    offsets = [0] if text.lstrip(" \t")[:1] not in ("", "#", "\r", "\n") else []
    depth = 0
    for match in _TOKENS.finditer(text):
        kind = match.lastgroup
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "line" and depth == 0:
            offsets.append(match.end())
    return offsets


def _indent(text: str, offset: int) -> str:
    match = _INDENT.match(text, offset)
    return match.group() if match else ""


def _statement_starts(text: str, offsets: list[int], indent: str) -> list[int]:
    """Of `offsets`, where statements at `indent` start (a decorated definition at its first decorator)."""
    starts: list[int] = []
    after_decorator = False
    for offset in offsets:
        if _indent(text, offset) != indent or _CONTINUATIONS.match(text, offset):
            continue
        if not after_decorator:
            starts.append(offset)
        after_decorator = text.startswith("@", offset + len(indent))
    return starts


class Windows:
    """A file's top-level statements (and a large class's members) as slices of its text, scanned once
    however many findings it has."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = line_starts(text)
        self.code_lines = _code_lines(text)
        self.rows = [self._row(offset) for offset in _statement_starts(text, self.code_lines, "")]

    def _row(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def around(self, row: int, newline: str = "\n") -> tuple[str, int] | None:
        """The text of the statement holding `row` and the row it starts on; None before the first statement.

        The statement is top-level, with the comment lines after it; in a large class, the member
        holding `row`, under a stand-in `class _:` line (the row returned is that line's).
        """
        index = bisect.bisect_right(self.rows, row) - 1
        if index < 0:
            return None
        first = self.rows[index]
        start = self.starts[first - 1]
        end = self.starts[self.rows[index + 1] - 1] if index + 1 < len(self.rows) else len(self.text)
        if index + 1 < len(self.rows) and self.rows[index + 1] - first <= _LARGE:
            return self.text[start:end], first
        member = self._member(start, end, row)
        if member is None:
            return self.text[start:end], first
        member_start, member_end = member
        return f"class _:{newline}{self.text[member_start:member_end]}", self._row(member_start) - 1

    def _member(self, start: int, end: int, row: int) -> tuple[int, int] | None:
        """The text span of the member holding `row` of the class statement between `start` and `end`."""
        inside = self.code_lines[bisect.bisect_left(self.code_lines, start):bisect.bisect_left(self.code_lines, end)]
        header = next((offset for offset in inside if not self.text.startswith("@", offset)), None)
        if header is None or not _CLASS.match(self.text, header):
            return None
        body = [offset for offset in inside if offset > header]
        indent = _indent(self.text, body[0]) if body else ""
        members = _statement_starts(self.text, body, indent) if indent else []
        at = bisect.bisect_right(members, self.starts[row - 1]) - 1
        if at < 0:
            return None
        return members[at], members[at + 1] if at + 1 < len(members) else end
