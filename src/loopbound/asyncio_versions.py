"""Which pytest-asyncio releases a project runs on, and what each of them understands.

The LB3 rules speak of options (`loop_scope=`, `asyncio_default_test_loop_scope`, `fixture-scope`...)
that appeared in different releases, and their fixes must write only what every release the project
can run on accepts. The answer comes from the project's own declarations, nearest first: a lock file
or an exact pin wins, else the ranges it declares; the pytest-asyncio installed next to loopbound
(its distribution metadata, never imported) counts only where nothing is declared or it lies inside
the declared range. `target-pytest-asyncio` in `[tool.loopbound]` states it outright.

Ranges are evaluated over the table of known releases below rather than with `packaging`, which
loopbound does not depend on: a specifier only has to say which of these releases it admits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

Version = tuple[int, ...]  # release numbers, then the post-release number (0 without one)

# Every final release on PyPI up to 1.5.0 (`pip index versions pytest-asyncio`), oldest first.
RELEASES = (
    "0.10.0", "0.11.0", "0.12.0", "0.14.0", "0.15.0", "0.15.1", "0.16.0", "0.17.0", "0.17.1", "0.17.2",
    "0.18.0", "0.18.1", "0.18.2", "0.18.3", "0.19.0", "0.20.0", "0.20.1", "0.20.2", "0.20.3", "0.21.0",
    "0.21.1", "0.21.2", "0.23.0", "0.23.1", "0.23.2", "0.23.3", "0.23.4", "0.23.5", "0.23.5.post1", "0.23.6",
    "0.23.7", "0.23.8", "0.24.0", "0.25.0", "0.25.1", "0.25.2", "0.25.3", "0.26.0", "1.0.0", "1.1.0", "1.1.1",
    "1.2.0", "1.3.0", "1.4.0", "1.4.1", "1.4.1.post1", "1.5.0",
)


class Feature(Enum):
    """Something a release understands (or, for the last ones, does), with the release it came in."""

    MARK_SCOPE = "`scope=` on the asyncio mark selects a loop"
    LOOP_SCOPE = "`loop_scope=` on the asyncio mark and on `@pytest_asyncio.fixture`"
    FIXTURE_DEFAULT_KEY = "`asyncio_default_fixture_loop_scope`"
    TEST_DEFAULT_KEY = "`asyncio_default_test_loop_scope`"
    FIXTURE_SCOPE_VALUE = "`fixture-scope` as the fixture loop-scope default"
    EVENT_LOOP_DEPRECATED = "a custom `event_loop` fixture warns (deprecated)"
    EVENT_LOOP_REMOVED = "the `event_loop` fixture is gone: a custom one is ignored, requests fail"
    INVALID_VALUE_ERROR = "an invalid loop-scope config value stops pytest (UsageError)"
    POLICY_DEPRECATED = "overriding `event_loop_policy` warns (deprecated)"


_CHANGELOG = "https://pytest-asyncio.readthedocs.io/en/stable/reference/changelog.html"


@dataclass(frozen=True)
class Change:
    feature: Feature
    since: str
    source: str


# Each row checked against the changelog and, where noted, the released wheel's plugin.py.
CHANGES = (
    Change(Feature.MARK_SCOPE, "0.23.0", f"{_CHANGELOG} (0.23.0); 0.23.8 plugin.py reads only `scope`"),
    Change(Feature.EVENT_LOOP_DEPRECATED, "0.23.0", "0.23.8 plugin.py: _REDEFINED_EVENT_LOOP_FIXTURE_WARNING"),
    Change(Feature.LOOP_SCOPE, "0.24.0", f"{_CHANGELOG} (0.24.0); 0.23.8 `fixture()` passes `loop_scope` to "
           "pytest.fixture, which refuses it"),
    Change(Feature.FIXTURE_DEFAULT_KEY, "0.24.0", f"{_CHANGELOG} (0.24.0, entry added by PR #1014)"),
    Change(Feature.TEST_DEFAULT_KEY, "0.26.0", f"{_CHANGELOG} (0.26.0, #793); first in 0.26.0 plugin.py"),
    Change(Feature.EVENT_LOOP_REMOVED, "1.0.0", f"{_CHANGELOG} (1.0.0, #1106)"),
    Change(Feature.INVALID_VALUE_ERROR, "1.2.0", f"{_CHANGELOG} (1.2.0, #1189)"),
    Change(Feature.POLICY_DEPRECATED, "1.4.0", f"{_CHANGELOG} (1.4.0, #1419)"),
    Change(Feature.FIXTURE_SCOPE_VALUE, "1.5.0", "release notes v1.5.0 (#1095); first in 1.5.0 plugin.py"),
)
_SINCE = {change.feature: change.since for change in CHANGES}


class VersionError(ValueError):
    """A version or specifier this module cannot read."""


def parse_version(text: str) -> Version:
    match = re.fullmatch(r"v?(\d+(?:\.\d+)*)(?:\.?post(\d+))?", text.strip())
    if match is None:
        raise VersionError(f"not a release version: {text!r}")
    return (*map(int, match.group(1).split(".")), int(match.group(2) or 0))


def _release(version: Version) -> Version:
    return version[:-1]


def _padded(release: Version, length: int) -> Version:
    return release + (0,) * (length - len(release))


def show(version: Version) -> str:
    text = ".".join(map(str, _release(version)))
    return f"{text}.post{version[-1]}" if version[-1] else text


KNOWN = tuple(parse_version(release) for release in RELEASES)
_SINCE_VERSION = {feature: parse_version(since) for feature, since in _SINCE.items()}  # asked for every fixture


def _compare(version: Version, other: Version) -> int:
    """-1, 0 or 1, releases zero-padded to the same length (PEP 440), post-releases after their release."""
    length = max(len(version), len(other)) - 1
    left = (*_padded(_release(version), length), version[-1])
    right = (*_padded(_release(other), length), other[-1])
    return (left > right) - (left < right)


@lru_cache(maxsize=1024)
def _has(versions: tuple[Version, ...], known: bool, feature: Feature, every: bool, among: Feature | None) -> bool:
    """`AsyncioVersions.has`, worked out once per question: the LB3 pass asks it for every module and fixture,
    and it compared each release every time (47 of them where nothing is known)."""
    since = _SINCE_VERSION[feature]
    if not known and among is not None:
        floor = _SINCE_VERSION[among]
        versions = tuple(version for version in versions if _compare(version, floor) >= 0)
    answers = [_compare(version, since) >= 0 for version in versions]
    return all(answers) if every else any(answers)


def _clause(operator: str, operand: str) -> Callable[[Version], bool]:
    operand = operand.strip()
    if operator in ("==", "!=") and operand.endswith(".*"):
        prefix = tuple(int(part) for part in operand[:-2].split("."))
        matches: Callable[[Version], bool] = lambda v: _padded(_release(v), len(prefix))[:len(prefix)] == prefix
        return matches if operator == "==" else (lambda v: not matches(v))
    target = parse_version(operand)
    if operator == "~=":
        release = _release(target)
        if len(release) < 2:
            raise VersionError(f"`~=` needs two release numbers: {operand!r}")
        stem = release[:-1]
        return lambda v: _compare(v, target) >= 0 and _padded(_release(v), len(stem))[:len(stem)] == stem
    tests: dict[str, Callable[[int], bool]] = {
        "==": lambda c: c == 0, "===": lambda c: c == 0, "!=": lambda c: c != 0, ">=": lambda c: c >= 0,
        "<=": lambda c: c <= 0, "<": lambda c: c < 0,
        ">": lambda c: c > 0,
    }
    if operator not in tests:
        raise VersionError(f"unknown operator {operator!r}")
    test = tests[operator]
    if operator == ">":  # PEP 440: `>V` admits no post-release of V itself
        return lambda v: test(_compare(v, target)) and _release(v) != _release(target)
    return lambda v: test(_compare(v, target))


_OPERATOR_SPACE = re.compile(r"(===|==|!=|~=|>=|<=|>|<|\^|~)\s+")
_PEP440 = re.compile(r"^\s*(===|==|!=|~=|>=|<=|>|<)\s*([\w.*+!-]+)\s*$")


def _caret_or_tilde(clause: str) -> list[tuple[str, str]]:
    """Poetry's `^1.2` and `~1.2` as PEP 440 bounds."""
    operator, numbers = clause[0], [int(part) for part in clause[1:].strip().split(".")]
    if operator == "^":
        first_nonzero = next((index for index, number in enumerate(numbers) if number), len(numbers) - 1)
        upper = numbers[:first_nonzero + 1]
    else:
        upper = numbers[:2] if len(numbers) > 1 else numbers[:1]
    upper = [*upper[:-1], upper[-1] + 1]
    return [(">=", ".".join(map(str, numbers))), ("<", ".".join(map(str, upper)))]


