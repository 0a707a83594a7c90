"""Suppression comments: reading `# noqa`, finding unused ones (LB002), and adding them (`--add-noqa`).

`# noqa: LB101` on the line where a finding starts suppresses it (flake8's syntax: several codes
separated by commas, a prefix such as `LB1`, or a bare `# noqa` for every code);
`# loopbound: noqa` / `# loopbound: noqa: LB101` on a line of its own suppresses for the file.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from loopbound.findings import Applicability, Edit, Finding, Fix, Location
from loopbound.rules import FILE_RULE_GROUPS
from loopbound.rules.checker import RULES, SYNTAX_ERROR, UNUSED_NOQA

_CODES = r"[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*"
NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>" + _CODES + "))?", re.IGNORECASE)
FILE_NOQA = re.compile(r"^\s*#\s*loopbound:\s*noqa(?::\s*(?P<codes>" + _CODES + r"))?\s*$",
                       re.IGNORECASE | re.MULTILINE)
OUR_PREFIX = "LB"


def parse_codes(text: str | None) -> frozenset[str] | None:
    """None means every code (a bare `# noqa`)."""
    if not text:
        return None
    return frozenset(code.upper() for code in re.split(r"[,\s]+", text.strip()) if code)


def covers(code: str, codes: frozenset[str] | None) -> bool:
    return codes is None or any(code.startswith(selector) for selector in codes)


def _line_noqa(line: str) -> re.Match[str] | None:
    return NOQA.search(line) if "#" in line else None


def per_file_codes() -> frozenset[str]:
    """Codes the per-file pass can report; LB002 judges only these.

    A `# noqa: LB301` is never called unused by a pass that could not have reported LB301.
    """
    return frozenset(rule.code for group in FILE_RULE_GROUPS for rule in group.rules) | {r.code for r in RULES}


def suppress(findings: list[Finding], source: str, selected: frozenset[str], path: str | None = None) -> list[Finding]:
    """Drop suppressed findings; with `path` and LB002 selected, also report unused `# noqa` codes."""
    findings = [finding for finding in findings if finding.code in selected]
    check_unused = path is not None and UNUSED_NOQA.code in selected
    if not findings and not check_unused:
        return []
    for file_match in FILE_NOQA.finditer(source):
        codes = parse_codes(file_match.group("codes"))
        findings = [finding for finding in findings if not covers(finding.code, codes)]
    lines = source.splitlines()
    kept: list[Finding] = []
    used: dict[int, set[str]] = {}
    for finding in findings:
        row = finding.start.row
        match = _line_noqa(lines[row - 1]) if row <= len(lines) else None
        codes = parse_codes(match.group("codes")) if match else None
        if match is None or not covers(finding.code, codes):
            kept.append(finding)
        elif codes is not None:
            used.setdefault(row, set()).update(code for code in codes if finding.code.startswith(code))
    if check_unused and path is not None:
        kept.extend(unused_noqa(path, lines, used, per_file_codes() & selected))
    return kept


@dataclass(frozen=True)
class _Directive:
    row: int
    match: re.Match[str]
    codes: tuple[str, ...]


def _directives(lines: list[str]) -> list[_Directive]:
    found = []
    for row, line in enumerate(lines, start=1):
        match = _line_noqa(line)
        if match and match.group("codes"):
            codes = tuple(code.upper() for code in re.split(r"[,\s]+", match.group("codes").strip()) if code)
            found.append(_Directive(row, match, codes))
    return found


def unused_noqa(path: str, lines: list[str], used: dict[int, set[str]], judged: frozenset[str]) -> list[Finding]:
    """LB002: loopbound codes in a `# noqa:` that suppressed nothing on their line."""
    findings = []
    for directive in _directives(lines):
        if UNUSED_NOQA.code in directive.codes:
            continue
        unused = [code for code in directive.codes
                  if code.startswith(OUR_PREFIX) and code not in used.get(directive.row, set())
                  and any(rule.startswith(code) for rule in judged)]
        if unused:
            findings.append(_unused_finding(path, lines[directive.row - 1], directive, unused))
    return findings


def _unused_finding(path: str, line: str, directive: _Directive, unused: list[str]) -> Finding:
    start = Location(directive.row, directive.match.start() + 1)
    end = Location(directive.row, directive.match.end() + 1)
    remaining = [code for code in directive.codes if code not in unused]
    if remaining:
        edit = Edit(path, start, end, f"# noqa: {', '.join(remaining)}")
    else:
        comment_start = len(line[: directive.match.start()].rstrip())
        edit = Edit(path, Location(directive.row, comment_start + 1), end, "")
    fix = Fix(Applicability.SAFE, "Remove the unused suppression", (edit,))
    noun = "code" if len(unused) == 1 else "codes"
    return Finding(UNUSED_NOQA.code, UNUSED_NOQA.name, f"unused `noqa` {noun}: {', '.join(unused)}", path,
                   start, end, UNUSED_NOQA.severity, fix)


def _rows_that_cannot_take_a_comment(source: str) -> set[int]:
    """Lines inside a multi-line string, or continued with a backslash: a comment there breaks the code."""
    rows = {row for row, line in enumerate(source.splitlines(), start=1) if line.rstrip().endswith("\\")}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING or token.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
                rows.update(range(token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return rows


def add_noqa(source: str, findings: list[Finding]) -> tuple[str, int, list[Finding]]:
    """Append `# noqa: CODE` to each line where a finding starts, merging with codes already there.

    Returns the new source, how many lines changed, and the findings that could not take a comment.
    """
    lines = source.splitlines(keepends=True)
    blocked = _rows_that_cannot_take_a_comment(source)
    wanted: dict[int, set[str]] = {}
    skipped = []
    for finding in findings:
        if finding.code == SYNTAX_ERROR.code:
            continue
        if finding.start.row in blocked or finding.start.row > len(lines):
            skipped.append(finding)
        else:
            wanted.setdefault(finding.start.row, set()).add(finding.code)
    changed = 0
    for row, codes in wanted.items():
        updated = _with_noqa(lines[row - 1], codes)
        if updated != lines[row - 1]:
            lines[row - 1] = updated
            changed += 1
    return "".join(lines), changed, skipped


def _with_noqa(line: str, codes: set[str]) -> str:
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    match = _line_noqa(body)
    if match is None:
        return f"{body.rstrip()}  # noqa: {', '.join(sorted(codes))}{ending}"
    existing = parse_codes(match.group("codes"))
    if existing is None or all(covers(code, existing) for code in codes):
        return line
    merged = [*dict.fromkeys(code.upper() for code in re.split(r"[,\s]+", match.group("codes").strip()) if code),
              *sorted(code for code in codes if not covers(code, existing))]
    return f"{body[: match.start()]}# noqa: {', '.join(merged)}{body[match.end():]}{ending}"


@dataclass
class NoqaOutcome:
    lines_changed: int = 0
    skipped: list[Finding] = field(default_factory=list)  # inside a multi-line string or after a backslash
    errors: list[str] = field(default_factory=list)


def add_noqa_to_files(findings: list[Finding]) -> NoqaOutcome:
    """`--add-noqa`: edit each Python file in place, keeping its line endings."""
    outcome = NoqaOutcome()
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.path.endswith((".py", ".pyi")):
            by_path.setdefault(finding.path, []).append(finding)
    for path, file_findings in by_path.items():
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                source = handle.read()
            updated, changed, skipped = add_noqa(source, file_findings)
            if changed:
                with open(path, "w", encoding="utf-8", newline="") as handle:
                    handle.write(updated)
        except (OSError, UnicodeError) as error:
            outcome.errors.append(f"{path}: cannot add `# noqa`: {error}")
            continue
        outcome.lines_changed += changed
        outcome.skipped.extend(skipped)
    return outcome
