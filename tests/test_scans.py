"""The hand-made scans the summary and the rules share give what their plain counterparts give:
`word_rows` a regex of the words between word boundaries, `scope_node_list` a walk with `ast.iter_child_nodes`,
`scope_statements` a recursive generator over the blocks, `dotted` a walk down an attribute chain with
`isinstance`, `ImportTable.lookup` a recursive look-up through the parent tables, the pre-filter's
`_import_lines` the groups of backslash-joined lines, `read_imports` each match's groups read by name."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import pytest
from conftest import FIXTURES

from loopbound.engine import _import_lines
from loopbound.index.light import _IMPORT_LINE, read_imports
from loopbound.names import ImportTable, dotted, scope_statements
from loopbound.registry import DEFAULT_REGISTRY, Registry
from loopbound.rules.base import per_registry, scope_node_list, word_rows
from loopbound.rules.import_time import _evaluated_calls
from loopbound.source import SourceError, decode

WORD_SETS = (
    DEFAULT_REGISTRY.name_words | DEFAULT_REGISTRY.release_methods,
    frozenset({"make_engine", "_client", "Engine", "db", "get", "ñame", "connect", "connect_robust"}),
    # Words that hold others, some twice (`closeclose`), one inside two (`aclose_wait_closed`).
    frozenset({"close", "aclose", "wait_closed", "closeclose", "aclose_wait_closed", "secure", "insecure"}),
)
EDGES = ("close", "xclose close_ close\nclose", "é close\u00e9close ñame", "\n\nAsyncClientAsyncClient AsyncClient",
         "", "stopstop stop", "connect_robust connect connect_ db.get(db)", "x = 1\r\nclient.aclose()\r\n",
         "aclose xaclose aclosex wait_closed closeclose closecloseclose aclose_wait_closed insecure secure_insecure",
         "try:\n    a = 1\nexcept E:\n    b = 2\nelse:\n    c = 3\nfinally:\n    d = 4\n"
         "match x:\n    case 1:\n        e = lambda: f(g)\n",
         # Fields holding None, strings or flags beside nodes: `**` keys, `global` names, `case None`,
         # keyword patterns, a bare `raise`, f-strings, slices, comprehensions and a walrus.
         "async def f(a, *b, c=1, **d):\n    global g, h\n    def inner():\n        nonlocal a\n    x = {**a, 'k': b[1:2:], **d}\n"
         "    match x:\n        case None | True:\n            raise\n        case P(1, k=v):\n            pass\n"
         "        case [1, *r] | {'a': 1, **r}:\n"
         "            y = f'{x!r:>{c}}' if (z := [i async for i in b if i]) else {k: v for k, v in d}\n"
         "    async with a as (m, n), b:\n        await m(*n, **{})\n")
_MARKERS = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _sources() -> list[str]:
    sources = list(EDGES)
    for path in sorted(FIXTURES.rglob("*.py")):
        try:
            sources.append(decode(path.read_bytes()))
        except SourceError:
            continue  # the bad-input fixtures
    return sources


def _regex_rows(words: frozenset[str], source: str) -> list[tuple[int, str]]:
    pattern = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")\b")
    return [(source.count("\n", 0, match.start()) + 1, match.group()) for match in pattern.finditer(source)]


def _walked(body: list[ast.stmt]) -> list[ast.AST]:
    nodes: list[ast.AST] = []

    def visit(node: ast.AST) -> None:
        nodes.append(node)
        if not isinstance(node, _SCOPES):
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, _MARKERS):
                    visit(child)

    for statement in body:
        visit(statement)
    return nodes


def _blocks(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for statement in body:
        yield statement
        if isinstance(statement, _SCOPES[:3]):
            continue
        for name in ("body", "orelse", "finalbody"):
            yield from _blocks(getattr(statement, name, []))
        for part in (*getattr(statement, "handlers", []), *getattr(statement, "cases", [])):
            yield from _blocks(part.body)


def _trees() -> list[ast.Module]:
    trees = []
    for source in _sources():
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            continue
    return trees


@pytest.mark.parametrize("words", WORD_SETS, ids=["registry", "others", "nested"])
def test_word_rows_finds_what_a_word_boundary_regex_finds(words: frozenset[str]) -> None:
    for source in _sources():
        assert word_rows(words, source) == _regex_rows(words, source), source[:80]


def test_scope_node_list_lists_a_scope_as_a_walk_does() -> None:
    for tree in _trees():
        for scope in [tree, *(node for node in ast.walk(tree) if isinstance(node, _SCOPES[:3]))]:
            listed, walked = scope_node_list(scope.body), _walked(scope.body)  # type: ignore[attr-defined]
            assert len(listed) == len(walked) and all(a is b for a, b in zip(listed, walked))


def test_scope_statements_lists_a_scope_as_the_recursive_generator_does() -> None:
    for tree in _trees():
        for scope in [tree, *(node for node in ast.walk(tree) if isinstance(getattr(node, "body", None), list))]:
            listed, walked = list(scope_statements(scope.body)), list(_blocks(scope.body))  # type: ignore[attr-defined]
            assert len(listed) == len(walked) and all(a is b for a, b in zip(listed, walked))


def _plain_dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def test_dotted_reads_every_expression_as_the_isinstance_walk_does() -> None:
    expressions = [node for tree in _trees() for node in ast.walk(tree) if isinstance(node, ast.expr)]
    assert any(dotted(node) is None for node in expressions)
    assert any("." in (dotted(node) or "") for node in expressions)
    for node in expressions:
        assert dotted(node) == _plain_dotted(node), ast.dump(node)[:80]


def _plain_lookup(table: ImportTable | None, name: str) -> str | None:
    while table is not None:
        if name in table._bindings:
            return table._bindings[name]
        table = table._parent
    return None


def test_import_table_lookup_finds_what_the_parent_chain_holds() -> None:
    for tree in _trees():
        module = ImportTable.for_module(tree)
        tables = [module]
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                tables.append(tables[-1].for_function(node))  # nested ever deeper: parameters shadow names
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | {"asyncio", "nowhere"}
        for table in tables:
            for name in names:
                assert table.lookup(name) == _plain_lookup(table, name), name


# The kinds the scans and rules tell apart by `node.__class__ is ...` instead of `isinstance`.
_BY_CLASS = (ast.Call, ast.Attribute, ast.Name, ast.Global, ast.Nonlocal, ast.Assign, ast.AnnAssign, ast.Expr,
             ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def test_the_parser_makes_no_subclass_of_a_kind_told_by_class() -> None:
    nodes = [node for tree in _trees() for node in ast.walk(tree)]
    assert {node.__class__ for node in nodes} >= set(_BY_CLASS)
    for node in nodes:
        for kind in _BY_CLASS:
            assert isinstance(node, kind) == (node.__class__ is kind), (kind, node)


IMPORT_EDGES = (b"import asyncio", b"import a\\\n, httpx\nx = 1\n", b"from x \\\r\nimport (a,\n b as c)\r\n",
                b"\\\nimport a\n", b"\nimport a", b"x = 'import'\\\n\\\nfrom . import y  # z\nimport\n",
                b"from .. import *; import q as r, s.t\n\tfrom   a.b   import   c as d , e\n", b"importlib\\",
                b"\\\r\nimport x\\\r\n", b"import os; import sys\nfrom a import importer, b\nimport importlib\n", b"# import re\nr'''\nfrom httpx import AsyncClient\n'''\n")


def _byte_sources() -> list[bytes]:
    return [*IMPORT_EDGES, *(source.encode() for source in EDGES),
            *(path.read_bytes() for path in sorted(FIXTURES.rglob("*.py")))]


def _plain_import_lines(data: bytes) -> bytes:
    """The groups of lines a trailing backslash joins, those that hold `import`."""
    groups, current = [], []
    for line in data.split(b"\n"):
        current.append(line)
        if not line.endswith((b"\\", b"\\\r")):
            groups.append(b"\n".join(current))
            current = []
    if current:
        groups.append(b"\n".join(current))
    return b"\n".join(group for group in groups if b"import" in group)


def test_import_lines_are_the_joined_lines_that_hold_import() -> None:
    for data in _byte_sources():
        assert _import_lines(data) == _plain_import_lines(data), data[:80]


def _named_groups_imports(data: bytes) -> tuple[list[tuple[str, str, int, str | None]], list[tuple[int, str, tuple[str, ...]]]]:
    """`read_imports` reading each match's groups by name, one at a time."""
    bindings: list[tuple[str, str, int, str | None]] = []
    imports: list[tuple[int, str, tuple[str, ...]]] = []
    position = data.find(b"import")
    while position >= 0:
        match = _IMPORT_LINE.match(data, data.rfind(b"\n", 0, position) + 1)
        modules = match["modules"] if match is not None else None
        if match is None or match.start("names" if modules is None else "modules") <= position:
            position = data.find(b"import", position + 6)
            continue
        if modules is not None:
            for part in modules.decode("ascii", "replace").split(","):
                words = part.split()
                if words:
                    top = words[0].split(".", 1)[0]
                    bound = words[2] if len(words) == 3 else top
                    imports.append((0, words[0], ()))
                    bindings.append((bound, words[0] if bound != top else bound, 0, None))
        else:
            text = match["names"].decode("ascii", "replace").strip("()\\ \t\r\n").replace("\n", " ")
            level, module = len(match["dots"]), match["module"].decode("ascii", "replace")
            names = [part.split()[0] for part in text.split(",") if part.split()]
            bindings.extend((words[2] if len(words) == 3 else words[0], module, level, words[0])
                            for words in (part.split() for part in text.split(",")) if words and words[0] != "*")
            imports.append((level, module, tuple(names)))
        position = data.find(b"import", match.end())
    return bindings, imports


