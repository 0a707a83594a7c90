"""LB201-LB204: every loop-bound resource a function acquires is released, awaited, on every path.

The per-function flow view lives in resource_flow.py; this module turns it into findings and finds
release calls whose coroutine is dropped (LB202), with the receiver's type from its creation or its
annotation. Fix builders read `variable`, `release`, `awaited` and `constructor` from Finding.data.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from collections.abc import Iterator
from typing import TypeVar

from loopbound.findings import Applicability, Finding, Severity
from loopbound.names import ImportTable
from loopbound.registry import Binds, Kind, Registry, Resource
from loopbound.rules.base import FileContext, FileRuleGroup, Rule, child_nodes, statement_children, word_rows
from loopbound.rules.resource_creations import FUNCTIONS, Creation, Function, created_resource
from loopbound.rules.resource_flow import FunctionFlow, analyse, release_text
from loopbound.rules.resource_paths import Leak, PathWalk
from loopbound.rules.resource_usage import Usage
from loopbound.rules.source_rows import spans_a_row

_Node = TypeVar("_Node", bound=ast.AST)

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


def _data(resource: Resource, variable: str, constructor: str, **extra: str) -> dict[str, str]:
    return {"variable": variable, "release": ",".join(resource.release), "constructor": constructor,
            "awaited": "true" if resource.awaited else "false",
            "awaited_release": ",".join(sorted(resource.awaited_release)), **extra}


def _releasable_here(flow: FunctionFlow, resource: Resource) -> bool:
    """A plain `def` cannot await a release: only fixtures and synchronous releases are its business there."""
    return isinstance(flow.function, ast.AsyncFunctionDef) or flow.lends or not resource.awaited_release


def _described(usage: Usage, creation: Creation, ctx: FileContext) -> str:
    if ctx.via(creation.call):
        return f"`{usage.variable}` ({ctx.described(creation.call, usage.resource)})"
    return f"`{usage.variable}` (`{creation.constructor}`)"


class _LifecycleChecker:
    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.candidates = Candidates(ctx)
        self.index = _FileIndex(ctx, self.candidates)
        self.parents = self.index.parents

    def run(self) -> Iterator[Finding]:
        functions = self.index.functions
        for function, imports in functions:
            if not self.candidates.creates(function):
                continue
            own = self.index.own(function)
            if not _may_create(own, imports, self.ctx):
                continue
            self.index.parent_all(function)
            flow = analyse(function, self.ctx, imports, self.parents, own)
            yield from self._untracked(flow)
            for usage, leaks, walk in flow.tracked:
                finding = self._tracked(flow, usage, leaks, walk)
                if finding is not None:
                    yield finding
        awaited_rows = _awaited_release_rows(self.ctx)
        if awaited_rows:
            yield from _UnawaitedReleases(self.ctx, self.index, functions, awaited_rows).run()

    def _untracked(self, flow: FunctionFlow) -> Iterator[Finding]:
        for creation in flow.creations:
            if not _releasable_here(flow, creation.resource):
                continue
            resource, shown = creation.resource, self.ctx.described(creation.call, creation.resource)
            data = _data(resource, "", creation.constructor, **self.ctx.via(creation.call))
            if creation.dropped:
                yield self.ctx.finding(UNCLOSED, creation.call, f"{shown} is created for one call and never "
                                       f"released: bind it with `async with {creation.constructor}(...) as ...:`",
                                       path="dropped", **data)
            elif creation.handed is not None and flow.lends and not flow.finalizer:
                if isinstance(creation.handed, ast.Return) and flow.fixture:
                    yield self.ctx.finding(FIXTURE_TEARDOWN, creation.call, f"fixture `{flow.function.name}` "
                                           f"returns a {shown} and nothing releases it: yield it from "
                                           "`async with` instead", path="return", **data)
                elif not isinstance(creation.handed, ast.Return):
                    rule = FIXTURE_TEARDOWN if flow.fixture else UNCLOSED
                    yield self.ctx.finding(rule, creation.call, f"`{flow.function.name}` yields a {shown} and "
                                           "nothing releases it after the `yield`: yield it from `async with` "
                                           "instead", path="yield", **data)

    def _tracked(self, flow: FunctionFlow, usage: Usage, leaks: tuple[Leak, ...], walk: PathWalk) -> Finding | None:
        creation = usage.sites[0]
        resource, variable = usage.resource, usage.variable
        release = release_text(resource, variable)
        data = _data(resource, variable, creation.constructor, **self.ctx.via(creation.call))
        described = _described(usage, creation, self.ctx)
        if (flow.finalizer and flow.fixture) or not _releasable_here(flow, resource):
            return None
        if walk.returned is not None and flow.fixture:
            return self.ctx.finding(FIXTURE_TEARDOWN, creation.call, f"fixture `{flow.function.name}` returns "
                                    f"{described} and nothing releases it: `yield {variable}` and "
                                    f"`{release}` after the `yield`", path="return",
                                    exit_row=str(walk.returned.lineno), **data)
        if not usage.used and resource.binds is not Binds.CONSTRUCTION:
            return None  # built only to inspect its settings: it connects on first use, which never comes
        normal = [leak for leak in leaks if leak.kind != "raise"]
        if walk.yielded is not None and normal:
            rule = FIXTURE_TEARDOWN if flow.fixture else UNCLOSED
            return self.ctx.finding(rule, creation.call, f"`{flow.function.name}` yields {described} and does "
                                    f"not release it after the `yield`: add `{release}` after it", path="yield",
                                    exit_row=str(walk.yielded.lineno), **data)
        if normal:
            return self.ctx.finding(UNCLOSED, creation.call, self._unclosed_message(usage, described, normal[0],
                                                                                    release),
                                    path=normal[0].kind, exit_row=str(normal[0].node.lineno), **data)  # type: ignore[attr-defined]
        raised = [leak for leak in leaks if leak.kind == "raise"]
        if raised and usage.releases:
            call = usage.releases[0]
            finding = self.ctx.finding(NOT_IN_FINALLY, call, f"{described} is released only when no exception is "
                                       f"raised (line {raised[0].node.lineno} can raise first): move `{release}` "  # type: ignore[attr-defined]
                                       "into `finally`", path="raise", release_row=str(call.lineno), **data)
            if flow.fixture and _only_setup_raises(flow, raised):
                return dataclasses.replace(finding, severity=Severity.LATENT, message=(
                    f"{finding.message} (latent: only the fixture's setup before its `yield` can raise first, "
                    "and pytest runs no teardown for a fixture whose setup failed)"))
            return finding
        return None

    @staticmethod
    def _unclosed_message(usage: Usage, described: str, leak: Leak, release: str) -> str:
        if not usage.closes_anywhere:
            entered = (f" (`async with {usage.entered_attribute}` releases what it returns, not "
                       f"`{usage.variable}`)") if usage.entered_attribute else ""
            return f"{described} is never released{entered}: use `async with` or `{release}` in `finally`"
        row = leak.node.lineno  # type: ignore[attr-defined]
        if leak.kind == "return":
            return f"{described} is not released on the path that returns at line {row}: `{release}` first"
        if leak.kind == "again":
            return (f"{described} is created again in a loop before the previous one is released: release "
                    "each one in the loop body")
        return f"{described} is not released on every path to the end of the function: `{release}` in `finally`"


class Candidates:
    """The functions worth a closer look: those whose lines hold a word a finding needs.

    Creating a resource takes a call whose text ends in a registry name or in a name bound to one
    (`from httpx import AsyncClient as Client`, `Client = httpx.AsyncClient`); an un-awaited release
    takes a release method's name. A function whose lines hold none of these words has no LB2 finding,
    and neither has any function nested in it, so the walks skip it whole: most functions of a file.
    A candidate whose lines hold only a release method's name (`close` is on many lines) creates
    nothing: only its statements are looked at, for an un-awaited release.
    """

    def __init__(self, ctx: FileContext) -> None:
        registry_words = ctx.registry.name_words
        creating = registry_words | _aliases(ctx, registry_words)
        if ctx.index is not None:
            creating |= ctx.index.words
        scanned = registry_words | ctx.registry.release_methods
        # The registry's words come from the file's one shared scan; aliases and the project's makers are few.
        found = [*ctx.registry_rows, *word_rows(creating - scanned, ctx.source)]
        self.rows = sorted({row for row, _ in found})
        self.creating_rows = sorted({row for row, word in found if word in creating})

    def __contains__(self, function: Function) -> bool:
        return spans_a_row(function, self.rows)

    def creates(self, function: Function) -> bool:
        """Whether the function's lines name something that makes a resource (a candidate that may create one)."""
        return spans_a_row(function, self.creating_rows)


