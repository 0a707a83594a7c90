"""LB101-LB107's codes, names and documentation: the rules the import-time walk (import_time.py) reports."""

from __future__ import annotations

from loopbound.findings import Applicability, Severity
from loopbound.rules.base import Rule

_LOOP_ERROR = (
    "pytest-asyncio gives each test a new event loop by default, `asyncio.run()` makes one per call, "
    "and `unittest.IsolatedAsyncioTestCase`, Django's async tests and Starlette's `TestClient` do the "
    "same. An object made once keeps the loop it was bound to: the second loop that uses it fails with "
    "`RuntimeError: Task ... got Future ... attached to a different loop`, `Event loop is closed`, or "
    "a driver error such as asyncpg's `another operation is in progress`."
)
_REFERENCES = (
    "pytest-asyncio, event loops: https://pytest-asyncio.readthedocs.io/en/stable/concepts.html",
    ("SQLAlchemy, using multiple asyncio event loops: "
     "https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html#using-multiple-asyncio-event-loops"),
    "httpx, async client lifecycle: https://www.python-httpx.org/async/",
    "redis-py asyncio: https://redis.readthedocs.io/en/stable/examples/asyncio_examples.html",
)

# How `loopbound check` grades LB101-LB107 over a whole project (index/reach.py), told in each rule's docs.
_REACHABILITY = (
    "\n\nWhether it breaks depends on who runs it. On a whole project the finding is an **error** when a "
    "multi-loop entry point imports the module, directly or through other modules: a pytest-asyncio test module "
    "(or the conftest.py above it) whose tests run on function-, class-, module- or package-scoped loops, a "
    "`unittest.IsolatedAsyncioTestCase`, code that calls `asyncio.run()` more than once or in a loop, or that "
    "runs loops in threads. The message names the entry and the import chain: `... : tests/test_api.py runs "
    "each test on its own event loop and imports app/main.py → app/db.py`. Otherwise it is **latent** (reported, "
    "not failing the run; `latent = \"error\"` or `\"hide\"` in `[tool.loopbound]` changes that): only "
    "single-loop programs import it (an ASGI app that `uvicorn` serves, one `asyncio.run(main())` under "
    "`__main__`, a bot's `run_polling()`, a test suite whose tests and fixtures all share the session loop), or "
    "nothing in the project imports it, which is library code whose users' loops are unknown. A test module's loop "
    "scopes are the LB3 rules' model, for the pytest-asyncio releases the project pins or locks: a session-scoped "
    "custom `event_loop` fixture shares one loop only where every release honours it (before 1.0; 1.x ignores it, "
    "and the message says so), and `asyncio_default_test_loop_scope` counts only from 0.26. When only some files "
    "are checked (pre-commit), the rest of the project is read for its imports and its test modules' loop scopes."
)
_THROUGH_PROJECT_CODE = (
    " Resources made through the project's own functions and classes count too, in the same module or another "
    "one: `engine = make_engine(URL)` where `make_engine` returns `create_async_engine(url)` (also through other "
    "such functions, awaited or not), and `api = ApiClient(url)` where `ApiClient.__init__` stores an "
    "`httpx.AsyncClient` on `self`. The message shows the chain: `ApiClient(...)` (it creates a "
    "`httpx.AsyncClient` at `app/api_client.py:6`). No fix is offered for those."
)

