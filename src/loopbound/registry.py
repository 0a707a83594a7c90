"""THE table of loop-bound constructors: what creates a resource, how it is released, what makes it safe.

Adding a library is a row here, never a new `if` in a rule. Users add rows with
`[tool.loopbound.resources]` and mark calls safe with `[tool.loopbound.safe]`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Kind(str, enum.Enum):
    RESOURCE = "resource"  # a client, engine, pool or connection: LB101-LB105, LB2xx
    PRIMITIVE = "primitive"  # asyncio.Lock and friends: LB106
    LOOP = "loop"  # creates or fetches an event loop at import: LB107


class Binds(str, enum.Enum):
    CONSTRUCTION = "construction"
    FIRST_USE = "first use"
    CONTENTION = "contention"


@dataclass(frozen=True)
class SafeArgument:
    """A keyword argument whose value makes the call safe at import time (`poolclass=NullPool`)."""

    keyword: str
    value: str  # a qualified name (`sqlalchemy.pool.NullPool`) or a literal repr (`False`)


@dataclass(frozen=True)
class Resource:
    qualname: str
    library: str
    release: tuple[str, ...] = ()  # methods that release it, in call order (`close`, `wait_closed`)
    awaited: bool = True  # whether the release returns a coroutine that must be awaited
    async_with: bool = True  # whether `async with` releases it
    binds: Binds = Binds.FIRST_USE
    kind: Kind = Kind.RESOURCE
    aliases: tuple[str, ...] = ()  # re-exports and private module paths users import it from
    safe_arguments: tuple[SafeArgument, ...] = ()
    awaitable: bool = False  # the constructor itself is awaited (`await asyncpg.create_pool()`)
    # Arguments that leave it holding nothing loop-bound at all, so it may cross event loops (an
    # in-process ASGI transport makes its loop objects per request, in the caller's loop). `value` is
    # the qualified name of the argument or of the callable that builds it; "*" is any value.
    loop_free_arguments: tuple[SafeArgument, ...] = ()
    note: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.qualname, *self.aliases)

    @property
    def awaited_release(self) -> frozenset[str]:
        """The release methods that return a coroutine.

        A release in several steps is the asyncio server shape, `close()` then `await wait_closed()`
        (aiomysql's pool): only the last step is a coroutine.
        """
        if not self.awaited or not self.release:
            return frozenset()
        return frozenset(self.release[-1:])

    def release_statements(self, receiver: str) -> tuple[str, ...]:
        """`pool.close()`, `await pool.wait_closed()`: the release, one statement per step, as code."""
        awaited = self.awaited_release
        return tuple(f"{'await ' if method in awaited else ''}{receiver}.{method}()" for method in self.release)

    @property
    def release_call(self) -> str:
        """How to release it, as the docs say it: `await x.dispose()`."""
        return "; ".join(self.release_statements("x"))


NULL_POOL = SafeArgument("poolclass", "sqlalchemy.pool.NullPool")
_NULL_POOL_ALIASES = (NULL_POOL, SafeArgument("poolclass", "sqlalchemy.NullPool"))
_SA = "sqlalchemy.ext.asyncio"


def _sa(name: str, module: str) -> tuple[str, ...]:
    return (f"{_SA}.{module}.{name}", f"sqlmodel.ext.asyncio.{name}")


# httpx's in-process ASGI transport holds no connection pool (`app=` is httpx < 0.28's shorthand for it);
# tests/runtime shows a session-scoped client over one passing function-loop tests.
_ASGI_TRANSPORT = (SafeArgument("transport", "httpx.ASGITransport"),
                   SafeArgument("transport", "httpx._transports.asgi.ASGITransport"), SafeArgument("app", "*"))
_PRIMITIVES = ("Lock", "Event", "Condition", "Semaphore", "BoundedSemaphore", "Barrier",
               "Queue", "LifoQueue", "PriorityQueue")

BUILTIN_RESOURCES: tuple[Resource, ...] = (
    # SQLAlchemy 2.x: the pool of an AsyncEngine holds connections made on one loop.
    Resource(f"{_SA}.create_async_engine", "SQLAlchemy", ("dispose",),
             aliases=(f"{_SA}.engine.create_async_engine", "sqlmodel.ext.asyncio.create_async_engine"),
             safe_arguments=_NULL_POOL_ALIASES, note="`poolclass=NullPool` makes it safe",
             loop_free_arguments=_NULL_POOL_ALIASES),
    Resource(f"{_SA}.async_engine_from_config", "SQLAlchemy", ("dispose",),
             aliases=(f"{_SA}.engine.async_engine_from_config",), safe_arguments=_NULL_POOL_ALIASES,
             loop_free_arguments=_NULL_POOL_ALIASES),
    Resource(f"{_SA}.create_async_pool_from_url", "SQLAlchemy", ("dispose",),
             aliases=(f"{_SA}.engine.create_async_pool_from_url",), safe_arguments=_NULL_POOL_ALIASES,
             loop_free_arguments=_NULL_POOL_ALIASES),
    Resource(f"{_SA}.AsyncEngine", "SQLAlchemy", ("dispose",), aliases=(f"{_SA}.engine.AsyncEngine",)),
    Resource(f"{_SA}.AsyncSession", "SQLAlchemy", ("close",),
             aliases=(f"{_SA}.session.AsyncSession", "sqlmodel.ext.asyncio.session.AsyncSession",
                      "sqlmodel.ext.asyncio.AsyncSession")),
    # httpx / httpcore: the connection pool's sockets and locks belong to one loop.
    Resource("httpx.AsyncClient", "httpx", ("aclose",), aliases=("httpx._client.AsyncClient",),
             loop_free_arguments=_ASGI_TRANSPORT),
    Resource("httpx.AsyncHTTPTransport", "httpx", ("aclose",),
             aliases=("httpx._transports.default.AsyncHTTPTransport",)),
    Resource("httpcore.AsyncConnectionPool", "httpcore", ("aclose",)),
    # aiohttp >= 3.10 raises "no running event loop" when built outside a loop.
    Resource("aiohttp.ClientSession", "aiohttp", ("close",), binds=Binds.CONSTRUCTION,
             aliases=("aiohttp.client.ClientSession",)),
    Resource("aiohttp.TCPConnector", "aiohttp", ("close",), binds=Binds.CONSTRUCTION,
             aliases=("aiohttp.connector.TCPConnector",)),
    Resource("aiohttp.UnixConnector", "aiohttp", ("close",), binds=Binds.CONSTRUCTION,
             aliases=("aiohttp.connector.UnixConnector",)),
    # asyncpg
    Resource("asyncpg.create_pool", "asyncpg", ("close",), awaitable=True,
             aliases=("asyncpg.pool.create_pool",)),
    Resource("asyncpg.connect", "asyncpg", ("close",), awaitable=True,
             aliases=("asyncpg.connection.connect",)),
    Resource("asyncpg.Pool", "asyncpg", ("close",), aliases=("asyncpg.pool.Pool",)),
    # psycopg 3
    Resource("psycopg_pool.AsyncConnectionPool", "psycopg", ("close",),
             safe_arguments=(SafeArgument("open", "False"),), note="`open=False` is safe until opened"),
    Resource("psycopg_pool.AsyncNullConnectionPool", "psycopg", ("close",),
             safe_arguments=(SafeArgument("open", "False"),)),
    Resource("psycopg.AsyncConnection.connect", "psycopg", ("close",), awaitable=True),
    # redis-py's asyncio client (aioredis was merged into it); `aclose` since redis 5.0.1.
    *(Resource(f"redis.asyncio.{name}", "redis", ("aclose",),
               aliases=(f"redis.asyncio.client.{name}", f"redis.asyncio.cluster.{name}",
                        f"redis.asyncio.connection.{name}", f"redis.asyncio.sentinel.{name}",
                        f"aioredis.{name}"))
      for name in ("Redis", "Redis.from_url", "StrictRedis", "StrictRedis.from_url", "from_url",
                   "ConnectionPool", "ConnectionPool.from_url", "BlockingConnectionPool",
                   "RedisCluster", "RedisCluster.from_url", "Sentinel")),
    Resource("aioredis.create_redis_pool", "aioredis", ("close",), awaitable=True),
    # MongoDB: motor's close() is synchronous, PyMongo's async client's is a coroutine.
    Resource("motor.motor_asyncio.AsyncIOMotorClient", "motor", ("close",), awaited=False,
             async_with=False, aliases=("motor.core.AgnosticClient",)),
    Resource("pymongo.AsyncMongoClient", "pymongo", ("close",),
             aliases=("pymongo.asynchronous.mongo_client.AsyncMongoClient",)),
    Resource("elasticsearch.AsyncElasticsearch", "elasticsearch", ("close",),
             aliases=("elasticsearch._async.client.AsyncElasticsearch",)),
    Resource("opensearchpy.AsyncOpenSearch", "opensearch-py", ("close",)),
    Resource("grpc.aio.insecure_channel", "grpcio", ("close",), binds=Binds.CONSTRUCTION),
    Resource("grpc.aio.secure_channel", "grpcio", ("close",), binds=Binds.CONSTRUCTION),
    Resource("aiokafka.AIOKafkaProducer", "aiokafka", ("stop",), aliases=("aiokafka.producer.AIOKafkaProducer",)),
    Resource("aiokafka.AIOKafkaConsumer", "aiokafka", ("stop",), aliases=("aiokafka.consumer.AIOKafkaConsumer",)),
    Resource("aio_pika.connect_robust", "aio-pika", ("close",), awaitable=True),
    Resource("aio_pika.connect", "aio-pika", ("close",), awaitable=True),
    Resource("aiomysql.create_pool", "aiomysql", ("close", "wait_closed"), awaitable=True),
    Resource("aiosqlite.connect", "aiosqlite", ("close",), note="low risk before it is awaited"),
    Resource("databases.Database", "databases", ("disconnect",), note="low risk before connect()"),
    Resource("openai.AsyncOpenAI", "openai", ("close",)),
    Resource("openai.AsyncAzureOpenAI", "openai", ("close",)),
    Resource("anthropic.AsyncAnthropic", "anthropic", ("close",)),
    Resource("anthropic.AsyncAnthropicBedrock", "anthropic", ("close",)),
    Resource("anthropic.AsyncAnthropicVertex", "anthropic", ("close",)),
    # asyncio primitives bind to the running loop on first contended use (Python 3.10+).
    *(Resource(f"asyncio.{name}", "asyncio", kind=Kind.PRIMITIVE, binds=Binds.CONTENTION,
               async_with=False, aliases=(f"asyncio.locks.{name}", f"asyncio.queues.{name}"))
      for name in _PRIMITIVES),
    Resource("asyncio.get_event_loop", "asyncio", kind=Kind.LOOP, binds=Binds.CONSTRUCTION,
             async_with=False, aliases=("asyncio.events.get_event_loop",)),
    Resource("asyncio.new_event_loop", "asyncio", ("close",), awaited=False, kind=Kind.LOOP,
             binds=Binds.CONSTRUCTION, async_with=False, aliases=("asyncio.events.new_event_loop",)),
    Resource("asyncio.Future", "asyncio", kind=Kind.LOOP, binds=Binds.CONSTRUCTION, async_with=False,
             aliases=("asyncio.futures.Future",)),
)

# Methods that run an event loop when called at import time. `run_until_complete` exists only on
# asyncio (and uvloop) loops, whatever the receiver is called; `run_forever` is also websocket-client's
# blocking `WebSocketApp.run_forever()`, so it counts only on a receiver whose name says "loop".
LOOP_METHODS = frozenset({"run_until_complete"})
LOOP_RECEIVER_METHODS = frozenset({"run_forever"})


@dataclass(frozen=True)
class Registry:
    resources: tuple[Resource, ...]
    safe_names: frozenset[str] = field(default_factory=frozenset)
    # Derived in __post_init__: the last part of every row's every name, and every release method.
    name_words: frozenset[str] = field(init=False, repr=False, compare=False)
    release_methods: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Resource] = {}
        for resource in self.resources:
            for name in resource.names:
                index[name] = resource
        for name in self.safe_names:
            index.pop(name, None)
        object.__setattr__(self, "_index", index)
        pairs: dict[str, set[str]] = {}
        for name in index:
            pairs.setdefault(name.split(".", 1)[0], set()).add(name.rsplit(".", 1)[-1])
        pairs.setdefault("asyncio", set()).update(LOOP_METHODS)
        object.__setattr__(self, "_names_by_module", {module: frozenset(names) for module, names in pairs.items()})
        # Fixed for the registry's life, yet asked for by the rules of every file checked.
        object.__setattr__(self, "name_words", frozenset(
            name.rsplit(".", 1)[-1] for resource in self.resources for name in resource.names))
        object.__setattr__(self, "release_methods", frozenset(
            method for resource in self.resources for method in resource.release))

    def lookup(self, qualname: str | None) -> Resource | None:
        if qualname is None:
            return None
        index: dict[str, Resource] = getattr(self, "_index")
        return index.get(qualname)

    @property
    def names_by_module(self) -> dict[str, frozenset[str]]:
        """Each top-level module with the last components of the registry names under it.

        A qualified name starts with an imported module and ends with the text of an attribute or
        an imported name, so a file that holds no such pair of words cannot create that resource.
        """
        pairs: dict[str, frozenset[str]] = getattr(self, "_names_by_module")
        return pairs

    def extended(self, resources: Iterable[Resource], safe_names: Iterable[str]) -> Registry:
        return Registry((*self.resources, *resources), self.safe_names | frozenset(safe_names))


DEFAULT_REGISTRY = Registry(BUILTIN_RESOURCES)


def resource_from_config(qualname: str, options: Mapping[str, object]) -> Resource:
    """Build a user row from `[tool.loopbound.resources]`; config.py has already type-checked it."""
    release = options.get("release", ())
    methods = (release,) if isinstance(release, str) else tuple(release) if isinstance(release, (list, tuple)) else ()
    return Resource(
        qualname=qualname,
        library=str(options.get("library", qualname.split(".", 1)[0])),
        release=tuple(str(method) for method in methods),
        awaited=bool(options.get("awaited", True)),
        async_with=bool(options.get("async-with", True)),
        kind=Kind(str(options.get("kind", Kind.RESOURCE.value))),
        awaitable=bool(options.get("awaitable", False)),
    )
