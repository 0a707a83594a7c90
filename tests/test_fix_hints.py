"""The help line under a finding and the summary say what `--fix` and `--fix --unsafe-fixes` will do,
computed from each finding's own fix, and `--fix` then does exactly that."""

from __future__ import annotations

from pathlib import Path

from cli_runner import run_loopbound

SAFE = "import httpx\n\n\nasync def main(url):\n    c = httpx.AsyncClient()\n    r = await c.get(url)\n    await c.aclose()\n    return r\n"
UNSAFE = "import httpx\n\nclient = httpx.AsyncClient()\n\n\nasync def ping(url):\n    await client.get(url)\n"
DECLINED = "import httpx\n\n__all__ = ['client']\n\nclient = httpx.AsyncClient()\n\n\nasync def ping(url):\n    await client.get(url)\n"


def _project(root: Path) -> Path:
    for name, text in (("safe.py", SAFE), ("unsafe.py", UNSAFE), ("declined.py", DECLINED)):
        (root / name).write_text(text)
    (root / ".git").mkdir()
    return root


def _help_lines(stdout: str) -> dict[str, str]:
    """file -> its finding's help line, from the full output."""
    found: dict[str, str] = {}
    current = ""
    for line in stdout.splitlines():
        if ": LB" in line and not line.startswith(" "):
            current = line.split(":")[0]
        elif line.startswith("  = help:"):
            found[current] = line
    return found


def test_help_lines_and_summary_tell_what_fix_will_do(tmp_path: Path) -> None:
    root = _project(tmp_path)
    run = run_loopbound("check", "--no-cache", cwd=root)
    helps = _help_lines(run.stdout)
    assert "`loopbound check --fix` applies this safe fix" in helps["safe.py"]
    assert "`loopbound check --fix --unsafe-fixes` applies this unsafe fix" in helps["unsafe.py"]
    assert "`--fix` alone leaves it" in helps["unsafe.py"]
    assert "no automatic fix for this case" in helps["declined.py"]
    assert ("Found 3 findings (1 error, 2 latent) in 3 files checked: 1 with a safe fix (`--fix`), 1 with an unsafe fix "
            "(`--fix --unsafe-fixes`), 1 without a fix.") in run.stderr

    fixed = run_loopbound("check", "--no-cache", "--fix", cwd=root)
    assert "Fixed 1 finding in 1 file. 1 more fixable with `--unsafe-fixes`." in fixed.stderr
    assert (root / "declined.py").read_text() == DECLINED and (root / "unsafe.py").read_text() == UNSAFE

    unsafe = run_loopbound("check", "--no-cache", "--fix", "--unsafe-fixes", cwd=root)
    assert "Fixed 1 finding in 1 file." in unsafe.stderr
    assert "1 finding (0 errors, 1 latent) in 3 files checked: none with an automatic fix." in unsafe.stderr
    assert (root / "declined.py").read_text() == DECLINED


def test_findings_of_rules_without_fixes_say_so_without_promising(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("import httpx\n\n\nclass Api:\n    client = httpx.AsyncClient()\n")
    run = run_loopbound("check", "--no-cache", "--select", "LB102", cwd=tmp_path)
    assert "= help: see `loopbound rule LB102`" in run.stdout
    assert "none with an automatic fix." in run.stderr


def test_what_remains_after_fix_keeps_the_project_verdicts(tmp_path: Path) -> None:
    """After `--fix` writes, the remaining findings are those of a whole check: a module-level client that
    nothing imports stays latent (and the run passes), as `check` without `--fix` reports it."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "library.py").write_text(UNSAFE)
    (tmp_path / "release.py").write_text(
        "import httpx\n\n\nasync def main(url):\n    c = httpx.AsyncClient()\n    try:\n"
        "        return await c.get(url)\n    finally:\n        c.aclose()\n")
    before = run_loopbound("check", "--no-cache", "--output-format", "concise", cwd=tmp_path)
    assert "library.py:3:10: LB101 (latent)" in before.stdout and "release.py:9:9: LB202" in before.stdout
    fixed = run_loopbound("check", "--no-cache", "--fix", "--output-format", "concise", cwd=tmp_path)
    assert "await c.aclose()" in (tmp_path / "release.py").read_text()
    assert fixed.stdout.splitlines()[0].startswith("library.py:3:10: LB101 (latent)")
    assert "(0 errors, 1 latent)" in fixed.stderr
    assert fixed.code == 0
