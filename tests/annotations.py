"""Reads the expected findings written as comments in fixture files (flake8-async's eval-file idea).

`# error: LB101` at the end of a line expects one LB101 finding starting on that line;
`# error: LB101, LB106` expects two. A line `# test-file` near the top makes the file a test module.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

EXPECTATION = re.compile(r"#\s*error:\s*(?P<codes>LB\d{3}(?:\s*,\s*LB\d{3})*)")


def expected_findings(path: Path) -> Counter[tuple[int, str]]:
    expected: Counter[tuple[int, str]] = Counter()
    for row, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = EXPECTATION.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group("codes")):
                expected[(row, code)] += 1
    return expected
