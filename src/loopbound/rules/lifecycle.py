"""LB201-LB204: every loop-bound resource a function acquires is released, awaited, on every path.

The per-function flow view lives in resource_flow.py; this module turns it into the findings of LB201, LB203 and
LB204. unawaited_release.py finds release calls whose coroutine is dropped (LB202), and lifecycle_index.py the
functions worth a look. Fix builders read `variable`, `release`, `awaited` and `constructor` from Finding.data.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator

from loopbound.findings import Finding, Severity
from loopbound.names import ImportTable
from loopbound.registry import Binds, Kind, Resource
from loopbound.rules.base import FileContext, FileRuleGroup
from loopbound.rules.lifecycle_index import FileIndex, candidates_of
from loopbound.rules.lifecycle_rules import FIXTURE_TEARDOWN, NOT_IN_FINALLY, RULES, UNCLOSED
from loopbound.rules.resource_creations import Creation
from loopbound.rules.resource_flow import FunctionFlow, analyse
from loopbound.rules.resource_paths import Leak, PathWalk
from loopbound.rules.resource_usage import Usage
from loopbound.rules.unawaited_release import UnawaitedReleases, unawaited_release_rows


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
        self.candidates = candidates_of(ctx)
        self.index = FileIndex(ctx, self.candidates)
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
        unawaited_rows = unawaited_release_rows(self.ctx, self.index)
        if unawaited_rows:
            yield from UnawaitedReleases(self.ctx, self.index, functions, unawaited_rows).run()

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


def release_text(resource: Resource, receiver: str) -> str:
    """`await engine.dispose()`: how this receiver is released, as a message shows it."""
    return "; ".join(resource.release_statements(receiver))


def _only_setup_raises(flow: FunctionFlow, raised: list[Leak]) -> bool:
    """Every point that can raise before the release comes before the fixture's first `yield`."""
    yields = [node.lineno for node in ast.walk(flow.function) if isinstance(node, (ast.Yield, ast.YieldFrom))]
    return bool(yields) and all(leak.node.lineno < min(yields) for leak in raised)  # type: ignore[attr-defined]


def _may_create(own: list[ast.AST], imports: ImportTable, ctx: FileContext) -> bool:
    """A cheap look before the path walk: does a call of the function's own name a registry resource?
    Only the calls whose last name is one of the candidates' creating words can (`Candidates`)."""
    creating = candidates_of(ctx).creating
    call, name, attribute = ast.Call, ast.Name, ast.Attribute  # told by class: the parser makes no subclass
    for node in own:
        if node.__class__ is call:
            func = node.func
            last = func.id if func.__class__ is name else func.attr if func.__class__ is attribute else None
            if last not in creating:
                continue
            resource = ctx.registry.lookup(imports.qualify(func)) or ctx.made_by_project(node)
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


LIFECYCLE = FileRuleGroup(RULES, lambda ctx: _LifecycleChecker(ctx).run() if _mentions_registry(ctx) else iter(()))
