"""`loopbound server` end to end: pytest-lsp starts the real server as a subprocess and speaks LSP to it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsp_session import codes, diagnostics_for, open_document, start, change_document, until
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "loopbound", "server"])

MODULE = '''import httpx

client = httpx.AsyncClient()


async def fetch(url: str) -> int:
    session = httpx.AsyncClient()
    response = await session.get(url)
    return response.status_code
'''


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    yield
    await lsp_client.shutdown_session()


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.mark.asyncio
async def test_diagnostics_on_open_and_change(client: LanguageClient, tmp_path: Path) -> None:
    root = project(tmp_path, {"app/client.py": MODULE})
    await start(client, root)
    uri = open_document(client, root / "app/client.py")
    assert codes(await diagnostics_for(client, uri)) == ["LB101", "LB201"]
    change_document(client, uri, MODULE.replace("client = httpx.AsyncClient()", "client = None"), 2)
    assert codes(await diagnostics_for(client, uri)) == ["LB201"]
