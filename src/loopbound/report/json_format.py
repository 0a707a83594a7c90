"""ruff's JSON field names, so tools that read ruff's JSON read ours."""

from __future__ import annotations

import json
from typing import TextIO

from loopbound.report import Report


def render(report: Report, stream: TextIO) -> None:
    stream.write(json.dumps([finding.to_dict() for finding in report.findings], indent=2))
    stream.write("\n")


def render_lines(report: Report, stream: TextIO) -> None:
    for finding in report.findings:
        stream.write(json.dumps(finding.to_dict()))
        stream.write("\n")
