"""The index's plain data: what a module's summary holds, cached by content and resolved later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Binding(NamedTuple):
    """A name an import statement binds: `from .db import make_engine as make` -> make.

    A summary holds each as a plain tuple of these four fields (`BindingRow`): every checked file's
    summary crosses from a worker to the main process, and plain tuples of strings unpickle several
    times faster than objects (0.22 to 0.08 s CPU for the corpus's 4,500 files).
    """

    name: str
    module: str  # as written, without the leading dots
    level: int  # leading dots of a relative import
    attribute: str | None  # the imported name of a `from` import; None for `import a.b [as c]`


BindingRow = tuple[str, str, int, "str | None"]  # a Binding's fields, in its order


@dataclass(frozen=True)
class Made:
    """A value a function returns or an `__init__` stores: a registry call or a call to resolve later."""

    ref: str  # the registry's qualified name, or the called expression as written (`factories.make`)
    registry: bool
    row: int
    column: int = 0  # of the statement that stores it, counted as ast counts (UTF-8 bytes)


@dataclass(frozen=True)
class FunctionSummary:
    name: str  # `make_engine`, or `ApiClient.aclose` for a method
    row: int
    is_async: bool = False
    returns: tuple[Made, ...] = ()
    cached: bool = False  # functools.lru_cache / cache / async_lru.alru_cache
    calls: tuple[str, ...] = ()  # every call's target as written, own body only
    calls_after_yield: tuple[str, ...] = ()  # a generator's teardown: a lifespan's shutdown half
    stored_globals: tuple[tuple[str, Made], ...] = ()  # `global g; g = make()`
    released_globals: tuple[str, ...] = ()  # `global g; await g.aclose()`
    stored_attributes: tuple[tuple[str, Made], ...] = ()  # `self.x = make()`
    released_attributes: tuple[str, ...] = ()  # `await self.x.aclose()`


@dataclass(frozen=True)
class ClassSummary:
    name: str
    row: int
    bases: tuple[str, ...]
    methods: tuple[str, ...]


@dataclass(frozen=True)
class Hook:
    """A function the application registers to run at startup, at shutdown, or around both (lifespan)."""

    when: str  # "startup", "shutdown" or "lifespan"
    ref: str
    row: int


@dataclass(frozen=True)
class Entry:
    """Code that runs event loops: how many, and what starts them."""

    kind: str
    many: bool  # runs more than one loop over the process's life
    row: int


class ModuleLoops(NamedTuple):
    """How pytest runs a test module's (or a conftest.py's) async tests and fixtures, as the LB3 pass's loop
    model reads them for the pytest-asyncio releases the project runs on (rules/loop_table.py)."""

    scope: str  # the narrowest loop scope its async tests run on (its async fixtures', when it has no test)
    note: str = ""  # what the project's releases decide that the code alone does not say ("" when nothing)


LoopTable = dict[str, ModuleLoops]  # by the module's resolved path


def loop_table_digest(table: LoopTable) -> str:
    """Equal tables give equal digests: what the caches of graded findings compare."""
    from loopbound.blake2 import blake2b

    return blake2b(repr(sorted(table.items())).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class ModuleSummary:
    bindings: tuple[BindingRow, ...]
    imports: tuple[tuple[int, str, tuple[str, ...]], ...]  # (level, module, names) of every import
    functions: tuple[FunctionSummary, ...]
    classes: tuple[ClassSummary, ...]
    hooks: tuple[Hook, ...]
    entries: tuple[Entry, ...]
    import_time_calls: tuple[str, ...]  # what runs while the module is imported
    # Read from the bytes alone (imports, async tests) for a file the pre-filter shows makes no resource;
    # the index parses it when it needs more (an entry point, a hook, a call of a project factory).
    light: bool = False
    # Parsed, but only the functions that mention a registry name, a release or `global` are summarised;
    # the index summarises the rest when the module calls one of the project's resource makers.
    partial: bool = False
    # Its bytes hold words of code that runs event loops (`asyncio.run`, a thread, a test case class): its
    # entry points are read even in a partial summary, and the search for lifespan hooks parses it in full.
    runs_loops: bool = False

    @property
    def called(self) -> frozenset[str]:
        """Every call target in the module, at import time or in a function."""
        return frozenset(self.import_time_calls).union(*(function.calls for function in self.functions))


def summary_digest(summary: ModuleSummary | None) -> str:
    """Equal summaries give equal digests: they are plain frozen data (strings, numbers, tuples) whose repr
    is their value. Caches compare these instead of keeping every module's summary."""
    from loopbound.blake2 import blake2b  # this module is loaded by runs that import little else (warm.py)

    return blake2b(repr(summary).encode(), digest_size=16).hexdigest()
