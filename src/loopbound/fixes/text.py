"""Text positions and minimal edits: the bridge between a codemod's new text and ruff-style Edits.

Rows and columns are 1-based and count characters; a line ends at `\\r\\n`, `\\r` or `\\n`, as
Python's tokenizer ends it, so the rows agree with the ones `ast` reports.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import TypeVar

from loopbound.findings import Edit, Location

T = TypeVar("T")

_LINE_END = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """Offsets where each line begins; one more than the number of line ends."""
    return [0, *(match.end() for match in _LINE_END.finditer(text))]


def to_offset(starts: list[int], location: Location) -> int:
    return starts[location.row - 1] + location.column - 1


def to_location(starts: list[int], offset: int) -> Location:
    row = bisect.bisect_right(starts, offset)
    return Location(row, offset - starts[row - 1] + 1)


def newline_of(text: str) -> str:
    """The file's line ending: the first one found, `\\n` for a file without any."""
    match = _LINE_END.search(text)
    return match.group() if match else "\n"


def with_newline(text: str, newline: str) -> str:
    """Generated code says `\\n`; a CRLF file must stay CRLF."""
    return text if newline == "\n" else _LINE_END.sub(newline, text)


def edits_between(path: str, old: str, new: str, *, newline: str | None = None,
                  first_row: int = 1) -> tuple[Edit, ...]:
    """The smallest line-grouped edits turning `old` into `new`.

    Small edits are what lets two fixes in one file apply in the same pass: a whole-file replacement
    would overlap with every other fix. An edit covers whole lines, except that one line changed into
    one line is trimmed to the characters that differ: trimming a multi-line change could leave an
    edit that starts in the middle of a line it rewrites (`engine` + ` = get_engine()...`), which
    another fix's edit on the same line would not be seen to overlap.

    `old` may be a slice of a file that starts at a line start: `first_row` is that line's row, and
    `newline` the file's line ending. The lines both texts share at their start, then at their end,
    are set aside before matching (as GNU diff does), so a change diffed within one statement or
    within the whole file gets the same edits: difflib matches the same middle. Only a change that
    adds or drops lines at the very end of a slice may match the file's next lines differently.
    """
    new = with_newline(new, newline or newline_of(old))
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    head = common_prefix(old_lines, new_lines)
    tail = common_suffix(old_lines, new_lines, head)
    starts = line_starts(old)
    offsets = [0]
    for line in old_lines:
        offsets.append(offsets[-1] + len(line))
    edits = []
    matcher = difflib.SequenceMatcher(None, old_lines[head:len(old_lines) - tail],
                                      new_lines[head:len(new_lines) - tail], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        i1, i2, j1, j2 = i1 + head, i2 + head, j1 + head, j2 + head
        before, after = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        prefix = suffix = 0
        if i2 - i1 == 1 and j2 - j1 == 1:
            prefix = common_prefix(before, after)
            suffix = common_suffix(before, after, prefix)
        start = offsets[i1] + prefix
        end = offsets[i2] - suffix
        begin, finish = to_location(starts, start), to_location(starts, end)
        edits.append(Edit(path, Location(begin.row + first_row - 1, begin.column),
                          Location(finish.row + first_row - 1, finish.column), after[prefix:len(after) - suffix]))
    return tuple(edits)


def common_prefix(left: Sequence[T], right: Sequence[T]) -> int:
    """How many leading items (characters, lines) the two have in common."""
    size = 0
    for a, b in zip(left, right):
        if a != b:
            break
        size += 1
    return size


def common_suffix(left: Sequence[T], right: Sequence[T], skip: int = 0) -> int:
    """How many trailing items the two have in common, among those after their first `skip`."""
    size, limit = 0, min(len(left), len(right)) - skip
    while size < limit and left[len(left) - 1 - size] == right[len(right) - 1 - size]:
        size += 1
    return size


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits of one file, last first so earlier offsets stay valid."""
    starts = line_starts(text)
    spans = sorted(((to_offset(starts, e.start), to_offset(starts, e.end), e.content) for e in edits), reverse=True)
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text


def overlaps(first: Edit, second: Edit) -> bool:
    """Two edits of one file that share text or merely touch: applied together, each could change what
    the other's position means (an insertion right where another edit ends), so one waits a pass."""
    if first.path != second.path:
        return False
    return first.start <= second.end and second.start <= first.end
