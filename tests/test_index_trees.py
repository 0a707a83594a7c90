"""The re-check of a file that calls a project maker takes the tree the index parsed the file into for its full
summary, instead of parsing it again; without a kept tree (over the budget, or bytes changed) it parses, with
the same findings."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES

from loopbound.config import Settings
from loopbound.discovery import discover
from loopbound.index import check, store
from loopbound.index.store import SummaryStore
from loopbound.parallel import check_tree
from loopbound.rules import ALL_RULES

EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)
PROJECTS = sorted(path.name for path in (FIXTURES / "projects").iterdir() if path.name.startswith("index_"))


def _findings(root: Path) -> list[tuple[str, int, str, str, str]]:
    settings = Settings(project_root=root)
    found = discover([root], settings)
    result = check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=1)
    return [(finding.path, finding.start.row, finding.code, finding.severity.value, finding.message)
            for finding in result.findings]


def test_a_rechecked_file_is_not_parsed_again_and_its_findings_are_those_of_a_fresh_parse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trees_given: list[bool] = []
    real = check._indirect_in

    def recording(*args: Any) -> Any:
        trees_given.append(len(args) > 6 and args[6] is not None)
        return real(*args)

    monkeypatch.setattr(check, "_indirect_in", recording)
    for name in PROJECTS:
        shutil.copytree(FIXTURES / "projects" / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    kept = {name: _findings(tmp_path / name) for name in PROJECTS}
    assert trees_given and all(trees_given)
    trees_given.clear()
    monkeypatch.setattr(store, "KEPT_TREES_BYTES", 0)
    assert {name: _findings(tmp_path / name) for name in PROJECTS} == kept
    assert trees_given and not any(trees_given)
    assert any(rows for rows in kept.values())


def test_a_kept_tree_serves_only_the_bytes_it_was_parsed_from(tmp_path: Path) -> None:
    path = tmp_path / "makers.py"
    path.write_bytes(b"import httpx\n\ndef make_client():\n    return httpx.AsyncClient()\n")
    summaries = SummaryStore(None)
    summary = summaries.full_summary(path, Settings(project_root=tmp_path), False, (b"make_client(",), 0.0)
    assert summary is not None and not summary.partial
    assert summaries.parsed(path, path.read_bytes()) is not None
    assert summaries.parsed(path, path.read_bytes() + b"# edited\n") is None


def test_a_cached_full_summary_answers_only_for_words_its_file_holds(tmp_path: Path) -> None:
    """A run without the cache parses a file for its full summary only when it names one of the project's
    makers of that run: a summary kept by an earlier run, for a maker since renamed, must not stand in for
    the file's lighter one, and a word never searched for sends the store back to the file's bytes."""
    path = tmp_path / "uses.py"
    path.write_bytes(b"from makers import make_client\n\nasync def main():\n    client = make_client()\n")
    later = time.time() + 10  # runs that start once the file is settled: the store keeps what it made
    settings = Settings(project_root=tmp_path)
    first = SummaryStore.open(tmp_path / "cache", settings)
    assert first.full_summary(path, settings, False, (b"make_client(",), later) is not None
    first.save()
    reopened = SummaryStore.open(tmp_path / "cache", settings)
    assert reopened.full_summary(path, settings, False, (b"make_client(",), later) is not None
    assert reopened.full_summary(path, settings, False, (b"build_client(",), later) is None
    assert SummaryStore(None).full_summary(path, settings, False, (b"build_client(",), later) is None
    assert reopened.full_summary(path, settings, False, (b"build_client(", b"make_client("), later) is not None
