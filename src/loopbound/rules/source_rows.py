"""The rows of a file's source that hold a word, and the statements and functions on them: what lets a
rule walk only the part of a file that can hold its finding."""

from __future__ import annotations

import ast
import bisect
import re
import unicodedata
from collections import deque
from collections.abc import Iterator

from loopbound.rules.base import has_lone_returns, statement_children

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def functions_around(tree: ast.Module, word: re.Pattern[str], source: str
                     ) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The functions whose lines hold `word`, in `ast.walk`'s order, walking only the statements whose
    lines hold it: a `global` statement is on a few lines of a few functions, which a walk of every
    function's nodes spent most of LB1's time looking for."""
    rows = rows_of(word, source)
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    if not rows:
        return functions
    queue: deque[ast.AST] = deque([tree])
    while queue:
        node = queue.popleft()
        if isinstance(node, _FUNCTIONS):
            functions.append(node)
        queue.extend(child for child in statement_children(node) if spans_a_row(child, rows))
    return functions


def rows_of(word: re.Pattern[str], source: str) -> list[int]:
    """The rows, in order and each once, on which `word` matches."""
    return list(dict.fromkeys(row for row, _ in matches_by_row(word, source)))


def matches_by_row(word: re.Pattern[str], source: str) -> Iterator[tuple[int, str]]:
    """Each match of `word` with its row, in order."""
    row, position = 1, 0
    count, lone_returns = source.count, has_lone_returns(source)
    for match in word.finditer(source):
        start = match.start()
        row += count("\n", position, start)
        if lone_returns:
            row += count("\r", position, start) - count("\r\n", position, start)
        position = start
        yield row, match.group()


def spans_a_row(node: ast.AST, rows: list[int]) -> bool:
    """Whether one of the sorted `rows` is within the node's lines (a `case` has no lines: yes)."""
    first = getattr(node, "lineno", None)
    if first is None:
        return True
    at = bisect.bisect_left(rows, first)
    return at < len(rows) and rows[at] <= (getattr(node, "end_lineno", None) or first)


def holds_a_row(node: ast.AST, rows: list[int]) -> bool:
    """`spans_a_row` over the node's lines and its decorators' (nodes without lines: yes)."""
    first = getattr(node, "lineno", None)
    if first is None:
        return True
    for decorator in getattr(node, "decorator_list", ()):
        first = min(first, decorator.lineno)
    at = bisect.bisect_left(rows, first)
    return at < len(rows) and rows[at] <= (getattr(node, "end_lineno", None) or first)


_NOT_ASCII = re.compile(r"[^\x00-\x7f]")


def rows_are_lines(text: str) -> bool:
    """Whether the rows of the text (counted by its line feeds) are the parser's lines and its words are the
    names the parser reads: not so with lines ended by a lone carriage return, or with characters NFKC
    folds into ASCII (the parser reads `ｒｕｎ` as `run`). A walk that skips the rows holding no word it
    needs is sound only where this holds."""
    if has_lone_returns(text):
        return False
    if text.isascii() or unicodedata.is_normalized("NFKC", text):  # no character folds: most texts
        return True
    return not any(character.isascii() for odd in set(_NOT_ASCII.findall(text))
                   for character in unicodedata.normalize("NFKC", odd))


def spanning(nodes: list[ast.AST], rows: list[int]) -> list[ast.AST]:
    """The nodes for which `spans_a_row(node, rows)` holds, in one pass over both: the statements (and
    handlers, cases) of a block come in the order of their lines, and so do the sorted `rows`."""
    kept: list[ast.AST] = []
    at, count = 0, len(rows)
    for node in nodes:
        first = getattr(node, "lineno", None)
        if first is None:
            kept.append(node)  # a `case`, which has no lines
            continue
        while at < count and rows[at] < first:
            at += 1
        if at < count and rows[at] <= (getattr(node, "end_lineno", None) or first):
            kept.append(node)
    return kept
