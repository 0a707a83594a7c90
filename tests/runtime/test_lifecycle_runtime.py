"""LB202 on real code: a release called without `await` never runs, and Python says so under real pytest."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT_TEST = textwrap.dedent(
    """
    import httpx
    import pytest


    @pytest.mark.asyncio
    async def test_client_released() -> None:
        client = httpx.AsyncClient()
        try:
            assert not client.is_closed
        finally:
            client.aclose()
    """
)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.runtime
def test_unawaited_release_warns_under_pytest_and_is_reported(tmp_path: Path) -> None:
    (tmp_path / "test_client.py").write_text(PROJECT_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")

    run = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "default", cwd=tmp_path)
    output = run.stdout + run.stderr
    assert "coroutine 'AsyncClient.aclose' was never awaited" in output, output

    check = _run("-m", "loopbound", "check", "--select", "LB2", "--output-format", "json", ".", cwd=tmp_path)
    findings = json.loads(check.stdout)
    release_row = next(row for row, line in enumerate(PROJECT_TEST.splitlines(), 1) if line.strip() == "client.aclose()")
    assert [(f["code"], f["location"]["row"]) for f in findings] == [("LB202", release_row)], check.stdout + check.stderr
    assert check.returncode == 1


@pytest.mark.runtime
def test_awaited_release_is_silent_and_clean(tmp_path: Path) -> None:
    (tmp_path / "test_client.py").write_text(PROJECT_TEST.replace("client.aclose()", "await client.aclose()"))
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")

    run = _run("-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "default", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "never awaited" not in run.stdout + run.stderr

    check = _run("-m", "loopbound", "check", "--select", "LB2", "--output-format", "json", ".", cwd=tmp_path)
    assert json.loads(check.stdout) == [], check.stdout + check.stderr
    assert check.returncode == 0
