"""unittest's test classes in the loop model: pytest collects a `unittest.TestCase` subclass whatever its
name, and its tests run each on a loop of their own when a base (found through the project's imports) is
`IsolatedAsyncioTestCase` or makes a new event loop in the `setUp` each test runs. The base lives in a
module that is neither a test module nor a conftest.py: an edit of it must move the verdict, warm caches
included.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from cli_runner import run_loopbound

from loopbound.stamps import RACY_SECONDS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "projects"


def _settle(*paths: Path, step: int = 0) -> None:
    moment = time.time() - 600 + step
    for path in paths:
        os.utime(path, (moment, moment))


def _finding(root: Path, code: str) -> tuple[str, str]:
    run = run_loopbound("check", "--output-format", "json", "--exit-zero", ".", cwd=root)
    assert run.stderr == "", run.stderr
    found = [finding for finding in json.loads(run.stdout) if finding["code"] == code]
    assert len(found) == 1, run.stdout
    return found[0]["severity"], found[0]["message"]


def test_a_base_class_whose_setup_makes_a_loop_names_the_test_module(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "index_unittest_base_setup_loop", root)
    (root / ".git").mkdir()
    _settle(*root.rglob("*"), root)
    time.sleep(RACY_SECONDS + 0.2)  # the files' change times too: the first run caches the LB3 pass
    severity, message = _finding(root, "LB101")
    assert severity == "error"
    assert message.endswith(": tests/test_queries.py runs each test on its own event loop and imports app/db.py")
    base = root / "tests" / "base.py"
    base.write_text(base.read_text(encoding="utf-8").replace("asyncio.new_event_loop()", "None"), encoding="utf-8")
    _settle(base, step=1)
    for run in ("after the edit", "warm"):
        severity, message = _finding(root, "LB101")
        assert severity == "latent", f"{run}: {message}"


def test_an_isolated_base_class_names_the_test_module(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "index_unittest_isolated_base", root)
    severity, message = _finding(root, "LB101")
    assert (severity, message.rpartition(": ")[2]) == (
        "error", "tests/test_api.py runs each test on its own event loop and imports app/client.py")
