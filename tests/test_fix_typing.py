"""The per-loop accessor LB101 writes is typed: an annotated module stays clean under `mypy --strict`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES

from loopbound.config import Settings
from loopbound.fixes.run import fix_text

CASE = FIXTURES / "fixes" / "LB101" / "per_loop_typed"


def _mypy(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null",
                           "--follow-imports=silent", path], capture_output=True, text=True)


def test_fixed_module_passes_mypy_strict() -> None:
    before, after = _mypy(str(CASE / "input.py")), _mypy(str(CASE / "expected.py"))
    assert before.returncode == 0, before.stdout
    assert after.returncode == 0, after.stdout
    assert "WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" in (CASE / "expected.py").read_text()


def test_an_imported_any_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`from typing import Any` already there: the accessor says `Any`, and imports no `typing`."""
    monkeypatch.chdir(tmp_path)
    source = ('from typing import Any\n\nimport redis.asyncio as aioredis\n\nredis = aioredis.from_url("redis://x")\n\n\n'
              'async def get(key: str) -> Any:\n    return await redis.get(key)\n')
    run = fix_text(source.encode(), "app/cache.py", Settings(project_root=tmp_path), frozenset({"LB101"}), unsafe=True)
    fixed = run.files["app/cache.py"].text
    assert "def get_redis() -> Any:" in fixed and "WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" in fixed
    assert "import typing" not in fixed
    assert fixed.startswith("import asyncio\nimport weakref\nfrom typing import Any\n\nimport redis.asyncio as aioredis\n")
