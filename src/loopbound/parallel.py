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
from typing import TYPE_CHECKING, NamedTuple

from loopbound import recorder
from loopbound.cache import ResultCache, file_key, project_result
from loopbound.config import Settings
from loopbound.discovery import CheckedFile
from loopbound.engine import INDEXED_CODES, CheckResult, FileResult, check_path, per_file_selected
from loopbound.index.model import LoopTable, ModuleSummary
from loopbound.stamps import Stamp, is_settled, stamp

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing import Queue
    from threading import Thread

    from loopbound.module_facts import Module

    from loopbound.index.check import ProjectFiles
    from loopbound.index.graph import ExpectedModules

    from loopbound.warm import Partial

# Below this many bytes to look at, starting processes (~20 ms each with fork, far more where
# workers must import loopbound) costs more than it saves. Most bytes are only pre-filtered.
MIN_BYTES_PER_WORKER = 4_000_000
# Chunks per process: small enough that the main process and the workers finish together. The main
# process, done with its share, waits for the chunk a worker is on and the one queued behind it: with
# 32 (70 files of the benchmark corpus each) that wait was about a twentieth of the wall time, while a
# chunk costs the parent about 50 µs.
CHUNKS_PER_PROCESS = 128


class Job(NamedTuple):
    """One file to check: everything a worker needs, picklable (a tuple: made and unpickled for every file)."""

    path: str
    shown: str
    selected: frozenset[str]
    is_test: bool
    stamp: Stamp
    key: str | None
    stamp_when_read: bool = False  # not stamped by the parent: the process that reads it stamps it first


