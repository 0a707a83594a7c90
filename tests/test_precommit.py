"""The pre-commit hooks, run by the real `pre-commit try-repo` against a throwaway repository.

pre-commit installs hooks from a git repository with a committed HEAD, so the project's files
(tracked and new, minus ignored ones) are copied and committed in a temporary repository first.
The hook's `language: python` installs loopbound and its dependencies from PyPI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

BAD = "import httpx\n\nclient = httpx.AsyncClient()\n"
CLEAN = "import httpx\n\n\nasync def main():\n    async with httpx.AsyncClient() as client:\n        await client.get('/')\n"
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
                "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")


def git(*args: str, cwd: Path) -> str:
    completed = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                               env={**os.environ, **GIT_IDENTITY})
    return completed.stdout


def project_files() -> list[str]:
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=REPO)
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("loopbound-repo")
    for name in project_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    git("init", "-q", cwd=copy)
    git("add", "-A", cwd=copy)
    git("commit", "-q", "-m", "snapshot", cwd=copy)
    return copy


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(BAD)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    # Not among the files pre-commit passes, yet the index reads it: it runs pkg/bad.py's client on many loops.
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_bad.py").write_text("from pkg.bad import client\n\n\nasync def test_get():\n"
                                                    "    await client.get('/')\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'user'\nversion = '0'\n")
    (tmp_path / "ruff.toml").write_text("# for the httpx code\nline-length = 100\n")  # not Python, not a pytest config
    git("init", "-q", cwd=tmp_path)
    git("add", "-A", cwd=tmp_path)
    return tmp_path


def try_repo(hook_repo: Path, hook: str, files: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **GIT_IDENTITY, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    environment.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), hook, "--color", "never", "--files", *files],
        cwd=cwd, capture_output=True, text=True, env=environment, timeout=900, check=False,
    )


def test_hook_fails_on_a_bad_file(hook_repo: Path, user_repo: Path, pre_commit_home: Path) -> None:
    run = try_repo(hook_repo, "loopbound", ["pkg/bad.py", "pyproject.toml"], user_repo, pre_commit_home)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Failed" in run.stdout
    assert "pkg/bad.py:3:10: LB101" in run.stdout


def test_hook_passes_on_a_clean_file(hook_repo: Path, user_repo: Path, pre_commit_home: Path) -> None:
    run = try_repo(hook_repo, "loopbound", ["pkg/clean.py", "pyproject.toml", "ruff.toml"], user_repo,
                   pre_commit_home)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Passed" in run.stdout


def test_hook_uses_the_configuration_above_the_changed_file(hook_repo: Path, user_repo: Path,
                                                            pre_commit_home: Path) -> None:
    (user_repo / "pyproject.toml").write_text("[tool.loopbound]\nignore = ['LB101']\n")
    git("add", "-A", cwd=user_repo)
    run = try_repo(hook_repo, "loopbound", ["pkg/bad.py"], user_repo, pre_commit_home)
    assert run.returncode == 0, run.stdout + run.stderr


def test_fix_hook_runs_the_fixing_command(hook_repo: Path, user_repo: Path, pre_commit_home: Path) -> None:
    clean = try_repo(hook_repo, "loopbound-fix", ["pkg/clean.py"], user_repo, pre_commit_home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    bad = try_repo(hook_repo, "loopbound-fix", ["pkg/bad.py"], user_repo, pre_commit_home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "pkg/bad.py:3:10: LB101" in bad.stdout


def test_hook_definitions_match_the_contract() -> None:
    text = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    for expected in ("id: loopbound\n", "id: loopbound-fix\n", "entry: loopbound check --fix --exit-non-zero-on-fix",
                     "language: python", "require_serial: true", "types_or: [python, pyi, toml, ini]"):
        assert expected in text
