"""The per-loop accessor LB101 writes is typed: an annotated module stays clean under `mypy --strict`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest
from conftest import FIXTURES

from loopbound.config import Settings
from loopbound.fixes.run import fix_text
from loopbound.fixes.type_comments import reachable

CASE = FIXTURES / "fixes" / "LB101" / "per_loop_typed"
UNREACHABLE = FIXTURES / "fixes" / "LB203" / "unreachable_ignore_moved_into_finally"


def _mypy(path: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null",
                           "--follow-imports=silent", *options, path], capture_output=True, text=True)


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


def test_a_release_moved_into_finally_loses_its_unreachable_ignore() -> None:
    """LB203's fix moves a release mypy found unreachable into `finally`, where it is reachable: with the
    `# type: ignore[unreachable]` left on it, `--strict` (`warn_unused_ignores`) fails the fixed file."""
    before = _mypy(str(UNREACHABLE / "input.py"), "--warn-unreachable")
    after = _mypy(str(UNREACHABLE / "expected.py"), "--warn-unreachable")
    assert before.returncode == 0, before.stdout
    assert after.returncode == 0, after.stdout


@pytest.mark.parametrize(("comment", "left"), [
    ("# type: ignore[unreachable]", None),
    ("# type: ignore[ unreachable ]", None),
    ("# type: ignore[unreachable, attr-defined]", "# type: ignore[attr-defined]"),
    ("# type: ignore[attr-defined,unreachable]  # why", "# type: ignore[attr-defined]  # why"),
    ("# type: ignore[unreachable]  # the asserts narrow it", "# the asserts narrow it"),
    ("# type: ignore[attr-defined]", "# type: ignore[attr-defined]"),
    ("# type: ignore", "# type: ignore"),  # every code: it may hide another error
    ("# note  # type: ignore[unreachable]", "# note  # type: ignore[unreachable]"),  # mypy reads it first only
])
def test_only_the_unreachable_code_goes(comment: str, left: str | None) -> None:
    trailing = cst.TrailingWhitespace(whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment(comment))
    kept = reachable(trailing)
    assert (kept.comment.value if kept.comment is not None else None) == left
    assert kept.whitespace.value == ("  " if left is not None else "")
