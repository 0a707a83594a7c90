"""The fix machinery: minimal edits, the apply loop, atomic writes, and the --fix/--diff command line."""

from __future__ import annotations

import itertools
import json
import os
import stat
from pathlib import Path

import pytest
from cli_runner import run_loopbound
from hypothesis import assume, given
from hypothesis import strategies as st

from loopbound.config import Settings
from loopbound.findings import Applicability, Edit, Finding, Fix, Location
from loopbound.fixes import builders, fix_paths
from loopbound.fixes.files import write_atomically
from loopbound.fixes.text import apply_edits, edits_between, line_starts, overlaps, to_location, to_offset

TEST_MODULE = (
    "import httpx\nimport pytest\n\nclient = httpx.AsyncClient()\n\n\n"
    "async def test_get():\n    await client.get('http://127.0.0.1')\n"
)
LIBRARY = (
    "import httpx\n\nclient = httpx.AsyncClient()\n\n\n"
    "async def ping():\n    await client.get('http://127.0.0.1')\n"
)
CLEAN = "import httpx\n\n\nasync def main():\n    async with httpx.AsyncClient() as client:\n        await client.get('/')\n"

lines = st.lists(st.sampled_from(["a = 1", "b = 2", "", "# c", "d(", ")", "é = 'ü'"]), max_size=8)


@given(lines, lines, st.sampled_from(["\n", "\r\n"]))
def test_minimal_edits_rebuild_the_new_text(old: list[str], new: list[str], newline: str) -> None:
    before, after = newline.join(old), newline.join(new)
    edits = edits_between("m.py", before, after)
    assert apply_edits(before, edits) == after
    assert all(first.end <= second.start for first, second in itertools.pairwise(edits))


@given(lines, lines, lines, lines, st.sampled_from(["\n", "\r\n"]))
def test_edits_within_a_slice_are_the_edits_within_the_whole_text(above: list[str], old: list[str], new: list[str],
                                                                   below: list[str], newline: str) -> None:
    """A fix built on one statement and one built on the whole file must print the same edits.

    The exception: a change that only adds or drops lines at the end of the slice, when lines follow it
    (then the whole text's shared start may run past the slice into them)."""
    assume(not below or (old[:len(new)] != new and new[:len(old)] != old))
    head, tail = "".join(line + newline for line in above), newline.join(below)
    before, after = "".join(line + newline for line in old), "".join(line + newline for line in new)
    within = edits_between("m.py", before, after, newline=newline, first_row=len(above) + 1)
    assert within == edits_between("m.py", head + before + tail, head + after + tail)
    assert apply_edits(head + before + tail, within) == head + after + tail


def test_lines_added_at_the_end_of_a_slice_may_match_the_lines_after_it() -> None:
    """The exception above: both edits insert `b`, after the slice's `a` or after the file's next `b`."""
    (within,) = edits_between("m.py", "a\n", "a\nb\n")
    (whole,) = edits_between("m.py", "a\nb\nc\n", "a\nb\nb\nc\n")
    assert (within.start, within.content) == (Location(2, 1), "b\n")
    assert (whole.start, whole.content) == (Location(3, 1), "b\n")
    assert apply_edits("a\nb\nc\n", [within]) == apply_edits("a\nb\nc\n", [whole])


def test_edits_are_trimmed_to_the_characters_that_differ() -> None:
    (edit,) = edits_between("m.py", "x = foo(1)\ny = 2\n", "x = foo(2)\ny = 2\n")
    assert (edit.start, edit.end, edit.content) == (Location(1, 9), Location(1, 10), "2")


def test_locations_count_characters_and_crlf_rows() -> None:
    text = "é = 1\r\nb = 2\rc = 3\n"
    starts = line_starts(text)
    assert to_location(starts, text.index("b")) == Location(2, 1)
    assert to_location(starts, text.index("c")) == Location(3, 1)
    assert to_offset(starts, Location(1, 2)) == 1


def test_overlap_counts_shared_and_touching_ranges() -> None:
    point = Edit("m.py", Location(1, 1), Location(1, 1), "x")
    assert overlaps(point, Edit("m.py", Location(1, 1), Location(1, 1), "y"))
    assert overlaps(Edit("m.py", Location(1, 1), Location(1, 3), ""), Edit("m.py", Location(1, 3), Location(1, 4), ""))
    assert not overlaps(Edit("m.py", Location(1, 1), Location(1, 3), ""), Edit("m.py", Location(1, 4), Location(1, 5), ""))
    assert not overlaps(point, Edit("other.py", Location(1, 1), Location(1, 1), "y"))


