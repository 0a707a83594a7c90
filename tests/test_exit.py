"""How the command line leaves: at once, without freeing its objects one by one, yet with its output
complete, its status kept and no worker process left behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES

# The command line as `loopbound` runs it, with workers even for a small tree. Each worker notes its
# process id as it starts, and again as it exits, a second after it was told to.
_WITH_WORKERS = """
import os, sys, time
from multiprocessing.util import Finalize
from loopbound import scheduling

scheduling.MIN_BYTES_PER_WORKER = 1
noted = sys.argv.pop(1)
starting = scheduling._init_worker


def note(word):
    with open(noted, "a") as pids:
        pids.write(f"{word} {os.getpid()}\\n")


def noting(*arguments):
    note("started")
    Finalize(None, lambda: (time.sleep(1), note("exited")), exitpriority=0)
    starting(*arguments)


scheduling._init_worker = noting
sys.argv[0] = "loopbound"
from loopbound.warm import entry

entry()
"""


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "rules", root / "rules")
    shutil.copytree(FIXTURES / "projects" / "session_fixture_no_loop_config", root / "suite")
    return root


def _run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *arguments], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})


def test_workers_have_exited_when_the_run_has(tmp_path: Path) -> None:
    root = _project(tmp_path)
    pids, output = tmp_path / "pids", tmp_path / "output"
    with output.open("w") as stdout:  # not a pipe, which a worker still running would hold open
        status = subprocess.run([sys.executable, "-c", _WITH_WORKERS, str(pids), "check", "--no-cache", "--jobs",
                                 "2", "--output-format", "json", "."], cwd=root, stdout=stdout,
                                stderr=subprocess.DEVNULL, timeout=120).returncode
    noted = [line.split() for line in pids.read_text().splitlines()]
    alone = _run("-m", "loopbound", "check", "--no-cache", "--jobs", "1", "--output-format", "json", ".", cwd=root)
    assert status == alone.returncode
    assert json.loads(output.read_text()) == json.loads(alone.stdout) != []
    started = sorted(pid for word, pid in noted if word == "started")
    assert started, "no worker was started: the test checks nothing"
    assert sorted(pid for word, pid in noted if word == "exited") == started


def test_a_report_larger_than_a_pipe_arrives_whole(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    source = (FIXTURES / "rules" / "LB101.py").read_text(encoding="utf-8")
    for number in range(60):
        (root / f"client_{number}.py").write_text(source, encoding="utf-8")
    run = _run("-m", "loopbound", "check", "--no-cache", "--output-format", "json", ".", cwd=root)
    assert len(run.stdout) > 65_536  # more than a pipe holds: the last writes wait for the reader
    findings = json.loads(run.stdout)
    assert len({item["filename"] for item in findings}) == 60
    assert run.returncode == 0  # latent findings: no test in this tree shows them breaking


def test_a_clean_run_exits_zero_and_a_usage_error_two(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("x = 1\n", encoding="utf-8")
    clean = _run("-m", "loopbound", "check", "--no-cache", ".", cwd=tmp_path)
    assert (clean.returncode, clean.stdout) == (0, "")
    wrong = _run("-m", "loopbound", "check", "--no-such-option", ".", cwd=tmp_path)
    assert wrong.returncode == 2
    assert "No such option" in wrong.stderr
