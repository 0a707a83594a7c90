"""Reads the expected findings written as comments in fixture files (flake8-async's eval-file idea).

`# error: LB101` at the end of a line expects one LB101 finding starting on that line;
`# error: LB101, LB106` expects two. `# latent: LB101` expects one at the latent severity (the
whole-project pass decides it: no multi-loop entry point reaches the line). A line `# test-file`
near the top makes the file a test module.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

EXPECTATION = re.compile(r"#\s*(?P<severity>error|latent):\s*(?P<codes>LB\d{3}(?:\s*,\s*LB\d{3})*)")


def expected_with_severity(path: Path) -> Counter[tuple[int, str, str]]:
    """(row, code, "error" or "latent") for every expected finding."""
    expected: Counter[tuple[int, str, str]] = Counter()
    for row, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for match in EXPECTATION.finditer(line):
            for code in re.split(r"\s*,\s*", match.group("codes")):
                expected[(row, code, match.group("severity"))] += 1
    return expected


def expected_findings(path: Path) -> Counter[tuple[int, str]]:
    expected: Counter[tuple[int, str]] = Counter()
    for (row, code, _), count in expected_with_severity(path).items():
        expected[(row, code)] += count
    return expected
