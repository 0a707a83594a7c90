"""Real servers on loopback and real subprocess runs, for the runtime proofs.

The runtime tests prove that each rule is about a failure that really happens: a small project under
fixtures/runtime/ is copied to a temp dir, its test suite runs under real pytest + pytest-asyncio in a
subprocess against a real PostgreSQL, Redis or HTTP server started here, and the real `loopbound`
CLI checks the same copy. Servers are session-scoped: each starts once, on 127.0.0.1 and a free port.

A server whose binaries are missing skips the tests that need it, with the reason. CI sets
`LOOPBOUND_REQUIRE_SERVERS=1` so that a missing server fails instead of skipping.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from glob import glob
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

# The tests here import the harness as a top-level module, the way tests/ imports its helpers.
sys.path.insert(0, str(Path(__file__).parent))

from runtime_harness import SUBPROCESS_TIMEOUT  # noqa: E402 - needs the path above

SERVER_START_TIMEOUT = 30.0


def _unavailable(reason: str) -> None:
    """Skip with the reason, or fail when CI demands every server (LOOPBOUND_REQUIRE_SERVERS=1)."""
    if os.environ.get("LOOPBOUND_REQUIRE_SERVERS") == "1":
        pytest.fail(f"{reason} (LOOPBOUND_REQUIRE_SERVERS=1)", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(ready: Callable[[], bool], what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not become ready within {SERVER_START_TIMEOUT:.0f}s\n{detail}")


# --- PostgreSQL -------------------------------------------------------------------------------

def _postgres_bin_dir() -> Path | None:
    """Debian installs the server outside PATH, one directory per major version; take the newest."""
    def version(initdb: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in initdb.parents[1].name.split(".") if part.isdigit())

    candidates = sorted((Path(found) for found in glob("/usr/lib/postgresql/*/bin/initdb")), key=version)
    if candidates:
        return candidates[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root, so root runs it as the `postgres` system user."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *argv]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)]


def _run_checked(argv: list[str], what: str, cwd: Path) -> None:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT,
                            env={**os.environ, "LC_ALL": "C"})
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}): {' '.join(argv)}\n"
                           f"{result.stdout}{result.stderr}")


def _postgres_base_dir() -> Path:
    """A fresh directory the server's user owns; as root that is the `postgres` system user.

    As root it lives under /tmp, which `postgres` can always reach (a root-only $TMPDIR is not).
    """
    if os.geteuid() != 0:
        return Path(tempfile.mkdtemp(prefix="loopbound-pg-"))
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        _unavailable("running as root but there is no `postgres` system user to run PostgreSQL as")
        raise
    base = Path(tempfile.mkdtemp(prefix="loopbound-pg-", dir="/tmp"))
    os.chown(base, owner.pw_uid, owner.pw_gid)
    return base


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A throwaway PostgreSQL cluster with trust auth on 127.0.0.1; yields a libpq DSN."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        _unavailable("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
                     "apt-get install postgresql")
    assert bin_dir is not None
    base = _postgres_base_dir()
    data, log, port = base / "data", base / "server.log", _free_port()
    pg_ctl = str(bin_dir / "pg_ctl")
    try:
        _run_checked(_as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
                                        "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]),
                     "initdb", base)
        _run_checked(_as_postgres_user([pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "30",
                                        "-o", f"-p {port} -h 127.0.0.1 -k {base} -F", "start"]),
                     "pg_ctl start", base)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_postgres_user([pg_ctl, "-D", str(data), "-w", "-m", "immediate", "stop"]),
                           cwd=base, capture_output=True, timeout=SUBPROCESS_TIMEOUT)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlalchemy_url(postgres_dsn: str) -> str:
    """The same server, spelled for SQLAlchemy's asyncpg dialect."""
    return postgres_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


# --- Redis ------------------------------------------------------------------------------------

def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A redis-server on 127.0.0.1 with no persistence; yields a redis:// URL."""
    server = shutil.which("redis-server")
    if server is None:
        _unavailable("redis-server not found on PATH: apt-get install redis-server")
    assert server is not None
    base = Path(tempfile.mkdtemp(prefix="loopbound-redis-"))
    port, log = _free_port(), base / "redis.log"
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(base), "--logfile", str(log), "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: process.poll() is not None or _redis_answers(port), "redis-server", log)
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}\n{log.read_text(errors='replace')}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(base, ignore_errors=True)


# --- HTTP -------------------------------------------------------------------------------------

class _KeepAliveHandler(BaseHTTPRequestHandler):
    """Answers every GET with a short body over a kept-alive HTTP/1.1 connection, as real servers do.

    Keep-alive matters: httpx pools the connection, and the pooled connection is what belongs to a loop.
    """

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        """Quiet: the requests are the test's business, not the log's."""


class _Server(ThreadingHTTPServer):
    """serve.py opens 50 connections at once. With socketserver's default backlog of 5, a loaded machine
    dropped the handshakes the accept thread had no room for, and the client, which saw them complete,
    timed out reading (httpx.ReadTimeout in CI, while another test suite ran beside it)."""

    request_queue_size = 128


@pytest.fixture(scope="session")
def http_url() -> Iterator[str]:
    """A threaded HTTP/1.1 server on 127.0.0.1; yields its base URL."""
    server = _Server(("127.0.0.1", 0), _KeepAliveHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="loopbound-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)




# --- Which server a project needs, by the environment variable its code reads ---------------------

SERVER_FIXTURES = {"HTTP_URL": "http_url", "DATABASE_URL": "sqlalchemy_url", "REDIS_URL": "redis_url"}


@pytest.fixture
def server_env(request: pytest.FixtureRequest) -> Callable[[Iterable[str]], dict[str, str]]:
    """Start only the servers a project needs: `server_env(["DATABASE_URL"])` -> {"DATABASE_URL": "..."}."""
    def env(variables: Iterable[str]) -> dict[str, str]:
        return {variable: str(request.getfixturevalue(SERVER_FIXTURES[variable])) for variable in variables}

    return env