def admitted(specifier: str) -> tuple[Version, ...]:
    """The known releases a PEP 440 or Poetry specifier admits (`,` joins, Poetry's `||` and `|` unite)."""
    found: set[Version] = set()
    for alternative in re.split(r"\|\|?", specifier):
        checks: list[Callable[[Version], bool]] = []
        for clause in re.split(r"[,\s]+", _OPERATOR_SPACE.sub(r"\1", alternative).strip()):
            if clause in ("*", ""):
                continue
            if clause[0] in "^~" and clause[:2] != "~=":
                checks += [_clause(operator, operand) for operator, operand in _caret_or_tilde(clause)]
            elif clause[0].isdigit():
                checks.append(_clause("==", clause))
            else:
                match = _PEP440.match(clause)
                if match is None:
                    raise VersionError(f"cannot read the specifier {specifier!r}")
                checks.append(_clause(match.group(1), match.group(2)))
        found.update(version for version in KNOWN if all(check(version) for check in checks))
    return tuple(sorted(found))


@dataclass(frozen=True)
class AsyncioVersions:
    """The known releases the project runs on, and where that came from (for messages)."""

    versions: tuple[Version, ...]
    source: str  # "uv.lock", "pyproject.toml (pytest-asyncio>=0.23,<0.24)", "installed", ...
    known: bool = True  # False: nothing declared nor installed; every release is possible
    declared: bool = False  # the project itself (or `target-pytest-asyncio`) names pytest-asyncio
    declared_range: tuple[Version, ...] = ()  # what the declarations admit, where the installed release narrowed it

    @classmethod
    def unknown(cls) -> AsyncioVersions:
        return cls(KNOWN, "nothing declared", known=False)

    def has(self, feature: Feature, *, every: bool = True, among: Feature | None = None) -> bool:
        """Whether every (or some) release has `feature`; with nothing known, only the releases that have
        `among` (the key being written) are asked, so an unknown project gets what those all accept."""
        return _has(self.versions, self.known, feature, every, among)

    def lacks(self, feature: Feature) -> bool:
        """Some release the project declares it runs on does not have `feature` (never when nothing is known)."""
        return self.known and not self.has(feature)

    def key_accepted(self, feature: Feature, key: Feature) -> bool:
        """Whether a fix may write something (`feature`) under config key `key`: every release accepts it,
        or, with nothing declared, every release that has the key. The installed release alone does not
        decide what a fix writes: loopbound's own environment (pre-commit's, a developer's venv) is not
        the one the project's tests run in, and a value only a newer release knows stops an older pytest."""
        if not self.declared:
            return AsyncioVersions.unknown().has(feature, among=key)
        if self.declared_range:
            return AsyncioVersions(self.declared_range, self.source).has(feature, among=key)
        return self.has(feature, among=key)

    def describe(self) -> str:
        if not self.known:
            return "any release (nothing declared)"
        if not self.versions:
            return f"no known release ({self.source})"
        low, high = show(self.versions[0]), show(self.versions[-1])
        span = low if low == high else f"{low} to {high}"
        return f"{span} ({self.source})"


