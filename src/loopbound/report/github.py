"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request diff."""

from __future__ import annotations

from typing import TextIO

from loopbound.findings import Finding, Severity
from loopbound.report import Report


_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.LATENT: "notice"}


def _escape_data(text: str) -> str:
    """GitHub's escaping for the message part of a workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """Property values also end at `,` and `:`, so those are escaped too."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    command = _COMMAND[finding.severity]
    properties = ",".join(f"{key}={_escape_property(str(value))}" for key, value in (
        ("file", finding.path),
        ("line", finding.start.row),
        ("col", finding.start.column),
        ("endLine", finding.end.row),
        ("endColumn", finding.end.column),
        ("title", finding.code),
    ))
    return f"::{command} {properties}::{_escape_data(finding.message)}"


def render(report: Report, stream: TextIO) -> None:
    stream.writelines(annotation(finding) + "\n" for finding in report.findings)
