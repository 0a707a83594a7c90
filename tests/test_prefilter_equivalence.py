"""The shortcuts only skip work: with and without them, every file gives the same findings.

The byte-level pre-filter skips files; LB2's candidate functions skip functions whose lines name no
resource and no release method (and the statements outside them whose lines name none), and look only
at the statements of those that name no resource;
LB202 visits only the statements on the rows of release calls it may report (and nothing in a file
without one); LB105 looks only at
functions whose lines say `global`; LB101-LB104, LB106 and LB107 walk only the statements whose lines
name a resource, an alias of one or a loop's run method.

Runs over every fixture file and, when LOOPBOUND_EQUIVALENCE_CORPUS names a directory (for example
benchmarks/corpus/src), over every Python file in it.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from conftest import FIXTURES

from loopbound.config import Settings
from loopbound.registry import Registry, resource_from_config
from loopbound.engine import _WORD_BYTES, _import_lines, _trigger_pattern, check_source, may_have_findings
from loopbound.rules import ALL_RULES, import_time, lifecycle, lifecycle_index, source_rows
from loopbound.rules.base import FileContext
from loopbound.rules.lifecycle import LIFECYCLE
from loopbound.rules.lifecycle_index import Candidates

EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)
CORPUS = os.environ.get("LOOPBOUND_EQUIVALENCE_CORPUS")


def _files() -> list[Path]:
    files = sorted(FIXTURES.rglob("*.py"))
    if CORPUS:
        files += sorted(path for path in Path(CORPUS).rglob("*.py") if ".git" not in path.parts)
    return files


def _findings(data: bytes, name: str, *, prefilter: bool) -> list[tuple[object, ...]]:
    result = check_source(data, name, Settings(), EVERY_CODE, is_test=b"# test-file" in data[:200],
                          prefilter=prefilter)
    return [(f.code, f.start, f.end, f.message) for f in result.findings]


@pytest.mark.parametrize("path", _files(), ids=str)
def test_same_findings_with_and_without_prefilter(path: Path) -> None:
    data = path.read_bytes()
    assert _findings(data, path.name, prefilter=True) == _findings(data, path.name, prefilter=False)


@pytest.mark.parametrize("path", _files(), ids=str)
def test_same_findings_when_every_function_is_a_candidate(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    shortcut = _findings(data, path.name, prefilter=False)
    monkeypatch.setattr(Candidates, "__contains__", lambda self, function: True)
    monkeypatch.setattr(Candidates, "creates", lambda self, function: True)
    monkeypatch.setattr(lifecycle_index, "spanning", lambda nodes, rows: list(nodes))  # and every statement
    assert _findings(data, path.name, prefilter=False) == shortcut


@pytest.mark.parametrize("path", _files(), ids=str)
def test_same_findings_when_lb202_visits_every_statement(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    shortcut = _findings(data, path.name, prefilter=False)
    monkeypatch.setattr(lifecycle, "unawaited_release_rows",
                        lambda ctx, index: list(range(1, ctx.source.count("\n") + 2)))
    assert _findings(data, path.name, prefilter=False) == shortcut


@pytest.mark.parametrize("path", _files(), ids=str)
def test_same_findings_when_every_function_is_searched_for_global(path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    shortcut = _findings(data, path.name, prefilter=False)
    monkeypatch.setattr(import_time, "functions_around", lambda tree, word, source: [
        node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))])
    assert _findings(data, path.name, prefilter=False) == shortcut


@pytest.mark.parametrize("path", _files(), ids=str)
def test_same_findings_when_lb1_walks_every_statement(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    shortcut = _findings(data, path.name, prefilter=False)
    monkeypatch.setattr(import_time, "import_time_rows", lambda ctx: None)
    assert _findings(data, path.name, prefilter=False) == shortcut


@pytest.mark.parametrize(("source", "expected"), [
    ("import httpx\rclient = httpx.AsyncClient()\r", [("LB101", 2)]),
    ("import asyncio\nloop = asyncio.new_event_loop()\nloop.ｒｕｎ_forever()\n", [("LB107", 2), ("LB107", 3)]),
], ids=["lone carriage returns", "a name NFKC folds into run_forever"])
def test_lb1_walks_every_statement_where_rows_are_not_lines(source: str, expected: list[tuple[str, int]]) -> None:
    """A lone carriage return ends a line for the parser, not for the row count; `ｒｕｎ` is `run` to it."""
    ctx = FileContext("m.py", source, ast.parse(source), Settings().registry, False)
    assert import_time.import_time_rows(ctx) is None
    assert [(finding.code, finding.start.row) for finding in import_time.IMPORT_TIME.check(ctx)] == expected


def test_functions_around_a_word_include_nested_and_compound_ones() -> None:
    source = ("def plain():\n    return 1\n\n"
              "class Holder:\n    def method(self):\n        global A\n\n"
              "try:\n    pass\nexcept OSError:\n    def handler():\n        def inner():\n            global B\n"
              "match x:\n    case 1:\n        def in_case():\n            global C\n")
    found = source_rows.functions_around(ast.parse(source), re.compile(r"\bglobal\b"), source)
    assert [function.name for function in found] == ["method", "handler", "in_case", "inner"]


def test_candidates_follow_aliases() -> None:
    source = ("from httpx import AsyncClient as Browser\nFactory = Browser\n\n"
              "async def uses_alias():\n    client = Factory()\n\n"
              "async def unrelated():\n    return 1\n")
    tree = ast.parse(source)
    candidates = Candidates(FileContext("m.py", source, tree, Settings().registry, False))
    uses_alias, unrelated = (node for node in tree.body if isinstance(node, ast.AsyncFunctionDef))
    assert uses_alias in candidates and candidates.creates(uses_alias)
    assert unrelated not in candidates


def test_a_candidate_naming_only_a_release_creates_nothing() -> None:
    source = ("import httpx\nclient = httpx.AsyncClient()\n\n"
              "async def shutdown():\n    client.aclose()\n")
    tree = ast.parse(source)
    ctx = FileContext("m.py", source, tree, Settings().registry, False)
    shutdown = tree.body[-1]
    assert isinstance(shutdown, ast.AsyncFunctionDef)
    candidates = Candidates(ctx)
    assert shutdown in candidates and not candidates.creates(shutdown)
    findings = list(LIFECYCLE.check(ctx))
    assert [(f.code, dict(f.data)["in_async"]) for f in findings] == [("LB202", "true")]


def test_prefilter_skips_files_without_trigger_words() -> None:
    assert not may_have_findings(b"import os\nprint(os.getcwd())\n", Settings().registry)
    assert may_have_findings(b"import httpx\nclient = httpx.AsyncClient()\n", Settings().registry)
    assert not may_have_findings(b"import sqlalchemy\nquery = sqlalchemy.select()\n", Settings().registry)
    assert not may_have_findings(b"import redis\nimport asyncio\nengine = create_async_engine(url)\n",
                                 Settings().registry), "a name of another library's row does not count"
    assert may_have_findings(b"import redis\nimport asyncio\nlock = asyncio.Lock()\n", Settings().registry)
    assert may_have_findings(b"import asyncio\nasyncio.get_event_loop().run_until_complete(main())\n",
                             Settings().registry)


def test_a_module_counts_only_where_it_is_imported() -> None:
    registry = Settings().registry
    assert not may_have_findings(b"# asyncio.Lock() would be wrong here\nimport os\nLock = os.getpid\n", registry)
    assert may_have_findings(b"from sqlalchemy.ext.asyncio \\\n    import create_async_engine\n"
                             b"engine = create_async_engine(url)\n", registry), "a backslash continues the import"
    assert may_have_findings(b"from \\\r\n  httpx import AsyncClient\r\nclient = AsyncClient()\r\n", registry)
    assert may_have_findings(b"import os, \\\n    httpx\nclient = httpx.AsyncClient()\n", registry)


def _searched_pre_filter(data: bytes, registry: Registry) -> bool:
    """engine.may_have_findings as it was written first: the import lines searched with a regex for the leftmost
    module word still untried, then every name under that module looked for, whichever holds another."""
    pairs = registry.names_by_module
    imports = _import_lines(data)
    remaining, position = frozenset(pairs), 0
    while remaining:
        module = _trigger_pattern(remaining).search(imports, position)
        if module is None:
            return False
        word = module.group().decode()
        if any(name.encode() in data for name in pairs[word]) and _trigger_pattern(pairs[word]).search(data):
            return True
        remaining, position = remaining - {word}, module.end()
    return False


PRE_FILTER_EDGES = [
    b"import redis2\nRedis()\n", b"import _redis\nRedis()\n", b"import aioredis\nRedis()\n", b"import redis\nRedisX\n",
    b"import redis\nStrictRedis\n", b"import \xc3\xa9redis\nRedis\n", b"import redis\xc3\xa9\nRedis\n",
    b"#import redis\n",
    b"from asyncio import *\nq = LifoQueue()\n", b"import asyncio\nx = Queue_\n", b"import asyncio\nxQueue()\n",
    b"import asyncio\x00\nLock\n", b"import\tasyncio\r\nEvent\r\n", b"import os\nimport asyncio.events\n_Event\n",
    b"import httpx, redis\nConnectionPool\n", b"import redis, httpx\nAsyncClient\n", b"import sqlalchemy9\n",
    b"importasyncio Lock", b"import\\\nasyncio\nLock\n", b"x = 'asyncio'\nimport os\nLock\n", b"",
    b"import asyncio.locks as a1\n# Lock\n", b"from myapp import create_client\nmake_client()\n",
]


def _pre_filter_sources() -> list[bytes]:
    return [*PRE_FILTER_EDGES, *(path.read_bytes() for path in _files())]


@pytest.mark.parametrize("registry", [Settings().registry, Settings().registry.extended(
    [resource_from_config("myapp.clients.make_client", {"release": "close"}),
     resource_from_config("myapp.make", {}), resource_from_config("my_app.Queue2", {})], [])], ids=["builtin", "user"])
def test_the_pre_filter_decides_as_the_regex_search_of_each_module_word(registry: Registry) -> None:
    """may_have_findings takes the import lines' words in one split (not a regex search per module word) and
    looks only for the names that hold no other: it lets through exactly the files the searches let through."""
    decisions = [(data[:60], may_have_findings(data, registry)) for data in _pre_filter_sources()]
    assert decisions == [(data[:60], _searched_pre_filter(data, registry)) for data in _pre_filter_sources()]
    assert any(passes for _, passes in decisions) and not all(passes for _, passes in decisions)


def test_the_word_bytes_split_where_a_bytes_regex_bounds_words() -> None:
    word = [byte for byte in range(256) if re.fullmatch(rb"\w", bytes([byte]))]
    assert [byte for byte in range(256) if _WORD_BYTES[byte] == byte and byte != 32] == word
    assert all(_WORD_BYTES[byte] == 32 for byte in range(256) if byte not in word)


@pytest.mark.parametrize("path", _files(), ids=str)
def test_same_findings_when_lines_end_with_a_lone_carriage_return(path: Path) -> None:
    """The parser ends a line at a lone carriage return as at a line feed: the rows every shortcut counts by
    line feeds are not its lines then, and the shortcuts must look everywhere rather than miss a finding."""
    data = path.read_bytes().replace(b"\r\n", b"\n")
    if b"\r" in data or re.search(rb"coding[:=]", data):
        pytest.skip("a carriage return of its own already, or an encoding declaration, which Python looks for in "
                    "the first line only up to a line feed")
    assert _findings(data.replace(b"\n", b"\r"), path.name, prefilter=True) == _findings(data, path.name,
                                                                                         prefilter=True)
