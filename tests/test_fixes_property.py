"""`--fix --unsafe-fixes` on every fixture file: the result parses, compiles and is a fixed point."""

from __future__ import annotations

import ast
import py_compile
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO

from loopbound.config import Settings
from loopbound.fixes import fix_text
from loopbound.rules import ALL_RULES

FILES = sorted(path for path in FIXTURES.rglob("*.py") if path.name != "expected.py")
EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)


def _filename(path: Path, data: bytes) -> str:
    """The fixtures' `# test-file` marker makes a test module, as the rule fixtures mean it."""
    relative = path.relative_to(REPO).as_posix()
    if b"# test-file" in data[:200]:
        return str(Path(relative).with_name(f"test_{path.name}"))
    return relative


def _compiles(data: bytes, scratch: Path) -> bool:
    """py_compile catches what ast.parse lets through (`global` of an annotated name, ...)."""
    scratch.write_bytes(data)
    try:
        py_compile.compile(str(scratch), doraise=True)
    except py_compile.PyCompileError:
        return False
    return True


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.relative_to(FIXTURES).as_posix())
def test_fix_output_parses_compiles_and_is_idempotent(path: Path, tmp_path: Path) -> None:
    data = path.read_bytes()
    filename = _filename(path, data)
    first = fix_text(data, filename, Settings(project_root=REPO), EVERY_CODE, unsafe=True)
    assert not first.notes, first.notes
    fixed = first.files[filename].encoded()
    ast.parse(fixed, filename=filename)
    if _compiles(data, tmp_path / "input.py"):
        assert _compiles(fixed, tmp_path / "fixed.py"), f"{filename} compiles, its fixed version does not"
    second = fix_text(fixed, filename, Settings(project_root=REPO), EVERY_CODE, unsafe=True)
    assert second.files[filename].encoded() == fixed
    assert second.fixed == 0


def test_the_fixture_corpus_exercises_the_fixes() -> None:
    """Guard against a vacuous property: some fixture files must actually change."""
    changed = 0
    for path in FILES:
        data = path.read_bytes()
        filename = _filename(path, data)
        run = fix_text(data, filename, Settings(project_root=REPO), EVERY_CODE, unsafe=True)
        changed += run.files[filename].changed
    assert changed >= 10
