"""PEP 484 type comments, which mypy (and `ast.parse(..., type_comments=True)`) read only in their place.

`x = C()  # type: C` may follow an assignment, never a `return`; a signature's `# type: (str) -> int`
must be the first line of the body. A rewrite that moves either breaks the file for mypy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst

_TYPE_COMMENT = re.compile(r"#\s*type:\s*(?P<type>.+?)\s*$")
_IGNORE = re.compile(r"ignore\b")
_IGNORED_CODES = re.compile(r"#\s*type:\s*ignore\[(?P<codes>[^\]]*)\]\s*")


def variable_type_comment(comment: cst.Comment | None) -> str | None:
    """The declared type of `# type: X` (not `# type: ignore`, which is allowed anywhere)."""
    if comment is None:
        return None
    match = _TYPE_COMMENT.match(comment.value)
    if match is None or _IGNORE.match(match.group("type")):
        return None
    return match.group("type")


def signature_type_comment(function: cst.FunctionDef) -> cst.Comment | None:
    """The `# type: (...) -> R` comment of a function: on the `def` line or first in its body."""
    body = function.body
    if isinstance(body, cst.IndentedBlock):
        if variable_type_comment(body.header.comment) is not None:
            return body.header.comment
        lines: Sequence[cst.EmptyLine] = getattr(body.body[0], "leading_lines", ()) if body.body else ()
        for line in lines:
            if variable_type_comment(line.comment) is not None:
                return line.comment
    return None


def split_signature_comment(statement: cst.BaseStatement) -> tuple[list[cst.EmptyLine], cst.BaseStatement]:
    """The first statement's leading lines up to its signature type comment, and the statement without them."""
    lines = list(getattr(statement, "leading_lines", ()))
    last = max((index for index, line in enumerate(lines) if variable_type_comment(line.comment) is not None),
               default=None)
    if last is None:
        return [], statement
    return lines[:last + 1], statement.with_changes(leading_lines=lines[last + 1:])


def reachable(trailing: cst.TrailingWhitespace) -> cst.TrailingWhitespace:
    """A line's end without mypy's `unreachable` in its `# type: ignore[...]`: for a statement moved into
    `finally`, which always runs. Left there, mypy's `warn_unused_ignores` fails a project's type check
    (`# type: ignore[unreachable]` after a narrowing `assert`, in aiohttp's tests)."""
    comment = trailing.comment
    match = _IGNORED_CODES.match(comment.value) if comment is not None else None
    if comment is None or match is None:
        return trailing
    codes = [code.strip() for code in match.group("codes").split(",")]
    if "unreachable" not in codes:
        return trailing
    kept = [code for code in codes if code != "unreachable"]
    rest = comment.value[match.end():]
    text = f"# type: ignore[{', '.join(kept)}]" + (f"  {rest}" if rest else "") if kept else rest
    if not text:
        return trailing.with_changes(whitespace=cst.SimpleWhitespace(""), comment=None)
    return trailing.with_changes(comment=cst.Comment(text))
