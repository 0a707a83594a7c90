"""An example test module with the bug loopbound exists for: the second test fails on a new loop."""

import httpx

client = httpx.AsyncClient(base_url="http://localhost:8000")


async def test_health() -> None:
    response = await client.get("/health")
    assert response.status_code == 200


async def test_ready() -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