def _select() -> frozenset[str]:
    return frozenset({"LB101"})


def test_fix_loop_applies_overlapping_fixes_in_later_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = tmp_path / "test_two.py"
    module.write_text(TEST_MODULE.replace("client = httpx.AsyncClient()", "client = httpx.AsyncClient()\n"
                                          "other = httpx.AsyncClient()")
                      + "\n\nasync def test_other():\n    await other.get('/')\n")
    run = fix_paths([Path("test_two.py")], Settings(project_root=tmp_path), _select(), unsafe=False, write=True)
    assert run.fixed == 2 and run.findings == []
    text = module.read_text()
    assert text.count("import pytest_asyncio") == 1
    assert "async def test_other(other):" in text and "async def test_get(client):" in text


def test_a_fix_that_does_not_parse_is_dropped_with_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib.py").write_text(LIBRARY)

    monkeypatch.setitem(builders.BUILDERS, "LB101", f"{__name__}:broken_fix")
    run = fix_paths([Path("lib.py")], Settings(project_root=tmp_path), _select(), unsafe=True, write=True)
    assert run.fixed == 0
    assert (tmp_path / "lib.py").read_text() == LIBRARY
    assert run.notes == ["lib.py: dropped the fix \u201cbreak it\u201d: the fixed file would not parse"]


def broken_fix(finding: Finding, ctx: object) -> Fix:
    """A codemod with a bug: its result does not parse."""
    return Fix(Applicability.SAFE, "break it", (Edit(finding.path, finding.start, finding.end, "(("),))


def test_atomic_write_keeps_mode_and_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.py"
    target.write_text("a = 1\n")
    target.chmod(0o750)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    write_atomically(str(link), b"a = 2\n")
    assert link.is_symlink() and target.read_bytes() == b"a = 2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "tests" / "test_api.py").write_text(TEST_MODULE)
    (tmp_path / "app" / "client.py").write_text(LIBRARY)
    (tmp_path / "app" / "clean.py").write_text(CLEAN)
    (tmp_path / "app" / "client.py").chmod(0o640)
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*.py"))}


def test_diff_prints_and_writes_nothing(project: Path) -> None:
    before = _snapshot(project)
    run = run_loopbound("check", "--diff", "--unsafe-fixes", cwd=project)
    assert run.code == 1, run.stderr
    assert "--- app/client.py\n+++ app/client.py\n" in run.stdout
    assert "+def get_client() -> httpx.AsyncClient:" in run.stdout and "+async def test_get(client):" in run.stdout
    assert "Would fix 2 findings in 2 files." in run.stderr
    assert _snapshot(project) == before


def test_diff_without_unsafe_shows_only_safe_fixes(project: Path) -> None:
    run = run_loopbound("check", "--diff", cwd=project)
    assert run.code == 1
    assert "tests/test_api.py" in run.stdout and "app/client.py" not in run.stdout
    assert "1 more fixable with `--unsafe-fixes`" in run.stderr


def test_fix_then_fix_again_is_a_no_op(project: Path) -> None:
    first = run_loopbound("check", "--fix", "--unsafe-fixes", "--select", "LB1", cwd=project)
    assert first.code == 0, first.stdout + first.stderr
    assert "Fixed 2 findings in 2 files." in first.stderr
    after_first = _snapshot(project)
    assert stat.S_IMODE((project / "app" / "client.py").stat().st_mode) == 0o640
    second = run_loopbound("check", "--fix", "--unsafe-fixes", "--select", "LB1", cwd=project)
    assert second.code == 0
    assert _snapshot(project) == after_first
    diff = run_loopbound("check", "--diff", "--unsafe-fixes", "--select", "LB1", cwd=project)
    assert diff.code == 0 and diff.stdout == ""


def test_fix_leaves_unsafe_findings_and_their_severity_decides_the_exit(project: Path) -> None:
    """Nothing imports app/client.py, so its client is latent after `--fix` as before it: exit 0, and 1
    once the project makes latent findings errors."""
    run = run_loopbound("check", "--fix", "--select", "LB1", "--output-format", "concise", cwd=project)
    assert run.code == 0
    assert run.stdout.startswith("app/client.py:3:10: LB101 (latent) `httpx")  # `[*]` marks what `--fix` alone fixes
    assert (project / "app" / "client.py").read_text() == LIBRARY
    (project / "pyproject.toml").write_text('[tool.loopbound]\nlatent = "error"\n')
    strict = run_loopbound("check", "--fix", "--select", "LB1", "--output-format", "concise", cwd=project)
    assert strict.code == 1
    assert strict.stdout.startswith("app/client.py:3:10: LB101 `httpx")


