"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One run; URIs relative to the repository root (or the current directory outside a repository)
through `originalUriBaseIds`; one rule entry per rule with its documentation as help; and
`partialFingerprints` from the baseline's scheme, so an alert survives unrelated edits above it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from loopbound import __version__
from loopbound.baseline import occurrence_fingerprints
from loopbound.findings import Edit, Finding, Fix, Severity
from loopbound.report import Report
from loopbound.rules import ALL_RULES
from loopbound.rules.base import Rule

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
ROOT_ID = "%SRCROOT%"
FINGERPRINT_KEY = "loopbound/v1"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.LATENT: "note"}


def repository_root(start: Path) -> Path:
    """The nearest folder with a `.git` above `start`; code scanning resolves URIs from there."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def _uri(path: str, root: Path) -> dict[str, str]:
    absolute = Path(os.path.abspath(path))
    try:
        return {"uri": absolute.relative_to(root).as_posix(), "uriBaseId": ROOT_ID}
    except ValueError:
        return {"uri": absolute.as_uri()}


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.what_it_does},
        "help": {"text": rule.documentation, "markdown": rule.documentation},
        "defaultConfiguration": {"level": _LEVEL[rule.severity], "enabled": not rule.opt_in},
        "properties": {"tags": ["async", "event-loop"]},
    }


def _region(start_row: int, start_column: int, end_row: int, end_column: int) -> dict[str, int]:
    return {"startLine": start_row, "startColumn": start_column, "endLine": end_row, "endColumn": end_column}


def _replacement(edit: Edit) -> dict[str, Any]:
    region = _region(edit.start.row, edit.start.column, edit.end.row, edit.end.column)
    return {"deletedRegion": region, "insertedContent": {"text": edit.content}}


def _fix(fix: Fix, root: Path) -> dict[str, Any]:
    by_path: dict[str, list[Edit]] = {}
    for edit in fix.edits:
        by_path.setdefault(edit.path, []).append(edit)
    return {
        "description": {"text": f"{fix.message} ({fix.applicability.value} fix)"},
        "artifactChanges": [{"artifactLocation": _uri(path, root), "replacements": [_replacement(e) for e in edits]}
                            for path, edits in by_path.items()],
    }


def _result(finding: Finding, fingerprint: str, rule_index: int, root: Path) -> dict[str, Any]:
    region = _region(finding.start.row, finding.start.column, finding.end.row, finding.end.column)
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": {"artifactLocation": _uri(finding.path, root), "region": region}}],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
    }
    if finding.fix and finding.fix.edits:
        result["fixes"] = [_fix(finding.fix, root)]
    return result


def sarif_log(report: Report, root: Path | None = None) -> dict[str, Any]:
    root = root or repository_root(Path.cwd())
    index = {rule.code: position for position, rule in enumerate(ALL_RULES)}
    fingerprints = occurrence_fingerprints(report.findings, report.source_lines)
    results = [_result(finding, fingerprint, index[finding.code], root)
               for finding, fingerprint in zip(report.findings, fingerprints)]
    driver = {
        "name": "loopbound",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [_rule(rule) for rule in ALL_RULES],
    }
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {ROOT_ID: {"uri": root.as_uri().rstrip("/") + "/"}},
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: Report, stream: TextIO) -> None:
    stream.write(json.dumps(sarif_log(report), indent=2))
    stream.write("\n")
