"""LB201-LB204's codes, names and documentation: the rules lifecycle.py and unawaited_release.py report."""

from __future__ import annotations

from loopbound.findings import Applicability
from loopbound.rules.base import Rule

_REFERENCES = (
    ("SQLAlchemy, AsyncEngine.dispose: https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html"
     "#sqlalchemy.ext.asyncio.AsyncEngine.dispose"),
    "httpx, async client lifecycle: https://www.python-httpx.org/async/#opening-and-closing-clients",
    "aiohttp, graceful shutdown: https://docs.aiohttp.org/en/stable/client_advanced.html#graceful-shutdown",
    ("pytest, teardown with yield fixtures: https://docs.pytest.org/en/stable/how-to/fixtures.html"
     "#yield-fixtures-recommended"),
)
_LEAK = (
    "An engine that is never disposed keeps its pool, a client that is never closed keeps its sockets: "
    "they live on after the event loop that made them is closed, so the test run or the server leaks "
    "connections, Python warns `Unclosed client session` / `ResourceWarning`, and the next loop that "
    "touches them fails with `Event loop is closed`."
)

UNCLOSED = Rule(
    code="LB201",
    name="unclosed-async-resource",
    summary="A loop-bound resource made in a function is not released on every path out of it.",
    what_it_does=(
        "Follows each resource a function makes from the registry (`create_async_engine`, "
        "`httpx.AsyncClient`, `asyncpg.create_pool`, ...) through the function's branches, loops, "
        "`try` blocks and returns. Reports it when some path leaves the function with it open: never "
        "released, an early `return` before the release, made again in a loop before the previous one is "
        "released, or made for one call and dropped. A resource entered with `async with` (directly, "
        "`AsyncExitStack.enter_async_context`, `contextlib.aclosing`), returned, yielded from a plain "
        "generator, stored on an object, a container or a global, passed to a call, or captured by a hook "
        "or finalizer is not this rule's business.\n\n"
        "Resources made through the project's own code count too: `client = await get_client()` where "
        "`get_client()` returns a new `httpx.AsyncClient`, and instances of a project class whose `__init__` "
        "stores one (`ApiClient(url)`), released by the class's own method that releases it (`await "
        "client.aclose()`) or by `async with` when its `__aexit__` does. No fix is offered for those.\n\n"
        "In a one-shot script (one `asyncio.run()` under `__main__`, and no multi-loop entry point such as a "
        "pytest-asyncio suite importing the module) the leak ends with the process: the finding is latent."
    ),
    why_bad=_LEAK,
    example=(
        "async def check_database():\n"
        "    engine = create_async_engine(DB_URL)\n"
        "    async with engine.connect() as conn:\n"
        "        await conn.execute(text(\"select 1\"))\n"
    ),
    use_instead=(
        "async def check_database():\n"
        "    engine = create_async_engine(DB_URL)\n"
        "    try:\n"
        "        async with engine.connect() as conn:\n"
        "            await conn.execute(text(\"select 1\"))\n"
        "    finally:\n"
        "        await engine.dispose()\n"
    ),
    fix_safety="Wrapping the rest of the block in `async with` changes when the resource is released: unsafe.",
    references=_REFERENCES,
    fix_applicability=Applicability.UNSAFE,
)
NOT_AWAITED = Rule(
    code="LB202",
    name="release-not-awaited",
    summary="A release coroutine (`dispose()`, `aclose()`, `close()`) is called and never awaited.",
    what_it_does=(
        "Finds release calls from the registry used as a statement without `await`, when the receiver is "
        "known to be a resource: made in the function, annotated as one (a parameter, a variable, a class "
        "attribute), or assigned one in `__init__`. Releases the registry marks synchronous, such as "
        "motor's `AsyncIOMotorClient.close()`, are not reported."
    ),
    why_bad=(
        "Calling a coroutine function only makes a coroutine object: nothing runs until it is awaited. "
        "The resource is never released and Python warns `RuntimeWarning: coroutine ... was never awaited`."
    ),
    example="async def shutdown(engine: AsyncEngine) -> None:\n    engine.dispose()\n",
    use_instead="async def shutdown(engine: AsyncEngine) -> None:\n    await engine.dispose()\n",
    fix_safety="Adding `await` in an `async def` makes the release run, which is the intent: safe.",
    references=_REFERENCES,
    fix_applicability=Applicability.SAFE,
)
NOT_IN_FINALLY = Rule(
    code="LB203",
    name="release-not-in-finally",
    summary="A resource is released only when no exception is raised before the release.",
    what_it_does=(
        "Reports a release that runs on the success path only: a call or an `await` between the creation "
        "and the release can raise, and no `finally`, `async with` or catch-all `except` covers it. The "
        "code after a fixture's or a lifespan's `yield` counts as teardown that always runs. A fixture whose "
        "release after the `yield` only its setup before the `yield` can skip is latent: pytest runs no teardown "
        "for a fixture whose setup failed, and the test errors anyway. So is a one-shot script (see LB201)."
    ),
    why_bad="The first exception, or a cancelled task, leaks the resource. " + _LEAK,
    example=(
        "client = httpx.AsyncClient()\n"
        "response = await client.get(url)\n"
        "await client.aclose()\n"
    ),
    use_instead=(
        "client = httpx.AsyncClient()\n"
        "try:\n"
        "    response = await client.get(url)\n"
        "finally:\n"
        "    await client.aclose()\n"
    ),
    fix_safety="Moving the release into `finally` runs it on the paths that leaked before: safe.",
    references=_REFERENCES,
    fix_applicability=Applicability.SAFE,
)
FIXTURE_TEARDOWN = Rule(
    code="LB204",
    name="fixture-without-teardown",
    summary="A pytest fixture makes a resource and hands it to tests without releasing it afterwards.",
    what_it_does=(
        "Finds `pytest.fixture` / `pytest_asyncio.fixture` functions that return a resource from the "
        "registry, or yield it and release nothing after the `yield`. `async with ... as c: yield c`, a "
        "release after the `yield` and `request.addfinalizer` are clean."
    ),
    why_bad="Every test that requests the fixture leaks one resource. " + _LEAK,
    example=(
        "@pytest_asyncio.fixture\n"
        "async def client():\n"
        "    return httpx.AsyncClient(base_url=URL)\n"
    ),
    use_instead=(
        "@pytest_asyncio.fixture\n"
        "async def client():\n"
        "    async with httpx.AsyncClient(base_url=URL) as client:\n"
        "        yield client\n"
    ),
    fix_safety="Turning `return` into `yield` and adding the release after it keeps what tests receive: safe.",
    references=_REFERENCES,
    fix_applicability=Applicability.SAFE,
)

RULES = (UNCLOSED, NOT_AWAITED, NOT_IN_FINALLY, FIXTURE_TEARDOWN)