def _aliases(ctx: FileContext, words: frozenset[str]) -> set[str]:
    """Names bound, in any scope, to one of `words` or to an alias of one (import `as`, assignment).

    A binding names the word it binds to on its own lines, so only the statements whose lines hold a
    known word are read: those of the rows the shared scan found, then those of each new alias's rows.
    """
    rows = {row for row, word in ctx.registry_rows if word in words}
    aliases: set[str] = set()
    while True:
        known = words | aliases
        found = {name for name, last in _bindings(ctx.tree, sorted(rows)) if last in known} - known
        if not found:
            return aliases
        aliases |= found
        rows.update(row for row, _ in word_rows(found, ctx.source))


def _bindings(tree: ast.Module, rows: list[int]) -> Iterator[tuple[str, str]]:
    """(bound name, the last word of what it is bound to) of the statements, in any scope, whose lines
    hold one of the sorted `rows`."""
    stack = _spanning(statement_children(tree), rows)
    while stack:
        node = stack.pop()
        stack.extend(_spanning(statement_children(node), rows))
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from ((alias.asname, alias.name.rsplit(".", 1)[-1]) for alias in node.names if alias.asname)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, (ast.Name, ast.Attribute)):
            last = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            yield from ((target.id, last) for target in targets if isinstance(target, ast.Name))


