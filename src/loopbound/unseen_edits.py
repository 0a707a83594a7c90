"""Edits the checker cannot see: a recorded report that stays the answer after a few files changed.

warm.py replays a recorded run when nothing it read has changed. When only the contents of a few checked
files moved, this decides from their new bytes, without loading the checker, whether the run would still
print what it printed; warm.py then replays it. Like warm.py, it imports nothing heavy.
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

    So it is, for a recorded run of which only checked files changed (warm.Partial.of), when each changed
    file is one the recorded run checked and the pre-filter cleared (no findings, not parsed), the new
    bytes still name no registry module and say no `noqa` (so the pre-filter clears them again), their
    light summary for the project index is the recorded one, the LB3 pass either did not read the file
    or reads from it the facts it read (same digest: lb3_digest.py), and the index's resolution read it
    at most to learn that it holds none of some words, which it still does not hold. A run that built
    fixes for its output (they may read any file of the project) is not replayed this way.
    """
    if snapshot.get("fixes") is not False or snapshot.get("index_reads") is None:
        return False
    cleared_files = dict(zip(snapshot["replaceable"], snapshot["cleared"]))
    reads: dict[str, tuple[bytes, ...]] = snapshot["index_reads"]
    barred = set(snapshot["project_inputs"])
    words = [word.encode() for word in snapshot["module_words"]] + [b"noqa"]
    for path in changed:
        recorded = cleared_files.get(path)
        names = {path, os.path.realpath(path)}  # the LB3 pass and the index know files by their resolved paths
        if recorded is None or any(reads.get(name) == () for name in names):
            return False
        data = read_holding_none(path, [*words, *(word for name in names for word in reads.get(name, ()))])
        if data is None:
            return False
        is_test, digest = recorded
        if digest is not None:
            from loopbound.index.light import light_summary
            from loopbound.index.model import summary_digest

            if summary_digest(light_summary(data, is_test)) != digest:
                return False
        if not names.isdisjoint(barred) and not same_lb3_facts(snapshot, names & barred):
            return False
    return True


def same_lb3_facts(snapshot: dict[str, Any], paths: set[str]) -> bool:
    """Whether the LB3 pass reads from each of these files (the ones it read, by their resolved paths)
    the facts whose digest the recorded run kept; False for a file it read without a digest (a config)."""
    digests: dict[tuple[str, bool], str] = snapshot.get("lb3_digests") or {}
    if snapshot.get("registry") is None:
        return False
    import pickle
    from pathlib import Path

    from loopbound.lb3_digest import module_digest

    registry = pickle.loads(snapshot["registry"])
    for path in paths:
        recorded = [(is_test, digest) for (name, is_test), digest in digests.items() if name == path]
        if not recorded:
            return False
        for is_test, digest in recorded:
            if module_digest(Path(path), is_test, registry) != digest:
                return False
    return True


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
    light summary, None when the run made none); None for any other file."""
    if result.parsed or result.findings or result.error is not None:
        return None
    from loopbound.index.model import summary_digest

    return is_test, None if result.summary is None else summary_digest(result.summary)
