"""Checking a tree: the results cache first, then worker processes that read, pre-filter and parse,
then the project index in the parent, with the whole-tree LB3 pass in a worker beside it.

The parent only stats files: a warm run reads none. Files that miss the cache go to the workers
in path order, in chunks, and come back in that order, so the output never depends on the number
of workers; the parent checks the chunks no worker has started once it has nothing else to do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial as partial_function
from pathlib import Path
from typing import TYPE_CHECKING

from loopbound import recorder, scheduling
from loopbound.cache import ResultCache, file_key, project_result
from loopbound.config import Settings
from loopbound.discovery import CheckedFile
from loopbound.engine import INDEXED_CODES, CheckResult, FileResult, check_path, per_file_selected
from loopbound.index.model import LoopTable
from loopbound.project import read_by_the_pass
from loopbound.scheduling import Job, check_all, default_jobs, expected_cost
from loopbound.stamps import is_settled, stamp

if TYPE_CHECKING:
    from loopbound.index.check import ProjectFiles
    from loopbound.index.graph import ExpectedModules

    from loopbound.warm import Partial

def now() -> float:
    """When a run starts: files changed shortly before it are not cached (stamps.is_settled)."""
    return time.time()


def check_tree(python_files: Sequence[CheckedFile], config_files: Sequence[Path], settings: Settings,
               selected: frozenset[str], *, cache_dir: Path | None = None, jobs: int | None = None,
               progress: Callable[[Sequence[Job]], Iterable[Job]] = iter,
               project_files: ProjectFiles = None) -> CheckResult:
    """Every finding of the per-file rules, the project index and the LB3 pass, sorted; per-file errors first.

    `project_files`: the whole project (or a function giving it, called only when the index needs it) when
    only part of it is checked, for the project index. A run in part (recorder.partial) checks only the
    changed files again; the index is resolved again over every
    file's summary either way, since what one file's findings mean depends on the others.
    """
    partial = recorder.partial()
    project: CheckResult | None = None
    expected: ExpectedModules | None = None
    if partial is not None:
        results, project = _replay_in_part(partial, settings)
        result = CheckResult.of_files(file_result for *_, file_result in results)
        started = now()
        if partial.reruns_project and not partial.keeps_lb3_facts():
            project = project_result([file.path for file in python_files], list(config_files), settings, selected,
                                     cache_dir, started)
    else:
        started = now()
        pending = _Pending(python_files, settings, selected, cache_dir, started,
                           bytes_wanted=(jobs or default_jobs()) * scheduling.MIN_BYTES_PER_WORKER)
        project_pass = _ProjectPass(python_files, list(config_files), settings, selected, cache_dir, started)
        # A warm replay records what the LB3 pass reads in this process: it cannot run in a worker then.
        in_worker = recorder.recording() is None
        if in_worker and cache_dir is None:
            pending.balance()
        # Without the LB3 cache, the pass takes the facts of the test modules both processes read as they
        # checked them, and the lock files its worker read after its first chunk.
        parsed = check_all(pending.jobs, settings, jobs, then=project_pass if in_worker else None,
                            keep_parsed=in_worker and cache_dir is None,
                            read_ahead=partial_function(_read_locks_ahead, config_files, settings.project_root))
        if not in_worker:
            project = project_pass()
        if parsed.in_parallel:
            expected = _expected_modules(python_files, selected, settings, pending)
            parsed.arrived = expected.add if expected is not None else None
        result = pending.finish(iter(parsed), progress)
        results = [(*job, file_result) for job, file_result in zip(pending.kept, pending.results)
                   if file_result is not None]
    recording = recorder.recording()
    if recording is not None and project is not None:
        recording.keep(results, project, settings.registry.names_by_module, settings.registry)
    lb3: list[CheckResult] = [project] if project is not None else []

    def loops() -> LoopTable:
        """The LB3 pass's loop table: the pass runs alongside the index, and only the grading waits for it."""
        if not lb3:
            lb3.append(parsed.then_result())
        return lb3[0].loops or {}

    # Imported once the per-file work is under way: a worker forked before needs none of it.
    from loopbound.index.check import check_index

    result = check_index(list(python_files), settings, selected, result, cache_dir, started, project_files,
                         config_files, loops, expected)
    loops()
    project = lb3[0]
    result.findings = sorted([*result.findings, *project.findings], key=lambda finding: finding.sort_key)
    result.errors.extend(project.errors)
    result.warnings.extend(project.warnings)
    result.loops = project.loops
    return result