def _spanning(nodes: list[ast.AST], rows: list[int]) -> list[ast.AST]:
    """The nodes for which `spans_a_row(node, rows)` holds, in one pass over both: the statements (and
    handlers, cases) of a block come in the order of their lines, and so do the sorted `rows`."""
    kept: list[ast.AST] = []
    at, count = 0, len(rows)
    for node in nodes:
        first = getattr(node, "lineno", None)
        if first is None:
            kept.append(node)  # a `case`, which has no lines
            continue
        while at < count and rows[at] < first:
            at += 1
        if at < count and rows[at] <= (getattr(node, "end_lineno", None) or first):
            kept.append(node)
    return kept


class _UnawaitedReleases:
    """LB202: `x.dispose()` as a statement, where x is known to hold a resource whose release is a coroutine."""

    def __init__(self, ctx: FileContext, index: _FileIndex, functions: list[tuple[Function, ImportTable]],
                 rows: list[int]) -> None:
        self.ctx = ctx
        self.rows = rows  # where a coroutine release method is named: no other statement holds a finding
        self.parents = index.parents
        self.index = index
        self.candidates = index.candidates
        self.self_assigned = index.by_function(index.self_assignments)
        self.stored = index.by_function(index.stored_assignments)
        self.module_types = self._scope_types(ctx.tree.body, ctx.imports, None)
        self.paths = self._stored_paths(functions)

    def run(self) -> Iterator[Finding]:
        yield from self._visit(self.ctx.tree, [self.module_types], {}, self.ctx.imports)

    def _visit(self, node: ast.AST, scopes: list[dict[str, Resource | None]],
               attributes: dict[str, Resource], imports: ImportTable) -> Iterator[Finding]:
        # A statement that names no coroutine release holds no finding, and its scopes serve only it.
        for child in _spanning(statement_children(node), self.rows):
            if isinstance(child, ast.ClassDef):
                yield from self._visit(child, scopes, self._class_attributes(child, imports), imports)
            elif isinstance(child, FUNCTIONS):
                if child not in self.candidates:
                    continue
                inner = self.index.tables.get(child) or imports.for_function(child)
                types = self._scope_types(child.body, inner, child)
                yield from self._visit(child, [types, *scopes], attributes, inner)
            else:
                if isinstance(child, ast.Expr) and isinstance(child.value, ast.Call):
                    finding = self._check(child.value, scopes, attributes)
                    if finding is not None:
                        yield finding
                yield from self._visit(child, scopes, attributes, imports)

    def _check(self, call: ast.Call, scopes: list[dict[str, Resource | None]],
               attributes: dict[str, Resource]) -> Finding | None:
        func = call.func
        if not isinstance(func, ast.Attribute):
            return None
        resource = self._receiver(func.value, scopes, attributes)
        if resource is None or func.attr not in resource.awaited_release:
            return None
        receiver = ast.unparse(func.value)
        return self.ctx.finding(NOT_AWAITED, call, f"`{receiver}.{func.attr}()` makes a coroutine that is never "
                                f"awaited, so the `{resource.qualname}` is never released: "
                                f"`await {receiver}.{func.attr}()`", variable=receiver, release=func.attr,
                                awaited="true", constructor=resource.qualname,
                                in_async=str(self._in_async(call)).lower())

    def _in_async(self, node: ast.AST) -> bool:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, FUNCTIONS):
                return isinstance(node, ast.AsyncFunctionDef)
        return False

    def _receiver(self, value: ast.expr, scopes: list[dict[str, Resource | None]],
                  attributes: dict[str, Resource]) -> Resource | None:
        if isinstance(value, ast.Name):
            for scope in scopes:
                if value.id in scope:
                    return scope[value.id]
            return None
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id in ("self", "cls"):
            return attributes.get(value.attr)
        return self.paths.get(ast.unparse(value))

    def _annotation(self, annotation: ast.expr | None, imports: ImportTable) -> Resource | None:
        """`httpx.AsyncClient`, `AsyncEngine | None`, `Optional["Redis"]`: the resource type it names."""
        if annotation is None:
            return None
        for node in ast.walk(annotation):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                try:
                    parsed = ast.parse(node.value, mode="eval").body
                except SyntaxError:
                    continue
                found = self._annotation(parsed, imports)
                if found:
                    return found
            elif isinstance(node, (ast.Name, ast.Attribute)):
                resource = self.ctx.registry.lookup(imports.qualify(node))
                if resource is not None and resource.kind is Kind.RESOURCE:
                    return resource
        return None

    def _scope_types(self, body: list[ast.stmt], imports: ImportTable,
                     function: Function | None) -> dict[str, Resource | None]:
        """Names of one scope bound to a resource; names bound to anything else map to None (shadowing)."""
        types: dict[str, Resource | None] = {}
        if function is not None:
            arguments = function.args
            for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                             *(a for a in (arguments.vararg, arguments.kwarg) if a)]:
                types[argument.arg] = self._annotation(argument.annotation, imports)
        nodes = _scope_statements(body) if function is None else self.index.own(function)
        for node in nodes:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        made = created_resource(node.value, self.ctx, imports)
                        types[target.id] = made if made else (types.get(target.id) if target.id in types else None)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                types[node.target.id] = (self._annotation(node.annotation, imports)
                                         or created_resource(node.value, self.ctx, imports))
        return types

    def _class_attributes(self, cls: ast.ClassDef, imports: ImportTable) -> dict[str, Resource]:
        attributes: dict[str, Resource] = {}
        for node in cls.body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                resource = self._annotation(node.annotation, imports)
                if resource:
                    attributes[node.target.id] = resource
        for method in cls.body:
            if isinstance(method, FUNCTIONS) and method in self.candidates:
                table = self.index.tables.get(method) or imports.for_function(method)
                self._self_assignments(method, table, attributes)
        return attributes

    def _self_assignments(self, method: Function, imports: ImportTable, attributes: dict[str, Resource]) -> None:
        """`self.client = httpx.AsyncClient()` / `self.engine: AsyncEngine = ...` in any method."""
        for node in self.self_assigned.get(method, ()):
            targets: list[ast.expr]
            value: ast.expr | None
            annotation: ast.expr | None
            if isinstance(node, ast.Assign):
                targets, value, annotation = node.targets, node.value, None
            elif isinstance(node, ast.AnnAssign):
                targets, value, annotation = [node.target], node.value, node.annotation
            else:
                continue
            resource = created_resource(value, self.ctx, imports) or self._annotation(annotation, imports)
            for target in targets:
                if resource and _on_self(target):
                    attributes.setdefault(target.attr, resource)  # type: ignore[attr-defined]

    def _stored_paths(self, functions: list[tuple[Function, ImportTable]]) -> dict[str, Resource]:
        """`app.state.client = httpx.AsyncClient()`, `app["db"] = ...`: object paths holding a resource."""
        paths: dict[str, Resource] = {}
        for function, imports in functions:
            for node in self.stored.get(function, ()):
                resource = created_resource(node.value, self.ctx, imports)
                if resource:
                    paths.setdefault(ast.unparse(node.targets[0]), resource)
        return paths


