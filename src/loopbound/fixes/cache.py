"""Fixes built for the report, kept between runs: after an edit, `loopbound check` builds again only the
fixes whose inputs changed, instead of parsing every file with findings with libcst again.

The default output marks fixable findings and JSON/SARIF print their edits, so each run of those builds a
fix for every finding; on a large project that costs seconds, while checking the edited file costs
milliseconds. A fix's inputs are recorded while it is built (fixes/inputs.py): the files it read (its
own file included), the files whose presence it tested (pytest configs up the tree, a pyproject.toml),
and the names whose use elsewhere would decline it (`importers`): a file that mentions none of them
cannot import them, so only the changed files that mention one make such a fix stale. An entry is
reused while each of those files keeps its stamp; it is stored only when every stamp is settled
(stamps.is_settled), and never when building it left a note (a codemod failure is reported again).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from loopbound.blake2 import blake2b
from loopbound.cache import read_cache_file, settings_fingerprint, write_cache_file
from loopbound.config import Settings
from loopbound.findings import Finding, Fix
from loopbound.fixes.context import Reader
from loopbound.fixes.inputs import Built
from loopbound.stamps import Stamp, is_settled, stamp

FindingKey = tuple[object, ...]


def finding_key(finding: Finding) -> FindingKey:
    """Everything about a finding a builder may read (`data` is not part of a Finding's equality)."""
    return (finding.code, finding.path, finding.start, finding.end, finding.message, finding.severity, finding.data)


@dataclass(frozen=True)
class Entry:
    fix: Fix | None
    inputs: tuple[str, ...]  # the files it depends on, stamped in FixCache.inputs
    searched: frozenset[str]


class FixCache:
    """The fixes of one settings fingerprint; the stamps of the files they depend on; the
    stamps of the checked files at save time (to find the files changed since, for `searched` names)."""

    def __init__(self, directory: Path, settings: Settings, files: tuple[str, ...], started: float) -> None:
        mode = "\n".join([settings_fingerprint(settings), str(settings.project_root), repr(settings.test_files),
                          repr(settings.target_pytest_asyncio)])
        self.path = directory / f"fixes-{blake2b(mode.encode(), digest_size=16).hexdigest()}.pickle"
        self.files, self.started = files, started
        loaded = read_cache_file(self.path)
        self.entries: dict[FindingKey, Entry] = {}
        self.inputs: dict[str, Stamp] = {}
        self.file_stamps: dict[str, Stamp] = {}
        if isinstance(loaded, tuple) and len(loaded) == 3 and all(isinstance(part, dict) for part in loaded):
            self.entries, self.inputs, self.file_stamps = loaded
        self.kept: dict[FindingKey, Entry] = {}
        self.stamps_now: dict[str, Stamp] = {}
        self.changed: list[str] | None = None  # checked files whose stamp moved since the save, once asked
        self.unknown = False  # a fix was built whose inputs are not all known (not stored)

    def get(self, finding: Finding, read: Reader) -> tuple[bool, Fix | None]:
        """(found, fix): found is False when no entry holds or its inputs changed."""
        key = finding_key(finding)
        entry = self.entries.get(key)
        if entry is None or not all(path in self.inputs and self._stamp(path) == self.inputs[path]
                                    for path in entry.inputs):
            return False, None
        if entry.searched and any(_mentions(read, path, entry.searched) for path in self._changed()):
            return False, None
        self.kept[key] = entry
        return True, entry.fix

    def put(self, finding: Finding, fix: Fix | None, built: Built | None) -> None:
        """Keep a fix built with these inputs; None: its inputs are not known (a codemod failed)."""
        if built is None or not all(is_settled(recorded, self.started) and self._stamp(path) == recorded
                                    for path, recorded in built.stamps.items()):
            self.unknown = True  # changed in the last seconds, or while this run read it
            return
        self.kept[finding_key(finding)] = Entry(fix, tuple(built.stamps), built.searched)

    def save(self) -> None:
        """Written when a fix was built or an entry went unused (only this run's entries are kept), or when
        checked files changed since the stamps kept for the searched names."""
        needs_files = any(entry.searched for entry in self.kept.values())
        if self.kept.keys() == self.entries.keys() and not (needs_files and self._changed()):
            return  # every entry was served: their inputs are as stored
        inputs = {path: self._stamp(path) for entry in self.kept.values() for path in entry.inputs}
        file_stamps = {path: recorded for path in self.files if is_settled(recorded := self._stamp(path), self.started)
                       } if needs_files else {}
        write_cache_file(self.path, (self.kept, inputs, file_stamps))

    def inputs_known(self) -> tuple[list[str], list[str]] | None:
        """Every file the fixes of this run depend on (absolute paths) and every name whose mention in a
        file would change one; None when some fix's inputs are not known."""
        if self.unknown:
            return None
        paths = {form(path) for entry in self.kept.values() for path in entry.inputs
                 for form in (os.path.abspath, os.path.realpath)}
        return sorted(paths), sorted({name for entry in self.kept.values() for name in entry.searched})

    def _stamp(self, path: str) -> Stamp:
        if path not in self.stamps_now:
            self.stamps_now[path] = stamp(path)
        return self.stamps_now[path]

    def _changed(self) -> list[str]:
        """Checked files that are new or changed since the save (or were not settled then)."""
        if self.changed is None:
            self.changed = [path for path in self.files
                            if path not in self.file_stamps or self._stamp(path) != self.file_stamps[path]]
        return self.changed


def _mentions(read: Reader, path: str, names: frozenset[str]) -> bool:
    """Whether the file's text holds one of `names`; a file that cannot be read counts as one that does."""
    try:
        text = read(path)
    except (OSError, UnicodeDecodeError, SyntaxError):
        return True
    return any(name in text for name in names)
