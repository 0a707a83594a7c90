"""The resolved project index, kept between runs: an edit that leaves every summary as it was resolves nothing.

Resolving the index (the import graph, the project's resource makers, which entry points reach which
module, the lifespan-managed globals) is a function of every module's summary, of the files the
resolution read itself (modules it parsed for more than their summary, re-checked through a maker, or
searched for a release function's name), of the LB3 pass's loop table (how many loops each test module
runs, for the pytest-asyncio releases the project's declarations and lock files pin), and of the settings
and codes. A run records those with its answer (`.loopbound_cache/resolved-<settings>.pickle`).

A later run whose summaries, recorded reads and loop table are unchanged takes that answer over: a module
whose per-file findings are those of the recorded run keeps its recorded findings, and the per-file
findings of any other module are graded with the verdict recorded for it. The index is resolved again
when that cannot be done exactly: a summary changed, a file the resolution read changed, a module needs
a verdict the recorded run did not ask for, its recorded findings were more than its graded per-file
findings (the resolution added or dropped some), or an LB105 finding is involved (which globals the
application's lifespan manages is decided over the whole project).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from loopbound.blake2 import blake2b
from loopbound import recorder
from loopbound.cache import read_cache_file, settings_fingerprint, write_cache_file
from loopbound.config import Settings
from loopbound.discovery import display_path
from loopbound.findings import Finding
from loopbound.index.model import ModuleSummary, summary_digest
from loopbound.index.reach import Reach
from loopbound.rules.import_time_rules import GLOBAL_SINGLETON
from loopbound.stamps import Stamp, is_settled, stamp
from loopbound.unseen_edits import read_holding_none

Kind = tuple[str, str]  # Reachability.kind: ("many" / "single" / "", how)
Grade = Callable[[Finding, Callable[[], Reach], Callable[[], Kind]], Finding]  # index.check.graded
Verdicts = dict[str, tuple[Reach, Kind]]  # by shown path


class _NotRecorded(Exception):
    """A module's verdict the recorded run did not compute."""


@dataclass(frozen=True)
class Resolution:
    """One run's answer and everything it was a function of, besides what `question` digests."""

    question: str
    # By shown path: the file, its stamp and a digest of the summary the per-file pass (or the summary store)
    # gave it. A file whose stamp is unchanged has the same summary; another one's (or one whose stamp was
    # not settled: None) is compared by digest.
    modules: dict[str, tuple[str, Stamp, str]]
    # The files the resolution read, with the words whose absence was all it learnt from one (none: it
    # depends on all the bytes).
    reads: tuple[tuple[str, Stamp, tuple[bytes, ...]], ...]
    per_file: dict[str, list[Finding]]  # the per-file findings it graded, by shown path
    answer: dict[str, list[Finding]]  # what it answered, by shown path
    verdicts: Verdicts  # of every module one of whose findings was graded by reachability
    loops: str  # the loop table's digest (index.model.loop_table_digest)


def question(files: Sequence[Path], config_files: Sequence[Path], settings: Settings,
             selected: frozenset[str]) -> str:
    """What must be equal besides the summaries: the files, the config files' stamps, the settings and codes
    that decide test modules and per-file codes, the working directory (findings show paths relative to it)."""
    digest = blake2b(digest_size=16)
    digest.update(repr((os.getcwd(), str(settings.project_root), settings.test_files, settings.per_file_ignores,
                        settings.target_pytest_asyncio, sorted(selected))).encode())
    for path in files:
        digest.update(f"{path}\n".encode())
    for path in sorted(config_files):
        digest.update(f"{path}\0{stamp(path)}\n".encode())
    return digest.hexdigest()


def _note_reads(reads: Iterable[tuple[str, Stamp, tuple[bytes, ...]]]) -> None:
    """What a warm replay must know to replay an edit of a file the resolution read (unseen_edits.same_outcome)."""
    recording = recorder.recording()
    if recording is not None:
        recording.index_reads = {os.path.abspath(path): words for path, _, words in reads}


def note_reads(read: dict[Path, tuple[bytes, ...]]) -> tuple[tuple[str, Stamp, tuple[bytes, ...]], ...]:
    """The files a resolution of the index read (with the words whose absence was all it learnt from each),
    noted for the warm replay, as the cache keeps them."""
    # A file searched for words and not refined may also have held them and been unparsable: all its bytes count.
    reads = tuple((str(path), stamp(path), words if _holds_none(path, words) else ())
                  for path, words in sorted(read.items()))
    _note_reads(reads)
    return reads


def _holds_none(path: str | Path, words: tuple[bytes, ...]) -> bool:
    """Whether the file holds none of `words`; False without words (all its bytes count) or when unreadable."""
    return bool(words) and read_holding_none(str(path), words) is not None


def _settled(file_stamp: Stamp, started: float) -> Stamp:
    """The stamp, or None (compare the digest) when an edit in the same clock tick could have kept it."""
    return file_stamp if is_settled(file_stamp, started) else None


