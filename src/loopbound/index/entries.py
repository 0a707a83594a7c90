"""What runs event loops, and what an application runs at startup and shutdown, as a module writes it.

Entry points decide whether an import-time resource meets a second loop: a pytest-asyncio suite gives
each test its own loop, `unittest.IsolatedAsyncioTestCase` each test method, a loop per thread or a
repeated `asyncio.run()` one per call; a served ASGI app, one `asyncio.run(main())` under `__main__`
or a bot's `run()` run one loop for the life of the process.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from loopbound.index.model import ClassSummary, Entry, Hook
from loopbound.names import ImportTable, dotted, is_main_guard
from loopbound.rules.base import LEAF_KINDS, child_nodes, word_rows
from loopbound.rules.source_rows import holds_a_row, rows_are_lines
from loopbound.source import SourceError, decode

_STARTUP_EVENTS = frozenset({"startup", "before_server_start", "after_server_start", "main_process_start",
                             "before_serving", "on_startup", "server_start"})
_SHUTDOWN_EVENTS = frozenset({"shutdown", "before_server_stop", "after_server_stop", "main_process_stop",
                              "after_serving", "on_shutdown", "on_cleanup", "cleanup", "server_stop"})
_LIFESPAN_EVENTS = frozenset({"while_serving", "cleanup_ctx", "lifespan"})
# Keyword arguments of application constructors (Starlette, FastAPI, Litestar, aiohttp, Quart).
_HOOK_KEYWORDS = {"lifespan": "lifespan", "on_startup": "startup", "on_shutdown": "shutdown",
                  "on_cleanup": "shutdown", "cleanup_ctx": "lifespan"}
# `app.on_startup.append(f)`, `app.cleanup_ctx.append(ctx)`, aiogram's `dp.startup.register(f)`.
_HOOK_LISTS = {"on_startup": "startup", "on_shutdown": "shutdown", "on_cleanup": "shutdown",
               "cleanup_ctx": "lifespan", "startup": "startup", "shutdown": "shutdown"}
_LIST_METHODS = frozenset({"append", "extend", "insert", "register"})
_APPLICATIONS = frozenset({
    "fastapi.FastAPI", "starlette.applications.Starlette", "quart.Quart", "litestar.Litestar", "sanic.Sanic",
    "aiohttp.web.Application", "flask.Flask", "django.core.asgi.get_asgi_application",
    "django.core.wsgi.get_wsgi_application", "falcon.asgi.App", "aiogram.Dispatcher",
})
_SERVERS = frozenset({"uvicorn.run", "hypercorn.asyncio.serve", "aiohttp.web.run_app", "granian.Granian"})
_LOOP_RUNNERS = frozenset({"asyncio.run", "asyncio.runners.run", "anyio.run", "trio.run", "uvloop.run"})
_NEW_LOOPS = frozenset({"asyncio.new_event_loop", *_LOOP_RUNNERS})
_THREADS = frozenset({"threading.Thread", "concurrent.futures.ThreadPoolExecutor", "asyncio.to_thread",
                      "anyio.to_thread.run_sync"})
_BOT_RUNS = frozenset({"run_polling", "start_polling", "run_webhook", "infinity_polling", "run_forever"})
_ISOLATED = frozenset({"unittest.IsolatedAsyncioTestCase", "unittest.async_case.IsolatedAsyncioTestCase",
                       "IsolatedAsyncioTestCase", "django.test.TestCase", "django.test.TransactionTestCase"})
_REPEATING = frozenset({ast.For, ast.AsyncFor, ast.While, ast.comprehension})
_ENTRY_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in (
    *_APPLICATIONS, *_SERVERS, *_NEW_LOOPS, *_THREADS, *_BOT_RUNS, "run", "run_until_complete", "serve"))


def _event(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _when(node.value)
    return None


def _when(word: str) -> str | None:
    if word in _STARTUP_EVENTS:
        return "startup"
    if word in _SHUTDOWN_EVENTS:
        return "shutdown"
    if word in _LIFESPAN_EVENTS:
        return "lifespan"
    return None


def decorator_hook(decorator: ast.expr) -> str | None:
    """`@app.on_event("startup")`, `@app.before_serving`, `@app.listener("after_server_stop")`, `@dp.startup()`."""
    call = decorator if isinstance(decorator, ast.Call) else None
    func = call.func if call is not None else decorator
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr in ("on_event", "listener") and call is not None and call.args:
        return _event(call.args[0])
    if func.attr in ("on_event", "listener") and call is not None:
        return next((_event(keyword.value) for keyword in call.keywords if keyword.arg == "event"), None)
    return _when(func.attr)


def _refs(value: ast.expr) -> Iterator[str]:
    """The functions a hook argument names: `f`, `module.f`, `[f, g]`."""
    items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
    for item in items:
        if isinstance(item, ast.Call):  # `partial(f, ...)`
            item = item.args[0] if item.args else item.func
        target = dotted(item)
        if target:
            yield target


def call_hooks(call: ast.Call) -> Iterator[Hook]:
    """Hooks registered by one call: keyword arguments of an app, list appends, `add_event_handler`."""
    for keyword in call.keywords:
        when = _HOOK_KEYWORDS.get(keyword.arg or "")
        if when:
            yield from (Hook(when, ref, call.lineno) for ref in _refs(keyword.value))
    func = call.func
    if not isinstance(func, ast.Attribute):
        return
    if func.attr == "add_event_handler" and len(call.args) >= 2:
        when = _event(call.args[0])
        if when:
            yield from (Hook(when, ref, call.lineno) for ref in _refs(call.args[1]))
    elif func.attr == "register_listener" and len(call.args) >= 2:
        when = _event(call.args[1])
        if when:
            yield from (Hook(when, ref, call.lineno) for ref in _refs(call.args[0]))
    elif func.attr in _LIST_METHODS and isinstance(func.value, ast.Attribute) and call.args:
        when = _HOOK_LISTS.get(func.value.attr)
        if when:
            yield from (Hook(when, ref, call.lineno) for ref in _refs(call.args[-1]))


def entry_rows(data: bytes) -> list[int] | None:
    """The rows where a name entry points are made of stands as a whole word, in order: a call whose last
    name is one of them lies on such a row, so the walks below skip the nodes whose lines hold none.
    None (walk everything) where the text does not decode or its rows may not be the parser's lines
    (source_rows.rows_are_lines)."""
    if data.isascii():
        text = data.decode("ascii")
    else:
        try:
            text = decode(data)
        except SourceError:
            return None
    if not rows_are_lines(text):
        return None
    return sorted({row for row, _ in word_rows(_ENTRY_NAMES, text)})


def _qualified_calls(nodes: list[ast.stmt], imports: ImportTable,
                     rows: list[int] | None = None) -> Iterator[tuple[ast.Call, str, bool]]:
    """Calls of the names entry points are made of, qualified (or their method name), and whether a loop
    statement repeats them. `rows` (entry_rows), when given, spares the nodes whose lines name none; the
    nodes inside one that holds a row on a line of its own hold it too, and are not asked."""
    # (node, whether a loop repeats it, whether it is known to hold a row). A name or a constant is not
    # pushed: it is no call and holds none.
    stack: list[tuple[ast.AST, bool, bool]] = [(node, False, rows is None) for node in nodes]
    pop, push, leaves = stack.pop, stack.append, LEAF_KINDS
    while stack:
        node, repeated, held = pop()
        if not held and rows is not None:
            if not holds_a_row(node, rows):
                continue
            held = getattr(node, "end_lineno", None) == getattr(node, "lineno", 0) and not getattr(
                node, "decorator_list", None)
        if node.__class__ is ast.Call:
            func = node.func
            last = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if last in _ENTRY_NAMES:
                yield node, imports.qualify(func) or last, repeated
        inner = repeated or node.__class__ in _REPEATING
        for child in child_nodes(node):
            if child.__class__ not in leaves:
                push((child, inner, held))


def main_entries(body: list[ast.stmt], imports: ImportTable, rows: list[int] | None = None) -> Iterator[Entry]:
    """The `if __name__ == "__main__":` block: a script's loops. `rows`: as for _qualified_calls."""
    calls = list(_qualified_calls(body, imports, rows))
    runs = [(call, repeated) for call, name, repeated in calls if name in _LOOP_RUNNERS or name == "run_until_complete"]
    if len(runs) > 1 or any(repeated for _, repeated in runs):
        yield Entry("runs `asyncio.run()` more than once, each time on a new event loop", True, runs[0][0].lineno)
    elif runs:
        yield Entry("runs one event loop (`asyncio.run()` under `__main__`)", False, runs[0][0].lineno)
    for call, name, _ in calls:
        if name in _SERVERS or name in _BOT_RUNS or name == "run":
            yield Entry("runs one event loop (a server or a bot under `__main__`)", False, call.lineno)
            return