def testread_imports_reads_what_the_named_groups_give() -> None:
    for data in _byte_sources():
        assert read_imports(data) == _named_groups_imports(data), data[:80]


class _IsinstanceTable(ImportTable):
    """`ImportTable` binding a scope through an isinstance chain over `scope_statements`."""

    def _bind_scope(self, body: list[ast.stmt]) -> None:
        for statement in scope_statements(body):
            if isinstance(statement, ast.Import):
                for alias in statement.names:
                    top = alias.name.split(".", 1)[0]
                    self._bindings[alias.asname or top] = alias.name if alias.asname else top
            elif isinstance(statement, ast.ImportFrom):
                base = f"<local>.{statement.module or ''}" if statement.level else statement.module or ""
                self._bindings.update((alias.asname or alias.name, f"{base}.{alias.name}")
                                      for alias in statement.names if alias.name != "*")
            elif isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                self._bindings[statement.name] = f"<local>.{statement.name}"
            elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                self._bind_assignment(statement.targets[0], statement.value)
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                self._bind_assignment(statement.target, statement.value)


def test_import_tables_bind_what_the_isinstance_chain_binds() -> None:
    bound = 0
    for tree in _trees():
        for scope in [tree, *(node for node in ast.walk(tree) if isinstance(node, _SCOPES[:3]))]:
            told, chained = ImportTable({}), _IsinstanceTable({})
            told._bind_scope(scope.body)  # type: ignore[attr-defined]
            chained._bind_scope(scope.body)  # type: ignore[attr-defined]
            assert told._bindings == chained._bindings
            bound += len(told._bindings)
    assert bound


