"""Copies of the runtime projects, and the two subprocesses the proofs run on them.

A test imports these directly; the servers they run against are the fixtures in conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

RUNTIME_PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "runtime"
SUBPROCESS_TIMEOUT = 120
NOT_SOURCE = frozenset({"__pycache__", ".pytest_cache", ".loopbound_cache"})  # caches, never copied or compared


@dataclass(frozen=True)
class Run:
    """What a subprocess left behind: its exit code and everything it printed."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def copy_project(name: str, destination: Path) -> Path:
    """A fresh copy of fixtures/runtime/<name>, so runs and fixes never touch the checked-in files."""
    source = RUNTIME_PROJECTS / name
    if not source.is_dir():
        raise FileNotFoundError(f"no runtime project {source}")
    target = destination / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    return target


def _clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment minus whatever would change how the child pytest loads or behaves."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_", "COV_", "LOOPBOUND_")) and key not in ("PYTHONPATH", "NO_COLOR")}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1", **extra})
    return env


def run_pytest(project: Path, env: Mapping[str, str] | None = None, *args: str) -> Run:
    """The project's own test suite under real pytest + pytest-asyncio, in a fresh interpreter.

    `args` go to pytest as they are (`-k`, a node id). Of the installed plugins only pytest-asyncio is
    loaded: the others (hypothesis, anyio) have no part in these projects and tripled the start-up time.
    """
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "pytest_asyncio.plugin", "-p", "no:cacheprovider", "-q", "--tb=short",
         "-rfE", "--color=no", *args],
        cwd=project, env=_clean_env({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}), capture_output=True,
        text=True, timeout=SUBPROCESS_TIMEOUT,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def run_loopbound(project: Path, *args: str) -> Run:
    """The real command line, `python -m loopbound ...`, run in the project's directory."""
    result = subprocess.run(
        [sys.executable, "-m", "loopbound", *args],
        cwd=project, env=_clean_env({}), capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT,
    )
    return Run(result.returncode, result.stdout, result.stderr)


def reported(project: Path) -> list[tuple[str, str]]:
    """`loopbound check --output-format json .` on the project, as sorted (file, code) pairs."""
    run = run_loopbound(project, "check", "--output-format", "json", ".")
    if run.exit_code not in (0, 1):
        raise AssertionError(f"loopbound check exited {run.exit_code}:\n{run.output}")
    findings = json.loads(run.stdout)
    pairs = sorted((Path(finding["filename"]).as_posix(), finding["code"]) for finding in findings)
    assert (run.exit_code == 1) == bool(pairs), f"exit code {run.exit_code} disagrees with {pairs}"
    return pairs


def snapshot(project: Path) -> dict[str, bytes]:
    """Every source and config file's bytes (caches left out), to prove that a second `--fix` changes nothing."""
    return {path.relative_to(project).as_posix(): path.read_bytes()
            for path in sorted(project.rglob("*")) if path.is_file() and not NOT_SOURCE.intersection(path.parts)}


FIX_ALL = ("check", "--fix", "--unsafe-fixes", ".")


def fix_green_and_idempotent(project: Path, env: Mapping[str, str], passed: str,
                             remaining: Sequence[tuple[str, str]] = ()) -> None:
    """`--fix --unsafe-fixes` leaves only the `remaining` (file, code) findings (those without a fix),
    the suite then passes, and a second `--fix` changes no byte."""
    fix = run_loopbound(project, *FIX_ALL)
    assert fix.exit_code == (1 if remaining else 0), (
        f"loopbound check --fix --unsafe-fixes exited {fix.exit_code}:\n{fix.output}")
    left = reported(project)
    assert left == sorted(remaining), f"findings left after --fix: {left}, expected {sorted(remaining)}"

    run = run_pytest(project, env)
    assert run.exit_code == 0 and passed in run.output, f"the fixed project does not pass:\n{run.output}"

    fixed = snapshot(project)
    again = run_loopbound(project, *FIX_ALL)
    assert again.exit_code == fix.exit_code, f"the second --fix exited {again.exit_code}:\n{again.output}"
    after = snapshot(project)
    changed = sorted(path for path in {*fixed, *after} if fixed.get(path) != after.get(path))
    assert not changed, f"a second --fix changed {changed}"
