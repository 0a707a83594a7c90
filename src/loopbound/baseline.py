"""Adopting loopbound in legacy code: record today's findings, report only new ones.

A finding is matched by its code, its path and a fingerprint of the source it points at, never by
line numbers, so lines added or removed above it do not break the match. The same fingerprint
scheme gives SARIF's `partialFingerprints` and GitLab's `fingerprint`, so code scanning and the
baseline agree on what "the same finding" is.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from loopbound.findings import Finding

BASELINE_VERSION = 1
_MAX_LINES = 5  # a finding spanning a whole block is identified by its first lines
_NOQA_COMMENT = re.compile(r"#\s*(?:noqa|loopbound:\s*noqa)\b.*$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")

SourceLines = Callable[[str], list[str]]


class BaselineError(Exception):
    """The baseline file cannot be read or is not one we wrote; the message names the file."""


def normalized_snippet(finding: Finding, lines: list[str]) -> str:
    """The finding's source lines with indentation, spacing and noqa comments removed.

    Re-indenting a block or running `--add-noqa` must not turn a known finding into a new one.
    """
    last = min(finding.end.row, finding.start.row + _MAX_LINES - 1)
    parts = []
    for row in range(finding.start.row, max(last, finding.start.row) + 1):
        if 0 < row <= len(lines):
            text = _NOQA_COMMENT.sub("", lines[row - 1])
            parts.append(_SPACE.sub(" ", text).strip())
    return "\n".join(part for part in parts if part)


def fingerprint(finding: Finding, lines: list[str]) -> str:
    """A short, stable hash of the rule code and the normalized source of the finding."""
    payload = f"{finding.code}\0{normalized_snippet(finding, lines)}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def occurrence_fingerprints(findings: Iterable[Finding], source_lines: SourceLines) -> list[str]:
    """Fingerprints made unique within a file: the n-th identical snippet gets `:n` appended.

    Two identical lines with the same finding are two findings; tools that deduplicate by
    fingerprint (GitHub code scanning, GitLab) must still see both.
    """
    seen: Counter[tuple[str, str]] = Counter()
    result = []
    for finding in findings:
        base = fingerprint(finding, source_lines(finding.path))
        key = (finding.path, base)
        result.append(f"{base}:{seen[key]}")
        seen[key] += 1
    return result


def _key_path(path: str, base: Path) -> str:
    """The finding's path relative to the baseline's folder, so the file can be committed."""
    absolute = Path(os.path.abspath(path))
    try:
        return Path(os.path.relpath(absolute, base)).as_posix()
    except ValueError:  # another drive on Windows
        return absolute.as_posix()


@dataclass(frozen=True)
class Entry:
    code: str
    path: str
    fingerprint: str
    message: str = field(default="", compare=False)


@dataclass
class Filtered:
    """What is left after the baseline: new findings, and entries that matched nothing any more."""

    new: list[Finding]
    baselined: int
    stale: list[Entry]


def write_baseline(path: Path, findings: list[Finding], source_lines: SourceLines) -> int:
    base = path.resolve().parent
    entries = [
        {"code": finding.code, "path": _key_path(finding.path, base),
         "fingerprint": fingerprint(finding, source_lines(finding.path)), "message": finding.message}
        for finding in findings
    ]
    entries.sort(key=lambda entry: (entry["path"], entry["code"], entry["fingerprint"]))
    document = {"version": BASELINE_VERSION, "tool": "loopbound", "findings": entries}
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise BaselineError(f"{path}: cannot write the baseline: {error.strerror or error}") from None
    return len(entries)


def read_baseline(path: Path) -> list[Entry]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file; create it with `--write-baseline {path}`") from None
    except OSError as error:
        raise BaselineError(f"{path}: cannot read the baseline: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise BaselineError(f"{path}: not a loopbound baseline (invalid JSON at line {error.lineno})") from None
    if not isinstance(document, dict) or document.get("version") != BASELINE_VERSION \
            or not isinstance(document.get("findings"), list):
        raise BaselineError(f"{path}: not a loopbound baseline (expected version {BASELINE_VERSION} "
                            f"and a `findings` list)")
    try:
        return [Entry(str(item["code"]), str(item["path"]), str(item["fingerprint"]), str(item.get("message", "")))
                for item in document["findings"]]
    except (KeyError, TypeError):
        raise BaselineError(f"{path}: every baseline entry needs `code`, `path` and `fingerprint`") from None


def apply_baseline(path: Path, findings: list[Finding], source_lines: SourceLines) -> Filtered:
    """Drop each finding that a baseline entry accounts for; each entry accounts for one finding."""
    entries = read_baseline(path)
    base = path.resolve().parent
    remaining = Counter(entries)
    new = []
    for finding in findings:
        key = Entry(finding.code, _key_path(finding.path, base), fingerprint(finding, source_lines(finding.path)))
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            new.append(finding)
    stale = []
    for entry in entries:
        if remaining[entry] > 0:
            remaining[entry] -= 1
            stale.append(entry)
    return Filtered(new=new, baselined=len(findings) - len(new), stale=stale)
