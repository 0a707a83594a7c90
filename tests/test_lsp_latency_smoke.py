"""benchmarks/lsp_latency.py keeps working: two rounds of each measurement on a tiny project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "lsp_latency.py"
MODULE = "import httpx\n\nclient = httpx.AsyncClient()\n"
TEST_MODULE = 'import pytest\n\n\n@pytest.mark.asyncio(scope="module")\nasync def test_one() -> None:\n    pass\n'


def test_lsp_latency_measures_change_and_save(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "big.py").write_text(MODULE * 50)
    (tmp_path / "tests").mkdir()
    saved = tmp_path / "tests" / "test_x.py"
    saved.write_text(TEST_MODULE)
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--corpus", str(tmp_path), "--changed", "app/big.py",
         "--saved", "tests/test_x.py", "--changes", "2", "--saves", "2"],
        capture_output=True, text=True, timeout=300, check=True)
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| did")]
    assert len(rows) == 2, completed.stdout
    assert "(151 lines, 50 findings)" in rows[0]  # LB101 on every copy of the module-level client
    assert saved.read_text() == TEST_MODULE  # the saved module is put back
