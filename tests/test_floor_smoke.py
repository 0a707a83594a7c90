"""benchmarks/floor.py runs end to end on a tiny project and finds the files a real run parses (no timing claim)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO, write_files

FILES = {
    # pytest collects check_*.py here: the LB3 pass reads the module by that name, not by test_*.py.
    "pyproject.toml": '[tool.pytest.ini_options]\npython_files = ["check_*.py"]\n',
    "app/client.py": "import httpx\n\nclient = httpx.AsyncClient()\n",
    "app/plain.py": "VALUE = 1\n",
    "tests/conftest.py": "import pytest\n",
    "tests/check_things.py": "async def test_things():\n    pass\n",
    "tests/test_sync.py": "def test_sync():\n    pass\n",
}


def test_floor_finds_the_needed_files_and_times_the_runs(tmp_path: Path) -> None:
    write_files(tmp_path, FILES)
    completed = subprocess.run([sys.executable, str(REPO / "benchmarks" / "floor.py"), str(tmp_path), "--repeat", "1",
                                "--parse-rounds", "1"], capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    table = completed.stdout
    assert "| checked (discovered) | 5 |" in table
    assert "| needed: union (the oracle's list) | 3 |" in table  # client.py, conftest.py, check_things.py
    assert "Its per-file and LB3 calls parsed exactly the needed set above." in table
    for row in ("oracle, 2 processes", "oracle, 1 process", "oracle reading every checked file, 2 processes",
                "oracle reading every checked file, 1 process",
                "the same, walking the per-file pass's trees once, 2 processes",
                "loopbound cold (--no-cache)", "ast.parse(bytes)",
                "symtable: C parser + symbol table, no ast objects", "Python start (`python -c pass`)"):
        assert f"| {row} |" in table
