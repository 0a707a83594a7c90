"""The docs, the README and the changelog agree with the rule metadata (flake8-async's meta-test)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from loopbound import docs
from loopbound.registry import BUILTIN_RESOURCES
from loopbound.rules import ALL_RULES
from loopbound.rules.base import Rule

REPO = Path(__file__).resolve().parent.parent

CODE_RANGE = re.compile(r"\b(LB)(\d{3})\s*[–-]\s*LB(\d{3})\b")


def codes_mentioned(text: str) -> set[str]:
    """Codes named one by one, or inside a range such as `LB101–LB107`."""
    codes = set(re.findall(r"\bLB\d{3}\b", text))
    for prefix, first, last in CODE_RANGE.findall(text):
        codes |= {f"{prefix}{number:03d}" for number in range(int(first), int(last) + 1)}
    return codes


def test_generated_docs_are_up_to_date() -> None:
    stale = [path.relative_to(REPO).as_posix() for path in docs.stale_files(REPO)]
    assert stale == [], "run `python -m loopbound.docs` to regenerate"


def test_the_drift_check_notices_an_edited_page(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(f"# x\n\n{docs.README_START}{docs.README_END}")
    assert docs.main(["--root", str(tmp_path)]) == 0
    assert docs.stale_files(tmp_path) == []
    page = tmp_path / "docs" / "rules" / f"{ALL_RULES[-1].code}.md"
    page.write_text(page.read_text() + "edited\n")
    (tmp_path / "docs" / "rules" / "LB999.md").write_text("a removed rule\n")
    assert docs.stale_files(tmp_path) == [page, tmp_path / "docs" / "rules" / "LB999.md"]
    assert docs.main(["--check", "--root", str(tmp_path)]) == 1


def test_check_mode_from_the_command_line() -> None:
    run = subprocess.run([sys.executable, "-m", "loopbound.docs", "--check"], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_every_rule_is_documented_everywhere(rule: Rule) -> None:
    code = rule.code
    index = (REPO / "docs" / "rules" / "index.md").read_text(encoding="utf-8")
    assert f"[{code}]({code}.md)" in index
    assert f"[{code}](docs/rules/{code}.md)" in (REPO / "README.md").read_text(encoding="utf-8")
    assert code in codes_mentioned((REPO / "CHANGELOG.md").read_text(encoding="utf-8")), \
        f"CHANGELOG.md does not mention {code}"


def test_docs_name_no_rule_that_does_not_exist() -> None:
    known = {rule.code for rule in ALL_RULES}
    for path in [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").rglob("*.md"))]:
        unknown = codes_mentioned(path.read_text(encoding="utf-8")) - known - {"LB999"}
        assert not unknown, f"{path.relative_to(REPO)} names unknown codes {sorted(unknown)}"


def test_every_registry_row_is_in_the_libraries_page() -> None:
    page = (REPO / "docs" / "libraries.md").read_text(encoding="utf-8")
    for resource in BUILTIN_RESOURCES:
        assert f"`{resource.qualname}`" in page
        assert f"## {resource.library}\n" in page


def test_readme_shows_the_integrations_on_its_first_screen() -> None:
    first_screen = "\n".join((REPO / "README.md").read_text(encoding="utf-8").splitlines()[:60])
    assert "pre-commit" in first_screen and "- id: loopbound" in first_screen
    assert "runs-on:" in first_screen and "loopbound check" in first_screen
