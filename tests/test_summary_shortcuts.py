"""The summariser's shortcuts only skip work: each answers as the plain walk or search it stands for.

`holds_any` finds a word around a find of its anchor instead of searching the text once per word; the
calls that run at import are read in one walk of the module's groups of nodes instead of one walk per
group; the hooks of a statement are read in `ast.walk`'s order from a list of `child_nodes`; the walk for
entry points pushes no name and no constant.

Runs over every fixture file and, when LOOPBOUND_EQUIVALENCE_CORPUS names a directory (for example
benchmarks/corpus/src), over every Python file in it.
"""

from __future__ import annotations

import ast
import os
import warnings
from pathlib import Path

import pytest
from conftest import FIXTURES

from loopbound.index.entries import _ENTRY_NAMES, _REPEATING, _qualified_calls, call_hooks, entry_rows
from loopbound.index.summary import (FUNCTIONS, HOOK_WORDS, RUN_WORDS, _HOOK_SEARCH, _RUN_SEARCH, _Summariser,
                                     WordSearch, _word_search, holds_any, summarise)
from loopbound.names import ImportTable
from loopbound.registry import DEFAULT_REGISTRY

SEARCHES = [(RUN_WORDS, _RUN_SEARCH), (HOOK_WORDS, _HOOK_SEARCH)]

# Several calls in one statement, class or definition, where the order of a walk shows.
SOURCES = [
    "import asyncio\nfrom starlette.applications import Starlette\n\n"
    "app = Starlette(on_startup=[a, b], lifespan=wrap(Starlette(on_shutdown=[c], lifespan=d)), on_shutdown=[e])\n"
    "app.router.on_startup.append(f(g)); app.add_event_handler('startup', h)\n"
    "setup(Starlette(on_startup=[s1]), wrap(Starlette(on_startup=[s2])), Starlette(on_shutdown=[s3]))\n",
    "@first(one(), two())\n@second(three(four()))\nclass C(base(five()), meta=kind(six())):\n"
    "    x = seven(eight())\n    y = [nine(), ten()]\n\n"
    "    @eleven(twelve())\n    def method(self, a=thirteen(), b=fourteen(fifteen())):\n        inner()\n\n"
    "    class Inner(sixteen()):\n        z = seventeen()\n\n"
    "@eighteen()\ndef f(a=nineteen(), *, b=twenty()):\n    pass\n\n"
    "if flag(one()):\n    w = twentyone(lambda: never())\nelse:\n    v = twentytwo()\n"
    "try:\n    u = twentythree()\nexcept E(twentyfour()):\n    t = twentyfive()\n",
]


def _files() -> list[Path]:
    files = sorted(FIXTURES.rglob("*.py"))
    corpus = os.environ.get("LOOPBOUND_EQUIVALENCE_CORPUS")
    if corpus:
        files += sorted(Path(corpus).rglob("*.py"))
    return files


def _datas() -> list[bytes]:
    return [*(path.read_bytes() for path in _files()), *(source.encode() for source in SOURCES)]


def _trees() -> list[tuple[ast.Module, bytes]]:
    trees: list[tuple[ast.Module, bytes]] = []
    for data in _datas():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)
                trees.append((ast.parse(data), data))
        except (SyntaxError, ValueError):
            continue
    return trees


def _near_misses(words: tuple[bytes, ...]) -> list[bytes]:
    """Texts that hold a word, a word cut short, a word's anchor at the very start, or parts of two words."""
    texts = [b"", b"x"]
    for word in words:
        texts += [word, b"x" + word + b"y", word[:-1], word[1:], word[1:] + b" " + word[:-1], word * 3]
        texts += [word[cut:] for cut in range(len(word))] + [word[:cut] for cut in range(len(word))]
    return texts


@pytest.mark.parametrize(("words", "search"), SEARCHES)
def test_each_word_is_searched_under_one_anchor_that_it_holds(words: tuple[bytes, ...], search: WordSearch) -> None:
    held = [(word, anchor, offset) for anchor, group in search for word, offset in group]
    assert sorted(word for word, _, _ in held) == sorted(words)
    assert all(word[offset:offset + len(anchor)] == anchor for word, anchor, offset in held)
    assert len(search) < len(words)  # the anchors spare scans


@pytest.mark.parametrize(("words", "search"), SEARCHES)
def test_holds_any_answers_as_a_search_for_each_word(words: tuple[bytes, ...], search: WordSearch) -> None:
    texts = _datas() + _near_misses(words) + _near_misses(RUN_WORDS + HOOK_WORDS)
    found = 0
    for data in texts:
        expected = any(word in data for word in words)
        assert holds_any(data, search) == expected, data[:200]
        found += expected
    assert 0 < found < len(texts)