def module_entries(tree: ast.Module, imports: ImportTable, classes: list[ClassSummary],
                   rows: list[int] | None = None) -> Iterator[Entry]:
    """What runs event loops at the module's level and in its functions. `rows`: as for _qualified_calls."""
    for cls in classes:
        if any(base in _ISOLATED for base in cls.bases):
            yield Entry(f"runs each test of `{cls.name}` on its own event loop", True, cls.row)
    loops: list[tuple[ast.Call, bool]] = []
    threads = False
    application: ast.Call | None = None
    body = [statement for statement in tree.body if not _is_main_block(statement)]
    for call, name, repeated in _qualified_calls(body, imports, rows):
        if name in _NEW_LOOPS:
            loops.append((call, repeated))
        elif name in _THREADS:
            threads = True
        elif name in _APPLICATIONS or name in _SERVERS:
            application = application or call
    if loops and threads:
        yield Entry("runs event loops in threads, one per thread", True, loops[0][0].lineno)
    elif len(loops) > 1 or any(repeated for _, repeated in loops):
        yield Entry("starts event loops more than once (`asyncio.run()` per call)", True, loops[0][0].lineno)
    if application is not None:
        yield Entry("serves an application on one event loop", False, application.lineno)


def _is_main_block(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.If) and is_main_guard(statement.test)
