"""Adopting loopbound in legacy code: baselines, `--add-noqa`, LB002, and what the terminal shows."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import run_loopbound

from loopbound.config import Settings
from loopbound.engine import check_source

BAD = "import asyncio\nimport httpx\n\nclient = httpx.AsyncClient()\nlock = asyncio.Lock()\n"
# A pytest-asyncio suite that imports the module: each test on its own loop, so its findings are errors.
SUITE = "from pkg.api import client\n\n\nasync def test_get():\n    await client.get('/')\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "api.py").write_text(BAD)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_api.py").write_text(SUITE)
    return tmp_path


def concise(*args: str, cwd: Path) -> tuple[int, list[str], str]:
    run = run_loopbound("check", "--output-format", "concise", *args, cwd=cwd)
    return run.code, run.stdout.splitlines(), run.stderr


def test_write_then_use_a_baseline(project: Path) -> None:
    run = run_loopbound("check", "--write-baseline", "baseline.json", cwd=project)
    assert run.code == 0 and "Wrote 2 findings" in run.stderr
    document = json.loads((project / "baseline.json").read_text())
    assert [(e["code"], e["path"]) for e in document["findings"]] == [("LB101", "pkg/api.py"),
                                                                        ("LB106", "pkg/api.py")]
    code, lines, stderr = concise("--baseline", "baseline.json", cwd=project)
    assert (code, lines) == (0, [])
    assert "2 findings hidden by the baseline" in stderr


def test_baseline_ignores_line_moves_but_not_new_findings(project: Path) -> None:
    run_loopbound("check", "--write-baseline", "baseline.json", cwd=project)
    moved = '"""Docs."""\n\n' + BAD.replace("client = ", "client  =  ") + "other = httpx.AsyncClient()\n"
    (project / "pkg" / "api.py").write_text(moved)
    code, lines, _ = concise("--baseline", "baseline.json", cwd=project)
    assert code == 1
    message = ("`httpx.AsyncClient` is created at import time and bound to the first event loop that uses it: "
               "tests/test_api.py runs each test on its own event loop and imports pkg/api.py")
    assert lines == [f"pkg/api.py:8:9: LB101 {message}"]


def test_an_identical_second_finding_is_new(project: Path) -> None:
    run_loopbound("check", "--write-baseline", "baseline.json", cwd=project)
    (project / "pkg" / "api.py").write_text(BAD + "client = httpx.AsyncClient()\n")
    code, lines, _ = concise("--baseline", "baseline.json", cwd=project)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("pkg/api.py:6:10: LB101")


def test_stale_entries_are_reported(project: Path) -> None:
    run_loopbound("check", "--write-baseline", "baseline.json", cwd=project)
    (project / "pkg" / "api.py").write_text(BAD.replace("lock = asyncio.Lock()\n", ""))
    code, lines, stderr = concise("--baseline", "baseline.json", cwd=project)
    assert (code, lines) == (0, [])
    assert "stale baseline entry in baseline.json: pkg/api.py LB106" in stderr
    assert "1 stale baseline entries" in stderr


def test_baseline_paths_are_relative_to_the_baseline_file(project: Path) -> None:
    (project / "ci").mkdir()
    run_loopbound("check", "--write-baseline", "ci/baseline.json", ".", cwd=project)
    assert json.loads((project / "ci" / "baseline.json").read_text())["findings"][0]["path"] == "../pkg/api.py"
    code, lines, _ = concise("--baseline", "../ci/baseline.json", ".", cwd=project / "pkg")
    assert (code, lines) == (0, [])


@pytest.mark.parametrize("content", ["not json", '{"version": 99, "findings": []}', '{"version": 1}'])
def test_a_bad_baseline_is_an_error_naming_the_file(project: Path, content: str) -> None:
    (project / "baseline.json").write_text(content)
    run = run_loopbound("check", "--baseline", "baseline.json", cwd=project)
    assert run.code == 2
    assert run.stderr.startswith("loopbound: error: baseline.json: not a loopbound baseline")


def test_a_missing_baseline_says_how_to_create_it(project: Path) -> None:
    run = run_loopbound("check", "--baseline", "nope.json", cwd=project)
    assert run.code == 2 and "--write-baseline nope.json" in run.stderr


def test_add_noqa_then_the_check_passes(project: Path) -> None:
    multi_line = 'spanning = httpx.AsyncClient(base_url="""\nhttp://example.invalid""")\n'
    (project / "pkg" / "api.py").write_text(BAD.replace("lock = asyncio.Lock()", "lock = asyncio.Lock()  # noqa: E501")
                                            + multi_line)
    run = run_loopbound("check", "--add-noqa", cwd=project)
    assert run.code == 0 and "Added 2 noqa directives." in run.stderr
    assert "pkg/api.py:6: cannot add `# noqa: LB101` inside a multi-line string" in run.stderr
    source = (project / "pkg" / "api.py").read_text()
    assert "client = httpx.AsyncClient()  # noqa: LB101\n" in source
    assert "lock = asyncio.Lock()  # noqa: E501, LB106\n" in source
    assert source.endswith(multi_line)
    code, lines, _ = concise(cwd=project)
    assert code == 1 and [line.split(": ")[0] for line in lines] == ["pkg/api.py:6:12"]
    assert "Added 0 noqa directives." in run_loopbound("check", "--add-noqa", cwd=project).stderr


