"""Codemod snapshots: each fixtures/fixes/<CODE>/<case>/ is a tiny project fixed with `--fix --unsafe-fixes`.

`input.py` is the Python file (a test module when it has the `# test-file` marker, as in
fixtures/rules/, a helper module under tests/ that pytest does not collect with `# test-helper`);
`input.<config name>` (`input.pyproject.toml`, `input.pytest.ini`, `input.setup.cfg`, ...) is a pytest
config file; other inputs (`input.uv.lock`, `input.requirements-dev.txt`) declare the pytest-asyncio the
case runs on. Every input must turn into its `expected.*` twin, byte for byte, so
encodings, BOMs and CRLF line endings are part of the snapshot. Set UPDATE_SNAPSHOTS=1 to rewrite
the expected files after a deliberate change, then review the diff.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from conftest import FIXTURES

from loopbound.config import Settings
from loopbound.fixes import BUILDERS, fix_paths
from loopbound.pytest_config import CONFIG_NAMES

CASES = sorted({path.parent for path in (FIXTURES / "fixes").glob("*/*/input.*")})


def _place(input_file: Path) -> str:
    """Where an input goes in the throwaway project."""
    if input_file.name == "input.py":
        head = input_file.read_bytes()[:200]
        if b"# test-helper" in head:
            return "tests/helpers.py"
        return "tests/test_snapshot.py" if b"# test-file" in head else "app/snapshot.py"
    return input_file.name.removeprefix("input.")


def fix_case(files: dict[str, bytes], code: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Write the files under root, run the fix loop there, return every file's bytes afterwards."""
    for place, data in files.items():
        (root / place).parent.mkdir(parents=True, exist_ok=True)
        (root / place).write_bytes(data)
    monkeypatch.chdir(root)
    python = [Path(place) for place in files if place.endswith(".py")]
    configs = [Path(place) for place in files if Path(place).name in CONFIG_NAMES]  # not lock files
    run = fix_paths(python, Settings(project_root=root.resolve()), frozenset({code}), unsafe=True, write=True,
                    config_files=configs)
    assert not run.notes and not run.errors, (run.notes, run.errors)
    return {place: (root / place).read_bytes() for place in files}


def _inputs(case: Path) -> dict[str, Path]:
    return {_place(path): path for path in sorted(case.glob("input.*"))}


def _expected(input_file: Path) -> Path:
    return input_file.with_name("expected" + input_file.name.removeprefix("input"))


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.parent.name}/{case.name}")
def test_snapshot(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = _inputs(case)
    fixed = fix_case({place: path.read_bytes() for place, path in inputs.items()}, case.parent.name, tmp_path,
                     monkeypatch)
    for place, path in inputs.items():
        expected = _expected(path)
        if os.environ.get("UPDATE_SNAPSHOTS"):
            expected.write_bytes(fixed[place])
        assert fixed[place].decode("latin-1") == expected.read_bytes().decode("latin-1"), expected
        if place.endswith(".py"):
            ast.parse(fixed[place], type_comments=True)  # what mypy reads: type comments stay in their place


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.parent.name}/{case.name}")
def test_snapshot_is_a_fixed_point(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixing the expected output again changes nothing: `--fix` twice is a no-op."""
    expected = {place: _expected(path).read_bytes() for place, path in _inputs(case).items()}
    assert fix_case(expected, case.parent.name, tmp_path, monkeypatch) == expected


def test_every_fixable_rule_has_snapshots() -> None:
    assert set(BUILDERS) <= {case.parent.name for case in CASES}


def test_some_snapshots_change_something() -> None:
    """A snapshot whose input equals its output proves nothing; only deliberate no-fix cases may."""
    unchanged = [case.name for case in CASES
                 if all(path.read_bytes() == _expected(path).read_bytes() for path in case.glob("input.*"))]
    assert sorted(unchanged) == sorted(["escapes_no_fix", "exported_no_fix", "global_statement_no_fix",
                                        "in_memory_sqlite_no_fix", "narrower_fixture_blocks",
                                        "per_loop_sync_callback_no_fix", "unfixable_class_body", *DECLINED])


# No fix, because a pytest-asyncio release the case declares would not understand it, the pytest table is
# inline or dotted keys (a line below would land in another table), or `pytest.fixture` takes no
# `loop_scope=`: the rule still reports.
DECLINED = {"declared_0_24": "LB301", "mixed_scopes_pinned_1_4": "LB306", "declared_from_0_23": "LB305",
                    "uv_lock_0_23_session_loop": "LB303", "inline_pytest_table": "LB306",
                    "dotted_pytest_keys": "LB301", "auto_mode_pytest_fixture": "LB308"}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_declined_cases_still_report(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopbound.engine import check_project

    case = next(case for case in CASES if case.name == name)
    for place, path in _inputs(case).items():
        (tmp_path / place).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / place).write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)
    python = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.py"))
    configs = [Path(name) for name in CONFIG_NAMES if (tmp_path / name).is_file()]
    result = check_project(python, configs, Settings(project_root=tmp_path.resolve()), frozenset({DECLINED[name]}))
    assert [finding.code for finding in result.findings] == [DECLINED[name]], result.findings


@pytest.mark.parametrize("code", ["LB201", "LB202", "LB203", "LB204"])
def test_rule_example_inputs_are_the_rule_fixtures(code: str) -> None:
    """fixtures/fixes/<code>/rule_examples/input.py is fixtures/rules/<code>.py without its `# error:`
    comments, so every annotated case of the rule is also a fix snapshot; a new case added to one
    must be added to the other (copy it with the sed line in this test's message)."""
    rule_fixture = (FIXTURES / "rules" / f"{code}.py").read_text(encoding="utf-8")
    stripped = re.sub(r"  # (?:error|latent): LB\d+(?:, LB\d+)*$", "", rule_fixture, flags=re.MULTILINE)
    snapshot_input = FIXTURES / "fixes" / code / "rule_examples" / "input.py"
    assert snapshot_input.read_text(encoding="utf-8") == stripped, (
        f"sed -E 's/  # (error|latent): LB[0-9, LB]+$//' fixtures/rules/{code}.py > {snapshot_input.relative_to(FIXTURES.parent)}"
        " then UPDATE_SNAPSHOTS=1 and review the expected.py diff")


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.parent.name}/{case.name}")
def test_diff_shows_what_fix_writes(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--diff` runs the same passes as `--fix` (LB3 fixes included, which read the tree between passes),
    writes nothing, and its texts are the snapshot's expected files."""
    inputs = _inputs(case)
    for place, path in inputs.items():
        (tmp_path / place).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / place).write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)
    python = [Path(place) for place in inputs if place.endswith(".py")]
    configs = [Path(place) for place in inputs if not place.endswith(".py")]
    run = fix_paths(python, Settings(project_root=tmp_path.resolve()), frozenset({case.parent.name}), unsafe=True,
                    write=False, config_files=configs)
    for place, path in inputs.items():
        assert (tmp_path / place).read_bytes() == path.read_bytes(), place
        source = run.files.get(place)
        shown = source.encoded() if source is not None else path.read_bytes()
        assert shown == _expected(path).read_bytes(), place
