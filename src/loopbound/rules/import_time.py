"""LB101-LB107: a loop-bound object made once, at import time or in a cache, and shared by every loop."""

from __future__ import annotations

import ast
import bisect
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from loopbound.findings import Applicability, Finding, Severity
from loopbound.fixture_handover import loop_free_call
from loopbound.names import ImportTable, is_main_guard, is_type_checking
from loopbound.registry import LOOP_METHODS, LOOP_RECEIVER_METHODS, Kind, Resource
from loopbound.rules.base import FileContext, FileRuleGroup, Rule, child_nodes, scope_nodes, statement_children

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

CACHE_DECORATORS = frozenset({"functools.lru_cache", "functools.cache", "async_lru.alru_cache"})
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
Where = Literal["module", "class", "default"]


def is_safe_call(call: ast.Call, resource: Resource, imports: ImportTable) -> bool:
    """`poolclass=NullPool`, `open=False`: the arguments the registry says make the call safe."""
    for keyword in call.keywords:
        for safe in resource.safe_arguments:
            if keyword.arg != safe.keyword:
                continue
            value = keyword.value
            if isinstance(value, ast.Constant) and repr(value.value) == safe.value:
                return True
            if imports.qualify(value) == safe.value:
                return True
    return False


def resource_of(call: ast.Call, ctx: FileContext, imports: ImportTable) -> Resource | None:
    """The registry row a call makes, or the resource a project function or class makes for it."""
    resource = ctx.registry.lookup(imports.qualify(call.func))
    if resource is None:
        return ctx.made_by_project(call)
    return None if is_safe_call(call, resource, imports) else resource


def _loop_bound(call: ast.Call, ctx: FileContext, imports: ImportTable) -> Resource | None:
    """What a call made once and shared would hold bound to a loop: not a client over an in-process
    ASGI transport or an engine with `NullPool` (the registry's `loop_free_arguments`), which serve
    every loop (fixtures/runtime/httpx_module_asgi_client passes with one client for every test loop)."""
    resource = resource_of(call, ctx, imports)
    return None if resource is None or loop_free_call(call, resource, imports) else resource


def _runs_a_loop(func: ast.Attribute) -> bool:
    """`loop.run_until_complete(...)`, `get_event_loop().run_forever()`; not `ws.run_forever()`."""
    if func.attr in LOOP_METHODS:
        return True
    if func.attr not in LOOP_RECEIVER_METHODS:
        return False
    receiver = func.value.func if isinstance(func.value, ast.Call) else func.value
    name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
    return "loop" in name.lower()


