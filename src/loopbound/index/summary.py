"""One module's summary: plain data read from its syntax tree, cached by content, resolved later.

A summary names things as the module's own source names them (`make_engine`, `factories.make_redis`,
`self._client`); resolution.py turns those references into project symbols once every module is
summarised, so a summary depends on nothing but its file's bytes and the registry.
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Callable, Iterator
from itertools import compress
from loopbound.index.light import light_summary as light_summary  # re-exported: the summariser's importers use both
from loopbound.index.light import scan_imports as scan_imports
from loopbound.index.entries import call_hooks, decorator_hook, entry_rows, main_entries, module_entries
from loopbound.index.model import BindingRow, ClassSummary, Entry, FunctionSummary, Hook, Made, ModuleSummary
from loopbound.names import ImportTable, dotted, is_main_guard, is_type_checking
from loopbound.registry import Kind, Registry
from loopbound.rules.base import LEAF_KINDS, FileContext, child_nodes, on_self, per_registry, scope_nodes, word_rows
from loopbound.rules.import_time import CACHE_DECORATORS
from loopbound.rules.resource_calls import is_safe_call
from loopbound.rules.resource_usage import MEMBER_RELEASES

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
# The kinds of node a function's summary reads, and those whose insides run later: looked up by class,
# which costs less than `isinstance` on each of a function's many names, attributes and constants.
_READ_KINDS = frozenset({ast.Call, ast.Yield, ast.YieldFrom, ast.Assign, ast.AnnAssign, ast.Return})
# Told apart by `map` and `compress`, in C: a function's nodes are mostly names, attributes and constants.
_is_read, _is_global = _READ_KINDS.__contains__, frozenset({ast.Global}).__contains__
_LATER_KINDS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda})
# `self.x = ...` here makes every instance hold x.
CONSTRUCTORS = frozenset({"__init__", "__post_init__"})


def _call_of(value: ast.expr | None) -> ast.Call | None:
    """The call a value is made by: `make()`, `await make()`, `g or make()`, `make() if x else None`."""
    if isinstance(value, ast.Await):
        return _call_of(value.value)
    if isinstance(value, ast.Call):
        return value
    alternatives: list[ast.expr] = []
    if isinstance(value, ast.BoolOp):
        alternatives = value.values
    elif isinstance(value, ast.IfExp):
        alternatives = [value.body, value.orelse]
    return next(filter(None, map(_call_of, alternatives)), None)


# Words without which a module registers no startup or shutdown hook, and without which it runs no
# event loop of its own: the hook and entry readers look only at modules that hold one.
HOOK_WORDS = (b"lifespan", b"on_startup", b"on_shutdown", b"on_cleanup", b"cleanup_ctx", b"on_event",
              b"event_handler", b"_serving", b"_server_st", b"listener", b"startup.register", b"shutdown.register")
RUN_WORDS = (b"IsolatedAsyncioTestCase", b"django.test", b"new_event_loop", b"run_until_complete", b"asyncio.run",
             b"anyio.run", b"trio.run", b"uvloop.run", b"_polling", b"run_forever", b"uvicorn", b"hypercorn",
             b"run_app", b"FastAPI(", b"Starlette(", b"Litestar(", b"Quart(", b"Sanic(", b"Application(",
             b"Flask(", b"Dispatcher(", b"get_asgi_application", b"get_wsgi_application", b"falcon")
ENTRY_WORDS = HOOK_WORDS + RUN_WORDS


WordSearch = tuple[tuple[bytes, tuple[tuple[bytes, int], ...]], ...]  # (anchor, ((word, where its anchor is), ...))


def _word_search(words: tuple[bytes, ...], anchors: tuple[bytes, ...]) -> WordSearch:
    """The words grouped under the first of `anchors` each holds (a word that holds none is its own anchor),
    each with where in it its anchor stands: `holds_any` scans the text once per group, not once per word."""
    groups: dict[bytes, list[tuple[bytes, int]]] = {}
    for word in words:
        anchor = next((anchor for anchor in anchors if anchor in word), word)
        groups.setdefault(anchor, []).append((word, word.index(anchor)))
    return tuple((anchor, tuple(held)) for anchor, held in groups.items())


def holds_any(data: bytes, search: WordSearch) -> bool:
    """`any(word in data for word in words)` for the words of a `_word_search`: each word found stands around
    a find of its anchor. Most files hold none of the words, and each scan of a whole file was most of the cost."""
    find, starts_with = data.find, data.startswith
    for anchor, held in search:
        at = find(anchor)
        while at >= 0:
            for word, offset in held:
                if at >= offset and starts_with(word, at - offset):
                    return True
            at = find(anchor, at + 1)
    return False


# Anchors each held by several of the words (the capitals by one, but found by `memchr`): a few thousand
# times in a megabyte of code at most, where a whole scan for a word costs about a millisecond.
_RUN_SEARCH = _word_search(RUN_WORDS, (b"run", b"corn", b"sgi_application", b"tar", b"F", b"Q", b"S", b"A", b"D"))
_HOOK_SEARCH = _word_search(HOOK_WORDS, (b"startup", b"shutdown", b"cleanup", b"event", b"_serv"))


class _Summariser:
    def __init__(self, tree: ast.Module, data: bytes, registry: Registry, is_test: bool, imports: ImportTable | None,
                 keep: Callable[[ast.FunctionDef | ast.AsyncFunctionDef], bool] | None, loops_only: bool = False,
                 own: Callable[[ast.FunctionDef | ast.AsyncFunctionDef], list[ast.AST]] | None = None,
                 scope_imports: Callable[[ast.FunctionDef | ast.AsyncFunctionDef, ImportTable], ImportTable] | None = None
                 ) -> None:
        self.tree = tree
        self.loops_only = loops_only
        self.data = data
        self.registry = registry
        self.is_test = is_test
        self.imports = imports or ImportTable.for_module(tree)
        self.keep = keep
        self.own = own or (lambda function: list(scope_nodes(function.body)))
        self.scope_imports = scope_imports or (lambda function, outer: outer.for_function(function))
        self.bindings: list[BindingRow] = []
        self.hooks: list[Hook] = []
        self.entries: list[Entry] = []
        self.release_words = registry.release_methods | MEMBER_RELEASES
        self.runs_loops = holds_any(data, _RUN_SEARCH)
        self.entry_words = self.runs_loops or holds_any(data, _HOOK_SEARCH)
        self._entry_rows: tuple[list[int] | None] | None = None

    def entry_rows(self) -> list[int] | None:
        """The rows the entry readers look at (entries.entry_rows), found once and only if asked."""
        if self._entry_rows is None:
            self._entry_rows = (entry_rows(self.data),)
        return self._entry_rows[0]

    def run(self) -> ModuleSummary:
        functions: list[FunctionSummary] = []
        classes: list[ClassSummary] = []
        # What runs at import, each group of nodes reversed (`_calls` reads a list from its end): one walk of
        # them all gives the calls of each group in turn, as a walk of each group would.
        import_time: list[ast.AST] = []
        skipped: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str, str | None]] = []
        for statement in self._module_statements(self.tree.body):
            if isinstance(statement, FUNCTIONS):
                if self._kept(statement):
                    functions.append(self._function(statement, statement.name, None))
                else:
                    skipped.append((statement, statement.name, None))
                import_time += reversed([*statement.decorator_list, *statement.args.defaults])
                self._decorator_hooks(statement)
            elif isinstance(statement, ast.ClassDef):
                classes.append(self._class(statement, functions, import_time, skipped))
            else:
                if isinstance(statement, (ast.Import, ast.ImportFrom)):
                    self._bind(statement)
                import_time.append(statement)
                self._statement_hooks(statement)
        import_time.reverse()
        if self.loops_only:
            skipped = []  # what runs loops, the hooks and the tests: no function is summarised
        if skipped and self.hooks:
            # Startup and shutdown code reaches the module's globals through any of its functions.
            functions.extend(self._function(node, name, owner) for node, name, owner in skipped)
        elif skipped and any(made.registry for function in functions
                             for _, made in (*function.stored_globals, *function.stored_attributes)):
            # What stores a resource is released by a function that names no registry row: `close_db()`.
            functions.extend(self._function(node, name, owner) for node, name, owner in skipped
                             if _mentions(node, self.release_words))
        if self.runs_loops:  # a partial summary too: reading them costs little once its tree is at hand
            self.entries.extend(module_entries(self.tree, self.imports, classes, self.entry_rows()))
        return ModuleSummary(
            bindings=tuple(self.bindings), imports=tuple(scan_imports(self.data)), functions=tuple(functions),
            classes=tuple(classes), hooks=tuple(self.hooks), entries=tuple(self.entries),
            import_time_calls=tuple(dict.fromkeys(self._calls(import_time))), partial=self.keep is not None,
            runs_loops=self.runs_loops)

    def _kept(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        return self.keep is None or self.keep(function)

    def _module_statements(self, body: list[ast.stmt]) -> Iterator[ast.stmt]:
        """Statements run at import, through if/try/with blocks; not the `__main__` or TYPE_CHECKING blocks."""
        for statement in body:
            if isinstance(statement, ast.If) and (is_main_guard(statement.test)
                                                  or is_type_checking(statement.test, self.imports)):
                if is_main_guard(statement.test):
                    self._main_block(statement.body)
                continue
            if isinstance(statement, (ast.If, ast.Try, ast.With, ast.AsyncWith)) or type(statement).__name__ == "TryStar":
                yield from self._flat(statement)
                continue
            yield statement

    def _flat(self, statement: ast.stmt) -> Iterator[ast.stmt]:
        if isinstance(statement, ast.If):
            yield ast.Expr(statement.test, lineno=statement.lineno, col_offset=statement.col_offset)
        for name in ("body", "orelse", "finalbody"):
            yield from self._module_statements(getattr(statement, name, []))
        for handler in getattr(statement, "handlers", []):
            yield from self._module_statements(handler.body)

    def _bind(self, statement: ast.Import | ast.ImportFrom) -> None:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                top = alias.name.split(".", 1)[0]
                self.bindings.append((alias.asname, alias.name, 0, None) if alias.asname else (top, top, 0, None))
            return
        for alias in statement.names:
            if alias.name != "*":
                self.bindings.append((alias.asname or alias.name, statement.module or "", statement.level, alias.name))

    def _calls(self, nodes: list[ast.AST]) -> list[str]:
        """Targets of the calls that run with these nodes (not in lambdas or nested definitions), in the order
        of a walk that takes the last node first and each node's children from the last."""
        targets: list[str] = []
        stack: list[ast.AST] = list(nodes)
        pop = stack.pop
        while stack:
            node = pop()
            kind = node.__class__
            if kind in _LATER_KINDS or kind in LEAF_KINDS:
                continue
            if kind is ast.Call:
                target = dotted(node.func)  # type: ignore[attr-defined]
                if target:
                    targets.append(target)
            stack += child_nodes(node)
        return targets

    def _made(self, value: ast.expr | None, imports: ImportTable, owner: str | None) -> Made | None:
        call = _call_of(value)
        if call is None:
            return None
        resource = self.registry.lookup(imports.qualify(call.func))
        if resource is not None:
            if resource.kind is not Kind.RESOURCE or is_safe_call(call, resource, imports):
                return None
            return Made(resource.qualname, True, call.lineno)
        target = dotted(call.func)
        if target is None:
            return None
        return Made(self._relative_to(owner, target), False, call.lineno)

    def _function(self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str,
                  owner: str | None) -> FunctionSummary:
        """One walk of the function's own nodes gives everything the index asks of it."""
        imports = self.scope_imports(function, self.imports)
        nodes = self.own(function)
        declared: set[str] | None = None  # the names its `global` statements declare: looked for on first need
        decorators = [d.func if isinstance(d, ast.Call) else d for d in function.decorator_list]
        cached = any(self.imports.qualify(d) in CACHE_DECORATORS for d in decorators)  # one object for all calls
        locals_made: dict[str, Made] = {}
        returns: list[Made] = []
        stored_globals: list[tuple[str, Made]] = []
        stored_attributes: list[tuple[str, Made]] = []
        calls: list[tuple[int, str]] = []
        released_globals: list[str] = []
        released_attributes: list[str] = []
        first_yield: int | None = None
        for node in compress(nodes, map(_is_read, map(type, nodes))):
            if isinstance(node, ast.Call):
                target = dotted(node.func)
                if target:
                    calls.append((node.lineno, self._relative_to(owner, target)))
                if isinstance(node.func, ast.Attribute) and node.func.attr in self.release_words:
                    receiver = node.func.value
                    if isinstance(receiver, ast.Name):
                        released_globals.append(receiver.id)
                    elif on_self(receiver):
                        released_attributes.append(receiver.attr)  # type: ignore[attr-defined]
            elif isinstance(node, (ast.Yield, ast.YieldFrom)):
                first_yield = node.lineno if first_yield is None else min(first_yield, node.lineno)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                made: Made | None = self._made(node.value, imports, owner)
                if made is None:
                    continue
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if declared is None:
                    declared = {name for node in compress(nodes, map(_is_global, map(type, nodes)))
                                for name in node.names}  # type: ignore[attr-defined]
                for target_node in targets:
                    if isinstance(target_node, ast.Name):
                        if target_node.id not in declared:  # a global is shared, not made anew per call
                            locals_made[target_node.id] = made
                        else:
                            stored_globals.append((target_node.id, Made(made.ref, made.registry, node.lineno,
                                                                        node.col_offset)))
                    elif on_self(target_node) and function.name in CONSTRUCTORS:
                        stored_attributes.append((target_node.attr, made))  # type: ignore[attr-defined]
            elif isinstance(node, ast.Return) and node.value is not None and not cached:
                value = node.value.value if isinstance(node.value, ast.Await) else node.value
                made = locals_made.get(value.id) if isinstance(value, ast.Name) else self._made(value, imports, owner)
                if made is not None:
                    returns.append(made)
        after_yield = [] if first_yield is None else [call for row, call in calls if row > first_yield]
        return FunctionSummary(
            name=name, row=function.lineno, is_async=isinstance(function, ast.AsyncFunctionDef),
            returns=tuple(returns), cached=cached, calls=tuple(dict.fromkeys(call for _, call in calls)),
            calls_after_yield=tuple(dict.fromkeys(after_yield)), stored_globals=tuple(stored_globals),
            released_globals=tuple(dict.fromkeys(released_globals)), stored_attributes=tuple(stored_attributes),
            released_attributes=tuple(dict.fromkeys(released_attributes)))

    @staticmethod
    def _relative_to(owner: str | None, target: str) -> str:
        if owner and target.startswith(("self.", "cls.")):
            return f"{owner}.{target.split('.', 1)[1]}"
        return target

    def _class(self, cls: ast.ClassDef, functions: list[FunctionSummary], import_time: list[ast.AST],
               skipped: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, str, str | None]]) -> ClassSummary:
        """The class's summary; its methods' summaries go to `functions` (or `skipped`), and what runs at
        import (its decorators, bases and own statements; its methods' decorators and defaults), grouped
        and reversed as `run` groups it, to `import_time`."""
        methods: list[str] = []
        import_time += reversed([*cls.decorator_list, *cls.bases, *(k.value for k in cls.keywords)])
        for statement in cls.body:
            if isinstance(statement, FUNCTIONS):
                methods.append(statement.name)
                if self._kept(statement):
                    functions.append(self._function(statement, f"{cls.name}.{statement.name}", cls.name))
                else:
                    skipped.append((statement, f"{cls.name}.{statement.name}", cls.name))
                import_time += reversed([*statement.decorator_list, *statement.args.defaults])
            elif not isinstance(statement, ast.ClassDef):
                import_time.append(statement)
        bases = tuple(filter(None, (self.imports.qualify(base) or dotted(base) for base in cls.bases)))
        return ClassSummary(cls.name, cls.lineno, bases, tuple(methods))

    def _decorator_hooks(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if not self.entry_words:
            return
        for decorator in function.decorator_list:
            when = decorator_hook(decorator)
            if when:
                self.hooks.append(Hook(when, function.name, function.lineno))

    def _statement_hooks(self, statement: ast.stmt) -> None:
        if not self.entry_words:
            return
        walked: list[ast.AST] = [statement]  # `ast.walk`'s order: the list grows as it is read
        for node in walked:
            if isinstance(node, ast.Call):
                self.hooks.extend(call_hooks(node))
            walked += child_nodes(node)

    def _main_block(self, body: list[ast.stmt]) -> None:
        if not self.entry_words:
            return
        self.entries.extend(main_entries(body, self.imports, self.entry_rows()))
        for statement in body:
            self._statement_hooks(statement)


def _mentions(function: ast.FunctionDef | ast.AsyncFunctionDef, words: frozenset[str]) -> bool:
    """A method call named by one of `words` anywhere in the function (a release: `.aclose()`, `.dispose()`)."""
    return any(isinstance(node, ast.Attribute) and node.attr in words for node in ast.walk(function))


def rows_mentioning(source: str, registry: Registry, scanned: list[tuple[int, str]] | None = None
                    ) -> Callable[[ast.FunctionDef | ast.AsyncFunctionDef], bool]:
    """Whether a function's lines name a registry row: the functions a partial summary keeps.

    `scanned`, when given, is the file's whole-word mentions of registry words (`FileContext.registry_rows`),
    which hold every mention this looks for: the source is not searched again.
    """
    words = _maker_words(registry)
    found = scanned if scanned is not None else word_rows(words, source)
    rows = sorted({row for row, word in found if word in words})

    def keep(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        first = bisect.bisect_left(rows, function.lineno)
        return first < len(rows) and rows[first] <= (function.end_lineno or function.lineno)

    return keep


@per_registry
def _maker_words(registry: Registry) -> frozenset[str]:
    """The last words of the rows that make a client, engine or pool: locks and loops make no maker."""
    return frozenset(name.rsplit(".", 1)[-1] for resource in registry.resources if resource.kind is Kind.RESOURCE
                     for name in resource.names)




def summarise(tree: ast.Module, data: bytes, registry: Registry, is_test: bool, *, imports: ImportTable | None = None,
              keep: Callable[[ast.FunctionDef | ast.AsyncFunctionDef], bool] | None = None,
              own: Callable[[ast.FunctionDef | ast.AsyncFunctionDef], list[ast.AST]] | None = None,
              scope_imports: Callable[[ast.FunctionDef | ast.AsyncFunctionDef, ImportTable], ImportTable] | None = None
              ) -> ModuleSummary:
    """The module's summary; with `keep`, only the functions it keeps are summarised (a partial summary).

    `own(function)` lists a function's own nodes as `scope_nodes` does and `scope_imports(function, outer)`
    gives its import table (`FileContext.own` and `FileContext.scope_imports`, which the rules read too, so
    that each function is walked once)."""
    return _Summariser(tree, data, registry, is_test, imports, keep, own=own, scope_imports=scope_imports).run()


def summarise_file(context: FileContext, data: bytes) -> ModuleSummary:
    """The partial summary of a file the per-file rules read too: it shares their scan of the text, their
    lists of each function's nodes and their import tables (`FileContext`)."""
    return summarise(context.tree, data, context.registry, context.is_test_file, imports=context.imports,
                     keep=rows_mentioning(context.source, context.registry, context.registry_rows),
                     own=context.own, scope_imports=context.scope_imports)


def summarise_loops(tree: ast.Module, data: bytes, registry: Registry, is_test: bool) -> ModuleSummary:
    """What a reachability search asks of a module (its entry points, hooks and tests) and no function: a
    partial summary whose loops are read. Summarising every function of a large test module costs as
    much as parsing it, and the search only wants to know whether it runs event loops."""
    return _Summariser(tree, data, registry, is_test, None, lambda function: False, loops_only=True).run()
