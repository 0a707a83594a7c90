"""Code actions and hover: a finding's fix, every fix at once, a `# noqa` comment, a rule's summary.

The fixes are the ones `loopbound check --fix` applies: one finding's Fix as a quick fix, and the
whole fix loop over the buffer (`fix_text`, what `--fix` does to a file) as `source.fixAll.loopbound`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from lsprotocol import types
from pygls.uris import from_fs_path

from loopbound.findings import Applicability, Edit, Finding, Location
from loopbound.fixes.text import edits_between
from loopbound.noqa import NOQA, add_noqa
from loopbound.rules.checker import SYNTAX_ERROR
from loopbound.server.convert import Positions, absolute, diagnostic, rule_summary, text_edits
from loopbound.server.documents import PYTHON_SUFFIXES

FIX_ALL = "source.fixAll.loopbound"
KINDS = [types.CodeActionKind.QuickFix, FIX_ALL]


@dataclass(frozen=True)
class Buffer:
    """An open document as the actions see it."""

    uri: str
    path: str  # as findings carry it
    text: str
    encoding: str  # the client's position encoding


TextOf = Callable[[str], "str | None"]  # the current text of a file findings name: the buffer or the disk


def workspace_edit(edits: Iterable[Edit], text_of: TextOf, encoding: str) -> types.WorkspaceEdit | None:
    """Edits grouped per file; a fix of the LB3 rules may change a config file besides the module."""
    by_path: dict[str, list[Edit]] = {}
    for edit in edits:
        by_path.setdefault(edit.path, []).append(edit)
    changes: dict[str, list[types.TextEdit]] = {}
    for path, file_edits in by_path.items():
        text, uri = text_of(path), from_fs_path(str(absolute(path)))
        if text is None or uri is None:
            return None  # a file the fix needs cannot be read: no half-applied fix
        changes[uri] = text_edits(file_edits, text, encoding)
    return types.WorkspaceEdit(changes=changes)


def wanted(kind: str, only: Sequence[str] | None) -> bool:
    return only is None or any(kind == allowed or kind.startswith(allowed + ".") for allowed in only)


def quick_fixes(buffer: Buffer, findings: list[Finding], selection: types.Range, unsafe: bool, text_of: TextOf
                ) -> list[types.CodeAction]:
    """A fix and a `# noqa` for each finding on the selected lines."""
    positions = Positions(buffer.text, buffer.encoding)
    actions: list[types.CodeAction] = []
    for finding in findings:
        shown = diagnostic(finding, positions, [])
        if not _touches(shown.range, selection):
            continue
        fix = finding.fix
        if fix is not None and (fix.applicability is Applicability.SAFE or unsafe):
            edit = workspace_edit(fix.edits, text_of, buffer.encoding)
            if edit is not None:
                marked = " (unsafe fix)" if fix.applicability is Applicability.UNSAFE else ""
                actions.append(types.CodeAction(
                    title=f"{fix.message}{marked} ({finding.code})", kind=types.CodeActionKind.QuickFix,
                    diagnostics=[shown], edit=edit, is_preferred=fix.applicability is Applicability.SAFE))
        noqa = noqa_action(buffer, finding, shown)
        if noqa is not None:
            actions.append(noqa)
    return actions


def noqa_action(buffer: Buffer, finding: Finding, shown: types.Diagnostic) -> types.CodeAction | None:
    """`--add-noqa` for one finding; none for syntax errors, config files, or lines inside a string."""
    if finding.code == SYNTAX_ERROR.code or not finding.path.endswith(PYTHON_SUFFIXES):
        return None
    updated, changed, _ = add_noqa(buffer.text, [finding])
    if not changed:
        return None
    edits = edits_between(finding.path, buffer.text, updated)
    return types.CodeAction(
        title=f"Disable {finding.code} for this line (`# noqa: {finding.code}`)",
        kind=types.CodeActionKind.QuickFix, diagnostics=[shown],
        edit=types.WorkspaceEdit(changes={buffer.uri: text_edits(edits, buffer.text, buffer.encoding)}))


def fix_all_action(buffer: Buffer, fixed: str) -> types.CodeAction | None:
    if fixed == buffer.text:
        return None
    edits = edits_between(buffer.path, buffer.text, fixed)
    return types.CodeAction(
        title="Fix all loopbound findings", kind=FIX_ALL,
        edit=types.WorkspaceEdit(changes={buffer.uri: text_edits(edits, buffer.text, buffer.encoding)}))


def _touches(shown: types.Range, selection: types.Range) -> bool:
    return shown.start.line <= selection.end.line and selection.start.line <= shown.end.line


def hover(buffer: Buffer, findings: list[Finding], position: types.Position) -> types.Hover | None:
    """The rule under the cursor: a code in a `# noqa:` comment, else the findings covering the position."""
    positions = Positions(buffer.text, buffer.encoding)
    at = positions.location(position)
    line = positions.lines[position.line] if position.line < len(positions.lines) else ""
    match = NOQA.search(line) if "#" in line else None
    if match is not None and match.group("codes") and match.start("codes") <= at.column - 1 < match.end("codes"):
        offset = match.start("codes")
        for code in match.group("codes").replace(",", " ").split(" "):
            if code and offset <= at.column - 1 < offset + len(code):
                summary = rule_summary(code.upper())
                return _hover(summary) if summary else None
            offset += len(code) + 1
    covering = [finding for finding in findings if _covers(finding, at)]
    texts = [f"{rule_summary(finding.code) or finding.code}\n\n---\n\n{finding.message}" for finding in covering]
    return _hover("\n\n".join(texts)) if texts else None


def _covers(finding: Finding, at: Location) -> bool:
    end = finding.end if finding.end > finding.start else Location(finding.start.row, finding.start.column + 1)
    return finding.start <= at <= end


def _hover(markdown: str) -> types.Hover:
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown))
