"""Edits that leave the report as it was: a recorded report that stays the answer after a few files changed.

warm.py replays a recorded run when nothing it read has changed. When only the contents of a few checked
files moved, this decides from their new bytes whether the run would still print what it printed; warm.py
then replays it. A file the pre-filter still clears is decided without loading the checker; any other is
checked again alone by the per-file pass (the engine and its rules, nothing of the recorded run's state).
"""

from __future__ import annotations

import os
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from loopbound.stamps import Stamp


def same_outcome(snapshot: dict[str, Any], changed: dict[str, Stamp]) -> bool:
    """Whether the recorded run, given the changed files' new bytes, would print what it printed.

    So it is, for a recorded run of which only checked files changed (warm.Partial.of), when for each changed
    file the LB3 pass either did not read it or reads from it the facts it read (same digest: lb3_digest.py),
    the index's resolution read it at most to learn that it holds none of some words, which it still does
    not hold, the report did not show its lines (a code frame, a fingerprint), and either
    - the recorded run checked it and the pre-filter cleared it (no findings, not parsed), and the new bytes
      still name no registry module and say no `noqa` (so the pre-filter clears them again) and their light
      summary for the project index is the recorded one, or
    - the per-file pass (pre-filter, rules), run on the new bytes, does what it did: clears the file again, or
      parses it and finds the same findings at the same places, and the file's summary for the project index
      is the recorded one: a new test, a changed line or comment that moves no finding (the checker is
      loaded for this one file; nothing of the recorded run's state is).
    A run that built fixes for its output is replayed this way only when it knew what they depend on
    (fixes/cache.py): no changed file is one of those inputs, nor mentions a name a fix searched for.
    """
    fixes = snapshot.get("fixes")
    if fixes is True or snapshot.get("index_reads") is None:
        return False
    fix_paths, fix_names = (set(fixes[0]), list(fixes[1])) if fixes else (set(), [])
    if not all(name.isascii() for name in fix_names):
        return False  # searched for in the file's bytes, which say an ASCII name alike in any encoding
    fix_words = [name.encode() for name in fix_names]
    cleared_files = dict(zip(snapshot["replaceable"], snapshot["cleared"]))
    checked_files = dict(zip(snapshot["replaceable"], snapshot.get("checked") or ()))
    reads: dict[str, tuple[bytes, ...]] = snapshot["index_reads"]
    barred = set(snapshot["project_inputs"])
    shown = set(snapshot.get("sources_read") or ())
    words = [b"noqa"]
    for path in changed:
        names = {path, os.path.realpath(path)}  # the LB3 pass and the index know files by their resolved paths
        if path in shown or any(reads.get(name) == () for name in names) or not names.isdisjoint(fix_paths):
            return False
        index_words = [*(word for name in names for word in reads.get(name, ())), *fix_words]
        if not _clears_again(snapshot, path, cleared_files.get(path), [*words, *index_words]):
            again = checked_files.get(path)
            if again is None:
                return False
            data = read_holding_none(path, index_words)
            if data is None or not _finds_the_same(snapshot, data, again):
                return False
        if not names.isdisjoint(barred) and not same_lb3_facts(snapshot, names & barred):
            return False
    return True


def _clears_again(snapshot: dict[str, Any], path: str, recorded: tuple[bool, str | None] | None,
                  words: Sequence[bytes]) -> bool:
    """Whether the file was cleared by the pre-filter and still is, seen without loading the checker: it says
    no `noqa` nor a word the index looked for, the pre-filter clears it (pre_filter_clears), and its light
    summary is the recorded one (its imports read alike)."""
    data = read_holding_none(path, words) if recorded is not None else None
    if recorded is None or data is None:
        return False
    if not pre_filter_clears(data, snapshot.get("module_names") or {}, snapshot.get("triggers")):
        return False
    digest = recorded[1]
    if digest is None:
        return True
    from loopbound.index.light import read_imports

    return _imports_digest(*read_imports(data)) == digest


def _imports_digest(bindings: Sequence[Any], imports: Sequence[Any]) -> str:
    """The digest of a light summary's imports (index/light.py): two light summaries with the same are equal,
    and the replay compares them from the bytes without making the summary (nor loading its data classes)."""
    from loopbound.blake2 import blake2b

    return blake2b(repr((list(bindings), list(imports))).encode(), digest_size=16).hexdigest()


def _finds_the_same(snapshot: dict[str, Any], data: bytes, recorded: Sequence[Any]) -> bool:
    """Whether the per-file rules find in `data` what they found in the recorded file, and summarise it alike."""
    shown, selection, is_test, summary, digest = recorded
    registry = _registry(snapshot)
    if registry is None:
        return False
    quiet_parse_warnings()
    from loopbound.config import Settings
    from loopbound.engine import check_source

    # The per-file pass reads nothing of the settings but the registry (the recorded run's, pickled).
    result = check_source(data, shown, Settings(registry=registry), frozenset(snapshot["selections"][selection]),
                          is_test=is_test)
    return checked_again(shown, selection, is_test, result) == (shown, selection, is_test, summary, digest)


_REGISTRIES: dict[bytes, Any] = {}


def _registry(snapshot: dict[str, Any]) -> Any:
    """The registry the recorded run checked with, unpickled once."""
    pickled = snapshot.get("registry")
    if pickled is None:
        return None
    if pickled not in _REGISTRIES:
        try:
            from _pickle import loads  # pickle.loads itself (lb3_digest.py says why)
        except ImportError:
            from pickle import loads

        _REGISTRIES[pickled] = loads(pickled)
    return _REGISTRIES[pickled]


