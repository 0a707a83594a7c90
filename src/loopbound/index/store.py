"""Full summaries of the files the index parses itself, cached by content: an edit re-summarises that file.

The per-file pass gives every file a summary (full where it parsed the file, light where the pre-filter
spared it), and the results cache keeps it with the file's findings. A light module the index needs
more of (it may hold an entry point, a hook, a call of a project factory) is parsed here; those
summaries live in one pickle next to the results cache (`.loopbound_cache/summaries-<settings>.pickle`),
keyed by the file's content. A file whose size and modification time are unchanged is not even read.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loopbound.blake2 import blake2b
from loopbound.cache import read_cache_file, settings_fingerprint, write_cache_file
from loopbound.stamps import Stamp, is_settled, stamp
from loopbound.config import Settings
from loopbound.source import SourceError, decode, paused_gc, read_bytes
from loopbound.findings import Finding
from loopbound.index.model import ModuleSummary
from loopbound.index.summary import light_summary, summarise, summarise_loops

_FORMAT = 3
# (stamp, content digest, summary, the words its bytes were searched for, those of them they hold)
Entry = tuple[Stamp, str, ModuleSummary, frozenset[bytes], frozenset[bytes]]
# How much source the trees of the files parsed here, kept for the re-check of those that call a project
# maker (check._indirect), may hold: about 30 MiB of syntax tree.
KEPT_TREES_BYTES = 1_000_000


@dataclass
class SummaryStore:
    path: Path | None
    entries: dict[str, Entry] = field(default_factory=dict)  # by resolved path and test status
    changed: bool = False
    # The last run's answer, (what it depended on, its findings): a run where nothing changed reuses it.
    graded: tuple[str, list[Finding]] | None = None
    # The files this run parsed for a full summary, by path: (bytes, text, tree), within KEPT_TREES_BYTES.
    trees: dict[Path, tuple[bytes, str, ast.Module]] = field(default_factory=dict)

    @classmethod
    def open(cls, cache_dir: Path | None, settings: Settings) -> SummaryStore:
        if cache_dir is None:
            return cls(None)
        path = cache_dir / f"summaries-{_FORMAT}-{settings_fingerprint(settings)}.pickle"
        stored = read_cache_file(path)
        if not isinstance(stored, dict):
            stored = {}
        entries, graded = stored.get("entries"), stored.get("graded")
        return cls(path, entries if isinstance(entries, dict) else {}, graded=graded if isinstance(graded, tuple) else None)

    def answer(self, question: Callable[[], str]) -> list[Finding] | None:
        """The findings of the last run that asked the same question (same files, stamps, findings, codes,
        loop table); the question is worked out only when a last run is at hand."""
        return list(self.graded[1]) if self.graded is not None and self.graded[0] == question() else None

    def remember(self, question: str, findings: list[Finding]) -> None:
        self.graded = (question, findings)
        self.changed = True

    def full_summary(self, path: Path, settings: Settings, is_test: bool, words: tuple[bytes, ...],
                     started: float, loops_only: bool = False) -> ModuleSummary | None:
        """The file's full summary when its bytes hold one of `words`, from the cache when its stamp or its
        content matches; None when it holds none of them or cannot be parsed. `loops_only`: a summary of
        what runs event loops alone (summary.summarise_loops), unless the full one is at hand already."""
        key = f"{path}\0{is_test}"
        if loops_only:
            full = self.entries.get(key)
            if full is not None and full[0] is not None and full[0] == stamp(path):
                return full[2]
            key += "\0loops"

        def make(data: bytes, cached: Entry | None) -> tuple[str, ModuleSummary] | None:
            if not any(word in data for word in words):
                return None
            digest = blake2b(data, digest_size=16).hexdigest()
            if cached is not None and cached[1] == digest:
                return digest, cached[2]
            fresh = _summarise(data, path, settings, is_test, loops_only, None if loops_only else self._keep_tree)
            return (digest, fresh) if fresh is not None else None

        return self._summary(key, path, started, make, words)

    def _keep_tree(self, path: Path, data: bytes, source: str, tree: ast.Module) -> None:
        if sum(len(kept) for kept, _, _ in self.trees.values()) + len(data) <= KEPT_TREES_BYTES:
            self.trees[path] = (data, source, tree)

    def parsed(self, path: Path, data: bytes) -> tuple[str, ast.Module] | None:
        """The text and tree of a file this run parsed for its full summary, while its bytes are `data`."""
        kept = self.trees.get(path)
        return (kept[1], kept[2]) if kept is not None and kept[0] == data else None

    def light(self, path: Path, is_test: bool, started: float) -> ModuleSummary | None:
        """A file the run does not check, read for the import graph alone (it may hold a test that
        imports a checked module): from the cache while its stamp is unchanged."""
        return self._summary(f"{path}\0{is_test}\0light", path, started,
                             lambda data, cached: ("", light_summary(data, is_test)))

    def _summary(self, key: str, path: Path, started: float,
                 make: Callable[[bytes, Entry | None], tuple[str, ModuleSummary] | None],
                 words: tuple[bytes, ...] = ()) -> ModuleSummary | None:
        """The cached summary while the file's stamp is unchanged and its bytes hold one of `words` (none
        asked: any bytes), as a run without the cache answers; else `make` it from the bytes (with the old
        entry, whose digest may still match) and keep it once the file is old enough to trust its stamp."""
        file_stamp = stamp(path)
        cached = self.entries.get(key)
        if cached is not None and cached[0] == file_stamp and file_stamp is not None:
            holds = _holds(cached, words)
            if holds is not None:
                return cached[2] if holds else None
        try:
            data = read_bytes(path)
        except SourceError:
            return None
        made = make(data, cached)
        if made is None:
            return None
        if is_settled(file_stamp, started):
            searched = frozenset(words).union(cached[3]) if cached is not None and cached[1] == made[0] else frozenset(words)
            self.entries[key] = (file_stamp, made[0], made[1], searched,
                                 frozenset(word for word in searched if word in data))
            self.changed = True
        return made[1]

    def save(self) -> None:
        if self.path is None or not self.changed:
            return
        write_cache_file(self.path, {"entries": self.entries, "graded": self.graded})


def _holds(entry: Entry, words: tuple[bytes, ...]) -> bool | None:
    """Whether the entry's bytes hold one of `words` (True when none are asked); None when some word was
    never searched for in them: the bytes must be read again. A summary made for one project maker's name
    must not stand for a file that holds none of the names the makers have now."""
    if not words:
        return True
    if not entry[4].isdisjoint(words):
        return True
    return False if entry[3].issuperset(words) else None


def _summarise(data: bytes, path: Path, settings: Settings, is_test: bool, loops_only: bool,
               keep: Callable[[Path, bytes, str, ast.Module], None] | None = None) -> ModuleSummary | None:
    try:
        source = decode(data)
    except SourceError:
        return None
    with paused_gc(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes and the like: the per-file pass reports the file
        try:
            tree = ast.parse(source, filename=str(path))
        except (SyntaxError, ValueError):
            return None
        if loops_only:
            return summarise_loops(tree, data, settings.registry, is_test)
        if keep is not None:
            keep(path, data, source, tree)
        return summarise(tree, data, settings.registry, is_test)
