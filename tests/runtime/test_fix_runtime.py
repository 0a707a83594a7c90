"""LB101's two codemods proven by running the fixed code: red before `--fix --unsafe-fixes`, green after.

The resource is the smallest loop-bound client there is: a line-echo client that opens one asyncio
connection lazily and keeps it, registered through `[tool.loopbound.resources]` (so the release the
fix writes comes from the user's registry row). Its server is a plain asyncio server on loopback,
running in its own thread and loop. No PostgreSQL, no third-party client: only pytest-asyncio.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_harness import fix_green_and_idempotent, reported, run_pytest

pytestmark = pytest.mark.runtime

PYPROJECT = """\
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
pythonpath = ["."]

[tool.loopbound.resources]
"app.echo.EchoClient" = { release = "aclose" }
"""
ECHO_CLIENT = """\
import asyncio


class EchoClient:
    \"\"\"Keeps the connection it opened: its streams belong to the loop of the first call.\"\"\"

    def __init__(self, port):
        self.port = port
        self._streams = None

    async def ask(self, text):
        if self._streams is None:
            self._streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self._streams
        writer.write(text.encode() + b"\\n")
        await writer.drain()
        return (await reader.readline()).decode().strip()

    async def aclose(self):
        if self._streams is not None:
            writer = self._streams[1]
            writer.close()
            await writer.wait_closed()
            self._streams = None
"""
TEST_MODULE = """\
import os

from app.echo import EchoClient

client = EchoClient(int(os.environ["ECHO_PORT"]))


async def test_first():
    assert await client.ask("one") == "one"


async def test_second():
    assert await client.ask("two") == "two"
"""
SERVICE = """\
import os

from app.echo import EchoClient

client = EchoClient(int(os.environ["ECHO_PORT"]))


async def shout(text):
    return (await client.ask(text)).upper()
"""
SERVICE_TESTS = """\
from app.service import shout


async def test_first():
    assert await shout("one") == "ONE"


async def test_second():
    assert await shout("two") == "TWO"
"""


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    """A line-echo asyncio server on 127.0.0.1, in a thread with its own event loop."""
    loop = asyncio.new_event_loop()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
        except ConnectionError:
            pass  # a client whose loop was closed under it: exactly what the red run shows
        writer.close()

    server = loop.run_until_complete(asyncio.start_server(echo, "127.0.0.1", port))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield port
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()


def _project(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"pyproject.toml": PYPROJECT, "app/__init__.py": "", "app/echo.py": ECHO_CLIENT,
                       **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _red(project: Path, port: int, expected: list[tuple[str, str]]) -> None:
    assert reported(project) == expected
    before = run_pytest(project, {"ECHO_PORT": str(port)})
    assert before.exit_code == 1, before.output
    assert "1 failed, 1 passed" in before.output, before.output


def test_test_module_global_becomes_a_fixture(tmp_path: Path, echo_port: int) -> None:
    project = _project(tmp_path, {"tests/test_echo.py": TEST_MODULE})
    _red(project, echo_port, [("tests/test_echo.py", "LB101")])
    fix_green_and_idempotent(project, {"ECHO_PORT": str(echo_port)}, "2 passed")
    fixed = (project / "tests" / "test_echo.py").read_text()
    assert "@pytest_asyncio.fixture\nasync def client():" in fixed
    assert "    yield client\n    await client.aclose()\n" in fixed
    assert "async def test_second(client):" in fixed


def test_library_global_becomes_one_client_per_loop(tmp_path: Path, echo_port: int) -> None:
    project = _project(tmp_path, {"app/service.py": SERVICE, "tests/test_service.py": SERVICE_TESTS})
    _red(project, echo_port, [("app/service.py", "LB101")])
    fix_green_and_idempotent(project, {"ECHO_PORT": str(echo_port)}, "2 passed")
    fixed = (project / "app" / "service.py").read_text()
    assert "        _client_by_loop[loop] = EchoClient(" in fixed
    assert "    return (await get_client().ask(text)).upper()" in fixed
    assert "    if client is not None:\n        await client.aclose()\n" in fixed


def test_test_helpers_get_the_per_call_factory(tmp_path: Path, echo_port: int) -> None:
    """In a test module, helpers that no fixture reaches make and release their own client per call."""
    helpers = TEST_MODULE.replace("async def test_first():\n    assert await client.ask(", "async def ask(text):\n"
                                  "    return await client.ask(text)\n\n\nasync def test_first():\n    assert await ask(")
    project = _project(tmp_path, {"tests/test_echo.py": helpers})
    _red(project, echo_port, [("tests/test_echo.py", "LB101")])
    fix_green_and_idempotent(project, {"ECHO_PORT": str(echo_port)}, "2 passed")
    fixed = (project / "tests" / "test_echo.py").read_text()
    assert "def get_client():\n    return EchoClient(" in fixed
    assert "    client = get_client()\n    try:\n" in fixed