def test_a_word_search_finds_a_word_whose_anchor_stands_at_the_start_of_the_text() -> None:
    search = _word_search((b"asyncio.run", b"run_app"), (b"run",))
    assert holds_any(b"run asyncio.ru", search) is False  # `run` at 0: `asyncio.run` would start before the text
    assert holds_any(b"runasyncio.run", search) is True
    assert holds_any(b"run_ap", search) is False
    assert holds_any(b"xrun_app", search) is True


def _reference_import_time(tree: ast.Module, data: bytes) -> tuple[str, ...]:
    """The calls that run at import, one walk of `_Summariser._calls` per group of nodes."""
    summariser = _Summariser(tree, data, DEFAULT_REGISTRY, False, None, None)
    calls: list[str] = []
    for statement in summariser._module_statements(tree.body):
        if isinstance(statement, FUNCTIONS):
            calls += summariser._calls([*statement.decorator_list, *statement.args.defaults])
        elif isinstance(statement, ast.ClassDef):
            calls += summariser._calls([*statement.decorator_list, *statement.bases,
                                        *(keyword.value for keyword in statement.keywords)])
            for inner in statement.body:
                if isinstance(inner, FUNCTIONS):
                    calls += summariser._calls([*inner.decorator_list, *inner.args.defaults])
                elif not isinstance(inner, ast.ClassDef):
                    calls += summariser._calls([inner])
        else:
            calls += summariser._calls([statement])
    return tuple(dict.fromkeys(calls))


def test_the_calls_at_import_are_those_of_a_walk_per_group() -> None:
    compared = 0
    for tree, data in _trees():
        summary = summarise(tree, data, DEFAULT_REGISTRY, False)
        assert summary.import_time_calls == _reference_import_time(tree, data), data[:200]
        compared += len(summary.import_time_calls) > 1
    assert compared > 20
    source = SOURCES[1]
    assert summarise(ast.parse(source), source.encode(), DEFAULT_REGISTRY, False).import_time_calls == (
        "kind", "six", "base", "five", "second", "three", "four", "first", "two", "one", "seven", "eight", "ten",
        "nine", "fourteen", "fifteen", "thirteen", "eleven", "twelve", "nineteen", "eighteen", "flag", "twentyone",
        "twentytwo", "twentythree", "twentyfive")

def test_the_hooks_of_a_statement_are_read_in_the_order_of_ast_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    def walked_hooks(self: _Summariser, statement: ast.stmt) -> None:
        if self.entry_words:
            for node in ast.walk(statement):
                if isinstance(node, ast.Call):
                    self.hooks.extend(call_hooks(node))

    trees = _trees()
    summaries = [summarise(tree, data, DEFAULT_REGISTRY, False) for tree, data in trees]
    monkeypatch.setattr(_Summariser, "_statement_hooks", walked_hooks)
    assert summaries == [summarise(tree, data, DEFAULT_REGISTRY, False) for tree, data in trees]
    assert sum(len(summary.hooks) > 1 for summary in summaries) > 3
    assert [hook.ref for hook in summaries[-2].hooks] == ["a", "b", "e", "c", "d", "g", "h", "s1", "s3", "s2"]


def _walked_entry_calls(nodes: list[ast.stmt], imports: ImportTable) -> list[tuple[int, int, str, bool]]:
    """What `_qualified_calls` finds without rows, from a walk of every node `ast.iter_child_nodes` gives."""
    found: list[tuple[int, int, str, bool]] = []
    stack: list[tuple[ast.AST, bool]] = [(node, False) for node in nodes]
    while stack:
        node, repeated = stack.pop()
        if isinstance(node, ast.Call):
            func = node.func
            last = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if last in _ENTRY_NAMES:
                found.append((node.lineno, node.col_offset, imports.qualify(func) or last, repeated))
        inner = repeated or isinstance(node, tuple(_REPEATING))
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))
    return found


def test_the_walk_for_entry_points_finds_what_a_walk_of_every_node_finds() -> None:
    compared = 0
    for tree, data in _trees():
        imports = ImportTable.for_module(tree)
        expected = _walked_entry_calls(tree.body, imports)
        for rows in (None, entry_rows(data)):
            found = [(call.lineno, call.col_offset, name, repeated)
                     for call, name, repeated in _qualified_calls(tree.body, imports, rows)]
            assert found == expected, data[:200]
        compared += bool(expected)
    assert compared > 10
