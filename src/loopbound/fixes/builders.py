"""The table code -> fix builder, and attaching fixes to findings only when an output needs them.

Builders are named as `module:function` strings and imported on first use, so importing this
package (or running a plain `loopbound check`) never imports libcst.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable
from importlib import import_module
from pathlib import Path

from loopbound.config import Settings
from loopbound.discovery import is_test_file
from loopbound.findings import Finding, Fix
from loopbound.fixes.cache import FixCache
from loopbound.fixes.context import Builder, FixContext, Reader
from loopbound.fixes.files import read_source
from loopbound.fixes.inputs import Built, Inputs
from loopbound.fixes.text import newline_of
from loopbound.project import is_test_module
from loopbound.pytest_config import PytestConfigError, locate

BUILDERS: dict[str, str] = {
    "LB101": "loopbound.fixes.module_resource:build",
    "LB201": "loopbound.fixes.lifecycle:wrap_in_async_with",
    "LB202": "loopbound.fixes.lifecycle:add_await",
    "LB203": "loopbound.fixes.lifecycle:release_in_finally",
    "LB204": "loopbound.fixes.lifecycle:release_after_yield",
    "LB301": "loopbound.fixes.loop_scope:add_test_loop_scope",
    "LB302": "loopbound.fixes.loop_alignment:align_test_loops",
    "LB303": "loopbound.fixes.event_loop:retire_event_loop",
    "LB304": "loopbound.fixes.loop_scope:use_pytest_asyncio_fixture",
    "LB305": "loopbound.fixes.loop_scope:rename_mark_scope",
    "LB306": "loopbound.fixes.loop_scope:set_fixture_loop_scope",
    "LB308": "loopbound.fixes.loop_alignment:widen_fixture_loop",
}

# Builders that rewrite only the function holding the finding: they get a context over that
# function's top-level statement (`windows.py`), not over the whole file.
WITHIN_STATEMENT = frozenset({"LB201", "LB203", "LB204"})


def builder_for(code: str) -> Builder | None:
    target = BUILDERS.get(code)
    if target is None:
        return None
    module_name, _, function = target.partition(":")
    builder: Builder = getattr(import_module(module_name), function)
    return builder


def _read_file(path: str) -> str:
    return read_source(path).text


def attach_fixes(findings: Iterable[Finding], settings: Settings, *, read: Reader | None = None,
                 notes: list[str] | None = None, files: Iterable[str] = (), cache: FixCache | None = None,
                 jobs: int = 1) -> list[Finding]:
    """The same findings, each with its Fix when its rule has a builder that can rewrite this case.

    `files` are the other checked files: a fix that removes a module-level name looks there for importers.
    A fix built on one statement (`WITHIN_STATEMENT`) has the same edits as one built on the whole
    file (`edits_between` sets aside the lines the texts share at both ends), so every output uses it.
    `cache` (files read from disk only) answers for the fixes whose inputs are unchanged and keeps the
    ones built here. With `jobs` > 1 and files read from disk, the fixes of different files are built in
    that many worker processes when there is enough to build (`_by_file`).
    """
    findings = list(findings)
    contexts = _Contexts(settings, read or _read_file, tuple(files))
    failures = notes if notes is not None else []
    fixes: dict[int, Fix | None] = {}
    to_build: list[int] = []
    for index, finding in enumerate(findings):
        # A resource made through the project's own code ("made_through") is beyond what the codemods rewrite.
        if finding.code not in BUILDERS or finding.fix is not None or finding.datum("made_through"):
            continue
        found, fix = cache.get(finding, contexts.read) if cache is not None else (False, None)
        if found:
            fixes[index] = fix
        else:
            to_build.append(index)
    pending = [findings[index] for index in to_build]
    by_file = _by_file(pending, jobs) if read is None else None
    if by_file is None:
        built = [_build_recorded(contexts, finding, failures, cache is not None) for finding in pending]
    else:
        built = _build_in_workers(by_file, pending, contexts, failures, cache is not None, jobs)
    for index, (fix, inputs) in zip(to_build, built):
        fixes[index] = fix
        if cache is not None:
            cache.put(findings[index], fix, inputs)
    return [dataclasses.replace(finding, fix=fix) if (fix := fixes.get(index)) else finding
            for index, finding in enumerate(findings)]


def _build_recorded(contexts: _Contexts, finding: Finding, failures: list[str], record: bool
                    ) -> tuple[Fix | None, Built | None]:
    """The finding's fix, and what it read when `record` (None when its codemod failed: not to be kept)."""
    builder = builder_for(finding.code)  # imports libcst: only to build
    failed = len(failures)
    built = contexts.record(finding.path) if record else None
    context = contexts.around(finding) if finding.code in WITHIN_STATEMENT else contexts.whole(finding.path)
    fix = _build(builder, finding, context, failures) if context and builder else None
    contexts.inputs.current = None
    return fix, built if len(failures) == failed else None


