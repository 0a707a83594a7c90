"""LB101-LB107: a loop-bound object made once, at import time or in a cache, and shared by every loop."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from loopbound.findings import Applicability, Finding, Severity
from loopbound.names import ImportTable, is_main_guard, is_type_checking
from loopbound.registry import LOOP_METHODS, Kind, Resource
from loopbound.rules.base import FileContext, FileRuleGroup, Rule

_LOOP_ERROR = (
    "pytest-asyncio gives each test a new event loop by default, `asyncio.run()` makes one per call, "
    "and `unittest.IsolatedAsyncioTestCase`, Django's async tests and Starlette's `TestClient` do the "
    "same. An object made once keeps the loop it was bound to: the second loop that uses it fails with "
    "`RuntimeError: Task ... got Future ... attached to a different loop`, `Event loop is closed`, or "
    "a driver error such as asyncpg's `another operation is in progress`."
)
_REFERENCES = (
    "pytest-asyncio, event loops: https://pytest-asyncio.readthedocs.io/en/stable/concepts.html",
    "SQLAlchemy, using multiple asyncio event loops: "
    "https://docs.sqlalchemy.org/en/20/orm/extensions/asyncio.html#using-multiple-asyncio-event-loops",
    "httpx, async client lifecycle: https://www.python-httpx.org/async/",
    "redis-py asyncio: https://redis.readthedocs.io/en/stable/examples/asyncio_examples.html",
)

MODULE_LEVEL = Rule(
    code="LB101",
    name="module-level-async-resource",
    summary="A loop-bound client, engine or pool is created while the module is imported.",
    what_it_does=(
        "Finds calls to a loop-bound constructor from the resource registry (`httpx.AsyncClient`, "
        "`create_async_engine`, `redis.asyncio.Redis`, `asyncpg.create_pool`, ...) that run at import "
        "time: module-level assignments of every form, values inside module-level literals, module-level "
        "`if`/`try`/`with`/`for` blocks and chained calls. Code under `if __name__ == \"__main__\":` or "
        "`if TYPE_CHECKING:`, annotations, `poolclass=NullPool` engines and `open=False` pools are exempt."
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
        "def get_engine():\n"
        "    return create_async_engine(DB_URL)\n\n\n"
        "async def test_connection():\n"
        "    engine = get_engine()\n"
        "    try:\n"
        "        async with engine.connect() as conn:\n"
        "            ...\n"
        "    finally:\n"
        "        await engine.dispose()\n"
    ),
    fix_safety=(
        "In a test module or conftest.py the global becomes a `pytest_asyncio` fixture that yields the "
        "resource and releases it, and the tests that used it request the fixture: safe, since nothing "
        "imports a test module's names. Elsewhere the global becomes a factory `get_<name>()` and each "
        "function of the module creates and releases its own: unsafe, because other modules may import "
        "the name."
    ),
    references=_REFERENCES,
    fix_applicability=Applicability.SAFE,
)
CLASS_ATTRIBUTE = Rule(
    code="LB102",
    name="class-attribute-async-resource",
    summary="A loop-bound resource is created in a class body, once for every instance and every loop.",
    what_it_does="Finds registry constructors evaluated in a class body, which runs at import time.",
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
    what_it_does="Finds registry constructors used as the default of a parameter of a function defined at import time.",
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
        "Finds functions decorated with `functools.lru_cache`, `functools.cache` or `async_lru.alru_cache` "
        "that return a resource from the registry."
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
        "Finds assignments of a registry constructor to a name declared `global`, unless a function of the "
        "module releases it and resets the global (to `None`)."
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
    what_it_does="Finds `asyncio.Lock()`, `Event()`, `Queue()` and the other primitives at module level, in class bodies and as parameter defaults.",
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
        "`.run_until_complete()` / `.run_forever()` evaluated at import time."
    ),
    why_bad=(
        "At import no loop runs: `get_event_loop()` is deprecated there (3.12 warns, 3.14 raises), and the "
        "loop it returns or creates is not the one pytest-asyncio, `asyncio.run()` or the server will run. "
        "Futures and tasks made on it never complete on the real loop."
    ),
    example="loop = asyncio.get_event_loop()\nloop.run_until_complete(init_db())\n",
    use_instead="async def main():\n    await init_db()\n\n\nif __name__ == \"__main__\":\n    asyncio.run(main())\n",
    references=("asyncio.get_event_loop: https://docs.python.org/3/library/asyncio-eventloop.html#asyncio.get_event_loop",),
)

RULES = (MODULE_LEVEL, CLASS_ATTRIBUTE, DEFAULT_ARGUMENT, CACHED_FACTORY, GLOBAL_SINGLETON,
         ASYNCIO_PRIMITIVE, IMPORT_TIME_LOOP)

_CACHE_DECORATORS = frozenset({"functools.lru_cache", "functools.cache", "async_lru.alru_cache"})
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
    resource = ctx.registry.lookup(imports.qualify(call.func))
    if resource is None or is_safe_call(call, resource, imports):
        return None
    return resource


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
        stack.extend(ast.iter_child_nodes(current))


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
        if isinstance(statement, ast.If):
            if is_main_guard(statement.test) or is_type_checking(statement.test, imports):
                yield from self._statements(statement.orelse, where, owner)
                return
        if isinstance(statement, _FUNCTIONS):
            yield from self._function_definition(statement)
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
                elif isinstance(child, (ast.excepthandler, ast.match_case)):
                    yield from self._statements(child.body, where, owner)
                elif isinstance(child, (ast.expr, ast.withitem, ast.keyword)):
                    yield from self._expression(child, where, statement, owner)

    def _function_definition(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Finding]:
        for decorator in function.decorator_list:
            yield from self._expression(decorator, "module", function)
        arguments = function.args
        for default in [*arguments.defaults, *(d for d in arguments.kw_defaults if d)]:
            yield from self._expression(default, "default", function)
        yield from self._cached_factory(function)

    def _expression(self, node: ast.AST, where: Where, statement: ast.stmt, owner: str = "") -> Iterator[Finding]:
        for child in _walk_expression(node):
            if not isinstance(child, ast.Call):
                continue
            if isinstance(child.func, ast.Attribute) and child.func.attr in LOOP_METHODS and where != "default":
                yield self.ctx.finding(IMPORT_TIME_LOOP, child,
                                       f"`.{child.func.attr}()` runs an event loop at import time")
                continue
            resource = resource_of(child, self.ctx, self.ctx.imports)
            if resource is not None:
                yield self._report(child, resource, where, statement, owner)

    def _report(self, call: ast.Call, resource: Resource, where: Where, statement: ast.stmt,
                owner: str) -> Finding:
        name = f"`{resource.qualname}`"
        if resource.kind is Kind.LOOP:
            return self.ctx.finding(IMPORT_TIME_LOOP, call, f"{name} runs at import time, before the event "
                                    "loop that tests or the server will use exists")
        if resource.kind is Kind.PRIMITIVE:
            return self.ctx.finding(ASYNCIO_PRIMITIVE, call, f"{name} is created at import time and binds to "
                                    "the event loop of its first contended use")
        if where == "class":
            return self.ctx.finding(CLASS_ATTRIBUTE, call, f"{name} is created in the body of class `{owner}` at "
                                    "import time and shared by every instance and every event loop")
        if where == "default":
            function = statement.name if isinstance(statement, _FUNCTIONS) else "a function"
            return self.ctx.finding(DEFAULT_ARGUMENT, call, f"{name} is created once as a parameter default of "
                                    f"`{function}()` and shared by every call and every event loop")
        binding = _bound_name(statement, call)
        data = {"binding": binding} if binding else {}
        return self.ctx.finding(MODULE_LEVEL, call, f"{name} is created at import time and bound to the first "
                                "event loop that uses it", constructor=resource.qualname, **data)

    def _cached_factory(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Finding]:
        decorators = [d.func if isinstance(d, ast.Call) else d for d in function.decorator_list]
        if not any(self.ctx.imports.qualify(d) in _CACHE_DECORATORS for d in decorators):
            return
        imports = self.ctx.imports.for_function(function)
        made: dict[str, Resource] = {}
        for node in _function_nodes(function):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                resource = self._created(node.value, imports)
                if resource:
                    made[node.targets[0].id] = resource
            elif isinstance(node, ast.Return) and node.value is not None:
                value = node.value
                resource = made.get(value.id) if isinstance(value, ast.Name) else self._created(value, imports)
                if resource and resource.kind is Kind.RESOURCE:
                    yield self.ctx.finding(CACHED_FACTORY, self.ctx.definition(function), f"`{function.name}()` is cached, so the "
                                           f"`{resource.qualname}` it returns is bound to the first event loop "
                                           "and handed to every later one")
                    return

    def _created(self, value: ast.expr, imports: ImportTable) -> Resource | None:
        if isinstance(value, ast.Await):
            value = value.value
        return resource_of(value, self.ctx, imports) if isinstance(value, ast.Call) else None

    def _singletons(self) -> Iterator[Finding]:
        functions = [node for node in ast.walk(self.ctx.tree) if isinstance(node, _FUNCTIONS)]
        resets = {name for function in functions for name in _reset_globals(function)}
        for function in functions:
            declared = {name for node in _function_nodes(function) if isinstance(node, ast.Global)
                        for name in node.names}
            if not declared:
                continue
            imports = self.ctx.imports.for_function(function)
            for node in _function_nodes(function):
                if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name) and t.id in declared]
                resource = self._created(node.value, imports)
                for name in names:
                    if resource and resource.kind is Kind.RESOURCE and name not in resets:
                        yield self.ctx.finding(GLOBAL_SINGLETON, node, f"`{function.name}()` stores a "
                                               f"`{resource.qualname}` in the global `{name}`, which outlives "
                                               "the event loop that made it and is never released and reset")


def _function_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The nodes of this function's own body, not of functions or classes nested in it."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _reset_globals(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Globals this function both releases (`await g.aclose()`) and sets back to None."""
    declared = {name for node in _function_nodes(function) if isinstance(node, ast.Global) for name in node.names}
    released, cleared = set(), set()
    for node in _function_nodes(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id in declared:
                released.add(receiver.id)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value is None:
            cleared.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id in declared)
        elif isinstance(node, ast.Delete):
            cleared.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id in declared)
    return released & cleared


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