MODULE_LEVEL = Rule(
    code="LB101",
    name="module-level-async-resource",
    summary="A loop-bound client, engine or pool is created while the module is imported.",
    what_it_does=(
        "Finds calls to a loop-bound constructor from the resource registry (`httpx.AsyncClient`, "
        "`create_async_engine`, `redis.asyncio.Redis`, `asyncpg.create_pool`, ...) that run at import "
        "time: module-level assignments of every form, values inside module-level literals and list, set "
        "and dict comprehensions, module-level `if`/`try`/`with`/`for` blocks, decorator arguments and "
        "chained calls. Names resolve through imports and aliases (`import httpx as h`, "
        "`from sqlalchemy.ext import asyncio as sa`, `try: ... except ImportError:` fallbacks, sqlmodel's "
        "re-exports); a local class or function of the same name, zeep's `AsyncClient` and the sync clients "
        "(`httpx.Client`, `redis.Redis`, `sqlalchemy.create_engine`) are not matched. Exempt: code under "
        "`if __name__ == \"__main__\":` or `if TYPE_CHECKING:`, annotations, lambda and function bodies, "
        "generator expressions (only their first iterable runs at import), `poolclass=NullPool` engines, "
        "psycopg pools with `open=False`, and session factories (`async_sessionmaker`, "
        "`sessionmaker(class_=AsyncSession)`), which hold no connection." + _THROUGH_PROJECT_CODE + _REACHABILITY
    ),
    why_bad=_LOOP_ERROR,
    example=(
        "from sqlalchemy.ext.asyncio import create_async_engine\n\n"
        "engine = create_async_engine(DB_URL)\n\n\n"
        "async def test_connection():\n"
        "    async with engine.connect() as conn:\n"
        "        ...\n"
    ),
    use_instead=(
        "import pytest_asyncio\n"
        "from sqlalchemy.ext.asyncio import create_async_engine\n\n\n"
        "@pytest_asyncio.fixture\n"
        "async def engine():\n"
        "    engine = create_async_engine(DB_URL)\n"
        "    yield engine\n"
        "    await engine.dispose()\n\n\n"
        "async def test_connection(engine):\n"
        "    async with engine.connect() as conn:\n"
        "        ...\n"
    ),
    fix_safety=(
        "In a module pytest collects (its `python_files`, conftest.py) the global becomes a `pytest_asyncio` "
        "fixture that yields the resource and releases it, and the tests that used it request the fixture: "
        "safe, since nothing imports a test module's names. In a test module whose readers no fixture "
        "reaches (helpers, methods of a class with a base such as `unittest.IsolatedAsyncioTestCase`) it "
        "becomes a factory `get_<name>()` and each function creates and releases its own, in `finally`: one "
        "per test is right there. In application code (and helper modules pytest does not collect) one "
        "per call would trade the connection pool for a new engine or client per request, so the global "
        "becomes a per-loop accessor: `get_<name>()` makes it on first use in each running event loop and "
        "keeps it in a `weakref.WeakKeyDictionary` keyed by the loop, and `dispose_<name>()` releases the "
        "current loop's, for a shutdown hook or a test fixture's teardown. Production's single loop keeps "
        "exactly one, each test loop gets its own (SQLAlchemy's docs: an engine must not be shared across "
        "loops). Both rewrites change the module's names: unsafe. There is no fix when another checked "
        "module uses the name (`from m import name`, relative imports, `import m` then `m.name`, "
        "`from pkg import m`, a re-export, a string such as `mock.patch(\"m.name\")`) or `__all__` lists it, "
        "when the global is read at import time (class bodies, defaults, decorators), rebound or named by "
        "`global`, when the accessor would be read by a sync function (there may be no running loop), for an "
        "in-memory SQLite engine (each loop's or call's database would start empty), or when a function "
        "lets a per-call instance outlive the call (returned, stored on an attribute such as `app.state`, "
        "captured by a nested function, handed to another call or task). Fixes whose result would not "
        "parse, type comments included, are dropped."
    ),
    references=_REFERENCES,
    fix_applicability=Applicability.SAFE,
)
CLASS_ATTRIBUTE = Rule(
    code="LB102",
    name="class-attribute-async-resource",
    summary="A loop-bound resource is created in a class body, once for every instance and every loop.",
    what_it_does=(
        "Finds registry constructors evaluated in the body of a class defined at import time (nested classes "
        "included), and in the decorator arguments of its methods. Annotations (`client: httpx.AsyncClient`), "
        "`None` defaults and resources made in `__init__` are not reported; a class defined inside a function "
        "body is made per call and is not reported either." + _REACHABILITY
    ),
    why_bad=_LOOP_ERROR,
    example="class Api:\n    client = httpx.AsyncClient()\n",
    use_instead=(
        "class Api:\n"
        "    def __init__(self) -> None:\n"
        "        self.client = httpx.AsyncClient()\n\n"
        "    async def aclose(self) -> None:\n"
        "        await self.client.aclose()\n"
    ),
    references=_REFERENCES,
)
DEFAULT_ARGUMENT = Rule(
    code="LB103",
    name="default-argument-async-resource",
    summary="A loop-bound resource is a parameter default: made once, at definition, shared by every call.",
    what_it_does=(
        "Finds registry constructors used as the default of a parameter (positional, positional-only or "
        "keyword-only) of a function or method defined at import time. A function defined inside another "
        "function evaluates its defaults on every call of the outer one, so it is not reported." + _REACHABILITY
    ),
    why_bad="A default is evaluated once, when `def` runs. " + _LOOP_ERROR,
    example="async def fetch(url, client=httpx.AsyncClient()):\n    return await client.get(url)\n",
    use_instead=(
        "async def fetch(url, client: httpx.AsyncClient | None = None):\n"
        "    if client is None:\n"
        "        async with httpx.AsyncClient() as client:\n"
        "            return await client.get(url)\n"
        "    return await client.get(url)\n"
    ),
    references=_REFERENCES,
)
CACHED_FACTORY = Rule(
    code="LB104",
    name="cached-async-resource-factory",
    summary="A cached factory returns the same loop-bound resource to every loop.",
    what_it_does=(
        "Finds functions and methods decorated with `functools.lru_cache`, `functools.cache` or "
        "`async_lru.alru_cache` (bare or called: `@lru_cache(maxsize=1)`) that return a resource from the "
        "registry, directly (`return httpx.AsyncClient()`, `return await asyncpg.create_pool()`) or through "
        "a local (`engine = create_async_engine(...)` then `return engine`), or through one of the project's own "
        "functions or classes that makes one. Caches of plain data, "
        "`poolclass=NullPool` engines and functions that return a factory are not reported." + _REACHABILITY
    ),
    why_bad="The cache hands the object made on the first loop to every later one. " + _LOOP_ERROR,
    example="@lru_cache\ndef get_client():\n    return httpx.AsyncClient()\n",
    use_instead=(
        "@pytest_asyncio.fixture\n"
        "async def client():\n"
        "    async with httpx.AsyncClient() as client:\n"
        "        yield client\n"
    ),
    references=_REFERENCES,
)
GLOBAL_SINGLETON = Rule(
    code="LB105",
    name="global-async-resource-singleton",
    summary="A function stores a loop-bound resource in a global: a lazy singleton that outlives its loop.",
    what_it_does=(
        "Finds assignments of a registry constructor to a name declared `global` (also through "
        "`_g = _g or make()` and conditional expressions), unless some function of the module both releases "
        "it with a registry release method (`aclose`, `dispose`, `close`, ...) and resets it (`_g = None` or "
        "`del _g`), so that the next loop gets a fresh one. Assignments to module attributes "
        "(`module.client = ...`, `app.state.client = ...`) are not tracked.\n\n"
        "On a whole project it also knows the application's lifespan: a global that startup code makes "
        "(`init_db()` called, directly or through other functions, from a FastAPI/Starlette `lifespan` or "
        "`on_event(\"startup\")`, aiohttp `on_startup`/`cleanup_ctx`, Litestar `on_startup`/`lifespan`, Quart "
        "`before_serving`/`while_serving`, a Sanic listener) and shutdown code releases (`close_db()` from the "
        "matching shutdown hook, or after a lifespan's `yield`) is not reported: one loop serves the app from "
        "startup to shutdown. The other way round, a release function that exists but that nothing in the "
        "project calls releases nothing, and the singleton is reported naming it." + _REACHABILITY
    ),
    why_bad="The first loop to call the function binds the singleton; every later loop gets it. " + _LOOP_ERROR,
    example=(
        "_pool = None\n\n\n"
        "async def get_pool():\n"
        "    global _pool\n"
        "    if _pool is None:\n"
        "        _pool = await asyncpg.create_pool(DSN)\n"
        "    return _pool\n"
    ),
    use_instead=(
        "async def close_pool():\n"
        "    global _pool\n"
        "    if _pool is not None:\n"
        "        await _pool.close()\n"
        "        _pool = None\n"
    ),
    references=_REFERENCES,
)
ASYNCIO_PRIMITIVE = Rule(
    code="LB106",
    name="module-level-asyncio-primitive",
    summary="An `asyncio` lock, event, condition, semaphore, barrier or queue is made at import time.",
    what_it_does=(
        "Finds `asyncio.Lock()`, `Event()`, `Condition()`, `Semaphore()`, `BoundedSemaphore()`, `Barrier()`, "
        "`Queue()`, `LifoQueue()` and `PriorityQueue()` made at import time: at module level, in class bodies "
        "and as parameter defaults. Annotations and primitives made in functions or `__init__` are not reported."
        + _REACHABILITY
    ),
    why_bad=(
        "Since Python 3.10 the primitives no longer take the loop at construction; they bind to the loop "
        "of their first use that has to wait (a contended lock, a `get()` on an empty queue) and raise "
        "`RuntimeError: ... is bound to a different event loop` in any other loop. The failure depends on "
        "timing, which is why this is a warning."
    ),
    example="_lock = asyncio.Lock()\n",
    use_instead="class Cache:\n    def __init__(self) -> None:\n        self._lock = asyncio.Lock()\n",
    references=("asyncio synchronization primitives: https://docs.python.org/3/library/asyncio-sync.html",),
    severity=Severity.WARNING,
)
IMPORT_TIME_LOOP = Rule(
    code="LB107",
    name="import-time-event-loop",
    summary="An event loop is fetched, created or run while the module is imported.",
    what_it_does=(
        "Finds `asyncio.get_event_loop()`, `asyncio.new_event_loop()`, `asyncio.Future()` and "
        "`.run_until_complete()` (on any receiver) and `.run_forever()` (on a receiver whose name says "
        "`loop`, since websocket-client's `WebSocketApp.run_forever()` is not an asyncio loop) evaluated at "
        "import time: at module level, in class bodies and in parameter defaults. The "
        "`if __name__ == \"__main__\":` block is exempt." + _REACHABILITY
    ),
    why_bad=(
        "At import no loop runs: `get_event_loop()` without a current loop warns since Python 3.12 and "
        "raises `RuntimeError` since 3.14 (as does `asyncio.Future()`, which calls it), and the "
        "loop it returns or creates is not the one pytest-asyncio, `asyncio.run()` or the server will run. "
        "Futures and tasks made on it never complete on the real loop."
    ),
    example="loop = asyncio.get_event_loop()\nloop.run_until_complete(init_db())\n",
    use_instead="async def main():\n    await init_db()\n\n\nif __name__ == \"__main__\":\n    asyncio.run(main())\n",
    references=("asyncio.get_event_loop: https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.get_event_loop",),
)

RULES = (MODULE_LEVEL, CLASS_ATTRIBUTE, DEFAULT_ARGUMENT, CACHED_FACTORY, GLOBAL_SINGLETON,
         ASYNCIO_PRIMITIVE, IMPORT_TIME_LOOP)
