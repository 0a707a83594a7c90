"""The per-loop accessor LB101 writes is typed: an annotated module stays clean under `mypy --strict`."""

from __future__ import annotations

import subprocess
import sys

from conftest import FIXTURES

CASE = FIXTURES / "fixes" / "LB101" / "per_loop_typed"


def _mypy(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null",
                           "--follow-imports=silent", path], capture_output=True, text=True)


def test_fixed_module_passes_mypy_strict() -> None:
    before, after = _mypy(str(CASE / "input.py")), _mypy(str(CASE / "expected.py"))
    assert before.returncode == 0, before.stdout
    assert after.returncode == 0, after.stdout
    assert "WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" in (CASE / "expected.py").read_text()