def since(feature: Feature) -> str:
    return _SINCE[feature]


def installed_version() -> str | None:
    """The pytest-asyncio installed next to loopbound, from its distribution metadata (not imported)."""
    found = _dist_info_version("pytest_asyncio")
    if found is not None:
        return found
    from importlib import metadata  # a tenth of a one-file run: only where the folders say nothing clear

    try:
        return metadata.version("pytest-asyncio")
    except metadata.PackageNotFoundError:
        return None


def _dist_info_version(normalized: str) -> str | None:
    """The `Version:` of the first `<name>-<version>.dist-info` on sys.path, as importlib.metadata finds
    it; None when the first folder holding the name holds anything else (an .egg-info, two of them)."""
    import os
    import sys

    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        matches = [name for name in names if name.lower().endswith((".dist-info", ".egg-info"))
                   and re.sub(r"[-_.]+", "_", name.rsplit(".", 1)[0].partition("-")[0]).lower() == normalized]
        if not matches:
            continue
        if len(matches) != 1 or not matches[0].lower().endswith(".dist-info"):
            return None
        try:
            with open(os.path.join(folder or ".", matches[0], "METADATA"), encoding="utf-8") as stream:
                for line in stream:
                    if not line.strip():
                        return None  # the headers ended without one
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
        except (OSError, UnicodeDecodeError):
            return None
        return None
    return None


def combine(declared: Iterable[tuple[str, str]], locked: bool, installed: str | None) -> AsyncioVersions:
    """The releases a set of (specifier, where) declarations admits: their union (the project runs on any
    of them); the installed release narrows a range it falls inside, never a lock or a pin."""
    declarations = list(declared)
    found: set[Version] = set()
    for specifier, _ in declarations:
        found.update(admitted(specifier))
    where = ", ".join(sorted({where for _, where in declarations}))
    pinned = locked or all(_is_pin(specifier) for specifier, _ in declarations)
    installed_at = _readable(installed)
    if declarations and not pinned and installed_at is not None and installed_at in found:
        return AsyncioVersions((installed_at,), f"installed {installed}, inside {where}", declared=True,
                               declared_range=tuple(sorted(found)))
    if declarations:
        return AsyncioVersions(tuple(sorted(found)), where, declared=True)
    if installed_at is not None:
        return AsyncioVersions((installed_at,), f"installed {installed}")
    return AsyncioVersions.unknown()


def _is_pin(specifier: str) -> bool:
    return bool(re.fullmatch(r"\s*(===?)?\s*\d[\w.]*\s*", specifier)) and "*" not in specifier


def _readable(installed: str | None) -> Version | None:
    if installed is None:
        return None
    try:
        version = parse_version(installed)
    except VersionError:
        return None
    return next((known for known in KNOWN if _compare(known, version) == 0), version)
