"""Runs the real `loopbound` command line in a subprocess, as users and CI scripts do."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def run_loopbound(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None) -> Run:
    environment = {**os.environ, "NO_COLOR": "1", **(env or {})}
    completed = subprocess.run(
        [sys.executable, "-m", "loopbound", *args],
        cwd=cwd, input=stdin, capture_output=True, text=True, env=environment, timeout=120,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)
