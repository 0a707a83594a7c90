"""LB101's fix for application code: one resource per running event loop, kept for that loop's life.

A per-call factory (create, use, release in `finally`) is right in tests, where each test has its own
loop, but in an application it trades the connection pool for a new engine or client per request.
The accessor keeps exactly one per loop: production's single loop shares one, as before, and each
test loop gets its own. Each loop's instance is held in a `WeakKeyDictionary` keyed by the loop, so
it goes when its loop goes; `dispose_<name>()` releases the current loop's instance, for a shutdown
hook (FastAPI's lifespan, aiohttp's on_cleanup) or a test fixture's teardown. The cache and the getter
are annotated with the class the value is made by (`httpx.AsyncClient(...)`), or `typing.Any` when a
function makes it (`create_async_engine` says nothing checkable about its result here):

    _engine_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, typing.Any] = weakref.WeakKeyDictionary()


    def get_engine() -> typing.Any:
        loop = asyncio.get_running_loop()
        if loop not in _engine_by_loop:
            _engine_by_loop[loop] = create_async_engine(URL)
        return _engine_by_loop[loop]


    async def dispose_engine() -> None:
        engine = _engine_by_loop.pop(asyncio.get_running_loop(), None)
        if engine is not None:
            await engine.dispose()
"""

from __future__ import annotations

from collections.abc import Collection

import libcst as cst

from loopbound.registry import Resource

_GETTER = '''
def get_{name}() -> {value_type}:
    """One `{name}` per running event loop: made on first use in each loop, shared within it."""
    loop = {asyncio}.get_running_loop()
    if loop not in {cache}:
        {cache}[loop] = __value__
    return {cache}[loop]
'''

_DISPOSER = '''
async def dispose_{name}() -> None:
    """Release this loop's `{name}`: call it from a shutdown hook or a test fixture's teardown."""
    {name} = {cache}.pop({asyncio}.get_running_loop(), None)
    if {name} is not None:
{release}
'''


def generated_names(name: str) -> set[str]:
    """The module-level names the accessor of `name` adds: they must be free."""
    return {f"get_{name}", f"_{name}_by_loop", f"dispose_{name}"}


def accessor(name: str, value: cst.BaseExpression, resource: Resource | None, asyncio: str,
             weakref: str, value_type: str) -> list[cst.BaseStatement]:
    """The cache, the getter and (for the resource itself, when it has a release) the disposer.

    `value` is the original constructor expression with reads of other accessed globals already
    turned into calls; a dependent global (`sessionmaker(bind=get_engine())`) passes resource=None.
    `value_type` annotates the cache and the getter, so that the fixed module passes `mypy --strict`.
    """
    cache = f"_{name}_by_loop"
    statements: list[cst.BaseStatement] = [cst.parse_statement(
        f"{cache}: {weakref}.WeakKeyDictionary[{asyncio}.AbstractEventLoop, {value_type}] = "
        f"{weakref}.WeakKeyDictionary()\n")]
    getter = cst.parse_module(_GETTER.format(name=name, asyncio=asyncio, cache=cache, value_type=value_type)).body[0]
    statements.append(getter.visit(_Placeholder(value)))  # type: ignore[arg-type]
    release = resource.release_statements(name) if resource is not None else ()
    if release:
        body = "".join(f"        {statement}\n" for statement in release)
        statements.append(cst.parse_module(_DISPOSER.format(name=name, cache=cache, asyncio=asyncio,
                                                            release=body.rstrip("\n"))).body[0])
    return statements


class _Placeholder(cst.CSTTransformer):
    def __init__(self, value: cst.BaseExpression) -> None:
        super().__init__()
        self.value = value

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self.value if original_node.value == "__value__" else updated_node


class CallGetters(cst.CSTTransformer):
    """Each read of an accessed global (the exact Name nodes scope analysis found) becomes `get_<name>()`."""

    def __init__(self, reads: Collection[cst.Name]) -> None:
        super().__init__()
        self.reads = {id(read) for read in reads}

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        if id(original_node) not in self.reads:
            return updated_node
        return cst.Call(cst.Name(f"get_{original_node.value}"))
