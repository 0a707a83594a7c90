"""CI runs the benchmark on the fixtures: it must run end to end and write its table (no timing claim)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_benchmark_smoke_writes_a_table(tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    completed = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--smoke", "--output",
                                str(output)], capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr
    table = output.read_text(encoding="utf-8")
    for row in ("loopbound cold (--no-cache)", "loopbound warm (cache)", "ruff --select ASYNC --no-cache",
                "single file: libcst import+parse floor", "fixit lint (one run)", "cold / ruff --no-cache"):
        assert f"| {row}" in table