# Fewer fixes than this to build, in files of fewer bytes than this, and one process builds them: workers
# cost more than they save.
MIN_FIXES_TO_SHARE = 24
MIN_BYTES_TO_SHARE = 400_000


# Builders that search every checked file for importers of the name they rewrite (`fixes/importers.py`): the
# first search in a worker reads them all, and each search scans them, so their files are built first.
SEARCH_IMPORTERS = frozenset({"LB101"})


def _by_file(findings: list[Finding], jobs: int) -> dict[str, list[int]] | None:
    """The positions of `findings` by file, the costliest first (built first, so that the workers end
    together): the files with a fix that searches for importers, then those with the most findings;
    None when there is too little to build for workers."""
    by_file: dict[str, list[int]] = {}
    for position, finding in enumerate(findings):
        by_file.setdefault(finding.path, []).append(position)
    if jobs < 2 or len(by_file) < 2 or (len(findings) < MIN_FIXES_TO_SHARE
                                        and sum(map(_size, by_file)) < MIN_BYTES_TO_SHARE):
        return None
    searching = {finding.path for finding in findings if finding.code in SEARCH_IMPORTERS}
    return dict(sorted(by_file.items(), key=lambda item: (item[0] not in searching, -len(item[1]))))


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _build_in_workers(by_file: dict[str, list[int]], findings: list[Finding], contexts: _Contexts,
                      failures: list[str], record: bool, jobs: int) -> list[tuple[Fix | None, Built | None]]:
    """Each file's fixes built by one of `jobs` workers, a file at a time to whichever is free; in
    `findings` order. A worker reads each file once for all the files it builds in (importers)."""
    from concurrent.futures import ProcessPoolExecutor

    for code in {finding.code for finding in findings}:
        builder_for(code)  # imported before the workers start: a forked worker has them
    results: list[tuple[Fix | None, Built | None]] = [(None, None)] * len(findings)
    with ProcessPoolExecutor(min(jobs, len(by_file)), initializer=_start_builder,
                             initargs=(contexts.settings, contexts.files, record)) as pool:
        futures = [(positions, pool.submit(_build_file, [findings[position] for position in positions]))
                   for positions in by_file.values()]
        for positions, future in futures:
            built, notes = future.result()
            failures.extend(notes)
            for position, item in zip(positions, built):
                results[position] = item
    return results


# Characters of text a worker keeps for the importers search, which reads every checked file for each fix
# that removes a module-level name: all of it kept, the benchmark corpus's 56 MB peaked at 159 MiB; none,
# each search read them all again (14 such fixes on apps made the fix phase 0.2 s of CPU slower).
PEEK_BUDGET = 24_000_000


class _KeptUpTo:
    """A reader that keeps what it read until the texts kept reach `budget` characters, then only reads."""

    def __init__(self, read: Reader, budget: int) -> None:
        self.read, self.budget = read, budget
        self.kept: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        text = self.kept.get(path)
        if text is None:
            text = self.read(path)
            if len(text) <= self.budget:
                self.kept[path] = text
                self.budget -= len(text)
        return text


_BUILDER: list[tuple[_Contexts, bool]] = []  # in a worker: its contexts, and whether to record inputs


def _start_builder(settings: Settings, files: tuple[str, ...], record: bool) -> None:
    _BUILDER.append((_Contexts(settings, _read_file, files), record))


