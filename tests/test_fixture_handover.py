"""What an async fixture hands its tests, read from its body: the question behind LB301/LB302's severity."""

from __future__ import annotations

import ast
import textwrap

import pytest

from loopbound.fixture_handover import Handover, fixture_handover, module_bound_names
from loopbound.names import ImportTable
from loopbound.registry import DEFAULT_REGISTRY

HEADER = """
import asyncio
from unittest import mock

import asyncpg
import httpx
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app import app, make_client, Service
"""


def handover(source: str) -> tuple[Handover, tuple[str, ...]]:
    tree = ast.parse(HEADER + textwrap.dedent(source))
    imports = ImportTable.for_module(tree)
    function = next(node for node in tree.body if isinstance(node, ast.AsyncFunctionDef))
    return fixture_handover(function, imports, DEFAULT_REGISTRY, module_bound_names(tree, imports, DEFAULT_REGISTRY))


@pytest.mark.parametrize("source", [
    "async def client():\n    async with httpx.AsyncClient() as client:\n        yield client\n",
    "async def pool():\n    return await asyncpg.create_pool('postgresql://')\n",
    "async def future():\n    return asyncio.get_running_loop().create_future()\n",
    "async def lock():\n    yield {'lock': asyncio.Lock()}\n",
    "async def service():\n    return Service(AsyncClient())\n",  # built from a resource
    "async def setup():\n    global POOL\n    POOL = await asyncpg.create_pool('postgresql://')\n",
    ("ENGINE = create_async_engine('postgresql+asyncpg://')\n\n\nasync def tables():\n"
    "    async with ENGINE.begin() as conn:\n        await conn.run_sync(print)\n"),  # checks out of a shared pool
])
def test_loop_bound(source: str) -> None:
    assert handover(source)[0] is Handover.LOOP_BOUND


@pytest.mark.parametrize("source", [
    ("async def client():\n    async with AsyncClient(transport=ASGITransport(app=app), base_url='http://t') as c:\n"
    "        yield c\n"),
    "async def client():\n    client = httpx.AsyncClient(app=app)\n    yield client\n    await client.aclose()\n",
    "async def nothing():\n    await asyncio.sleep(0)\n",
    "async def data():\n    return {'name': 'test', 'ids': [1, 2]}\n",
    "async def mailer():\n    return mock.AsyncMock()\n",
    ("async def tables():\n    engine = create_async_engine('postgresql+asyncpg://', poolclass=NullPool)\n"
    "    async with engine.begin() as conn:\n        await conn.run_sync(print)\n    await engine.dispose()\n    yield\n"),
])
def test_nothing_loop_bound(source: str) -> None:
    assert handover(source)[0] is Handover.NOTHING_BOUND


def test_unknown_calls_and_what_they_build_on() -> None:
    assert handover("async def client():\n    return await make_client()\n") == (Handover.UNKNOWN, ())
    source = ("async def session(db_engine):\n    maker = async_sessionmaker(db_engine)\n"
              "    async with maker() as session:\n        yield session\n")
    assert handover(source) == (Handover.UNKNOWN, ("db_engine",))


def test_reads_the_cases_of_a_match() -> None:
    source = "async def pool(kind):\n    match kind:\n        case _:\n            return await asyncpg.create_pool('postgresql://')\n"
    assert handover(source)[0] is Handover.LOOP_BOUND
