"""Runtime proof of the LB3 rules and fixes across pytest-asyncio releases: 0.23, 0.24, 0.26, 1.0, latest.

Each release gets a virtualenv of its own, built by pip on first use and kept under
$LOOPBOUND_VENV_CACHE (default: <tmp>/loopbound-runtime-venvs), keyed by release and Python, so CI
builds each once. Every project declares the release in its requirements.txt, as a real one would, and
loopbound (run from this suite's environment, as pre-commit runs it apart from the tests) reads it there.
For each release the suite shows the project failing or passing as the rule says, the fix turning it
green where every release accepts what the fix writes, a second --fix changing nothing, and loopbound
silent where a rule does not apply to that release.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

RELEASES = {"0.23": "pytest-asyncio==0.23.8 pytest<8.4", "0.24": "pytest-asyncio==0.24.0 pytest<9",
            "0.26": "pytest-asyncio==0.26.0 pytest<9", "1.0": "pytest-asyncio==1.0.0 pytest<9",
            "latest": "pytest-asyncio httpx"}
FUTURE_FIXTURE = '''import asyncio

import pytest_asyncio


@pytest_asyncio.fixture(scope="session")
async def ticket():
    """An event bound to the first loop that waits on it: a test on another loop then fails."""
    return asyncio.Event()
'''
TESTS = '''import asyncio


async def wait_for(event):
    event.clear()
    asyncio.get_running_loop().call_soon(event.set)
    await event.wait()


async def test_first(ticket):
    await wait_for(ticket)


async def test_second(ticket):
    await wait_for(ticket)
'''
EVENT_LOOP = '''import asyncio

import pytest
import pytest_asyncio


@pytest.fixture(scope="session")
def event_loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest_asyncio.fixture(scope="session")
async def ticket():
    return asyncio.Event()
'''
ASGI = '''import httpx
import pytest_asyncio


async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


@pytest_asyncio.fixture(scope="session")
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


@pytest_asyncio.fixture(scope="session")
async def settings():
    return {"retries": 3}
'''
ASGI_TESTS = '''async def test_root(client, settings):
    assert (await client.get("/")).text == "/" and settings["retries"] == 3


async def test_items(client):
    assert (await client.get("/items")).text == "/items"
'''
AUTO = "[pytest]\nasyncio_mode = auto\n"
STRICT_PLAIN_FIXTURE = '''import pytest


@pytest.fixture
async def answer():
    return 42


@pytest.mark.asyncio
async def test_answer(answer):
    assert answer == 42
'''
MARK_SCOPE = '''import asyncio

import pytest

pytestmark = pytest.mark.asyncio(scope="module")
LOOPS = []


async def test_first():
    LOOPS.append(asyncio.get_running_loop())


async def test_same_loop():
    assert LOOPS == [asyncio.get_running_loop()]
'''
PROJECTS = {
    "session_fixture": {"pytest.ini": AUTO, "conftest.py": FUTURE_FIXTURE, "test_tickets.py": TESTS},
    "custom_event_loop": {"pytest.ini": AUTO, "conftest.py": EVENT_LOOP, "test_tickets.py": TESTS},
    "asgi_client_and_data": {"pytest.ini": AUTO, "conftest.py": ASGI, "test_api.py": ASGI_TESTS},
    "async_pytest_fixture": {"pytest.ini": "[pytest]\n", "test_answer.py": STRICT_PLAIN_FIXTURE},
    "mark_scope": {"pytest.ini": "[pytest]\n", "test_loops.py": MARK_SCOPE},
    "config_mismatch": {"pytest.ini": AUTO + "asyncio_default_fixture_loop_scope = session\n",
                        "conftest.py": FUTURE_FIXTURE,
                        "test_tickets.py": TESTS},
    "fixture_wider_than_loop": {"pytest.ini": AUTO + "asyncio_default_fixture_loop_scope = function\n",
                                "conftest.py": FUTURE_FIXTURE, "test_tickets.py": TESTS},
}
# (project, release) -> (pytest passes before the fix, LB3 codes reported as errors or warnings,
#                        pytest passes after `--fix --unsafe-fixes`)
EXPECTED = {
    # 0.23: the fixture runs on the session loop, the tests on their own: LB302, and no fix there (0.23 has no
    # `loop_scope=`); LB306 is silent, the option does not exist yet
    ("session_fixture", "0.23"): (False, {"LB302"}, False),
    **{("session_fixture", release): (False, {"LB302", "LB306"}, True) for release in ("0.24", "0.26", "1.0", "latest")},
    # 0.23-0.26 honour the custom event_loop: LB303 is only latent there (its fix needs 0.26's test key)
    ("custom_event_loop", "0.23"): (True, set(), True),
    ("custom_event_loop", "0.24"): (True, {"LB306"}, True),
    ("custom_event_loop", "0.26"): (True, {"LB306"}, True),
    # 1.0 ignores it: the session fixture's future is awaited on function loops
    **{("custom_event_loop", release): (False, {"LB302", "LB303", "LB306"}, True) for release in ("1.0", "latest")},
    # nothing loop-bound crosses loops: green everywhere, LB302 only latent
    ("asgi_client_and_data", "0.23"): (True, set(), True),
    **{("asgi_client_and_data", release): (True, {"LB306"}, True) for release in ("0.24", "0.26", "1.0", "latest")},
    # strict mode runs no async `@pytest.fixture`: the test gets a coroutine (pytest 8.4+ refuses it)
    ("async_pytest_fixture", "0.23"): (False, {"LB304"}, True),
    **{("async_pytest_fixture", release): (False, {"LB304", "LB306"}, True)
       for release in ("0.24", "0.26", "1.0", "latest")},
    # `scope=` is the only keyword 0.23 reads (LB305 silent); later releases warn, the rename keeps the loop
    ("mark_scope", "0.23"): (True, set(), True),
    **{("mark_scope", release): (True, {"LB305", "LB306"}, True) for release in ("0.24", "0.26", "1.0", "latest")},
    # fixtures on the session loop, tests on their own: LB301; 0.24 has no test key, so LB302's marks fix it
    ("config_mismatch", "0.23"): (False, {"LB302", "LB309"}, False),
    **{("config_mismatch", release): (False, {"LB301", "LB302"}, True) for release in ("0.24", "0.26", "1.0", "latest")},
    # 0.23 does not know the option (LB309) and runs the fixture on its own session loop (LB302)
    ("fixture_wider_than_loop", "0.23"): (False, {"LB302", "LB309"}, False),
    **{("fixture_wider_than_loop", release): (False, {"LB308"}, True) for release in ("0.24", "0.26", "1.0", "latest")},
}


def _cache() -> Path:
    return Path(os.environ.get("LOOPBOUND_VENV_CACHE") or Path(tempfile.gettempdir()) / "loopbound-runtime-venvs")


def _run(arguments: list[str], cwd: Path | None = None, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTEST_", "COV_", "VIRTUAL_ENV", "PYTHONPATH"))}
    return subprocess.run(arguments, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _venv(release: str) -> tuple[Path, str]:
    """(python of a virtualenv holding that release, the exact version installed), built once."""
    directory = _cache() / f"pytest-asyncio-{release}-py{sys.version_info[0]}{sys.version_info[1]}"
    python = directory / "bin" / "python"
    if not python.exists():
        building = Path(tempfile.mkdtemp(prefix=directory.name, dir=_cache().parent if _cache().exists() else None))
        shutil.rmtree(building)
        created = _run([sys.executable, "-m", "venv", str(building)])
        assert created.returncode == 0, created.stderr
        installed = _run([str(building / "bin" / "python"), "-m", "pip", "install", "-q", *RELEASES[release].split(),
                          "httpx"], timeout=600)
        if installed.returncode != 0:
            pytest.skip(f"cannot install {RELEASES[release]}: {installed.stderr[-300:]}")
        _cache().mkdir(parents=True, exist_ok=True)
        try:
            building.rename(directory)
        except OSError:  # another worker built it meanwhile
            shutil.rmtree(building, ignore_errors=True)
    version = _run([str(python), "-c", "import importlib.metadata as m; print(m.version('pytest-asyncio'))"])
    return python, version.stdout.strip()


def _write(directory: Path, files: dict[str, str], version: str) -> None:
    directory.mkdir(parents=True)
    (directory / "requirements.txt").write_text(f"pytest-asyncio=={version}\n", encoding="utf-8")
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")


def _pytest(python: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    return _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], directory)


def _loopbound(directory: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "loopbound", "check", ".", "--select", "LB3", "--isolated", "--no-cache",
                 *options], directory)


def _failing_codes(directory: Path) -> set[str]:
    """Codes of the findings that fail the run (latent ones are reported without failing it)."""
    completed = _loopbound(directory, "--output-format", "json", "--exit-zero")
    findings = json.loads(completed.stdout)
    return {finding["code"] for finding in findings if finding.get("severity") != "latent"}


def _sources(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(directory.iterdir()) if path.is_file()}


@pytest.mark.runtime
@pytest.mark.parametrize(("project", "release"), sorted(EXPECTED))
def test_rules_and_fixes_per_release(project: str, release: str, tmp_path: Path) -> None:
    passes, codes, passes_after = EXPECTED[(project, release)]
    python, version = _venv(release)
    directory = tmp_path / project
    _write(directory, PROJECTS[project], version)
    before = _pytest(python, directory)
    assert (before.returncode == 0) is passes, before.stdout + before.stderr
    assert _failing_codes(directory) == codes
    fixed = _loopbound(directory, "--fix", "--unsafe-fixes", "--exit-zero")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    after = _pytest(python, directory)
    assert (after.returncode == 0) is passes_after, after.stdout + after.stderr
    settled = _sources(directory)
    _loopbound(directory, "--fix", "--unsafe-fixes", "--exit-zero")
    assert _sources(directory) == settled