def _walk_expression(node: ast.AST) -> Iterator[ast.AST]:
    """Every node evaluated with the expression: lambda bodies run later, so they are skipped."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, ast.Lambda):
            stack.extend(current.args.defaults)
            stack.extend(default for default in current.args.kw_defaults if default)
            continue
        if isinstance(current, ast.GeneratorExp):
            stack.append(current.generators[0].iter)  # only the first iterable runs before iteration
            continue
        stack.extend(child_nodes(current))


@dataclass
class _ImportTimeWalker:
    ctx: FileContext

    def run(self) -> Iterator[Finding]:
        yield from self._statements(self.ctx.tree.body, "module")
        yield from self._singletons()

    def _statements(self, body: list[ast.stmt], where: Where, owner: str = "") -> Iterator[Finding]:
        for statement in body:
            yield from self._statement(statement, where, owner)

    def _statement(self, statement: ast.stmt, where: Where, owner: str = "") -> Iterator[Finding]:
        imports = self.ctx.imports
        if isinstance(statement, ast.If) and (is_main_guard(statement.test)
                                              or is_type_checking(statement.test, imports)):
            yield from self._statements(statement.orelse, where, owner)
            return
        if isinstance(statement, _FUNCTIONS):
            yield from self._function_definition(statement, where)
            return
        if isinstance(statement, ast.ClassDef):
            for expression in [*statement.decorator_list, *statement.bases, *statement.keywords]:
                yield from self._expression(expression, where, statement, owner)
            yield from self._statements(statement.body, "class", statement.name)
            return
        for name, value in ast.iter_fields(statement):
            if isinstance(statement, ast.AnnAssign) and name == "annotation":
                continue
            values = value if isinstance(value, list) else [value]
            for child in values:
                if isinstance(child, ast.stmt):
                    yield from self._statement(child, where, owner)
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    yield from self._statements(child.body, where, owner)
                elif isinstance(child, (ast.expr, ast.withitem, ast.keyword)):
                    yield from self._expression(child, where, statement, owner)

    def _function_definition(self, function: ast.FunctionDef | ast.AsyncFunctionDef,
                             where: Where) -> Iterator[Finding]:
        for decorator in function.decorator_list:
            yield from self._expression(decorator, where, function)
        arguments = function.args
        for default in [*arguments.defaults, *(d for d in arguments.kw_defaults if d)]:
            yield from self._expression(default, "default", function)
        yield from self._cached_factory(function)

    def _expression(self, node: ast.AST, where: Where, statement: ast.stmt, owner: str = "") -> Iterator[Finding]:
        for child in _walk_expression(node):
            if not isinstance(child, ast.Call):
                continue
            if isinstance(child.func, ast.Attribute) and _runs_a_loop(child.func):
                yield self.ctx.finding(IMPORT_TIME_LOOP, child,
                                       f"`.{child.func.attr}()` runs an event loop at import time")
                continue
            resource = _loop_bound(child, self.ctx, self.ctx.imports)
            if resource is not None:
                yield self._report(child, resource, where, statement, owner)

    def _report(self, call: ast.Call, resource: Resource, where: Where, statement: ast.stmt,
                owner: str) -> Finding:
        name = self.ctx.described(call, resource)
        via = self.ctx.via(call)
        if resource.kind is Kind.LOOP:
            return self.ctx.finding(IMPORT_TIME_LOOP, call, f"{name} runs at import time, before the event "
                                    "loop that tests or the server will use exists")
        if resource.kind is Kind.PRIMITIVE:
            return self.ctx.finding(ASYNCIO_PRIMITIVE, call, f"{name} is created at import time and binds to "
                                    "the event loop of its first contended use")
        if where == "class":
            return self.ctx.finding(CLASS_ATTRIBUTE, call, f"{name} is created in the body of class `{owner}` at "
                                    "import time and shared by every instance and every event loop", **via)
        if where == "default":
            function = statement.name if isinstance(statement, _FUNCTIONS) else "a function"
            return self.ctx.finding(DEFAULT_ARGUMENT, call, f"{name} is created once as a parameter default of "
                                    f"`{function}()` and shared by every call and every event loop", **via)
        binding = _bound_name(statement, call)
        data = {"binding": binding, **via} if binding else via
        return self.ctx.finding(MODULE_LEVEL, call, f"{name} is created at import time and bound to the first "
                                "event loop that uses it", constructor=resource.qualname, **data)

    def _cached_factory(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Finding]:
        decorators = [d.func if isinstance(d, ast.Call) else d for d in function.decorator_list]
        if not any(self.ctx.imports.qualify(d) in CACHE_DECORATORS for d in decorators):
            return
        imports = self.ctx.scope_imports(function, self.ctx.imports)
        made: dict[str, tuple[Resource, ast.expr]] = {}
        for node in _function_nodes(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                resource = self._created(node.value, imports)
                if resource:
                    made[node.targets[0].id] = (resource, node.value)
            elif isinstance(node, ast.Return) and node.value is not None:
                value = node.value
                resource = self._created(value, imports)
                found = made.get(value.id) if isinstance(value, ast.Name) else (resource, value) if resource else None
                if found and found[0].kind is Kind.RESOURCE:
                    call = _call_in(found[1])
                    yield self.ctx.finding(CACHED_FACTORY, self.ctx.definition(function), f"`{function.name}()` is cached, so the "
                                           f"{self.ctx.described(call, found[0])} it returns is bound to the first event "
                                           "loop and handed to every later one", **self.ctx.via(call))
                    return

    def _created(self, value: ast.expr, imports: ImportTable) -> Resource | None:
        """The resource a value may hold: `await make()`, `_g or make()`, `make() if x else None`."""
        if isinstance(value, ast.Await):
            return self._created(value.value, imports)
        if isinstance(value, ast.BoolOp):
            alternatives = value.values
        elif isinstance(value, ast.IfExp):
            alternatives = [value.body, value.orelse]
        else:
            return _loop_bound(value, self.ctx, imports) if isinstance(value, ast.Call) else None
        return next(filter(None, (self._created(alternative, imports) for alternative in alternatives)), None)

    def _singletons(self) -> Iterator[Finding]:
        """LB105. Only functions with a `global` statement can make or reset a singleton."""
        if "global" not in self.ctx.source:
            return  # skips walking every function of files that cannot have one: most files
        release_methods = self.ctx.registry.release_methods
        scopes = [_GlobalScope.of(node) for node in functions_around(self.ctx.tree, _GLOBAL_WORD, self.ctx.source)]
        scopes = [scope for scope in scopes if scope.declared]
        resets = {name for scope in scopes for name in scope.reset_globals(release_methods)}
        for scope in scopes:
            imports = self.ctx.imports.for_function(scope.function)
            for node in scope.nodes:
                if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                    continue
                resource = self._created(node.value, imports)
                if resource is None or resource.kind is not Kind.RESOURCE:
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                call = _call_in(node.value)
                via = self.ctx.via(call)
                stored = self.ctx.described(call, resource) if via else f"a `{resource.qualname}`"
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in scope.declared and target.id not in resets:
                        yield self.ctx.finding(GLOBAL_SINGLETON, node, f"`{scope.function.name}()` stores "
                                               f"{stored} in the global `{target.id}`, "
                                               "which outlives the event loop that made it and is never released "
                                               "and reset", variable=target.id, **via)


@dataclass(frozen=True)
class _GlobalScope:
    """A function's own nodes, walked once, and the names it declares `global`."""

    function: ast.FunctionDef | ast.AsyncFunctionDef
    nodes: tuple[ast.AST, ...]
    declared: frozenset[str]

    @classmethod
    def of(cls, function: ast.FunctionDef | ast.AsyncFunctionDef) -> _GlobalScope:
        nodes = tuple(_function_nodes(function))
        declared = frozenset(name for node in nodes if isinstance(node, ast.Global) for name in node.names)
        return cls(function, nodes, declared)

    def reset_globals(self, release_methods: frozenset[str]) -> set[str]:
        """Globals this function both releases (`await g.aclose()`, a registry release method) and sets to None."""
        released: set[str] = set()
        cleared: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in release_methods:
                receiver = node.func.value
                if isinstance(receiver, ast.Name) and receiver.id in self.declared:
                    released.add(receiver.id)
            elif isinstance(node, (ast.Assign, ast.Delete)) and (isinstance(node, ast.Delete) or _is_none(node.value)):
                cleared.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id in self.declared)
        return released & cleared


