"""The hand-made scans the summary and the rules share give what their plain counterparts give:
`word_rows` a regex of the words between word boundaries, `scope_node_list` a walk with `ast.iter_child_nodes`,
`scope_statements` a recursive generator over the blocks, `dotted` a walk down an attribute chain with
`isinstance`, `ImportTable.lookup` a recursive look-up through the parent tables."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import pytest
from conftest import FIXTURES

from loopbound.names import ImportTable, dotted, scope_statements
from loopbound.registry import DEFAULT_REGISTRY
from loopbound.rules.base import scope_node_list, word_rows
from loopbound.source import SourceError, decode

WORD_SETS = (
    DEFAULT_REGISTRY.name_words | DEFAULT_REGISTRY.release_methods,
    frozenset({"make_engine", "_client", "Engine", "db", "get", "ñame", "connect", "connect_robust"}),
)
EDGES = ("close", "xclose close_ close\nclose", "é close\u00e9close ñame", "\n\nAsyncClientAsyncClient AsyncClient",
         "", "stopstop stop", "connect_robust connect connect_ db.get(db)", "x = 1\r\nclient.aclose()\r\n",
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


@pytest.mark.parametrize("words", WORD_SETS, ids=["registry", "others"])
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
