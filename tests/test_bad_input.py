"""Bad input gets a one-line message naming the file and the problem; the other files are still checked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_runner import run_loopbound

from loopbound import unsaved
from loopbound.config import Settings
from loopbound.discovery import checked_file
from loopbound.engine import check_file, check_source

BAD = "import httpx\n\nclient = httpx.AsyncClient()\n"
EVERY = frozenset({"LB001", "LB101"})


def _codes(run_stdout: str) -> list[tuple[str, str, int]]:
    return [(item["filename"], item["code"], item["location"]["row"]) for item in json.loads(run_stdout)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "good_bad.py").write_text(BAD)
    return tmp_path


def test_syntax_error_is_lb001_and_others_still_checked(tree: Path) -> None:
    (tree / "broken.py").write_text("import httpx\n\nclient = httpx.AsyncClient(\n")
    run = run_loopbound("check", "--output-format", "json", cwd=tree)
    assert run.code == 1
    assert ("broken.py", "LB001", 3) in _codes(run.stdout)
    assert ("good_bad.py", "LB101", 3) in _codes(run.stdout)


def test_undecodable_bytes_are_an_error_naming_the_file(tree: Path) -> None:
    (tree / "latin.py").write_bytes(b"import httpx\nname = '\xe9t\xe9'\nclient = httpx.AsyncClient()\n")
    run = run_loopbound("check", "--output-format", "json", cwd=tree)
    assert run.code == 2
    assert "latin.py: cannot decode line 2 as utf-8" in run.stderr
    assert "Traceback" not in run.stderr
    assert ("good_bad.py", "LB101", 3) in _codes(run.stdout)


def test_wrong_encoding_cookie(tree: Path) -> None:
    (tree / "cookie.py").write_bytes(b"# -*- coding: klingon -*-\nimport httpx\nclient = httpx.AsyncClient()\n")
    run = run_loopbound("check", "--output-format", "json", cwd=tree)
    assert run.code == 2
    assert "cookie.py: bad encoding declaration" in run.stderr


def test_latin1_cookie_is_honoured(tree: Path) -> None:
    (tree / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nimport httpx\nname = '\xe9'; c = httpx.AsyncClient()\n")
    run = run_loopbound("check", "--output-format", "json", "latin.py", cwd=tree)
    assert _codes(run.stdout) == [("latin.py", "LB101", 3)]
    assert json.loads(run.stdout)[0]["location"]["column"] == 17


def test_bom_and_crlf(tree: Path) -> None:
    (tree / "bom.py").write_bytes(b"\xef\xbb\xbfimport httpx\r\n\r\nclient = httpx.AsyncClient()\r\n")
    run = run_loopbound("check", "--output-format", "json", "bom.py", cwd=tree)
    finding = json.loads(run.stdout)[0]
    assert finding["code"] == "LB101"
    assert (finding["location"], finding["end_location"]) == ({"row": 3, "column": 10}, {"row": 3, "column": 29})


def test_non_ascii_columns_count_characters(tree: Path) -> None:
    (tree / "utf8.py").write_text("import httpx\nnom_été = httpx.AsyncClient()\n", encoding="utf-8")
    run = run_loopbound("check", "--output-format", "json", "utf8.py", cwd=tree)
    assert json.loads(run.stdout)[0]["location"] == {"row": 2, "column": 11}


def test_nul_byte_is_reported_not_crashing(tree: Path) -> None:
    (tree / "nul.py").write_bytes(b"import httpx\nx = httpx.AsyncClient\x00\n")
    run = run_loopbound("check", "--output-format", "json", cwd=tree)
    assert "Traceback" not in run.stderr
    assert ("nul.py", "LB001", 2) in _codes(run.stdout)
    assert ("good_bad.py", "LB101", 3) in _codes(run.stdout)


def test_empty_file_is_clean(tree: Path) -> None:
    (tree / "empty.py").write_bytes(b"")
    run = run_loopbound("check", "empty.py", cwd=tree)
    assert run.code == 0


def test_unreadable_file_is_an_error_and_others_are_checked(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tree / "secret.py"
    target.write_text(BAD)

    def deny(path: object, *args: object, **kwargs: object) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(unsaved, "open", deny, raising=False)  # files are read through unsaved.read_bytes
    result = check_file(checked_file(target, Settings()), Settings(), EVERY)
    assert result.error is not None and result.error.endswith("secret.py: cannot read the file: permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode; covered by the unit test above")
def test_unreadable_file_end_to_end(tree: Path) -> None:
    target = tree / "secret.py"
    target.write_text(BAD)
    target.chmod(0)
    run = run_loopbound("check", "--output-format", "json", cwd=tree)
    assert run.code == 2
    assert "secret.py: cannot read the file: permission denied" in run.stderr


def test_symlink_loop_is_an_error_not_a_hang(tree: Path) -> None:
    (tree / "loop_a.py").symlink_to(tree / "loop_b.py")
    (tree / "loop_b.py").symlink_to(tree / "loop_a.py")
    (tree / "sub").mkdir()
    (tree / "sub" / "parent").symlink_to(tree, target_is_directory=True)
    run = run_loopbound("check", "--output-format", "json", cwd=tree)
    assert run.code == 2
    assert "loop_a.py" in run.stderr
    assert "Traceback" not in run.stderr
    assert _codes(run.stdout) == [("good_bad.py", "LB101", 3)]


def test_large_file(tree: Path) -> None:
    body = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(25_000))
    data = ("import httpx\n" + body + "client = httpx.AsyncClient()\n").encode()
    result = check_source(data, "big.py", Settings(), EVERY)
    assert [(f.code, f.start.row) for f in result.findings] == [("LB101", 50_002)]


def test_warnings_about_the_checked_code_are_not_printed(tree: Path) -> None:
    """Parsing a file with an invalid escape warns (a SyntaxWarning, shown by default, from Python 3.12):
    that is the checked code's business, not a message of ours. Here warnings are turned on, so that the
    DeprecationWarning of older Pythons shows too, in the per-file pass, the LB3 pass and the warm replay."""
    escape = 'import re\nDIGITS = re.compile("\\d+")\n'
    (tree / "good_bad.py").write_text(BAD + escape)
    (tree / "test_escapes.py").write_text(escape + "\n\nasync def test_digits():\n    assert DIGITS\n")
    for _ in range(2):  # the second run replays the first
        run = run_loopbound("check", "--output-format", "json", cwd=tree, env={"PYTHONWARNINGS": "default"})
        assert "invalid escape sequence" not in run.stderr
        assert _codes(run.stdout) == [("good_bad.py", "LB101", 3)]
    (tree / "test_escapes.py").write_text(escape + "\n\nasync def test_digits():\n    assert DIGITS  # edited\n")
    run = run_loopbound("check", "--output-format", "json", cwd=tree, env={"PYTHONWARNINGS": "default"})
    assert "invalid escape sequence" not in run.stderr
