"""The flake8 entry point, driven by the real `flake8 --select LB` in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from annotations import expected_findings

from loopbound.noqa import per_file_codes
from loopbound.rules import RULES_BY_CODE

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

FLAKE8_LINE = re.compile(r"^(?P<path>[^:]+):(?P<row>\d+):(?P<column>\d+): (?P<code>LB\d{3}) (?P<message>.+)$")
BAD = "import httpx\n\nclient = httpx.AsyncClient()\n"


def flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False, env={**os.environ, "NO_COLOR": "1"})


def findings(output: str) -> list[tuple[str, int, int, str]]:
    rows = []
    for line in output.splitlines():
        match = FLAKE8_LINE.match(line)
        assert match, f"not a flake8 line: {line!r}"
        rows.append((match["path"], int(match["row"]), int(match["column"]), match["code"]))
    return rows


def test_the_plugin_is_registered() -> None:
    version = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True, check=True)
    assert "loopbound:" in version.stdout


def test_fixture_files_give_the_annotated_findings(tmp_path: Path) -> None:
    """flake8 runs the default selection of per-file rules; opt-in and whole-tree rules are left out."""
    judged = {code for code in per_file_codes() if not RULES_BY_CODE[code].opt_in}
    expected: Counter[tuple[str, int, str]] = Counter()
    for fixture in sorted((FIXTURES / "rules").glob("*.py")):
        is_test = b"# test-file" in fixture.read_bytes()[:200]
        name = f"test_{fixture.name}" if is_test else fixture.name
        shutil.copy(fixture, tmp_path / name)
        for (row, code), count in expected_findings(fixture).items():
            if code in judged:
                expected[(name, row, code)] += count
    run = flake8("--select", "LB", ".", cwd=tmp_path)
    assert run.returncode == (1 if expected else 0), run.stderr
    found = Counter((Path(path).name, row, code) for path, row, _, code in findings(run.stdout))
    assert sorted(found.elements()) == sorted(expected.elements())


def test_columns_match_the_cli(tmp_path: Path) -> None:
    (tmp_path / "api.py").write_text(BAD)
    assert findings(flake8("--select", "LB", "api.py", cwd=tmp_path).stdout) == [("api.py", 3, 10, "LB101")]


@pytest.mark.parametrize(("comment", "reported"), [
    ("", True),
    ("  # noqa", False),
    ("  # noqa: LB101", False),
    ("  # noqa:LB1", False),
    ("  # noqa: E501", True),
])
def test_noqa_follows_flake8(tmp_path: Path, comment: str, reported: bool) -> None:
    (tmp_path / "api.py").write_text(BAD.replace("AsyncClient()\n", f"AsyncClient(){comment}\n"))
    run = flake8("--select", "LB", "api.py", cwd=tmp_path)
    assert bool(findings(run.stdout)) is reported
    assert run.returncode == (1 if reported else 0)


def test_disable_noqa_is_flake8s_decision(tmp_path: Path) -> None:
    (tmp_path / "api.py").write_text(BAD.replace("AsyncClient()\n", "AsyncClient()  # noqa: LB101\n"))
    assert findings(flake8("--select", "LB", "--disable-noqa", "api.py", cwd=tmp_path).stdout) != []


def test_project_configuration_applies(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.loopbound]\nignore = ["LB101"]\n')
    (tmp_path / "api.py").write_text(BAD)
    assert flake8("--select", "LB", "api.py", cwd=tmp_path).stdout == ""


def test_a_broken_configuration_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.loopbound]\nselect = "LB101"\n')
    (tmp_path / "api.py").write_text(BAD)
    run = flake8("--select", "LB", "api.py", cwd=tmp_path)
    assert run.returncode != 0
    assert "pyproject.toml" in run.stderr + run.stdout