def _walked_expression(node: ast.AST) -> Iterator[ast.AST]:
    """Every node evaluated with the expression, lambda bodies and all but a generator's first iterable left out."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, ast.Lambda):
            stack.extend(current.args.defaults)
            stack.extend(default for default in current.args.kw_defaults if default)
        elif isinstance(current, ast.GeneratorExp):
            stack.append(current.generators[0].iter)
        else:
            stack.extend(child for child in ast.iter_child_nodes(current) if not isinstance(child, _MARKERS))


def test_evaluated_calls_are_the_calls_of_the_expression_walk() -> None:
    found = 0
    for tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, (ast.expr, ast.keyword, ast.withitem)):
                calls = _evaluated_calls(node)
                expected = [child for child in _walked_expression(node) if isinstance(child, ast.Call)]
                assert len(calls) == len(expected) and all(a is b for a, b in zip(calls, expected))
                found += len(calls)
    assert found


def test_per_registry_derives_once_for_each_registry_object() -> None:
    """`per_registry` keys on the registry object rather than its hash, which walks every row."""
    calls: list[Registry] = []

    @per_registry
    def words(registry: Registry) -> frozenset[str]:
        calls.append(registry)
        return registry.name_words

    extended = DEFAULT_REGISTRY.extended([], ["httpx.AsyncClient"])
    assert words(DEFAULT_REGISTRY) is words(DEFAULT_REGISTRY) is DEFAULT_REGISTRY.name_words
    assert words(extended) is extended.name_words
    assert calls == [DEFAULT_REGISTRY, extended]
