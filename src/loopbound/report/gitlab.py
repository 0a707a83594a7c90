"""GitLab Code Quality report: a JSON array that merge request widgets read.

Each issue needs a fingerprint unique within the report and stable across pipelines, or GitLab
shows fixed issues as new; it uses the baseline's scheme.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from loopbound.baseline import occurrence_fingerprints
from loopbound.findings import Finding, Severity
from loopbound.report import Report

_SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.LATENT: "info"}


def _issue(finding: Finding, fingerprint: str) -> dict[str, Any]:
    return {
        "type": "issue",
        "check_name": finding.code,
        "description": f"{finding.code} {finding.message}",
        "categories": ["Bug Risk"],
        "severity": _SEVERITY[finding.severity],
        "fingerprint": fingerprint,
        "location": {
            "path": finding.path,
            "positions": {
                "begin": {"line": finding.start.row, "column": finding.start.column},
                "end": {"line": finding.end.row, "column": finding.end.column},
            },
        },
    }


def render(report: Report, stream: TextIO) -> None:
    fingerprints = occurrence_fingerprints(report.findings, report.source_lines)
    issues = [_issue(finding, f"{finding.path}:{fingerprint}")
              for finding, fingerprint in zip(report.findings, fingerprints)]
    stream.write(json.dumps(issues, indent=2))
    stream.write("\n")
