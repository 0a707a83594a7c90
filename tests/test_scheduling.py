"""Worker scheduling of a cold run: the main process takes chunks the workers have not started, and the
LB3 pass runs in a worker alongside the project index. Neither changes a finding or its order."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from loopbound import parallel, scheduling
from loopbound.config import Settings
from loopbound.discovery import checked_file, discover
from loopbound.engine import CheckResult, FileResult
from loopbound.parallel import check_tree, run_checks
from loopbound.scheduling import Job
from loopbound.rules import ALL_RULES

EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Per-file findings (the rule fixtures) and LB3 findings (a suite without a loop config) in one tree."""
    shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    shutil.copytree(FIXTURES / "projects" / "session_fixture_no_loop_config", tmp_path / "suite")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(scheduling, "MIN_BYTES_PER_WORKER", 1)  # workers even for a tree this small
    return tmp_path


def _summary(result: CheckResult) -> list[tuple[str, str, int, int, str, str]]:
    return [(f.path, f.code, f.start.row, f.start.column, f.message, f.severity.value) for f in result.findings]


def _check_tree(root: Path, jobs: int) -> CheckResult:
    settings = Settings(project_root=root)
    found = discover([root], settings)
    return check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=jobs)


def test_workers_and_the_lb3_pass_in_a_worker_give_the_serial_output(project: Path) -> None:
    serial = _check_tree(project, jobs=1)
    assert {f.code[:3] for f in serial.findings} >= {"LB1", "LB2", "LB3"}
    parallel_result = _check_tree(project, jobs=2)
    assert _summary(parallel_result) == _summary(serial)
    assert (parallel_result.errors, parallel_result.warnings) == (serial.errors, serial.warnings)


def test_the_main_process_checks_the_chunks_no_worker_took(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(project_root=project)
    files = [checked_file(path, settings) for path in sorted((project / "rules").glob("*.py"))]
    serial = run_checks(files, settings, EVERY_CODE, jobs=1)
    starting = scheduling._init_worker
    in_main: list[str] = []
    checking = scheduling._check

    def slow_start(worker_settings: Settings, *rest: Any) -> None:
        time.sleep(1)  # the workers start late: the main process is first to reach the queued chunks
        starting(worker_settings, *rest)

    def counted(job: Job, job_settings: Settings) -> FileResult:
        in_main.append(job.shown)  # a forked worker appends to its own copy of the list
        return checking(job, job_settings)

    monkeypatch.setattr(scheduling, "_init_worker", slow_start)
    monkeypatch.setattr(scheduling, "_check", counted)
    result = run_checks(files, settings, EVERY_CODE, jobs=2)
    assert _summary(result) == _summary(serial)
    assert len(files) > 4 and in_main, "the chunks still queued were checked by the main process"


@pytest.mark.parametrize("cached", [False, True])
def test_without_a_cache_files_are_stamped_here_only_until_their_sizes_decide_the_processes(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool) -> None:
    """The rest are stamped by the process that reads them; a cache keys every file on its stamp."""
    settings = Settings(project_root=project)
    files = discover([project], settings).python_files
    stamped_here: list[str] = []
    stamping = parallel.stamp

    def counted(path: str) -> Any:
        stamped_here.append(path)
        return stamping(path)

    monkeypatch.setattr(parallel, "stamp", counted)
    first_size = (project / files[0].path).stat().st_size
    pending = parallel._Pending(files, settings, EVERY_CODE, tmp_path / "cache" if cached else None, parallel.now(),
                                bytes_wanted=first_size + 1)
    later = [job.path for job in pending.jobs if job.stamp_when_read]
    if cached:
        assert later == [] and len(stamped_here) == len(files)
    else:
        assert stamped_here == [file.path_text for file in files[:2]]
        assert later == [file.path_text for file in files[2:]] and all(job.stamp is None for job in pending.jobs[2:])
    assert _summary(pending.finish(iter(scheduling.check_all(pending.jobs, settings, 1)), iter)) == \
        _summary(run_checks(files, settings, EVERY_CODE, jobs=1))


@pytest.mark.parametrize(("count", "processes"), [(1, 2), (7, 2), (300, 2), (4524, 2), (4524, 3), (2596, 8)])
def test_chunks_keep_every_job_in_order_and_are_smallest_where_the_processes_meet(count: int, processes: int) -> None:
    costs = [scheduling.expected_cost(index * 37 % 20_000, index % 3 != 0) for index in range(count)]
    jobs = [Job(f"f{index}.py", "", EVERY_CODE, False, None, None, cost=costs[index]) for index in range(count)]
    chunks = scheduling.chunked(jobs, processes)
    assert [job for chunk in chunks for job in chunk] == jobs
    assert all(chunks)
    total = sum(costs)
    meeting = total * (processes - 1) // processes
    smallest = max(1, total // (processes * scheduling.CHUNKS_PER_PROCESS))
    start = 0
    for chunk in chunks:
        before = sum(costs[:start])  # the cost of the jobs before the chunk, and before its last job
        before_last = before + sum(costs[start:start + len(chunk) - 1])
        assert not before < meeting <= before_last, "a chunk that starts before the meeting point ends at it"
        assert before_last - before < max(smallest, abs(meeting - before) // scheduling.SPREAD)
        start += len(chunk)
    if count >= 4524:
        assert len(chunks[0]) > 10 * len(chunks[len(chunks) // 2]), "far from the meeting point a worker's chunk is large"
        assert len(chunks) < 2 * processes * scheduling.CHUNKS_PER_PROCESS // 4


def test_the_files_the_lb3_pass_reads_come_first_largest_first_and_the_others_largest_last(tmp_path: Path) -> None:
    sizes = {"test_big.py": 900, "conftest.py": 50, "test_small.py": 10, "big.py": 800, "small.py": 5, "mid.py": 100}
    for name, size in sizes.items():
        (tmp_path / name).write_text("#" * size)
    settings = Settings(project_root=tmp_path)
    files = [checked_file(tmp_path / name, settings) for name in sorted(sizes)]
    pending = parallel._Pending(files, settings, EVERY_CODE, None, 0.0, bytes_wanted=0)  # nothing stamped here
    slots = dict(zip((job.path for job in pending.jobs), pending.slots))
    pending.balance()
    order = ["test_big.py", "conftest.py", "test_small.py", "small.py", "mid.py", "big.py"]
    read = {"test_big.py", "conftest.py", "test_small.py"}  # by the LB3 pass
    assert [Path(job.path).name for job in pending.jobs] == order
    assert [job.cost for job in pending.jobs] == [scheduling.expected_cost(sizes[name], name in read) for name in order]
    assert dict(zip((job.path for job in pending.jobs), pending.slots)) == slots, "each job keeps its result's place"