def test_add_noqa_keeps_windows_line_endings(project: Path) -> None:
    (project / "pkg" / "api.py").write_bytes(BAD.replace("\n", "\r\n").encode())
    run_loopbound("check", "--add-noqa", cwd=project)
    assert b"client = httpx.AsyncClient()  # noqa: LB101\r\n" in (project / "pkg" / "api.py").read_bytes()


def test_add_noqa_refuses_stdin(project: Path) -> None:
    run = run_loopbound("check", "--add-noqa", "-", stdin=BAD, cwd=project)
    assert run.code == 2 and "stdin" in run.stderr


def test_unused_noqa_is_opt_in(project: Path) -> None:
    (project / "pkg" / "api.py").write_text("x = 1  # noqa: LB101\n")
    assert concise(cwd=project)[:2] == (0, [])
    code, lines, _ = concise("--extend-select", "LB002", cwd=project)
    assert code == 1
    assert lines == ["pkg/api.py:1:8: LB002 [*] unused `noqa` code: LB101"]


def run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; return the exit code and what the terminal saw."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "loopbound", *args], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=follower, stdin=subprocess.DEVNULL,
                               env={**os.environ, "TERM": "xterm", "COLUMNS": "100"})
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=300)
    os.close(leader)
    return process.returncode, seen.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal_for_a_slow_scan(tmp_path: Path) -> None:
    body = "import httpx\n\n" + "".join(f"async def f{n}():\n    return httpx.Client()\n" for n in range(300))
    for number in range(250):
        (tmp_path / f"m{number}.py").write_text(body)
    started = time.monotonic()
    code, terminal = run_on_a_terminal(["check", "--output-format", "concise", "."], tmp_path)
    if time.monotonic() - started < 1.5:
        pytest.skip("the scan was too quick for the bar's delay on this machine")
    assert code == 0
    assert "Checking" in terminal and "/250" in terminal
    assert "All checks passed (250 files checked)." in terminal


def test_no_progress_bar_and_no_rich_when_piped(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "test_a.py").write_text(SUITE.replace("pkg.api", "a"))
    # warm.main is the command without its quick exit (warm.entry), which would skip the last line.
    script = ("import sys\nsys.argv = ['loopbound', 'check', '--output-format', 'concise', '.']\n"
              "from loopbound.warm import main\ntry:\n    main()\n"
              "except SystemExit:\n    pass\nprint('rich imported' if 'rich' in sys.modules else 'no rich')\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.stdout.splitlines()[-1] == "no rich"
    assert "Checking" not in run.stderr
    assert "Found 2 findings in 2 files checked." in run.stderr


@pytest.mark.parametrize(("line", "fixed"), [
    ("x = 1  # noqa: LB101\n", "x = 1\n"),
    ("x = 1  # noqa: E501, LB101\n", "x = 1  # noqa: E501\n"),
    ("x = 1  # noqa: LB101  # why\n", "x = 1  # why\n"),
])
def test_the_unused_noqa_fix_removes_only_the_unused_codes(line: str, fixed: str) -> None:
    result = check_source(line.encode(), "a.py", Settings(), frozenset({"LB002", "LB101"}))
    [finding] = result.findings
    assert finding.fix is not None
    [edit] = finding.fix.edits
    assert edit.start.row == edit.end.row == 1
    applied = line[: edit.start.column - 1] + edit.content + line[edit.end.column - 1:]
    assert applied == fixed
