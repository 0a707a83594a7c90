"""The server's parser of edited buffers gives the tree `ast.parse` gives, version after version, and so the
same findings as a check of the whole text: random edits, compared after each one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopbound.config import Settings
from loopbound.engine import check_source
from loopbound.rules import ALL_RULES
from loopbound.server.reparse import Reparser

# The buffers hypothesis writes hold invalid escapes: parsing them warns about them, which is not ours to
# print (the command and the server set these filters; pytest resets them for each test).
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning",
                                        "ignore:invalid escape sequence:DeprecationWarning")

BASE = '''"""A module with findings and the shapes a cut between statements must respect."""
import httpx
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine("postgresql+asyncpg://db/app")
a = 1; b = 2
TEXT = """
def not_code():
    pass
"""


@decorator
@other(
    1,
)
async def fetch(url: str) -> int:
    session = httpx.AsyncClient()
    response = await session.get(url)
    return response.status_code


class Holder:
    def __init__(self) -> None:
        self.client = httpx.AsyncClient()

    async def close(self) -> None:
        self.client.aclose()


values = [
    1,
    2,
]
if values:
    pass
else:
    pass


async def fine() -> None:
    async with httpx.AsyncClient() as client:
        await client.get("/")  # noqa: LB201
'''
SNIPPETS = ["", "# comment", "x = 1", "    x = 1", "def f():", "    return 1", "async def g():", "class C:",
            "@decorator", '"""', "'''", "(", ")", "[1,", "]", "a = 1; b = 2", "x = \\", "else:", "    pass",
            "session = httpx.AsyncClient()", "    client = httpx.AsyncClient()", "from __future__ import annotations",
            "if True:", "try:", "finally:", "\tx = 2", "é = 'ü'", "x = 1  # noqa: LB201"]
CHARACTERS = st.sampled_from(list("x =():[]'\"#\\\n\t@.,") + ["def ", "async ", "    "])
SETTINGS = Settings()
EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)


@st.composite
def edit(draw: st.DrawFn, text: str) -> str:
    lines = text.split("\n")
    row = draw(st.integers(0, len(lines)))
    kind = draw(st.sampled_from(["insert", "delete", "replace", "type", "type"]))
    if kind == "insert":
        lines.insert(row, draw(st.sampled_from(SNIPPETS)))
    elif kind == "delete" and row < len(lines):
        del lines[row]
    elif kind == "replace" and row < len(lines):
        lines[row] = draw(st.sampled_from(SNIPPETS))
    elif row < len(lines):  # a keystroke or a few within a line, as typing does
        column = draw(st.integers(0, len(lines[row])))
        typed = draw(st.lists(CHARACTERS, min_size=1, max_size=3))
        if draw(st.booleans()):
            lines[row] = lines[row][:column] + "".join(typed) + lines[row][column:]
        else:
            lines[row] = lines[row][:column] + lines[row][column + len(typed):]
    return "\n".join(lines)


def parsed(parse: object, text: str) -> str:
    try:
        return ast.dump(parse(text, "buffer.py"), include_attributes=True)  # type: ignore[operator]
    except SyntaxError as error:
        return f"SyntaxError {error.msg} {error.lineno} {error.offset}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_reparsed_trees_are_the_trees_of_the_whole_text(data: st.DataObject) -> None:
    reparse = Reparser()
    text = BASE
    assert parsed(reparse, text) == parsed(lambda source, name: ast.parse(source, filename=name), text)
    for _ in range(data.draw(st.integers(1, 12))):
        text = data.draw(edit(text))
        assert parsed(reparse, text) == parsed(lambda source, name: ast.parse(source, filename=name), text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_findings_of_reparsed_buffers_are_the_findings_of_a_full_check(data: st.DataObject) -> None:
    reparse = Reparser()
    text = BASE
    for _ in range(data.draw(st.integers(1, 8))):
        text = data.draw(edit(text))
        source = text.encode("utf-8")
        full = check_source(source, "buffer.py", SETTINGS, EVERY_CODE, summarise_for_index=False)
        incremental = check_source(source, "buffer.py", SETTINGS, EVERY_CODE, summarise_for_index=False,
                                   parse=reparse)
        assert incremental.findings == full.findings


def test_an_edit_inside_one_function_parses_only_that_function() -> None:
    reparse = Reparser()
    before = reparse(BASE, "buffer.py")
    edited = BASE.replace("    return response.status_code", "    return response.status_code + 1")
    after = reparse(edited, "buffer.py")
    assert ast.dump(after, include_attributes=True) == ast.dump(ast.parse(edited), include_attributes=True)
    changed = [index for index, (old, new) in enumerate(zip(before.body, after.body)) if old is not new]
    assert [type(after.body[index]).__name__ for index in changed] == ["AsyncFunctionDef"]  # the others reused


def test_a_new_line_reuses_the_statements_before_it() -> None:
    reparse = Reparser()
    before = reparse(BASE, "buffer.py")
    edited = BASE.replace("class Holder:\n", "class Holder:\n    LIMIT = 3\n")
    after = reparse(edited, "buffer.py")
    assert ast.dump(after, include_attributes=True) == ast.dump(ast.parse(edited), include_attributes=True)
    holder = next(index for index, node in enumerate(after.body) if isinstance(node, ast.ClassDef))
    assert all(old is new for old, new in zip(before.body[:holder], after.body[:holder]))


def test_the_benchmark_module_is_parsed_alike(tmp_path: Path) -> None:
    """A long real module (the fixtures' biggest): an edit on its first line, then one in its middle."""
    biggest = max(Path(__file__).resolve().parent.parent.glob("fixtures/rules/*.py"), key=lambda path: path.stat().st_size)
    text = biggest.read_text(encoding="utf-8")
    reparse = Reparser()
    reparse(text, "big.py")
    for edited in (f"# edited\n{text[text.index(chr(10)) + 1:]}", text.replace("\n\n", "\n\n# note\n", 1)):
        assert ast.dump(reparse(edited, "big.py"), include_attributes=True) == ast.dump(ast.parse(edited),
                                                                                        include_attributes=True)
