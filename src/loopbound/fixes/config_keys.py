"""Setting pytest-asyncio keys in the pytest section of a config file, one line at a time.

tomlkit would re-render what it touches and configparser drops comments, so the LB3 fixes edit the
lines themselves: an existing key keeps its indent, separator, quotes and trailing comment and only its
value changes; a missing key is written the way its neighbour is written, right below it. The fix
loop re-parses the result (tomllib, configparser) before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from loopbound.fixes.text import newline_of

FIXTURE_KEY = "asyncio_default_fixture_loop_scope"
TEST_KEY = "asyncio_default_test_loop_scope"

_KEY_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<key>[\"']?[\w.-]+[\"']?)(?P<separator>[ \t]*[=:][ \t]*)(?P<rest>.*)$")
_TOML_TABLE = re.compile(r"^\s*\[\s*[^\[\]]+?\s*\]\s*(?:#.*)?$")


@dataclass(frozen=True)
class _Section:
    header: int  # index of the `[section]` line
    end: int  # index of the first line after the section


def _is_header(line: str, toml: bool) -> bool:
    if toml:
        return bool(_TOML_TABLE.match(line)) or line.lstrip().startswith("[[")
    return line.startswith("[")


def _section(lines: list[str], row: int, toml: bool) -> _Section | None:
    """The section holding 1-based `row` (the header's own row counts), found by walking up to its header."""
    header = next((index for index in range(min(row, len(lines)) - 1, -1, -1) if _is_header(lines[index], toml)), None)
    if header is None:
        return None
    end = next((index for index in range(header + 1, len(lines)) if _is_header(lines[index], toml)), len(lines))
    return _Section(header, end)


def _key_of(line: str) -> str | None:
    match = _KEY_LINE.match(line.rstrip("\r\n"))
    return match["key"].strip("\"'") if match else None


def _find(lines: list[str], section: _Section, key: str) -> int | None:
    return next((index for index in range(section.header + 1, section.end) if _key_of(lines[index]) == key), None)


def _with_value(line: str, value: str, toml: bool) -> str | None:
    """The key line with its value replaced; quotes and a TOML trailing comment kept."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    match = _KEY_LINE.match(body)
    if match is None:
        return None
    rest = match["rest"]
    quote = rest[:1] if rest[:1] in ("'", '"') else ""
    if toml and quote:
        closing = rest.find(quote, 1)
        if closing < 0:
            return None
        new_rest = f"{quote}{value}{rest[closing:]}"
    elif toml:
        return None  # a non-string TOML value: not something pytest-asyncio could have read
    else:
        new_rest = value
    return body[:match.start("separator")] + _spaced(match["separator"]) + new_rest + ending


def _spaced(separator: str) -> str:
    """` =` of a `key =` line whose value continues below, given the space its value then needs."""
    return separator + " " if separator[:1] in (" ", "\t") and separator[-1:] not in (" ", "\t") else separator


def _render(template: str | None, key: str, value: str, toml: bool) -> str:
    """A new key line in the style of `template` (a sibling key line), or the plain style of the format."""
    match = _KEY_LINE.match(template.rstrip("\r\n")) if template else None
    indent, separator = (match["indent"], _spaced(match["separator"])) if match else ("", " = ")
    quote = ""
    if toml:
        written = match["rest"][:1] if match else ""
        quote = written if written in ("'", '"') else '"'
    return f"{indent}{key}{separator}{quote}{value}{quote}"


def set_keys(text: str, toml: bool, row: int, values: Sequence[tuple[str, str]]) -> str | None:
    """The text with each (key, value) set in the section that holds `row`; None when there is no section
    or a key's line cannot be rewritten. A missing key goes below the previous key of `values` or, first,
    below `asyncio_default_fixture_loop_scope` (where the LB301 fix puts the test key), else below the header.
    """
    lines = text.splitlines(keepends=True)
    section = _section(lines, row, toml)
    if section is None:
        return None
    newline = newline_of(text)
    fixture_line = _find(lines, section, FIXTURE_KEY)
    anchor = fixture_line if fixture_line is not None else section.header
    for key, value in values:
        found = _find(lines, section, key)
        if found is not None:
            rewritten = _with_value(lines[found], value, toml)
            if rewritten is None:
                return None
            continued = _continuation_end(lines, found, section, toml) - found - 1
            lines[found:found + 1 + continued] = [rewritten]  # an INI value continued below is replaced whole
            section = _Section(section.header, section.end - continued)
            anchor = found
            continue
        template = lines[fixture_line] if fixture_line is not None else _sibling(lines, section)
        anchor = _continuation_end(lines, anchor, section, toml) - 1  # below a value continued on later lines
        if not lines[anchor].endswith(("\n", "\r")):
            lines[anchor] += newline
        anchor += 1
        lines.insert(anchor, _render(template, key, value, toml) + newline)
        section = _Section(section.header, section.end + 1)
        if fixture_line is None and key == FIXTURE_KEY:
            fixture_line = anchor
    return "".join(lines)


def _continuation_end(lines: list[str], index: int, section: _Section, toml: bool) -> int:
    """The index after the INI key line at `index` and the indented lines that continue its value
    (`key =` / `    session`); a header line or a TOML line ends at itself."""
    end = index + 1
    if toml or index == section.header:
        return end
    while end < section.end and lines[end][:1] in (" ", "\t") and lines[end].strip():
        end += 1
    return end


def _sibling(lines: list[str], section: _Section) -> str | None:
    """A key line of the section to copy the style from: an asyncio key first."""
    keyed = [lines[index] for index in range(section.header + 1, section.end) if _key_of(lines[index])]
    return next((line for line in keyed if (_key_of(line) or "").startswith("asyncio_")), keyed[0] if keyed else None)


def new_pytest_table(text: str, values: Sequence[tuple[str, str]]) -> str:
    """A pyproject.toml with a `[tool.pytest.ini_options]` table holding `values`, appended at the end."""
    newline = newline_of(text)
    body = text if not text or text.endswith(("\n", "\r")) else text + newline
    separator = newline if body.strip() else ""
    table = ["[tool.pytest.ini_options]", *(f'{key} = "{value}"' for key, value in values)]
    return body + separator + newline.join(table) + newline
