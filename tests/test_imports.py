"""What a run imports: the real command line in a subprocess, with `sys.modules` read as it exits.

A run's time is mostly imports (a one-file check, a replay). These tests fail when a run imports a module
it has no use for: click for a plain check, pathspec for named files whose test patterns are the simple
kinds, OpenSSL (hashlib) for the caches' BLAKE2b, the LB3 rules to check one edited file, anything but
the replay's own modules for a replay.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

_PROBE = """
import atexit, sys
listing = sys.argv[1]
atexit.register(lambda: print(repr(sorted(sys.modules)), file=open(listing, "w")))
sys.argv = ["loopbound", *sys.argv[2:]]
from loopbound.warm import main
main()
"""
NEVER_FOR_A_CHECK = {"click", "pathspec", "hashlib", "_hashlib", "rich", "libcst", "configparser", "shlex",
                     "loopbound.cli", "loopbound.fixes", "loopbound.server", "loopbound.baseline"}
REPLAY = {"loopbound", "loopbound.warm", "loopbound.recorder", "loopbound.snapshots", "loopbound.stamps"}


def _imported(arguments: list[str], cwd: Path, tmp_path: Path) -> set[str]:
    listing = tmp_path / f"modules-{time.monotonic_ns()}.json"
    subprocess.run([sys.executable, "-c", _PROBE, str(listing), *arguments], cwd=cwd, capture_output=True,
                   check=False, env={**os.environ, "NO_COLOR": "1"}, timeout=120)
    return set(ast.literal_eval(listing.read_text()))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text("[tool.loopbound]\n", encoding="utf-8")
    (root / "pkg" / "api.py").write_text("import httpx\n\nclient = httpx.AsyncClient()\n", encoding="utf-8")
    (root / "tests" / "test_api.py").write_text(
        "import pytest\n\nfrom pkg.api import client\n\n\n@pytest.mark.asyncio\nasync def test_get():\n"
        "    await client.get('/')\n", encoding="utf-8")
    return root


def test_a_named_file_imports_what_checking_it_needs(project: Path, tmp_path: Path) -> None:
    modules = _imported(["check", "--no-cache", "--output-format", "concise", "pkg/api.py"], project, tmp_path)
    assert "loopbound.engine" in modules  # the probe saw the check
    assert not modules & NEVER_FOR_A_CHECK, sorted(modules & NEVER_FOR_A_CHECK)
    assert not {"loopbound.lb3_digest", "pickle"} & modules, sorted(modules)  # nothing recorded, no cache


def test_a_replay_imports_only_the_replay(project: Path, tmp_path: Path) -> None:
    command = ["check", "--output-format", "concise", "."]
    _imported(command, project, tmp_path)
    time.sleep(2.1)  # a snapshot is written once every file it read is older than two seconds
    _imported(command, project, tmp_path)
    modules = _imported(command, project, tmp_path)
    assert {name for name in modules if name.startswith("loopbound")} == REPLAY
    assert not {"re", "enum", "typing", "dataclasses", "pathlib", "pickle"} & modules


def test_an_edited_file_is_checked_again_alone(project: Path, tmp_path: Path) -> None:
    """A new test in a test module: the per-file pass checks it again, without the click command line,
    discovery, the LB3 rules or the project index; the LB3 facts' digest reads the module's facts."""
    command = ["check", "--output-format", "concise", "."]
    _imported(command, project, tmp_path)
    time.sleep(2.1)
    _imported(command, project, tmp_path)
    module = project / "pkg" / "api.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n\nasync def fetch():\n    return await client.get('/')\n",
                      encoding="utf-8")
    modules = _imported(command, project, tmp_path)
    assert "loopbound.engine" in modules
    assert not modules & {"loopbound.command", "loopbound.discovery", "loopbound.parallel", "loopbound.rules.loop_scope",
                          "loopbound.index.check", "tomllib", "tempfile", *NEVER_FOR_A_CHECK}, sorted(modules & {
        "loopbound.command", "loopbound.discovery", "loopbound.parallel", "loopbound.rules.loop_scope",
        "loopbound.index.check", "tomllib", "tempfile", *NEVER_FOR_A_CHECK})


def _imported_after_a_comment(module: Path, project: Path, tmp_path: Path) -> set[str]:
    """What a check imports right after a comment is added to `module`, the run before it recorded."""
    command = ["check", "--output-format", "concise", "."]
    _imported(command, project, tmp_path)
    time.sleep(2.1)
    _imported(command, project, tmp_path)
    module.write_text(module.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    return _imported(command, project, tmp_path)


def test_an_edit_the_checker_cannot_see_is_replayed_without_its_data_classes(project: Path, tmp_path: Path) -> None:
    """A comment added to a module the pre-filter clears: the replay reads its imports again and compares them
    with the recorded ones, without the checker, the summary's data classes or the recorded run's state."""
    (project / "pkg" / "util.py").write_text("import os\n\n\ndef home():\n    return os.getcwd()\n", encoding="utf-8")
    modules = _imported_after_a_comment(project / "pkg" / "util.py", project, tmp_path)
    assert "loopbound.index.light" in modules  # the probe saw the edit compared
    assert {name for name in modules if name.startswith("loopbound")} == {
        *REPLAY, "loopbound.unseen_edits", "loopbound.blake2", "loopbound.index", "loopbound.index.light"}
    assert not {"dataclasses", "typing", "pathlib", "pickle", "ast"} & modules, sorted(modules)


def test_an_edit_that_keeps_a_test_modules_lb3_facts_is_replayed_without_the_checker(project: Path,
                                                                                      tmp_path: Path) -> None:
    """A comment added to a test module the LB3 pass read: the replay reads the module's facts again to compare
    their digest, without the checker, the pure-Python pickle module or typing."""
    modules = _imported_after_a_comment(project / "tests" / "test_api.py", project, tmp_path)
    assert "loopbound.module_facts" in modules  # the probe saw the facts compared
    assert not {"loopbound.engine", "loopbound.command", "pickle", "typing"} & modules, sorted(modules)