def _by_path(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.path, []).append(finding)
    return grouped


class ResolvedIndexCache:
    """The last resolution of one settings fingerprint; without a cache folder, it keeps nothing."""

    def __init__(self, cache_dir: Path | None, settings: Settings) -> None:
        self.path = cache_dir / f"resolved-{settings_fingerprint(settings)}.pickle" if cache_dir is not None else None
        # The recorded modules whose files kept their (settled) stamps, by shown path: their digests serve again.
        self.unchanged: dict[str, tuple[str, Stamp, str]] = {}

    def answer(self, asked: str, summaries: dict[str, ModuleSummary], findings: list[Finding],
               grade: Grade, loops: Callable[[], str]) -> list[Finding] | None:
        """The findings the recorded resolution gives these per-file findings, sorted; None when it cannot tell.
        `loops` gives the loop table's digest: asked last, since it may wait for the LB3 pass."""
        recorded = read_cache_file(self.path) if self.path is not None else None
        if not isinstance(recorded, Resolution) or recorded.question != asked:
            return None
        self.unchanged = {shown: module for shown, module in recorded.modules.items()
                          if module[1] is not None and stamp(module[0]) == module[1]}
        if not all(stamp(path) == recorded_stamp or _holds_none(path, words) for path, recorded_stamp, words in recorded.reads):
            return None
        _note_reads(recorded.reads)
        if summaries.keys() != recorded.modules.keys():
            return None
        for shown, (_, _, digest) in recorded.modules.items():
            if shown not in self.unchanged and summary_digest(summaries[shown]) != digest:
                return None
        now = _by_path(findings)
        answer = dict(recorded.answer)
        for path in now.keys() | recorded.per_file.keys():
            before, after = recorded.per_file.get(path, []), now.get(path, [])
            if before == after:
                continue
            # A module outside the index (no summary: unreadable, or a stub) keeps its per-file findings as they are.
            regraded = _regraded(after, before, recorded.answer.get(path, []), recorded.verdicts.get(path),
                                 grade if path in summaries else _as_they_are)
            if regraded is None:
                return None
            answer[path] = regraded
        if loops() != recorded.loops:
            return None
        return sorted((finding for found in answer.values() for finding in found), key=lambda finding: finding.sort_key)

    def remember(self, asked: str, summaries: dict[str, ModuleSummary], files: Iterable[Path], findings: list[Finding],
                 read: dict[Path, tuple[bytes, ...]], answer: list[Finding], verdicts: Verdicts, started: float,
                 loops: str) -> None:
        """Keep this resolution, when every file it read was settled (an edit in the same clock tick could
        keep a stamp)."""
        if self.path is None:
            return
        reads = note_reads(read)
        if not all(is_settled(recorded_stamp, started) for _, recorded_stamp, _ in reads):
            return
        paths = {display_path(path): str(path) for path in files}
        if not summaries.keys() <= paths.keys():
            return  # a summary of no file on disk (source read from stdin): nothing to compare it with later
        modules = {shown: self._module(paths[shown], _settled(stamp(paths[shown]), started), shown, summary)
                   for shown, summary in summaries.items()}
        write_cache_file(self.path, Resolution(asked, modules, reads, _by_path(findings), _by_path(answer), verdicts,
                                                loops))


    def _module(self, path: str, file_stamp: Stamp, shown: str, summary: ModuleSummary) -> tuple[str, Stamp, str]:
        """What a later run compares of one module; the digest is computed again only for a file that moved."""
        known = self.unchanged.get(shown)
        if known is not None and file_stamp is not None and known[:2] == (path, file_stamp):
            return known
        return path, file_stamp, summary_digest(summary)


def _as_they_are(finding: Finding, verdict_of: Callable[[], Reach], kind_of: Callable[[], Kind]) -> Finding:
    return finding


def _regraded(after: list[Finding], before: list[Finding], answered: list[Finding],
              verdict: tuple[Reach, Kind] | None, grade: Grade) -> list[Finding] | None:
    """A module's new per-file findings graded with its recorded verdict, when its recorded answer was no
    more than its graded per-file findings; None when the index must be resolved again."""
    if any(finding.code == GLOBAL_SINGLETON.code for finding in [*before, *after, *answered]):
        return None

    def verdict_of() -> Reach:
        if verdict is None:
            raise _NotRecorded
        return verdict[0]

    def kind_of() -> Kind:
        if verdict is None:
            raise _NotRecorded
        return verdict[1]

    try:
        regraded = sorted((grade(finding, verdict_of, kind_of) for finding in before), key=lambda finding: finding.sort_key)
        if regraded != sorted(answered, key=lambda finding: finding.sort_key):
            return None
        return [grade(finding, verdict_of, kind_of) for finding in after]
    except _NotRecorded:
        return None