class _FileIndex:
    """One pass over the statements of a file in source order: their parent map, the candidate functions
    with the import table of their scope (nested ones see their parents'), the own statements of each
    candidate function that creates nothing, and the few assignments LB202 looks at.

    Only statements are walked (and the call of each expression statement is given its parent):
    nothing else is looked up but inside a function that makes a resource, whose every node gets its
    parent before its flow is followed (`parent_all`). A lookup that finds no parent means "not inside
    a function". A function's own nodes are those of its body, not of the functions, classes and
    lambdas nested in it, in the order `scope_nodes` gives them (`FileContext.own`, which the summary
    reads too); of a candidate that creates nothing, its own statements in that order.
    """

    def __init__(self, ctx: FileContext, candidates: Candidates) -> None:
        self.ctx = ctx
        self.candidates = candidates
        self.parents: dict[ast.AST, ast.AST] = {}
        self._statements: dict[Function, list[ast.AST]] = {}
        self._parented: set[Function] = set()
        self.functions: list[tuple[Function, ImportTable]] = []  # the candidates, in source order
        self.tables: dict[Function, ImportTable] = {}
        self.self_assignments: list[ast.Assign | ast.AnnAssign] = []  # `self.x = ...` anywhere
        self.stored_assignments: list[ast.Assign] = []  # `app.state.x = make()`, `app["x"] = make()`
        # (node, the own statements it belongs to, the import table of its scope)
        parents = self.parents
        stack: list[tuple[ast.AST, list[ast.AST] | None, ImportTable]] = [(ctx.tree, None, ctx.imports)]
        pop, push = stack.pop, stack.append
        while stack:
            node, owner, table = pop()
            if owner is not None:
                owner.append(node)
            if isinstance(node, ast.Expr):
                parents[node.value] = node  # LB202 asks whether the call is in an async function
                continue  # a simple statement holds no statement: no look at its fields
            if isinstance(node, ast.Assign):
                self._assignment(node)
                continue
            if isinstance(node, ast.AnnAssign):
                if _on_self(node.target):
                    self.self_assignments.append(node)
                continue
            if isinstance(node, FUNCTIONS):
                if node not in candidates:
                    continue  # nothing inside is ever looked up, nor in the functions nested in it
                table = self.tables[node] = ctx.scope_imports(node, table)
                self.functions.append((node, table))
                owner = None if candidates.creates(node) else self._statements.setdefault(node, [])
            elif isinstance(node, ast.ClassDef):
                owner = None
            children = statement_children(node)
            for child in reversed(children):
                parents[child] = node
                push((child, owner, table))

    def parent_all(self, function: Function) -> None:
        """Give every node inside the function its parent: the flow of a function that makes a resource
        looks up from its names and calls."""
        if function in self._parented:
            return
        self._parented.add(function)
        parents = self.parents
        stack: list[ast.AST] = [function]
        while stack:
            node = stack.pop()
            children = child_nodes(node)
            for child in children:
                parents[child] = node
            stack.extend(children)

    def _assignment(self, node: ast.Assign) -> None:
        if any(_on_self(target) for target in node.targets):
            self.self_assignments.append(node)
        if len(node.targets) == 1:
            target, value = node.targets[0], node.value
            if isinstance(value, ast.Await):
                value = value.value
            if (isinstance(target, (ast.Attribute, ast.Subscript)) and not _on_self(target)
                    and isinstance(value, ast.Call)):
                self.stored_assignments.append(node)

    def own(self, function: Function) -> list[ast.AST]:
        """The function's own nodes, listed once: the LB201 flow and the LB202 scope both read them (only
        its statements, when it creates nothing: all the LB202 scope looks at)."""
        statements = self._statements.get(function)
        return statements if statements is not None else self.ctx.own(function)

    def by_function(self, nodes: list[_Node]) -> dict[ast.AST, list[_Node]]:
        """Each function's nodes among `nodes` (its nested functions' included), in the same order."""
        inside: dict[ast.AST, list[_Node]] = {}
        for node in nodes:
            ancestor: ast.AST = node
            while ancestor in self.parents:
                ancestor = self.parents[ancestor]
                if isinstance(ancestor, FUNCTIONS):
                    inside.setdefault(ancestor, []).append(node)
        return inside


