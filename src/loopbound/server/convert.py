"""Findings and edits as LSP data: 1-based character columns become 0-based UTF-16 (or UTF-8/32) units."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from lsprotocol import types

from loopbound.findings import Edit, Finding, Location, Severity
from loopbound.rules import RULES_BY_CODE
from loopbound.server.docs import rule_docs_uri

_LINE_END = re.compile(r"\r\n|\r|\n")  # as Python's tokenizer (and the LSP) split lines
SOURCE = "loopbound"
_TAGS = {
    "LB002": types.DiagnosticTag.Unnecessary,  # an unused suppression: editors fade it out
    "LB303": types.DiagnosticTag.Deprecated,  # the event_loop fixture pytest-asyncio removed
    "LB305": types.DiagnosticTag.Deprecated,  # the deprecated `scope=` keyword
}
_SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.LATENT: types.DiagnosticSeverity.Information,  # reported, never failing a run
}


def split_lines(text: str) -> list[str]:
    return _LINE_END.split(text)


class Positions:
    """A text's lines, for turning (row, character column) into client positions and back."""

    def __init__(self, text: str, encoding: str = types.PositionEncodingKind.Utf16) -> None:
        self.lines = split_lines(text)
        self.encoding = encoding

    def _units(self, text: str) -> int:
        if text.isascii() or self.encoding == types.PositionEncodingKind.Utf32:
            return len(text)
        if self.encoding == types.PositionEncodingKind.Utf8:
            return len(text.encode("utf-8", "surrogatepass"))
        return len(text.encode("utf-16-le", "surrogatepass")) // 2

    def position(self, location: Location) -> types.Position:
        if location.row > len(self.lines):
            return types.Position(len(self.lines), 0)
        line = self.lines[location.row - 1]
        return types.Position(location.row - 1, self._units(line[: max(location.column - 1, 0)]))

    def location(self, position: types.Position) -> Location:
        """The 1-based row and character column of a client position."""
        if position.line >= len(self.lines):
            return Location(len(self.lines) + 1, 1)
        line = self.lines[position.line]
        if line.isascii() or self.encoding == types.PositionEncodingKind.Utf32:
            return Location(position.line + 1, min(position.character, len(line)) + 1)
        units = 0
        for index, character in enumerate(line):
            if units >= position.character:
                return Location(position.line + 1, index + 1)
            units += self._units(character)
        return Location(position.line + 1, len(line) + 1)

    def range(self, start: Location, end: Location) -> types.Range:
        first, last = self.position(start), self.position(end)
        if (last.line, last.character) <= (first.line, first.character):
            # A point (a syntax error's column): one character wide, so editors draw it.
            line = self.lines[first.line] if first.line < len(self.lines) else ""
            width = 1 if first.character < self._units(line) else 0
            last = types.Position(first.line, first.character + width)
        return types.Range(first, last)


def diagnostic(finding: Finding, positions: Positions, related: list[types.DiagnosticRelatedInformation]
               ) -> types.Diagnostic:
    docs = rule_docs_uri(finding.code)
    tag = _TAGS.get(finding.code)
    return types.Diagnostic(
        range=positions.range(finding.start, finding.end),
        message=finding.message,
        severity=_SEVERITIES[finding.severity],
        code=finding.code,
        code_description=types.CodeDescription(href=docs) if docs else None,
        source=SOURCE,
        tags=[tag] if tag is not None else None,
        related_information=related or None,
        data={"name": finding.name, "latent": finding.severity is Severity.LATENT},
    )


def rule_summary(code: str) -> str | None:
    rule = RULES_BY_CODE.get(code)
    if rule is None:
        return None
    fix = rule.fix_applicability.value if rule.fix_applicability else "none"
    docs = rule_docs_uri(code)
    link = f"\n\n[Documentation]({docs})" if docs else ""
    return f"**{rule.code}** `{rule.name}` ({rule.severity.value}; fix: {fix})\n\n{rule.summary}{link}"


def absolute(path: str) -> Path:
    """Findings carry the path as `loopbound check` prints it: relative to the working directory."""
    return Path(os.path.abspath(path))


def related_places(finding: Finding) -> Iterable[tuple[str, int, str]]:
    """The other end of a finding, as (path, 1-based row, what is there), when the finding says it."""
    if finding.code == "LB302":
        targets = finding.datum("targets")
        if targets:
            for target in targets.splitlines():
                path, _, row = target.partition("\t")
                if row.isdigit():
                    yield path, int(row), f"test running on another loop than fixture `{finding.datum('fixture')}`"
        elif finding.datum("test_path") and (finding.datum("test_row") or "").isdigit():
            yield (str(finding.datum("test_path")), int(str(finding.datum("test_row"))),
                   f"test `{finding.datum('test')}` on a {finding.datum('test_loop_scope')}-scoped loop")
    if finding.code == "LB301":
        config, row = finding.datum("config_path"), finding.datum("test_key_line") or ""
        if config and row.isdigit():
            yield config, int(row), "`asyncio_default_test_loop_scope` is set here"


def related_information(finding: Finding, text_of: Callable[[str], str | None], encoding: str
                        ) -> list[types.DiagnosticRelatedInformation]:
    from pygls.uris import from_fs_path

    related = []
    for path, row, message in related_places(finding):
        text = text_of(path)
        if text is None:
            continue
        positions = Positions(text, encoding)
        line = positions.lines[row - 1] if 0 < row <= len(positions.lines) else ""
        start = Location(row, len(line) - len(line.lstrip()) + 1)
        uri = from_fs_path(str(absolute(path)))
        if uri is None:
            continue
        location = types.Location(uri, positions.range(start, Location(row, len(line.rstrip()) + 1)))
        related.append(types.DiagnosticRelatedInformation(location, message))
    return related


def text_edits(edits: Sequence[Edit], text: str, encoding: str) -> list[types.TextEdit]:
    positions = Positions(text, encoding)
    return [types.TextEdit(types.Range(positions.position(edit.start), positions.position(edit.end)), edit.content)
            for edit in edits]
