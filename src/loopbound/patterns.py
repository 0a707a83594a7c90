"""gitignore-style pattern lists (excludes, test-file patterns, .gitignore files) matched as pathspec
matches them, each list compiled once; pathspec is imported only for a pattern of a kind not made here."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pathspec


def gitignore_spec(patterns: tuple[str, ...] | list[str]) -> pathspec.GitIgnoreSpec:
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)


Matcher = Callable[[str], bool]  # whether a pattern list matches a path (relative, with slashes)
_MATCHERS: dict[tuple[str, ...], Matcher] = {}


def matches_any(patterns: tuple[str, ...], relative: str) -> bool:
    """Whether a gitignore-style pattern list matches; each list is compiled once, not per file."""
    return matcher_of(patterns)(relative)


def matcher_of(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    if patterns not in _MATCHERS:
        _MATCHERS[patterns] = _matcher(patterns)
    return _MATCHERS[patterns]


def _matcher(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """pathspec's own matcher, or, for a list without negations, the first pattern that matches:
    the same answer, without weighing every pattern for every file."""
    simple = [simple_regex(pattern) for pattern in patterns]
    if all(regex is not None for regex in simple):  # pathspec's regexes, without importing it
        sources = [regex for regex in simple if regex]
        if not sources:
            return lambda path: False
        expressions = [re.compile("|".join(f"(?:{source})" for source in sources))]
    else:
        spec = gitignore_spec(list(patterns))
        if any(pattern.include is False for pattern in spec.patterns):
            return spec.match_file
        expressions = [pattern.regex for pattern in spec.patterns if pattern.include and pattern.regex is not None]
        if not expressions:
            return lambda path: False
        if len({expression.flags for expression in expressions}) == 1 and not any(
                "(?P=" in expression.pattern for expression in expressions):
            # One alternation matches where any of its parts does; its groups' names, which repeat, are dropped.
            alternatives = (NAMED_GROUP.sub("(?:", expression.pattern) for expression in expressions)
            expressions = [re.compile("|".join(f"(?:{alternative})" for alternative in alternatives),
                                      expressions[0].flags)]

    def match(path: str) -> bool:
        path = _normalized(path)
        return any(expression.match(path) for expression in expressions)

    return match


# A .gitignore pattern that names one path part: `build`, `*.pyc`, and with a trailing slash folders only
# (`__pycache__/`, `*.egg-info/`). pathspec's regex for it (`^(?:.+/)?[^/]*\.pyc(?:/|$)`, `^(?:.+/)?build/`;
# tests/test_discovery.py holds them to it) matches where some part of the path (a part before a slash,
# for a folder's) is that name or ends with that text: a set lookup, with no regex to compile.
_PART_PATTERN = re.compile(r"(\*?)([\w.\-]*[\w\-][\w.\-]*)(/?)")


def gitignore_matcher(lines: tuple[str, ...]) -> Matcher:
    """A .gitignore's lines matched as pathspec's GitIgnoreSpec matches them. Without negations, the
    patterns that name one path part are looked up by the path's parts (compiling them was most of the
    walk of a tree with .gitignore files: 0.1 ms a pattern); the others, and a path that is not a plain
    relative one (a newline, which a regex's `.` and `$` treat apart, or a leading slash), go to
    `matcher_of`."""
    if any(line.startswith("!") for line in lines):
        return matcher_of(lines)
    by_kind: dict[tuple[bool, bool], list[str]] = {}  # by (a suffix, folders only)
    others = []
    for line in lines:
        part = _PART_PATTERN.fullmatch(line)
        if part is not None:
            by_kind.setdefault((bool(part[1]), bool(part[3])), []).append(part[2])
        elif line and not line.startswith("#"):
            others.append(line)
    if not by_kind:
        return matcher_of(lines)
    names = frozenset(by_kind.get((False, False), ()))
    suffixes = tuple(by_kind.get((True, False), ()))
    folder_names = names.union(by_kind.get((False, True), ()))
    folder_suffixes = suffixes + tuple(by_kind.get((True, True), ()))
    rest = matcher_of(tuple(others)) if others else None
    whole: list[Matcher] = []  # compiled when first needed

    def match(given: str) -> bool:
        path = _normalized(given)
        if "\n" in path or path.startswith("/"):
            if not whole:
                whole.append(matcher_of(lines))
            return whole[0](given)
        folders = path.split("/")
        last = folders.pop()  # "" for a folder, which is given with a trailing slash
        return (last in names or (bool(suffixes) and last.endswith(suffixes))
                or not folder_names.isdisjoint(folders)
                or (bool(folder_suffixes) and any(folder.endswith(folder_suffixes) for folder in folders))
                or (rest is not None and rest(given)))

    return match


# The commonest kinds of pattern, whose regex pathspec's GitIgnoreSpec makes as below (tests/test_discovery.py
# compares them with its own): a name with `*` wildcards and no slash (`test_*.py`, `conftest.py`), matched at
# any depth, and a folder of plain name with everything under it (`tests/**`).
_SIMPLE_NAME = re.compile(r"[\w.\-*]+")
_SIMPLE_FOLDER = re.compile(r"([\w.\-]+)/\*\*")


def simple_regex(pattern: str) -> str | None:
    """pathspec's regex for `pattern` with its named group unnamed, "" for a pattern that matches
    nothing (a blank line); None for any other kind of pattern."""
    if not pattern:
        return ""
    if _SIMPLE_NAME.fullmatch(pattern) and "**" not in pattern and pattern != "*":  # pathspec makes `*` "."
        name = "[^/]*".join(re.escape(part) for part in pattern.split("*"))
        return f"^(?:.+/)?{name}(?:(?:/)|$)"
    folder = _SIMPLE_FOLDER.fullmatch(pattern)
    if folder:
        return f"^{re.escape(folder[1])}/"
    return None


_SEPARATORS = [separator for separator in (os.sep, os.altsep) if separator and separator != "/"]


def _normalized(path: str) -> str:
    """The path as pathspec matches it (pathspec.util.normalize_file): slashes, relative."""
    for separator in _SEPARATORS:
        path = path.replace(separator, "/")
    if path.startswith("/"):
        return path[1:]
    return path[2:] if path.startswith("./") else path


NAMED_GROUP = re.compile(r"\(\?P<\w+>")