_GLOBAL_WORD = re.compile(r"\bglobal\b")


def functions_around(tree: ast.Module, word: re.Pattern[str], source: str
                     ) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The functions whose lines hold `word`, in `ast.walk`'s order, walking only the statements whose
    lines hold it: a `global` statement is on a few lines of a few functions, which a walk of every
    function's nodes spent most of LB1's time looking for."""
    rows = rows_of(word, source)
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    if not rows:
        return functions
    queue: deque[ast.AST] = deque([tree])
    while queue:
        node = queue.popleft()
        if isinstance(node, _FUNCTIONS):
            functions.append(node)
        queue.extend(child for child in statement_children(node) if spans_a_row(child, rows))
    return functions


def rows_of(word: re.Pattern[str], source: str) -> list[int]:
    """The rows, in order and each once, on which `word` matches."""
    return list(dict.fromkeys(row for row, _ in matches_by_row(word, source)))


def matches_by_row(word: re.Pattern[str], source: str) -> Iterator[tuple[int, str]]:
    """Each match of `word` with its row, in order."""
    row, position = 1, 0
    for match in word.finditer(source):
        row += source.count("\n", position, match.start())
        position = match.start()
        yield row, match.group()


def spans_a_row(node: ast.AST, rows: list[int]) -> bool:
    """Whether one of the sorted `rows` is within the node's lines (a `case` has no lines: yes)."""
    first = getattr(node, "lineno", None)
    if first is None:
        return True
    at = bisect.bisect_left(rows, first)
    return at < len(rows) and rows[at] <= (getattr(node, "end_lineno", None) or first)


def _function_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    return scope_nodes(function.body)


def _call_in(value: ast.expr) -> ast.expr:
    """The call inside `await make()`, `_g or make()`, `make() if x else None`: what the message names."""
    if isinstance(value, ast.Await):
        return _call_in(value.value)
    alternatives = value.values if isinstance(value, ast.BoolOp) else (
        [value.body, value.orelse] if isinstance(value, ast.IfExp) else [])
    calls = [_call_in(alternative) for alternative in alternatives]
    return next((call for call in calls if isinstance(call, ast.Call)), value)


def _is_none(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and value.value is None


def _bound_name(statement: ast.stmt, call: ast.Call) -> str | None:
    """The global a plain `name = constructor(...)` binds: what the fixes rename into a fixture."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
    elif isinstance(statement, ast.AnnAssign):
        target = statement.target
    else:
        return None
    value = statement.value
    while isinstance(value, ast.Call) and value is not call and isinstance(value.func, ast.Attribute):
        value = value.func.value  # a chained call: engine = create_async_engine(...).execution_options(...)
    if value is call and isinstance(target, ast.Name):
        return target.id
    return None


IMPORT_TIME = FileRuleGroup(RULES, lambda ctx: _ImportTimeWalker(ctx).run())
