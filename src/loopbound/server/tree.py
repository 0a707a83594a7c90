"""What `loopbound check` says about each file of a workspace folder, kept between saves.

A per-file finding's severity and message depend on the whole project (issue 12's index: which loops
reach a module, the resources made through the project's own functions). The folder is checked whole
once, as `loopbound check` would check it; a save re-checks the saved file and grades it against the
resolved index, resolving it again only when the file's summary (what the index knows of it) changed;
an unsaved buffer is graded against the last resolved index, never resolving anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from loopbound.config import Settings
from loopbound.discovery import CheckedFile, checked_file, real_path
from loopbound.engine import CheckResult, check_path
from loopbound.findings import Finding
from loopbound.index.check import ResolvedIndex, file_view, grade_file, resolve_index
from loopbound.index.model import LoopTable, ModuleSummary
from loopbound.index.view import FileView
from loopbound.parallel import now
from loopbound.cache import default_cache_dir
from loopbound.server.projects import FileSetup
from loopbound.server.documents import PYTHON_SUFFIXES
from loopbound.source import SourceError, decode, read_bytes


@dataclass
class FolderCheck:
    """The last check of a folder's tree: its files' summaries and every file's graded findings."""

    settings: Settings
    selected: frozenset[str]  # the run's codes, before per-file-ignores
    python_files: list[CheckedFile]
    summaries: dict[str, ModuleSummary]  # by shown path, as the index is built from them
    findings: dict[Path, list[Finding]]  # per file (resolved path): per-file and index findings, graded
    started: float
    loops: LoopTable = field(default_factory=dict)  # the last LB3 pass's loop table: how many loops each test runs
    resolved: ResolvedIndex | None = None
    _known: set[Path] = field(default_factory=set)
    _current: set[Path] = field(default_factory=set)  # files whose findings were graded by the current index

    @classmethod
    def of(cls, result: CheckResult, python_files: list[CheckedFile], settings: Settings, selected: frozenset[str],
           project_codes: frozenset[str], started: float) -> FolderCheck:
        """A whole-tree result (`loopbound check` in the folder) with the project rules' findings left out."""
        findings: dict[Path, list[Finding]] = {}
        for finding in result.findings:
            if finding.code not in project_codes:
                findings.setdefault(real_path(Path(finding.path)), []).append(finding)
        return cls(settings, selected, list(python_files), dict(result.summaries), findings, started,
                   dict(result.loops or {}), _known=(known := {file.real for file in python_files}), _current=set(known))

    def holds(self, path: Path) -> bool:
        return path in self._known

    def index(self) -> ResolvedIndex:
        """The index resolved from the summaries, built on first need and kept until a summary changes."""
        if self.resolved is None:
            self.resolved = resolve_index(self.python_files, self.summaries, self.settings,
                                          default_cache_dir(self.settings), self.started, self.loops)
        return self.resolved

    def ran_lb3(self, loops: LoopTable | None) -> bool:
        """The LB3 pass ran again (on a save): whether its loop table moved, and with it every verdict."""
        if loops is None or loops == self.loops:
            return False
        self.loops = dict(loops)
        self.resolved = None
        self._current.clear()
        return True

    def view(self, setup: FileSetup, source: str) -> FileView | None:
        """The project's resource makers as a check of the buffer sees them (None: it calls none)."""
        return file_view(self.index(), setup.shown, source) if self.holds(setup.path) else None

    def grade(self, setup: FileSetup, source: str, findings: list[Finding], seen_makers: bool = False
              ) -> list[Finding]:
        """An unsaved buffer's per-file findings as `loopbound check` would report them once saved, the
        rest of the project as it was last checked."""
        if not self.holds(setup.path):
            return findings
        return grade_file(self.index(), setup.shown, source, findings, self.settings, self.selected, seen_makers)

    def current(self, path: Path) -> list[Finding] | None:
        """The file's findings as last graded, unless the index changed since (then grade its text again)."""
        return self.findings.get(path, []) if path in self._current else None

    def saved(self, setup: FileSetup) -> bool:
        """A file was written: check it again, grade it, and say whether the index changed with it (a new
        file, or a summary the index reads changed): what it says of the other files may have changed too."""
        result = check_path(setup.path, setup.shown, self.settings, setup.selected, setup.is_test)
        try:
            source = decode(read_bytes(setup.path))
        except SourceError:
            source = ""
        before = self.summaries.get(setup.shown)
        if result.summary is None:
            self.summaries.pop(setup.shown, None)
        else:
            self.summaries[setup.shown] = result.summary
        changed = before != result.summary or self._refined(setup.shown, before)
        if not self.holds(setup.path) and setup.path.suffix in PYTHON_SUFFIXES:
            self.python_files.append(checked_file(setup.path, self.settings))
            self._known.add(setup.path)
            changed = True
        if changed:
            self.resolved = None
            self._current.clear()
        self.started = now()
        self.findings[setup.path] = self.grade(setup, source, result.findings)
        self._current.add(setup.path)
        return changed

    def _refined(self, shown: str, before: ModuleSummary | None) -> bool:
        """The index read more of the file than its summary holds (the full summary, from the old text),
        and the new text's full summary differs."""
        module = self.resolved.index.by_shown.get(shown) if self.resolved is not None else None
        if self.resolved is None or module is None or module.summary == before:
            return False
        every = (b"",)  # full_summary parses a file holding one of the words: every file holds b""
        return self.resolved.store.full_summary(module.path, self.settings, module.is_test, every,
                                                now()) != module.summary