def now() -> float:
    """When a run starts: files changed shortly before it are not cached (stamps.is_settled)."""
    return time.time()


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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
                           bytes_wanted=(jobs or default_jobs()) * MIN_BYTES_PER_WORKER)
        project_pass = _ProjectPass(python_files, list(config_files), settings, selected, cache_dir, started)
        # A warm replay records what the LB3 pass reads in this process: it cannot run in a worker then.
        in_worker = recorder.recording() is None
        # Without the LB3 cache, the pass takes the facts of the test modules both processes read as they
        # checked them, and the lock files its worker read after its first chunk.
        parsed = _check_all(pending.jobs, settings, jobs, then=project_pass if in_worker else None,
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
    return pending.finish(iter(_check_all(pending.jobs, settings, jobs)), progress)


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
                self.results.append(None)
                self.jobs.append(Job(path, shown, file_selected, is_test, None, None, stamp_when_read=True))
                continue
            file_stamp = stamp(path)
            sized += file_stamp[0] if file_stamp is not None else 0
            if recording is not None:
                recording.note_stamped(path, file_stamp)
            key = file_key(file_stamp, shown, file_selected, is_test) if self.cache is not None else None
            cached = self.cache.get(key) if self.cache is not None and key is not None else None
            self.results.append(cached)
            if cached is None:
                self.jobs.append(Job(path, shown, file_selected, is_test, file_stamp, key))

    def finish(self, checked: Iterator[FileResult], progress: Callable[[Sequence[Job]], Iterable[Job]]
               ) -> CheckResult:
        # zip pulls the progress item first, so the bar advances as each result arrives.
        missing = (index for index, result in enumerate(self.results) if result is None)
        for index, job, result in zip(missing, progress(self.jobs), checked):
            self.results[index] = result
            if self.cache is not None and job.key is not None and is_settled(job.stamp, self.started):
                self.cache.put(job.key, result)
        if self.cache is not None:
            self.cache.save()
        return CheckResult.of_files(result for result in self.results if result is not None)


def _check_all(jobs_to_run: list[Job], settings: Settings, jobs: int | None, *,
               then: Callable[[], CheckResult] | None = None, keep_parsed: bool = False,
               read_ahead: Callable[[], None] | None = None) -> _Scheduled:
    """Results in job order. With workers, the work is submitted before this returns and runs while
    the caller does other things; without, it runs lazily as the results are pulled. `then` (picklable)
    runs after the per-file work: in a worker, or here when there are none (`then_result`).
    `keep_parsed`: the processes that may run `then` keep the LB3 facts of what they parse (project.PARSED),
    and the worker that runs it does `read_ahead` (picklable) after its first chunk."""
    total = sum(job.stamp[0] for job in jobs_to_run if job.stamp is not None)
    processes = min(jobs or default_jobs(), total // MIN_BYTES_PER_WORKER, len(jobs_to_run))
    keep = keep_parsed and then is not None
    return _Scheduled(jobs_to_run, settings, processes, then, keep, read_ahead if keep else None)


class _Scheduled:
    """The per-file jobs in chunks, handed to worker processes in order, while the main process, as it
    collects the results in order, checks chunks from the end instead of waiting: on two cores, the
    main process was idle while the workers finished, or the workers idle while it finished.

    A chunk still queued in the pool can be cancelled and checked here instead; the pool hands out
    chunks in order, so once the last chunk not yet taken here is running, so are all before it.
    Between two such chunks the results that arrived are handed on (a progress bar moves), and
    `arrived`, when set, takes each file's summary as soon as its chunk is checked here or collected
    from a worker (the project index resolves its imports then, not after the last chunk).
    The LB3 pass, when given, is queued after the chunks: it needs none of their results, and the
    project index, which needs them all, then runs here while a worker runs the LB3 pass. With
    `keep_parsed`, every process notes the LB3 facts of the test modules it checks (project.PARSED), and
    the pass is queued once this process has taken its last chunk, with the facts noted here. With one
    worker, these go to it chunk by chunk (`facts`): it unpickles them while it checks its own chunks,
    not after them (2.8 MB on apps/).
    """

    def __init__(self, jobs_to_run: list[Job], settings: Settings, processes: int,
                 then: Callable[[], CheckResult] | None, keep_parsed: bool,
                 read_ahead: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.chunks: list[list[Job]] = [jobs_to_run]
        self.results: list[list[FileResult] | None] = [None]
        self.futures: list[Future[list[FileResult]]] = []
        self.then: Callable[[], CheckResult] | None = then
        self.last_to_take = -1  # the chunks after it were checked here, from the end
        self.pool: ProcessPoolExecutor | None = None  # open until the LB3 pass is queued with the facts noted here
        self.to_hand_over: Callable[[], CheckResult] | None = None
        self.facts: Queue[dict[tuple[Path, bool], tuple[Stamp, Module | None]] | None] | None = None
        # Takes each file's summary as its result comes in, from a worker or checked here (check_tree).
        self.arrived: Callable[[str, ModuleSummary | None], None] | None = None
        if processes <= 1:
            if keep_parsed and then is not None:  # `then` runs here, after the per-file work
                _keep_parsed(True)
                self.then = partial_function(_then_kept, then)
            return
        from concurrent.futures import ProcessPoolExecutor  # not imported by runs that need no workers (warm ones)

        size = max(1, len(jobs_to_run) // (processes * CHUNKS_PER_PROCESS))
        self.chunks = [jobs_to_run[start:start + size] for start in range(0, len(jobs_to_run), size)]
        self.results = [None] * len(self.chunks)
        # The main process is one of the `processes`: its chunks cost no pickling of their results.
        if keep_parsed and then is not None and processes == 2:  # the one worker will run the LB3 pass
            from multiprocessing import Queue

            self.facts = Queue()
            self.facts.cancel_join_thread()  # a worker gone: the run fails, rather than wait at exit
        pool = ProcessPoolExecutor(processes - 1, initializer=_init_worker,
                                   initargs=(settings, keep_parsed, self.facts))
        self.futures = [pool.submit(_check_chunk, self.chunks[0])]
        if read_ahead is not None and self.facts is not None:  # behind the first chunk, which it would delay
            pool.submit(read_ahead)
        self.futures.extend(pool.submit(_check_chunk, chunk) for chunk in self.chunks[1:])
        self.last_to_take = len(self.chunks) - 1
        if then is not None and keep_parsed:
            _keep_parsed(True)
            self.pool, self.to_hand_over = pool, then
            return
        if then is not None:
            then_future = pool.submit(then)
            self.then = then_future.result
        pool.shutdown(wait=False)  # the submitted work still runs; the workers exit once it is done

    @property
    def in_parallel(self) -> bool:
        """Whether worker processes check chunks while this process collects their results."""
        return bool(self.futures)

    def then_result(self) -> CheckResult:
        self._hand_over()
        if self.then is None:
            raise ValueError("no work was queued after the per-file checks")
        return self.then()

    def __iter__(self) -> Iterator[FileResult]:
        if not self.futures:
            return (_check(job, self.settings) for job in self.chunks[0])
        return (result for index in range(len(self.chunks)) for result in self._chunk(index))

    def _chunk(self, index: int) -> list[FileResult]:
        while self.results[index] is None and not self.futures[index].done() and self._take_last():
            pass
        if index == len(self.chunks) - 1:
            self._hand_over()
        done = self.results[index]
        if done is not None:
            return done
        collected = self.futures[index].result()
        self._tell(collected)
        return collected

    def _tell(self, results: list[FileResult]) -> None:
        if self.arrived is not None:
            for result in results:
                self.arrived(result.path, result.summary)

    def _take_last(self) -> bool:
        """Check the last chunk no worker has started; False when every chunk is taken."""
        last = self.last_to_take
        if last < 0 or not self.futures[last].cancel():
            self._hand_over()
            return False
        self.results[last] = checked = [_check(job, self.settings) for job in self.chunks[last]]
        self._tell(checked)
        self.last_to_take -= 1
        if self.facts is not None:  # the worker takes them in while it checks its chunks
            from loopbound import project

            if project.PARSED:
                self.facts.put(project.PARSED)
                project.PARSED = {}
        return True

    def _hand_over(self) -> None:
        """Queue the LB3 pass behind the workers' chunks, with the facts this process noted: it checks no
        more chunks."""
        if self.pool is None or self.to_hand_over is None:
            return
        from loopbound import project

        kept, then = project.PARSED or {}, self.to_hand_over
        _keep_parsed(False)
        if self.facts is not None:
            self.facts.put(None)
            self.facts.close()  # its feeder thread ends once that is sent: forks made later (fix workers) meet none
        self.then = self.pool.submit(partial_function(_then_with, kept, then)).result
        self.pool.shutdown(wait=False)  # the submitted work still runs; the workers exit once it is done
        self.pool = self.to_hand_over = None


def _check(job: Job, settings: Settings) -> FileResult:
    """The file's per-file results; its LB3 facts too when this process keeps them (project.PARSED)."""
    return check_path(job.path, job.shown, settings, job.selected, job.is_test,
                      stamped=stamp(job.path) if job.stamp_when_read else job.stamp)


def _keep_parsed(keep: bool) -> None:
    """Keep in this process the LB3 facts of the test modules the per-file pass parses, or stop."""
    from loopbound import project

    project.PARSED = {} if keep else None


def _read_locks_ahead(config_files: Sequence[Path], project_root: Path) -> None:
    """The lock files beside the configs found, read for the LB3 pass in the worker that will run it."""
    from loopbound.asyncio_declarations import read_locks_ahead
    from loopbound.discovery import real_path

    read_locks_ahead(sorted({real_path(path).parent for path in config_files}), real_path(project_root))


def _then_with(kept: dict[tuple[Path, bool], tuple[Stamp, Module | None]], then: Callable[[], CheckResult]
               ) -> CheckResult:
    """`then` in a worker, given the facts the main process noted too."""
    from loopbound import project

    for receiver in _RECEIVERS:
        receiver.join()
    if project.PARSED is not None:
        project.PARSED.update(kept)
    return then()


def _then_kept(then: Callable[[], CheckResult]) -> CheckResult:
    try:
        return then()
    finally:
        _keep_parsed(False)


_WORKER_SETTINGS: list[Settings] = []
_RECEIVERS: list[Thread] = []  # in the worker that runs the LB3 pass: takes in the main process's facts


def _init_worker(settings: Settings, keep_parsed: bool,
                 facts: Queue[dict[tuple[Path, bool], tuple[Stamp, Module | None]] | None] | None) -> None:
    _WORKER_SETTINGS.append(settings)
    _keep_parsed(keep_parsed)
    if facts is not None:
        from threading import Thread

        _RECEIVERS.append(Thread(target=_receive, args=(facts,), daemon=True))
        _RECEIVERS[0].start()


def _receive(facts: Queue[dict[tuple[Path, bool], tuple[Stamp, Module | None]] | None]) -> None:
    """The facts the main process notes, chunk by chunk, until it hands the LB3 pass over (None)."""
    from loopbound import project

    while (batch := facts.get()) is not None:
        if project.PARSED is not None:
            project.PARSED.update(batch)


def _check_chunk(chunk: list[Job]) -> list[FileResult]:
    return [_check(job, _WORKER_SETTINGS[0]) for job in chunk]
