"""JUnit XML for CI systems that show test results: one testcase per checked file.

A file with findings is a failed testcase listing them; a clean file is a passed one, so the
CI's test view shows what was checked, not only what failed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import TextIO

from loopbound.findings import Finding, fails_run
from loopbound.report import Report


def _failure_text(findings: list[Finding]) -> str:
    return "\n".join(f"{f.path}:{f.start.row}:{f.start.column}: {f.code} {f.message}" for f in findings)


def render(report: Report, stream: TextIO) -> None:
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_file[finding.path].append(finding)
    paths = sorted(set(report.checked_paths) | set(by_file))
    failures = sum(1 for path in paths if any(fails_run(finding) for finding in by_file.get(path, ())))
    counts = {"tests": str(len(paths)), "failures": str(failures), "errors": "0", "skipped": "0"}
    suites = ET.Element("testsuites", {"name": "loopbound", **counts})
    suite = ET.SubElement(suites, "testsuite", {"name": "loopbound", **counts})
    for path in paths:
        case = ET.SubElement(suite, "testcase", {"name": path, "classname": "loopbound", "file": path})
        findings = [finding for finding in by_file.get(path, ()) if fails_run(finding)]
        latent = [finding for finding in by_file.get(path, ()) if not fails_run(finding)]
        if latent:
            ET.SubElement(case, "system-out").text = _failure_text(latent)
        if findings:
            noun = "finding" if len(findings) == 1 else "findings"
            codes = ",".join(sorted({finding.code for finding in findings}))
            failure = ET.SubElement(case, "failure", {"message": f"{len(findings)} {noun}", "type": codes})
            failure.text = _failure_text(findings)
    ET.indent(suites)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(suites, encoding="unicode"))
    stream.write("\n")
