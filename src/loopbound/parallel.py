"""Checking many files: the results cache first, then the pre-filter, then parsing, in worker processes
when there are enough files left to pay for starting them.

The parent reads and hashes every file (cheap); only files that miss the cache and pass the
pre-filter are parsed, in path order, so the output never depends on the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from loopbound.cache import ResultCache, file_key
from loopbound.config import Settings
from loopbound.discovery import display_path, is_test_file
from loopbound.engine import (
    CheckResult,
    FileResult,
    SourceError,
    check_source,
    needs_parse,
    per_file_selected,
    read_bytes,
)

# Below this many files to parse, starting processes (~50 ms each, plus importing loopbound) costs
# more than it saves.
MIN_FILES_PER_WORKER = 40


@dataclass(frozen=True)
class Job:
    """One file to parse: everything check_source needs, picklable for a worker."""

    data: bytes
    shown: str
    selected: frozenset[str]
    is_test: bool
    key: str | None


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_checks(paths: Sequence[Path], settings: Settings, selected: frozenset[str], *,
               cache_dir: Path | None = None, jobs: int | None = None,
               progress: Callable[[Sequence[Job]], Iterable[Job]] = iter) -> CheckResult:
    """check_files with the cache and workers; same findings, same order."""
    cache = ResultCache.open(cache_dir, settings) if cache_dir is not None else None
    results: list[FileResult] = []
    pending: list[tuple[int, Job]] = []
    for path in paths:
        shown = display_path(path)
        try:
            data = read_bytes(path)
        except SourceError as error:
            results.append(FileResult(shown, error=f"{shown}: {error}"))
            continue
        file_selected = per_file_selected(path, settings, selected)
        is_test = is_test_file(path, settings)
        key = file_key(data, shown, file_selected, is_test) if cache is not None else None
        cached = cache.get(key) if cache is not None and key is not None else None
        if cached is not None:
            results.append(cached)
        elif not needs_parse(data, settings, file_selected):
            results.append(_store(cache, key, FileResult(shown)))
        else:
            results.append(FileResult(shown))
            pending.append((len(results) - 1, Job(data, shown, file_selected, is_test, key)))
    to_parse = [job for _, job in pending]
    # zip pulls the progress item first, so the bar advances as each parsed result arrives.
    for (index, _), job, parsed in zip(pending, progress(to_parse), _parse_all(to_parse, settings, jobs)):
        results[index] = _store(cache, job.key, parsed)
    if cache is not None:
        cache.save()
    return CheckResult.of_files(results)


def _store(cache: ResultCache | None, key: str | None, result: FileResult) -> FileResult:
    if cache is not None and key is not None:
        cache.put(key, result)
    return result


def _parse_all(jobs_to_run: list[Job], settings: Settings, jobs: int | None) -> Iterator[FileResult]:
    """Parsed results in job order, lazily, so a progress bar can follow them."""
    workers = min(jobs or default_jobs(), len(jobs_to_run) // MIN_FILES_PER_WORKER)
    if workers <= 1:
        yield from (_parse(job, settings) for job in jobs_to_run)
        return
    chunk = max(1, len(jobs_to_run) // (workers * 8))
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(settings,)) as pool:
        yield from pool.map(_parse_in_worker, jobs_to_run, chunksize=chunk)


def _parse(job: Job, settings: Settings) -> FileResult:
    return check_source(job.data, job.shown, settings, job.selected, is_test=job.is_test, prefilter=False)


_WORKER_SETTINGS: list[Settings] = []


def _init_worker(settings: Settings) -> None:
    _WORKER_SETTINGS.append(settings)


def _parse_in_worker(job: Job) -> FileResult:
    return _parse(job, _WORKER_SETTINGS[0])