def test_fix_on_a_clean_project_changes_no_byte(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_text(CLEAN)
    (tmp_path / "crlf.py").write_bytes(CLEAN.replace("\n", "\r\n").encode())
    before = _snapshot(tmp_path)
    stamps = {path: path.stat().st_mtime_ns for path in tmp_path.glob("*.py")}
    run = run_loopbound("check", "--fix", "--unsafe-fixes", "--exit-non-zero-on-fix", cwd=tmp_path)
    assert run.code == 0
    assert _snapshot(tmp_path) == before
    assert {path: path.stat().st_mtime_ns for path in tmp_path.glob("*.py")} == stamps


def test_exit_non_zero_on_fix(project: Path) -> None:
    run = run_loopbound("check", "--fix", "--exit-non-zero-on-fix", "--select", "LB101", "app/clean.py",
                        "tests/test_api.py", cwd=project)
    assert run.code == 1
    assert "async def test_get(client):" in (project / "tests" / "test_api.py").read_text()


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    (tmp_path / "test_crlf.py").write_bytes(TEST_MODULE.replace("\n", "\r\n").encode())
    run = run_loopbound("check", "--fix", "--select", "LB101", cwd=tmp_path)
    assert run.code == 0, run.stderr
    data = (tmp_path / "test_crlf.py").read_bytes()
    assert b"pytest_asyncio" in data and data.count(b"\n") == data.count(b"\r\n")


def test_json_output_carries_the_edits_without_fix(project: Path) -> None:
    run = run_loopbound("check", "--output-format", "json", "--select", "LB101", cwd=project)
    findings = json.loads(run.stdout)
    by_file = {finding["filename"]: finding["fix"] for finding in findings}
    assert by_file["app/client.py"]["applicability"] == "unsafe"
    assert by_file["tests/test_api.py"]["applicability"] == "safe"
    assert any("pytest_asyncio.fixture" in edit["content"] for edit in by_file["tests/test_api.py"]["edits"])


def test_stdin_fix_prints_the_fixed_source(project: Path) -> None:
    run = run_loopbound("check", "--fix", "--stdin-filename", "tests/test_x.py", "--select", "LB101", "-",
                        cwd=project, stdin=TEST_MODULE)
    assert run.code == 0, run.stderr
    assert "async def test_get(client):" in run.stdout and "import pytest_asyncio" in run.stdout


def test_plain_check_does_not_import_libcst(project: Path) -> None:
    run = run_loopbound("check", "--output-format", "concise", cwd=project,
                        env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert run.code == 1
    assert "loopbound.rules" in run.stderr  # the import-time profile is on
    assert "libcst" not in run.stderr


def test_unwritable_directory_is_an_error_naming_the_file(project: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    (project / "tests").chmod(0o555)
    try:
        run = run_loopbound("check", "--fix", "--select", "LB101", cwd=project)
    finally:
        (project / "tests").chmod(0o755)
    assert run.code == 2
    assert "tests/test_api.py: cannot write the fixed file" in run.stderr
    assert (project / "tests" / "test_api.py").read_text() == TEST_MODULE


def test_config_fix_through_the_command_line(tmp_path: Path) -> None:
    config = "[tool.pytest.ini_options]\n# shared loop\nasyncio_default_fixture_loop_scope = \"session\"\n"
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / "test_a.py").write_text("import pytest_asyncio\n\n\nasync def test_a():\n    assert True\n")
    diff = run_loopbound("check", "--diff", "--unsafe-fixes", "--select", "LB301", cwd=tmp_path)
    assert diff.code == 1, diff.stderr
    assert '+asyncio_default_test_loop_scope = "session"' in diff.stdout
    assert (tmp_path / "pyproject.toml").read_text() == config
    fix = run_loopbound("check", "--fix", "--unsafe-fixes", "--select", "LB301", cwd=tmp_path)
    assert fix.code == 0, fix.stdout + fix.stderr
    assert (tmp_path / "pyproject.toml").read_text() == config + 'asyncio_default_test_loop_scope = "session"\n'
    again = run_loopbound("check", "--fix", "--unsafe-fixes", "--select", "LB301", cwd=tmp_path)
    assert again.code == 0 and "Fixed 0 findings" in again.stderr