class _ProjectPass:
    """The LB3 pass over the checked files (cache.project_result), which reads modules, not checked files:
    their Paths are made where it runs, in a worker when it is sent to one (the main process sends their
    text: fewer bytes to pickle, and no Path made here for it)."""

    def __init__(self, files: Sequence[CheckedFile], config_files: list[Path], settings: Settings,
                 selected: frozenset[str], cache_dir: Path | None, started: float) -> None:
        self.files = files
        self.arguments = (config_files, settings, selected, cache_dir, started)

    def __call__(self) -> CheckResult:
        return project_result([file.path for file in self.files], *self.arguments)

    def __reduce__(self) -> tuple[object, ...]:
        """Sent to a worker as the call it makes, with each file's path as text."""
        return partial_function, (_project_result_of, [file.path_text for file in self.files], *self.arguments)


def _project_result_of(paths: list[str], config_files: list[Path], settings: Settings, selected: frozenset[str],
                       cache_dir: Path | None, started: float) -> CheckResult:
    return project_result([Path(path) for path in paths], config_files, settings, selected, cache_dir, started)


def _expected_modules(files: Sequence[CheckedFile], selected: frozenset[str], settings: Settings,
                      pending: _Pending) -> ExpectedModules | None:
    """The project index's modules, named from the file list while the workers check the first chunks; each
    one's imports are resolved as its result comes in (the cached ones' now). None when the index has no
    codes to look for."""
    if not selected & INDEXED_CODES:
        return None
    from loopbound.index.graph import ExpectedModules

    expected = ExpectedModules(files, settings.project_root, pending.unindexed)
    for result in pending.results:
        if result is not None:
            expected.add(result.path, result.summary)
    return expected


def check_project_cached(python_files: Sequence[CheckedFile], config_files: Sequence[Path], settings: Settings,
                         selected: frozenset[str], cache_dir: Path | None) -> CheckResult:
    """The LB3 pass alone, through the project cache: what an editor needs after a save."""
    return project_result([file.path for file in python_files], list(config_files), settings, selected, cache_dir, now())


def _replay_in_part(partial: Partial, settings: Settings
                    ) -> tuple[list[tuple[str, str, frozenset[str], bool, FileResult]], CheckResult]:
    """The recorded results, the changed files' checked again (they are per-file results only)."""
    _, recorded, project = partial.state()
    results = [(path, shown, selected, is_test,
                check_path(Path(path), shown, settings, selected, is_test) if partial.is_changed(path) else file_result)
               for path, shown, selected, is_test, file_result in recorded]
    return results, project


def run_checks(files: Sequence[CheckedFile], settings: Settings, selected: frozenset[str], *,
               cache_dir: Path | None = None, jobs: int | None = None,
               progress: Callable[[Sequence[Job]], Iterable[Job]] = iter) -> CheckResult:
    """check_files with the cache and workers (the per-file rules only); same findings, same order."""
    pending = _Pending(files, settings, selected, cache_dir, now())
    return pending.finish(iter(check_all(pending.jobs, settings, jobs)), progress)