def same_lb3_facts(snapshot: dict[str, Any], paths: set[str]) -> bool:
    """Whether the LB3 pass reads from each of these files (the ones it read, by their resolved paths)
    the facts whose digest the recorded run kept; False for a file it read without a digest (a config)."""
    digests: dict[tuple[str, bool], str] = snapshot.get("lb3_digests") or {}
    registry = _registry(snapshot)
    if registry is None:
        return False
    quiet_parse_warnings()
    from pathlib import Path

    from loopbound.lb3_digest import module_digest

    for path in paths:
        recorded = [(is_test, digest) for (name, is_test), digest in digests.items() if name == path]
        if not recorded:
            return False
        for is_test, digest in recorded:
            if module_digest(Path(path), is_test, registry) != digest:
                return False
    return True


def quiet_parse_warnings() -> None:
    """Parsing the checked code warns about it (invalid escapes: a SyntaxWarning, shown by default from
    Python 3.12): that is not ours to print. Set before parsing (setting it again changes nothing); workers
    forked later inherit the filters. Not set by a replay that parses nothing: a filter on a message imports
    `re` and compiles one."""
    import warnings

    warnings.filterwarnings("ignore", category=SyntaxWarning)
    warnings.filterwarnings("ignore", message="invalid escape sequence", category=DeprecationWarning)


def read_holding_none(path: str, words: Sequence[bytes]) -> bytes | None:
    """The file's bytes when they hold none of `words`; None when they hold one or cannot be read."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError:
        return None
    return None if any(word in data for word in words) else data


def cleared(is_test: bool, result: Any) -> tuple[bool, str | None] | None:
    """For a file the pre-filter cleared (nothing found, not parsed): (is it a test module, the digest of its
    light summary's imports, None when the run made no summary); None for any other file, and for a summary
    that is not the light summary of its imports."""
    if result.parsed or result.findings or result.error is not None:
        return None
    summary = result.summary
    if summary is None:
        return is_test, None
    from loopbound.index.light import light_of

    if summary != light_of(summary.bindings, summary.imports):
        return None
    return is_test, _imports_digest(summary.bindings, summary.imports)


def checked_again(shown: str, selection: int, is_test: bool, result: Any) -> tuple[Any, ...] | None:
    """For a checked file: what checking it again must give for the recorded report to stand (its job: shown
    path, index of its codes in the snapshot's selections, test or not; the digest of its summary for the
    index; the digest of its findings and whether it was parsed); None for a file that could not be read."""
    if result.error is not None:
        return None
    from loopbound.blake2 import blake2b
    from loopbound.index.model import summary_digest

    found = blake2b(repr((result.findings, result.parsed)).encode(), digest_size=16).hexdigest()
    return shown, selection, is_test, None if result.summary is None else summary_digest(result.summary), found


def outcomes(results: Sequence[tuple[str, str, frozenset[str], bool, Any]], replaceable: list[str],
             base: dict[str, Any], again: set[str]) -> dict[str, Any]:
    """What a later run compares an edited file with, per checked file (`cleared`, `checked`, and the
    `selections` of codes `checked` numbers): a run in part keeps its `base` snapshot's own for the files
    it did not check `again`."""
    selections: list[list[str]] = list(base.get("selections", ()))
    numbers = {tuple(codes): number for number, codes in enumerate(selections)}
    cleared_files: list[Any] = []
    checked_files: list[Any] = []
    for position, (_, shown, selected, is_test, result) in enumerate(results):
        if base and replaceable[position] not in again:
            cleared_files.append(base["cleared"][position])
            checked_files.append(base["checked"][position])
            continue
        codes = tuple(sorted(selected))
        if codes not in numbers:
            numbers[codes] = len(selections)
            selections.append(list(codes))
        cleared_files.append(cleared(is_test, result))
        checked_files.append(checked_again(shown, numbers[codes], is_test, result))
    return {"cleared": cleared_files, "checked": checked_files, "selections": selections}


def pre_filter_clears(data: bytes, module_names: dict[str, list[str]], triggers: list[str] | None) -> bool:
    """A sufficient condition for the pre-filter (engine.may_have_findings) to clear `data`, tested without the
    checker: no registry module named on a line holding `import` has, anywhere in the file, one of the names
    under it or of the rules' trigger words. Plain substrings where the pre-filter matches whole words, so
    this says yes less often, never more (tests/test_warm.py holds it to the pre-filter); a backslash that
    continues a line (the pre-filter joins such lines) is a no."""
    if triggers is None or b"\\\n" in data or b"\\\r\n" in data:
        return False
    import_lines = [line for line in data.split(b"\n") if b"import" in line]
    extra = [word.encode() for word in triggers]
    for module, names in module_names.items():
        word = module.encode()
        if any(word in line for line in import_lines):
            if any(name.encode() in data for name in names) or any(trigger in data for trigger in extra):
                return False
    return True


def trigger_words() -> list[str]:
    """The words besides a registry module's names that let a file past the pre-filter (the per-file rule groups')."""
    from loopbound.rules import FILE_RULE_GROUPS

    return sorted(set().union(*(group.triggers for group in FILE_RULE_GROUPS)))
