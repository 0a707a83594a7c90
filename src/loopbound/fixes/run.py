"""The fix loop: check, attach fixes, apply the ones that do not overlap, re-parse, repeat until stable.

The per-file rules run on the texts in memory. The project rules (LB3) read the tree from disk, so
with `write=True` each pass's changed files are written (atomically) before the next check. `--diff`
must show what `--fix` writes, passes and all, while writing nothing: it runs the same loop on a
shadow copy of the files the project rules read (`shadow.py`) and diffs that copy against the tree.
"""

from __future__ import annotations

import ast
import configparser
import difflib
import functools
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from loopbound.config import Settings
from loopbound.discovery import display_path, is_test_file, relative_to_root
from loopbound.engine import check_project, check_source, per_file_selected
from loopbound.findings import Applicability, Edit, Finding, Fix
from loopbound.fixes.builders import attach_fixes
from loopbound.fixes.files import FixWriteError, SourceFile, decode_source, read_source, write_atomically
from loopbound.fixes.text import apply_edits, overlaps
from loopbound.unsaved import stand_in, standing_in

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

MAX_PASSES = 10  # each pass applies every non-overlapping fix; a fix never needs more than a few


@dataclass
class FixRun:
    findings: list[Finding] = field(default_factory=list)  # what remains once the fixes are applied
    fixed: int = 0
    files: dict[str, SourceFile] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # fixes dropped, with the file and the reason
    errors: list[str] = field(default_factory=list)  # files that could not be read or written
    files_checked: int = 0

    @property
    def changed(self) -> list[SourceFile]:
        return [source for source in self.files.values() if source.changed]


@dataclass
class _Session:
    settings: Settings
    selected: frozenset[str]
    unsafe: bool
    run: FixRun = field(default_factory=FixRun)
    write: bool = False
    checked: list[str] = field(default_factory=list)  # the Python files the check covers
    selections: dict[str, frozenset[str]] = field(default_factory=dict)
    python_files: list[Path] = field(default_factory=list)
    config_files: list[Path] = field(default_factory=list)
    passes: int = 0
    written: dict[str, str] = field(default_factory=dict)
    unwritable: set[str] = field(default_factory=set)
    per_file: dict[str, tuple[str, list[Finding]]] = field(default_factory=dict)
    overlay: dict[str, bytes] | None = None  # in memory (an editor's buffer): passes stand in, never written
    only: str | None = None  # the one file whose project findings are fixed

    def read(self, path: str) -> str:
        if path not in self.run.files:
            self.run.files[path] = read_source(path)
        return self.run.files[path].text

    def check(self) -> list[Finding]:
        findings: list[Finding] = []
        for path in self.checked:
            findings.extend(self._file_findings(path))
        if self.python_files and (self.write or self.passes == 0):
            project = check_project(self.python_files, self.config_files, self.settings, self.selected)
            wanted = [finding for finding in project.findings if self.only in (None, finding.path)]
            findings.extend(attach_fixes(wanted, self.settings, read=self.read, notes=self.run.notes,
                                         files=self.checked))
        self.passes += 1
        findings.sort(key=lambda finding: finding.sort_key)
        return findings

    def _file_findings(self, path: str) -> list[Finding]:
        """A file's findings with their fixes, recomputed only when a pass changed its text."""
        source = self.run.files[path]
        cached = self.per_file.get(path)
        if cached is not None and cached[0] == source.text:
            return cached[1]
        result = check_source(source.encoded(), path, self.settings, self.selections[path],
                              is_test=is_test_file(Path(path), self.settings))
        findings = attach_fixes(result.findings, self.settings, read=self.read, notes=self.run.notes,
                                files=self.checked)
        self.per_file[path] = (source.text, findings)
        return findings

    def wanted(self, fix: Fix | None) -> bool:
        return fix is not None and (fix.applicability is Applicability.SAFE or self.unsafe)

    def loop(self) -> None:
        findings = self.check()
        for _ in range(MAX_PASSES):
            applied = self.apply([finding for finding in findings if self.wanted(finding.fix)])
            if not applied:
                break
            self.run.fixed += applied
            if self.write:
                self.flush()
            findings = self.check()
        self.run.findings = findings

    def flush(self) -> None:
        """Write the files changed since the last flush; a file that cannot be written is an error."""
        for source in self.run.changed:
            if self.written.get(source.path, source.original) == source.text:
                continue
            if self.overlay is not None:
                stand_in(self.overlay, source.path, source.encoded())
                self.written[source.path] = source.text
                continue
            try:
                write_atomically(source.path, source.encoded())
            except FixWriteError as error:
                self.run.errors.append(str(error))
                source.text = self.written.get(source.path, source.original)  # report it unfixed
                self.unwritable.add(source.path)
                continue
            self.written[source.path] = source.text

    def apply(self, findings: list[Finding]) -> int:
        """Apply the fixes that overlap no earlier one; the others wait for the next pass."""
        chosen: list[Fix] = []
        taken: list[Edit] = []
        for finding in findings:
            assert finding.fix is not None
            if any(edit.path in self.unwritable for edit in finding.fix.edits):
                continue
            if any(overlaps(edit, other) for edit in finding.fix.edits for other in taken):
                continue
            chosen.append(finding.fix)
            taken.extend(finding.fix.edits)
        by_path: dict[str, list[Fix]] = {}
        for fix in chosen:
            for path in {edit.path for edit in fix.edits}:
                by_path.setdefault(path, []).append(fix)
        dropped = {id(fix) for path, fixes in by_path.items() for fix in self._unparsable(path, fixes)}
        kept = [fix for fix in chosen if id(fix) not in dropped]
        for path in {edit.path for fix in kept for edit in fix.edits}:
            edits = [edit for fix in kept for edit in fix.edits if edit.path == path]
            self.run.files[path].text = apply_edits(self.read(path), edits)
        return len(kept)

    def _unparsable(self, path: str, fixes: list[Fix]) -> list[Fix]:
        """Fixes whose result does not parse, alone or together: they are dropped, never written."""
        text = self.read(path)
        strict = _parses(path, text, type_comments=True)  # a file mypy reads keeps its type comments readable
        if _parses(path, apply_edits(text, [e for fix in fixes for e in fix.edits if e.path == path]), strict):
            return []
        bad = [fix for fix in fixes
               if not _parses(path, apply_edits(text, [e for e in fix.edits if e.path == path]), strict)]
        if not bad:
            bad = fixes[1:]  # each parses alone but not together: keep the first, retry the rest later
        for fix in bad:
            self.run.notes.append(f"{path}: dropped the fix \u201c{fix.message}\u201d: the fixed file would not parse")
        return bad


