"""The per-file jobs of a tree, in chunks, checked by worker processes and the main process together, in
job order: the worker side of parallel.py (which decides what to check and what follows the per-file pass).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial as partial_function
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from loopbound.config import Settings
from loopbound.engine import CheckResult, FileResult, check_path
from loopbound.index.model import ModuleSummary
from loopbound.stamps import Stamp, stamp

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing import Queue
    from threading import Thread

    from loopbound.module_facts import Module

# Below this many bytes to look at, starting processes (~20 ms each with fork, far more where
# workers must import loopbound) costs more than it saves. Most bytes are only pre-filtered.
MIN_BYTES_PER_WORKER = 4_000_000
# Chunks per process, for the size of the chunks where the workers and the main process meet: small
# enough that they finish together. The main process, done with its share, waits for the chunk a worker
# is on and the one queued behind it: with 32 (70 files of the benchmark corpus each) that wait was
# about a twentieth of the wall time, while a chunk costs the parent about 50 µs.
CHUNKS_PER_PROCESS = 128
# Away from that meeting point a chunk holds 1/SPREAD of the expected cost between its start and the point. A
# worker's chunk costs it a round trip through the pool, which waits for the main process's threads
# to get the GIL: with chunks of one size, the worker was idle a fifth of the time (cold runs of both
# corpora, 128 chunks a process: 0.92 s, and 1.42 s on the benchmark corpus; with growing chunks, 0.84
# and 1.26 s).
SPREAD = 4
# A file's expected cost, in bytes of a file the LB3 pass does not read: a fixed part, and its size, six
# times over when the LB3 pass reads it (it is parsed more often, and its facts are read). Fitted to the
# CPU each file took, one process: 39 us + 13 us/KB for the others, 44 us + 43 us/KB for those the pass
# reads (benchmark corpus); 92 + 16 and 152 + 119 (apps). Three times over was 3% slower on apps.
FILE_COST = 3_000
TEST_MODULE_BYTE_COST = 6


class Job(NamedTuple):
    """One file to check: everything a worker needs, picklable (a tuple: made and unpickled for every file)."""

    path: str
    shown: str
    selected: frozenset[str]
    is_test: bool
    stamp: Stamp
    key: str | None
    stamp_when_read: bool = False  # not stamped by the parent: the process that reads it stamps it first
    cost: int = 1  # what checking it is expected to cost, against the other jobs (expected_cost)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_all(jobs_to_run: list[Job], settings: Settings, jobs: int | None, *,
               then: Callable[[], CheckResult] | None = None, keep_parsed: bool = False,
               read_ahead: Callable[[], None] | None = None) -> Scheduled:
    """Results in job order. With workers, the work is submitted before this returns and runs while
    the caller does other things; without, it runs lazily as the results are pulled. `then` (picklable)
    runs after the per-file work: in a worker, or here when there are none (`then_result`).
    `keep_parsed`: the processes that may run `then` keep the LB3 facts of what they parse (project.PARSED),
    and the worker that runs it does `read_ahead` (picklable) after its first chunk."""
    total = sum(job.stamp[0] for job in jobs_to_run if job.stamp is not None)
    processes = min(jobs or default_jobs(), total // MIN_BYTES_PER_WORKER, len(jobs_to_run))
    keep = keep_parsed and then is not None
    return Scheduled(jobs_to_run, settings, processes, then, keep, read_ahead if keep else None)


class Scheduled:
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

        self.chunks = chunked(jobs_to_run, processes)
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


def expected_cost(size: int, read_by_the_pass: bool) -> int:
    """What checking a file of `size` bytes is expected to cost (in bytes of a file the LB3 pass does not read)."""
    return FILE_COST + size * (TEST_MODULE_BYTE_COST if read_by_the_pass else 1)


def chunked(jobs_to_run: list[Job], processes: int) -> list[list[Job]]:
    """The jobs in order, in chunks that grow with their distance from where the workers (taking them
    from the front) and the main process (from the end) should meet, by the jobs' expected cost."""
    costs = [job.cost for job in jobs_to_run]
    total = sum(costs)
    smallest = max(1, total // (processes * CHUNKS_PER_PROCESS))
    meeting = total * (processes - 1) // processes
    chunks: list[list[Job]] = []
    chunk: list[Job] = []
    done = chunk_start = 0  # the cost of the jobs before the current one, and before the current chunk
    for job, cost in zip(jobs_to_run, costs):
        if chunk and (done - chunk_start >= max(smallest, abs(meeting - chunk_start) // SPREAD)
                      or chunk_start < meeting <= done):  # no chunk reaches across the meeting point
            chunks.append(chunk)
            chunk, chunk_start = [], done
        chunk.append(job)
        done += cost
    if chunk:
        chunks.append(chunk)
    return chunks


def _check(job: Job, settings: Settings) -> FileResult:
    """The file's per-file results; its LB3 facts too when this process keeps them (project.PARSED)."""
    return check_path(job.path, job.shown, settings, job.selected, job.is_test,
                      stamped=stamp(job.path) if job.stamp_when_read else job.stamp)


def _keep_parsed(keep: bool) -> None:
    """Keep in this process the LB3 facts of the test modules the per-file pass parses, or stop."""
    from loopbound import project

    project.PARSED = {} if keep else None


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