class _Pending:
    """The files' cached results, and a job for each file the cache cannot answer.

    Without a cache or a recording, nothing here needs a file's stamp but the sizes that decide how
    many processes to start: once they add up to `bytes_wanted`, the rest of the files are stamped
    by the processes that read them (a stat per file was a tenth of the time before the first chunk).
    """

    def __init__(self, files: Sequence[CheckedFile], settings: Settings, selected: frozenset[str],
                 cache_dir: Path | None, started: float, bytes_wanted: int | None = None) -> None:
        self.cache = ResultCache.open(cache_dir, settings) if cache_dir is not None else None
        self.started = started
        self.results: list[FileResult | None] = []
        self.jobs: list[Job] = []
        self.slots: list[int] = []  # each job's place in `results`
        self.kept: list[tuple[str, str, frozenset[str], bool]] = []  # each file's job, for a partial replay
        self.unindexed: set[str] = set()  # files (shown) whose codes, after per-file-ignores, need no summary
        recording = recorder.recording()
        if recording is not None and cache_dir is not None:
            recording.cache_dir = str(cache_dir)
        needs_summary: dict[frozenset[str], bool] = {}  # most files share one selection
        sized = 0  # bytes of the files stamped here
        stamped_until = bytes_wanted if self.cache is None and recording is None else None
        for file in files:
            path, shown, is_test = file.path_text, file.shown, file.is_test
            file_selected = per_file_selected(file.relative, settings, selected)
            indexed = needs_summary.get(file_selected)
            if indexed is None:
                indexed = needs_summary[file_selected] = bool(file_selected & INDEXED_CODES)
            if not indexed:
                self.unindexed.add(shown)
            if recording is not None:
                self.kept.append((path, shown, file_selected, is_test))
            if stamped_until is not None and sized >= stamped_until:
                self.slots.append(len(self.results))
                self.results.append(None)
                self.jobs.append(Job(path, shown, file_selected, is_test, None, None, stamp_when_read=True))
                continue
            file_stamp = stamp(path)
            sized += file_stamp[0] if file_stamp is not None else 0
            if recording is not None:
                recording.note_stamped(path, file_stamp)
            key = file_key(file_stamp, shown, file_selected, is_test) if self.cache is not None else None
            cached = self.cache.get(key) if self.cache is not None and key is not None else None
            if cached is None:
                self.slots.append(len(self.results))
                self.jobs.append(Job(path, shown, file_selected, is_test, file_stamp, key))
            self.results.append(cached)

    def balance(self) -> None:
        """Give each job its expected cost, and order the jobs for a worker that takes chunks from the front
        and the main process that takes them from the end: the files the LB3 pass reads (by name) first,
        the largest first, then the others, the largest last. The worker that runs the pass then parses
        most of them (each one the main process parses has its facts pickled over to it), and the files
        where the two meet, whose chunk one of them may wait for at the end, are the smallest."""
        passes = [read_by_the_pass(job.path) for job in self.jobs]
        costs = [expected_cost(_size(job), read) for job, read in zip(self.jobs, passes)]
        order = sorted(range(len(self.jobs)), key=lambda index: (not passes[index],
                                                                  -costs[index] if passes[index] else costs[index]))
        self.jobs = [self.jobs[index]._replace(cost=costs[index]) for index in order]
        self.slots = [self.slots[index] for index in order]

    def finish(self, checked: Iterator[FileResult], progress: Callable[[Sequence[Job]], Iterable[Job]]
               ) -> CheckResult:
        # zip pulls the progress item first, so the bar advances as each result arrives.
        for index, job, result in zip(self.slots, progress(self.jobs), checked):
            self.results[index] = result
            if self.cache is not None and job.key is not None and is_settled(job.stamp, self.started):
                self.cache.put(job.key, result)
        if self.cache is not None:
            self.cache.save()
        return CheckResult.of_files(result for result in self.results if result is not None)


def _size(job: Job) -> int:
    """The file's size, from its stamp when it was stamped (a file missing now costs nothing to read)."""
    if job.stamp is not None:
        return job.stamp[0]
    try:
        return os.stat(job.path).st_size
    except OSError:
        return 0


def _read_locks_ahead(config_files: Sequence[Path], project_root: Path) -> None:
    """The lock files beside the configs found, read for the LB3 pass in the worker that will run it."""
    from loopbound.asyncio_declarations import read_locks_ahead
    from loopbound.discovery import real_path

    read_locks_ahead(sorted({real_path(path).parent for path in config_files}), real_path(project_root))
