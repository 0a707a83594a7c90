"""Every annotated file under fixtures/rules/ is checked; its comments are the expected findings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from annotations import expected_with_severity
from conftest import FIXTURES

from loopbound.config import Settings
from loopbound.engine import check_source
from loopbound.findings import Severity
from loopbound.rules import ALL_RULES

FILES = sorted((FIXTURES / "rules").glob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_fixture_file(path: Path) -> None:
    every_code = frozenset(rule.code for rule in ALL_RULES)
    data = path.read_bytes()
    is_test = b"# test-file" in data[:200]
    result = check_source(data, path.name, Settings(), every_code, is_test=is_test)
    assert result.error is None
    found = Counter((finding.start.row, finding.code, "latent" if finding.severity is Severity.LATENT else "error")
                    for finding in result.findings)
    expected = expected_with_severity(path)
    assert sorted(found.elements()) == sorted(expected.elements()), (
        f"unexpected: {sorted((found - expected).elements())}, missing: {sorted((expected - found).elements())}"
    )


def test_every_rule_has_flagged_and_clean_cases() -> None:
    names = {path.stem for path in FILES}
    for rule in ALL_RULES:
        if rule.code.startswith("LB1"):
            assert rule.code in names, f"fixtures/rules/{rule.code}.py is missing"
            text = (FIXTURES / "rules" / f"{rule.code}.py").read_text(encoding="utf-8")
            assert f"error: {rule.code}" in text
            assert "# clean" in text, f"{rule.code} has no clean cases (mark them with `# clean`)"
