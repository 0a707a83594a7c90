"""LB3 fixes: loop-scope keys in the pytest config, `@pytest_asyncio.fixture`, and `loop_scope=` on marks.

Config files are edited line by line next to the line the rule reported, so comments, key order,
quoting and line endings stay as they were; the edited file is re-parsed before anything is written.
"""

from __future__ import annotations

import re

from loopbound.findings import Applicability, Edit, Finding, Fix, Location
from loopbound.fixes.config_keys import TEST_KEY, set_keys
from loopbound.fixes.context import FixContext, fix_from_texts
from loopbound.fixes.text import line_starts, newline_of, to_location, to_offset


def add_test_loop_scope(finding: Finding, ctx: FixContext) -> Fix | None:
    """LB301: `asyncio_default_test_loop_scope` under the fixture key, written the way that key is written;
    a test key already there with a narrower value gets the fixture's value instead of a duplicate."""
    scope, line = finding.datum("scope"), finding.datum("fixture_key_line")
    if not scope or not line or finding.datum("via") != "asyncio_default_fixture_loop_scope":
        return None
    if not finding.datum("test_key_accepted"):
        return None  # a release the project runs on predates the key (0.26): it would be ignored there
    if finding.datum("test_via") == "addopts":
        return None  # `-o asyncio_default_test_loop_scope=...` in addopts wins over the key
    new = set_keys(ctx.text, ctx.path.endswith(".toml"), int(line), [(TEST_KEY, scope)])
    if new is None:
        return None
    return fix_from_texts(Applicability.UNSAFE,
                          f"Run tests on the {scope}-scoped loop too: set `asyncio_default_test_loop_scope = {scope}`",
                          {ctx.path: ctx.text}, {ctx.path: new})


def set_fixture_loop_scope(finding: Finding, ctx: FixContext) -> Fix | None:
    """LB306: `asyncio_default_fixture_loop_scope` set, first key of the pytest section, to the value that keeps
    every loop where it is on each release the project runs on (the rule works it out; none: no fix)."""
    value = finding.datum("value")
    if not value or not finding.datum("config_path") or finding.path.endswith(".py"):
        return None
    row = finding.start.row
    lines = ctx.text.splitlines()
    if not (0 < row <= len(lines)) or not lines[row - 1].lstrip().startswith("["):
        return None  # a file without a section header: nowhere safe to put the key
    quote = '"' if finding.path.endswith(".toml") else ""
    new_line = f"asyncio_default_fixture_loop_scope = {quote}{value}{quote}"
    return _insert_after(ctx, row, new_line, Applicability.SAFE,
                         f"Set `asyncio_default_fixture_loop_scope = {value}` (today's behaviour, made explicit)")


def _insert_after(ctx: FixContext, row: int, line: str, applicability: Applicability, message: str) -> Fix:
    newline = newline_of(ctx.text)
    starts = line_starts(ctx.text)
    if row < len(starts):
        at = Location(row + 1, 1)
        content = line + newline
    else:  # the last line has no line end
        at = to_location(starts, len(ctx.text))
        content = newline + line + newline
    return Fix(applicability, message, (Edit(ctx.path, at, at, content),))


def rename_mark_scope(finding: Finding, ctx: FixContext) -> Fix | None:
    """LB305: `scope=` -> `loop_scope=` on `@pytest.mark.asyncio`, the value untouched; a `scope=` that repeats
    the mark's `loop_scope=` is dropped instead (renaming it would repeat the keyword: a SyntaxError)."""
    action = finding.datum("fix")
    starts = line_starts(ctx.text)
    offset = to_offset(starts, finding.start)
    if not ctx.text.startswith("scope", offset) or action not in ("rename", "drop"):
        return None
    if action == "drop":
        return _drop_keyword(finding, ctx)
    end = to_location(starts, offset + len("scope"))
    return Fix(Applicability.SAFE, "Rename `scope=` to `loop_scope=`",
               (Edit(ctx.path, finding.start, end, "loop_scope"),))


def _drop_keyword(finding: Finding, ctx: FixContext) -> Fix | None:
    """The `scope=...` argument removed with the comma that joins it to its neighbour."""
    starts = line_starts(ctx.text)
    start, end = to_offset(starts, finding.start), to_offset(starts, finding.end)
    after = re.match(r"\s*,[ \t]*", ctx.text[end:])
    if after is not None:
        end += after.end()
    else:
        before = re.search(r",\s*$", ctx.text[:start])
        if before is None:
            return None
        start = before.start()
    return Fix(Applicability.SAFE, "Drop `scope=`, which repeats `loop_scope=`",
               (Edit(ctx.path, to_location(starts, start), to_location(starts, end), ""),))


def use_pytest_asyncio_fixture(finding: Finding, ctx: FixContext) -> Fix | None:
    """LB304: `@pytest.fixture` -> `@pytest_asyncio.fixture` (arguments kept), importing pytest_asyncio."""
    from loopbound.fixes.decorators import switch_fixture_decorator

    new = switch_fixture_decorator(ctx.module(), finding.start.row)
    if new is None:
        return None
    return fix_from_texts(Applicability.SAFE, "Use `@pytest_asyncio.fixture`", {ctx.path: ctx.text}, {ctx.path: new})
