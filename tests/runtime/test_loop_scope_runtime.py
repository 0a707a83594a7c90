"""Runtime proof of the LB3 rules: real pytest with pytest-asyncio on each fixtures/projects/ tree.

Each project is copied to a temp dir and run by pytest in a subprocess: every positive project fails
(or warns) the way its rule says, and every clean one passes. The projects need no server: the
loop-bound object is an asyncio Future made by the fixture on its own loop. loopbound's CLI checks
the same copy, so a rule and the failure it predicts are tied together.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "projects"
LOOP_ERROR = "attached to a different loop"
UNSET_WARNING = 'The configuration option "asyncio_default_fixture_loop_scope" is unset'

# project (and subdirectory pytest runs in) -> (pytest must pass, text its output must hold, LB3 codes reported)
POSITIVE = {
    "session_fixture_no_loop_config": (False, LOOP_ERROR, {"LB302", "LB306"}),
    "fixture_scope_only_config": (False, LOOP_ERROR, {"LB301", "LB302"}),
    "module_fixture_pytestmark_list": (False, LOOP_ERROR, {"LB302"}),
    "package_fixture_class_mark": (False, LOOP_ERROR, {"LB302"}),
    "custom_event_loop": (False, LOOP_ERROR, {"LB302", "LB303"}),
    "addopts_override": (False, LOOP_ERROR, {"LB301", "LB302"}),
    "monorepo/services/worker": (False, LOOP_ERROR, {"LB302", "LB306"}),
    "async_pytest_fixture": (False, "requested an async fixture 'answer', with no plugin", {"LB304"}),
    "mark_scope_keyword": (True, 'The "scope" keyword argument to the asyncio marker has been deprecated', {"LB305"}),
    "invalid_loop_scope": (False, "'sesion' is not a valid asyncio_default_test_loop_scope", {"LB307"}),
    "both_pytest_tables": (False, "Cannot use both [tool.pytest]", set()),
    "empty_pytest_ini_wins": (True, UNSET_WARNING, {"LB306"}),
    "modifyitems_own_mark_wins": (False, LOOP_ERROR, {"LB302"}),
}
# Clean only under the release they pin: this suite runs the newest one.
OTHER_RELEASE = {"pinned_0_21_event_loop_clean"}
# The project index's static fixtures import web frameworks this suite does not install; their runtime
# proof is tests/runtime/test_index_runtime.py.
INDEX_FIXTURES = "index_"
CLEAN = sorted(
    [path.name for path in PROJECTS.iterdir()
     if path.name.endswith("_clean") and path.name not in OTHER_RELEASE and not path.name.startswith(INDEX_FIXTURES)]
    + ["monorepo/services/api"]
)


def _copy(project: str, tmp_path: Path) -> Path:
    top = project.split("/")[0]
    shutil.copytree(PROJECTS / top, tmp_path / top)
    return tmp_path / project


def _run(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COV_"))}
    return subprocess.run(arguments, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def _pytest(directory: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"], directory)


def _reported(directory: Path) -> set[str]:
    completed = _run([sys.executable, "-m", "loopbound", "check", ".", "--select", "LB3", "--output-format",
                      "concise", "--exit-zero", "--isolated"], directory)
    return {line.split()[1] for line in completed.stdout.splitlines() if ": LB3" in line}


@pytest.mark.runtime
@pytest.mark.parametrize("project", sorted(POSITIVE))
def test_positive_project_breaks_under_real_pytest_asyncio(project: str, tmp_path: Path) -> None:
    passes, evidence, codes = POSITIVE[project]
    directory = _copy(project, tmp_path)
    completed = _pytest(directory)
    output = completed.stdout + completed.stderr
    assert (completed.returncode == 0) is passes, output
    assert evidence in output, output
    assert _reported(directory) == codes


@pytest.mark.runtime
@pytest.mark.parametrize("project", CLEAN)
def test_clean_project_passes_under_real_pytest_asyncio(project: str, tmp_path: Path) -> None:
    directory = _copy(project, tmp_path)
    completed = _pytest(directory)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert LOOP_ERROR not in output and UNSET_WARNING not in output
    assert _reported(directory) == set()


# Fixtures on a wider loop that hand over nothing loop-bound: the mismatch is real, nothing breaks.
LATENT = {"asgi_client_session_latent": {"LB302"}}


@pytest.mark.runtime
@pytest.mark.parametrize("project", sorted(LATENT))
def test_latent_project_passes_and_does_not_fail_the_check(project: str, tmp_path: Path) -> None:
    directory = _copy(project, tmp_path)
    completed = _pytest(directory)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert _reported(directory) == LATENT[project]
    check = _run([sys.executable, "-m", "loopbound", "check", ".", "--select", "LB3", "--isolated"], directory)
    assert check.returncode == 0 and "latent" in check.stdout, check.stdout + check.stderr
