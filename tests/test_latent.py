"""Latent findings: reported, never failing the run unless `latent = "error"`; hidden with `latent = "hide"`."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopbound.config import ConfigError, load_settings
from loopbound.findings import Finding, LatentPolicy, Location, Severity, apply_latent_policy, fails_run


def _finding(severity: Severity) -> Finding:
    return Finding("LB101", "module-level-async-resource", "message", "app.py", Location(1, 1), Location(1, 2),
                   severity)


def test_only_latent_findings_do_not_fail_the_run() -> None:
    assert fails_run(_finding(Severity.ERROR))
    assert fails_run(_finding(Severity.WARNING))
    assert not fails_run(_finding(Severity.LATENT))


@pytest.mark.parametrize(("policy", "expected"), [
    (LatentPolicy.REPORT, [Severity.ERROR, Severity.LATENT]),
    (LatentPolicy.ERROR, [Severity.ERROR, Severity.ERROR]),
    (LatentPolicy.HIDE, [Severity.ERROR]),
])
def test_latent_policy(policy: LatentPolicy, expected: list[Severity]) -> None:
    findings = [_finding(Severity.ERROR), _finding(Severity.LATENT)]
    assert [finding.severity for finding in apply_latent_policy(findings, policy)] == expected


def test_latent_key_is_read_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.loopbound]\nlatent = "hide"\n')
    assert load_settings(None, start=tmp_path).latent is LatentPolicy.HIDE
    config.write_text('[tool.loopbound]\nlatent = "loud"\n')
    with pytest.raises(ConfigError, match="`latent` must be one of"):
        load_settings(None, start=tmp_path)
