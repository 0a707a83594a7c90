"""The entry-point readers skip what cannot name an entry point, and find what a full walk finds."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

from loopbound.index.entries import _qualified_calls, entry_rows
from loopbound.index.summary import RUN_WORDS, summarise, summarise_loops
from loopbound.names import ImportTable
from loopbound.registry import DEFAULT_REGISTRY

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

SOURCES = [
    "import asyncio\n\nasyncio.run(main())\n",
    "import asyncio\nfor _ in range(3):\n    asyncio.run(main())\n",
    "import asyncio\n\n@decorate(asyncio.run(\n    main()))\ndef f():\n    pass\n",
    "import asyncio\n\nclass Case:\n    @staticmethod\n    @wrap(asyncio.new_event_loop())\n    def test(self):\n        x = [asyncio.run(m) for m in ms]\n",
    "import asyncio\nasyncio.\\\n    run(main())\nthreading.Thread(target=f)\n",
    "import asyncio\r\nasyncio.run(a())\r\nasyncio.run(b())\r\n",
    "# -*- coding: latin-1 -*-\nimport asyncio\ns = '\xe9'\nasyncio.run(main())\n",
    "import asyncio\nname = 'caf\u00e9'\nwhile True:\n    asyncio.run(main())\n",
    "import uvicorn\nif __name__ == '__main__':\n    uvicorn.run(app)\n",
]


def _calls(tree: ast.Module, rows: list[int] | None) -> list[tuple[int, int, str, bool]]:
    imports = ImportTable.for_module(tree)
    return [(call.lineno, call.col_offset, name, repeated) for call, name, repeated in _qualified_calls(tree.body, imports, rows)]


def _encoded(source: str) -> bytes:
    return source.encode("latin-1" if "latin-1" in source else "utf-8")


@pytest.mark.parametrize("source", SOURCES)
def test_the_rows_spare_no_call_a_full_walk_finds(source: str) -> None:
    data = _encoded(source)
    tree = ast.parse(data)
    rows = entry_rows(data)
    assert rows is not None
    assert _calls(tree, rows) == _calls(tree, None) != []


def test_the_fixtures_give_the_same_calls_with_and_without_the_rows() -> None:
    compared = 0
    for path in sorted(FIXTURES.rglob("*.py")):
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                tree = ast.parse(data)
            except (SyntaxError, ValueError):
                continue
        rows = entry_rows(data)
        if rows is not None and _calls(tree, None):
            compared += 1
            assert _calls(tree, rows) == _calls(tree, None), path
    assert compared > 20


@pytest.mark.parametrize("data", [
    b"import asyncio\rasyncio.run(main())\r",  # rows ended by a lone carriage return: the parser counts them
    "import asyncio\nasyncio.\uff52\uff55\uff4e(main())\n".encode(),  # fullwidth `run`, which the parser reads as `run`
    b"# coding: utf-8\nx = '\xff'\n",  # does not decode
])
def test_text_whose_rows_or_names_may_differ_from_the_parser_is_walked_whole(data: bytes) -> None:
    assert entry_rows(data) is None


def test_a_fullwidth_name_is_found_by_the_whole_walk() -> None:
    data = "import asyncio\nfor _ in x:\n    asyncio.\uff52\uff55\uff4e(main())\n".encode()
    assert _calls(ast.parse(data), entry_rows(data)) == [(3, 4, "asyncio.run", True)]


def test_a_partial_summary_reads_the_entry_points_a_loops_summary_reads() -> None:
    """The index takes a parsed module's entry points from the per-file pass's partial summary instead of
    parsing the module again for them."""
    compared = 0
    for path in sorted(FIXTURES.rglob("*.py")):
        data = path.read_bytes()
        if not any(word in data for word in RUN_WORDS):
            continue
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError):
            continue
        is_test = path.name.startswith("test_")
        partial = summarise(tree, data, DEFAULT_REGISTRY, is_test, keep=lambda function: False)
        loops = summarise_loops(tree, data, DEFAULT_REGISTRY, is_test)
        assert (partial.entries, partial.hooks, partial.runs_loops) == (loops.entries, loops.hooks, True), path
        compared += bool(partial.entries)
    assert compared > 5