def _parses(path: str, text: str, type_comments: bool = False) -> bool:
    try:
        if path.endswith(".toml"):
            tomllib.loads(text)
        elif path.endswith((".ini", ".cfg")):
            configparser.ConfigParser(interpolation=None).read_string(text)
        else:
            ast.parse(text, filename=path, type_comments=type_comments)
    except (SyntaxError, ValueError, tomllib.TOMLDecodeError, configparser.Error):
        return False
    return True


def fix_paths(paths: Iterable[Path], settings: Settings, selected: frozenset[str], *, unsafe: bool,
              write: bool, config_files: Iterable[Path] = ()) -> FixRun:
    """Fix the given Python files (and the config files their fixes edit); write them when asked."""
    paths, config_files = list(paths), list(config_files)
    if not write and paths:
        from loopbound.fixes.shadow import fix_in_shadow

        shadowed = fix_in_shadow(paths, settings, config_files, functools.partial(
            _fix_and_write, selected=selected, unsafe=unsafe))
        if shadowed is not None:
            return shadowed
    session = _Session(settings, selected, unsafe, write=write)
    session.config_files = list(config_files)
    for path in paths:
        session.python_files.append(path)
        shown = display_path(path)
        try:
            session.run.files[shown] = read_source(shown)
        except (OSError, UnicodeDecodeError, SyntaxError, LookupError) as error:
            session.run.errors.append(f"{shown}: cannot read the file: {error}")
            continue
        session.checked.append(shown)
        session.selections[shown] = per_file_selected(relative_to_root(path, settings), settings, selected)
    session.run.files_checked = len(session.checked)
    session.loop()
    return session.run


def _fix_and_write(paths: list[Path], settings: Settings, config_files: list[Path], *, selected: frozenset[str],
                   unsafe: bool) -> FixRun:
    return fix_paths(paths, settings, selected, unsafe=unsafe, write=True, config_files=config_files)


def fix_text(data: bytes, filename: str, settings: Settings, selected: frozenset[str], *, unsafe: bool) -> FixRun:
    """Fix source read from stdin; the caller prints the result instead of writing a file."""
    session = _Session(settings, selected, unsafe)
    session.run.files[filename] = decode_source(filename, data)
    session.checked.append(filename)
    session.selections[filename] = per_file_selected(relative_to_root(filename, settings), settings, selected)
    session.run.files_checked = 1
    session.loop()
    return session.run


def fix_buffer(path: Path, data: bytes, settings: Settings, selected: frozenset[str], *, unsafe: bool,
               python_files: Iterable[Path], config_files: Iterable[Path]) -> FixRun:
    """`check --fix` for one file whose text is an editor's unsaved buffer, writing nothing.

    The project rules read the tree (python_files, config_files) with the buffer, and each pass's
    changes, standing in for the files, as `--fix` would have written them; only this file's
    findings are fixed (with the config edits their fixes make).
    """
    session = _Session(settings, selected, unsafe, write=True)
    shown = display_path(path)
    session.run.files[shown] = decode_source(shown, data)
    session.checked.append(shown)
    session.selections[shown] = per_file_selected(relative_to_root(path, settings), settings, selected)
    session.python_files, session.config_files = list(python_files), list(config_files)
    session.only, session.run.files_checked = shown, 1
    with standing_in({shown: data}) as overlay:
        session.overlay = overlay
        session.loop()
    return session.run


def unified_diffs(run: FixRun) -> str:
    """What `--fix` would change, as `diff -u` prints it, one file after the other."""
    chunks = []
    for source in run.changed:
        before = source.original.splitlines(keepends=True)
        after = source.text.splitlines(keepends=True)
        for line in difflib.unified_diff(before, after, fromfile=source.path, tofile=source.path):
            chunks.append(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    return "".join(chunks)