def _scope_statements(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The statements of a scope (and its handlers and cases) in `scope_nodes`' order, without the
    expressions: all that a module's names are bound by."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            children = statement_children(node)
            children.reverse()
            stack.extend(children)


def _awaited_release_rows(ctx: FileContext) -> list[int]:
    """The rows of the file that name a release method returning a coroutine (`dispose`, `aclose`), from the
    shared scan (release methods are among its words): an un-awaited release (LB202) names one on its lines."""
    words = _awaited_release_words(ctx.registry)
    return sorted({row for row, word in ctx.registry_rows if word in words})


@functools.lru_cache(maxsize=8)
def _awaited_release_words(registry: Registry) -> frozenset[str]:
    return frozenset().union(*(resource.awaited_release for resource in registry.resources))


def _only_setup_raises(flow: FunctionFlow, raised: list[Leak]) -> bool:
    """Every point that can raise before the release comes before the fixture's first `yield`."""
    yields = [node.lineno for node in ast.walk(flow.function) if isinstance(node, (ast.Yield, ast.YieldFrom))]
    return bool(yields) and all(leak.node.lineno < min(yields) for leak in raised)  # type: ignore[attr-defined]


def _may_create(own: list[ast.AST], imports: ImportTable, ctx: FileContext) -> bool:
    """A cheap look before the path walk: does a call of the function's own name a registry resource?"""
    for node in own:
        if isinstance(node, ast.Call):
            resource = ctx.registry.lookup(imports.qualify(node.func)) or ctx.made_by_project(node)
            if resource is not None and resource.kind is Kind.RESOURCE:
                return True
    return False


def _mentions_registry(ctx: FileContext) -> bool:
    """Every registry name a file can resolve ends in a word of its source (an import, a call, an annotation):
    a file that contains none of those words makes and names no resource, so it has no LB2 finding."""
    name_words = ctx.registry.name_words
    if any(word in name_words for _, word in ctx.registry_rows):
        return True  # the shared scan found one as a whole word: most files, with no search of their own
    words = name_words | (ctx.index.words if ctx.index is not None else frozenset())
    return any(word in ctx.source for word in words)


def _on_self(target: ast.expr) -> bool:
    return isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"


LIFECYCLE = FileRuleGroup(RULES, lambda ctx: _LifecycleChecker(ctx).run() if _mentions_registry(ctx) else iter(()))