def _build_file(findings: list[Finding]) -> tuple[list[tuple[Fix | None, Built | None]], list[str]]:
    """In a worker: the fixes of one file's findings, what each read, and the notes of failed codemods."""
    contexts, record = _BUILDER[0]
    failures: list[str] = []
    return [_build_recorded(contexts, finding, failures, record) for finding in findings], failures


class _Contexts:
    """Fix contexts made once per file, and once per top-level statement that a finding is in."""

    def __init__(self, settings: Settings, read: Reader, files: tuple[str, ...]) -> None:
        self.settings, self.files = settings, files
        self.read: Reader = functools.cache(read)  # a fix may read another file, and several fixes the same one
        self.peek: Reader = _KeptUpTo(read, PEEK_BUDGET)  # the importers search reads every checked file
        self.inputs = Inputs()  # the fix being built's, when fixes are cached
        self.files_seen: dict[str, FixContext | None] = {}
        self.statements: dict[tuple[str, int], FixContext | None] = {}
        self.config_files: dict[str, list[str]] = {}  # what each test file's "collected by pytest" depends on

    def record(self, path: str) -> Built:
        """Record what the next build reads: its own file, and the pytest configs that decide whether pytest
        collects it (a test file's fixes differ)."""
        built = self.inputs.current = Built()
        self.inputs.used(path)
        self.whole(path)
        for searched in self.config_files.get(path, ()):
            self.inputs.used(searched)
        return built

    def recorded_read(self, path: str) -> str:
        self.inputs.used(path)
        return self.read(path)

    def whole(self, path: str) -> FixContext | None:
        if path not in self.files_seen:
            try:
                text = self.read(path)
            except (OSError, UnicodeDecodeError, SyntaxError):
                text = None  # the check already reported the unreadable file
            is_test = False
            if text is not None and is_test_file(Path(path), self.settings):
                self.config_files[path] = []
                is_test = collected_by_pytest(Path(path), self.config_files[path])
            self.files_seen[path] = None if text is None else FixContext(
                path, text, self.settings, is_test, self.recorded_read, self.files, inputs=self.inputs, peek=self.peek)
        return self.files_seen[path]

    def around(self, finding: Finding) -> FixContext | None:
        """A context over the top-level statement holding the finding; the whole file's when that
        slice does not parse on its own (a statement boundary the text scan got wrong)."""
        import libcst

        whole = self.whole(finding.path)
        if whole is None:
            return None
        found = whole.windows().around(finding.start.row, newline_of(whole.text))
        if found is None:
            return whole
        text, first_row = found
        key = (finding.path, first_row)
        if key not in self.statements:
            context = FixContext(whole.path, text, whole.settings, whole.is_test, whole.read, whole.files,
                                 first_row=first_row, newline=newline_of(whole.text), inputs=whole.inputs,
                                 peek=whole.peek)
            try:
                context.module()
            except libcst.ParserSyntaxError:
                context = whole
            self.statements[key] = context
        return self.statements[key]


def collected_by_pytest(path: Path, searched: list[str] | None = None) -> bool:
    """Whether pytest runs this module (its `python_files`, or conftest.py), so that fixtures reach its code.

    A helper module under tests/ that tests import is a test file for the rules, but turning its global
    into a fixture would break every importer: for fixes it is ordinary code. `searched` gets the config
    files the answer depends on (`locate`).
    """
    if path.name == "conftest.py":
        return True
    try:
        config = locate(path, searched=searched)
    except PytestConfigError:
        config = None
    return is_test_module(path.name, config)


def _build(builder: Builder, finding: Finding, context: FixContext, notes: list[str] | None) -> Fix | None:
    import libcst

    try:
        return builder(finding, context)
    except libcst.ParserSyntaxError:
        return None  # ast parsed it but libcst cannot (rare syntax): report without a fix
    except Exception as error:  # noqa: BLE001 - a codemod bug must cost one fix, not the whole run
        if notes is not None:
            notes.append(f"{finding.path}:{finding.start.row}: no fix for {finding.code}: "
                         f"the codemod failed ({type(error).__name__}: {error})")
        return None
