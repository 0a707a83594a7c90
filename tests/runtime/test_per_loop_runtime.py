"""Issue 13, item 2: LB101's fix for application code keeps one resource per running loop.

For each of SQLAlchemy (PostgreSQL), httpx and redis.asyncio, a tiny app holds its engine or client
in a module global. Before the fix its two tests (each on its own pytest-asyncio loop) fail; after
`--fix --unsafe-fixes` they pass, and `serve.py`, which serves 50 concurrent requests on one loop
with the library's constructor wrapped to count, still makes exactly one engine or client (a fix
that made one per call, as the test-side factory does, would make 50 and lose the pool).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from runtime_harness import SUBPROCESS_TIMEOUT, _clean_env, copy_project, fix_green_and_idempotent, reported, run_pytest

pytestmark = pytest.mark.runtime

PROJECTS = {
    "per_loop_sqlalchemy_app": ("DATABASE_URL", "engine"),
    "per_loop_httpx_app": ("HTTP_URL", "client"),
    "per_loop_redis_app": ("REDIS_URL", "cache"),
}


def _serve(project: Path, env: dict[str, str]) -> str:
    run = subprocess.run([sys.executable, "serve.py"], cwd=project, env=_clean_env({"PYTHONPATH": ".", **env}),
                         capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_app_global_becomes_one_resource_per_loop(name: str, tmp_path: Path,
                                                   server_env: Callable[[Iterable[str]], dict[str, str]]) -> None:
    variable, binding = PROJECTS[name]
    env = server_env([variable])
    project = copy_project(name, tmp_path)
    assert reported(project) == [("app/service.py", "LB101")]
    assert _serve(project, env) == "made 1"
    before = run_pytest(project, env)
    assert before.exit_code == 1 and "1 failed, 1 passed" in before.output, before.output

    fix_green_and_idempotent(project, env, "2 passed")
    fixed = (project / "app" / "service.py").read_text()
    assert f"def get_{binding}() -> " in fixed and f"async def dispose_{binding}() -> None:" in fixed
    assert f"\n{binding} = " not in fixed
    assert _serve(project, env) == "made 1"
