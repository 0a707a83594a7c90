"""Runtime proof of LB308 and its fix: an async fixture cached per module, package or session under
`asyncio_default_fixture_loop_scope = function` stops its tests with ScopeMismatch under real
pytest-asyncio; `loopbound check --fix --unsafe-fixes` makes the run green, and a second --fix changes
nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "projects"


def _run(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COV_"))}
    return subprocess.run(arguments, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def _pytest(directory: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], directory)


def _fix(directory: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "loopbound", "check", ".", "--select", "LB3", "--isolated", "--no-cache",
                 "--fix", "--unsafe-fixes"], directory)


def _sources(directory: Path) -> dict[str, str]:
    return {path.relative_to(directory).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(directory.rglob("*")) if path.suffix in (".py", ".ini")}


@pytest.mark.runtime
@pytest.mark.parametrize("scope", ["module", "package", "session"])
def test_fix_turns_scope_mismatch_green(scope: str, tmp_path: Path) -> None:
    directory = tmp_path / "project"
    shutil.copytree(PROJECTS / f"fixture_{scope}_wider_than_loop", directory)
    before = _pytest(directory)
    assert before.returncode != 0 and "ScopeMismatch" in before.stdout, before.stdout + before.stderr
    reported = _run([sys.executable, "-m", "loopbound", "check", ".", "--select", "LB3", "--isolated", "--no-cache",
                     "--output-format", "concise"], directory)
    assert "LB308" in reported.stdout, reported.stdout
    fixed = _fix(directory)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    after = _pytest(directory)
    assert after.returncode == 0 and "3 passed" in after.stdout, after.stdout + after.stderr
    settled = _sources(directory)
    again = _fix(directory)
    assert again.returncode == 0 and _sources(directory) == settled, again.stdout
