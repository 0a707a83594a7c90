"""One line per finding: `path:row:col: CODE message`, as flake8 and `ruff --output-format concise`."""

from __future__ import annotations

from typing import TextIO

from loopbound.findings import Applicability, Severity
from loopbound.report import Report


def render(report: Report, stream: TextIO) -> None:
    for finding in report.findings:
        marker = " [*]" if finding.fix and finding.fix.applicability is Applicability.SAFE else ""  # `--fix` fixes it
        latent = " (latent)" if finding.severity is Severity.LATENT else ""
        stream.write(f"{finding.path}:{finding.start.row}:{finding.start.column}: "
                     f"{finding.code}{marker}{latent} {finding.message}\n")
