"""The project index: module names, imports read from bytes, hooks, the cache, and what fixes it declines."""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import pytest

from loopbound.config import Settings
from loopbound.discovery import discover
from loopbound.fixes.builders import attach_fixes
from loopbound.index.model import ModuleSummary
from loopbound.index.graph import module_names
from loopbound.index.summary import scan_imports, summarise
from loopbound import parallel
from loopbound.parallel import check_tree
from loopbound.registry import DEFAULT_REGISTRY
from loopbound.rules import ALL_RULES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)


def test_module_names_follow_packages_src_layouts_and_plain_folders(tmp_path: Path) -> None:
    (tmp_path / "src" / "app" / "api").mkdir(parents=True)
    for package in ("src/app", "src/app/api"):
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "tests").mkdir()
    assert module_names(tmp_path / "src/app/api/client.py", tmp_path)[0] == "app.api.client"
    assert module_names(tmp_path / "src/app/__init__.py", tmp_path)[0] == "app"
    canonical, aliases = module_names(tmp_path / "tests/helpers.py", tmp_path)
    assert canonical == "helpers" and "tests.helpers" in aliases


def test_imports_are_read_from_bytes() -> None:
    data = (b"import os, app.db as db\nfrom . import x\nfrom ..a.b import (c,\n    d as e)\n"
            b'"""from docs import nothing"""\n\ndef f():\n    import lazy.mod\n')
    assert list(scan_imports(data)) == [(0, "os", ()), (0, "app.db", ()), (1, "", ("x",)), (2, "a.b", ("c", "d")),
                                        (0, "lazy.mod", ())]


@pytest.mark.parametrize(("source", "expected"), [
    ("app = FastAPI(lifespan=lifespan)", {("lifespan", "lifespan")}),
    ("app.on_startup.append(init)\napp.on_cleanup.append(close)", {("startup", "init"), ("shutdown", "close")}),
    ("app.cleanup_ctx.append(db_ctx)", {("lifespan", "db_ctx")}),
    ("app = Litestar(on_startup=[init], on_shutdown=[close])", {("startup", "init"), ("shutdown", "close")}),
    ("app.add_event_handler('shutdown', close)", {("shutdown", "close")}),
    ("@app.on_event('startup')\nasync def init(): ...", {("startup", "init")}),
    ("@app.before_serving\nasync def init(): ...\n@app.after_serving\nasync def close(): ...",
     {("startup", "init"), ("shutdown", "close")}),
    ("@app.listener('after_server_stop')\nasync def close(app, loop): ...", {("shutdown", "close")}),
    ("@app.before_server_start\nasync def init(app): ...", {("startup", "init")}),
])
def test_startup_and_shutdown_hooks(source: str, expected: set[tuple[str, str]]) -> None:
    summary = summarise(ast.parse(source), source.encode(), DEFAULT_REGISTRY, False)
    assert {(hook.when, hook.ref) for hook in summary.hooks} == expected


def _age(root: Path, seconds: float) -> None:
    """Old enough for the caches, which keep nothing modified in the last seconds."""
    for path in root.rglob("*.py"):
        os.utime(path, (seconds, seconds))


def test_an_edit_resummarises_only_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "projects" / "index_cross_module_factory", project)
    _age(project, 1_000_000_000)
    summarised: list[bytes] = []  # the bytes of each file summarised, by the per-file pass or by the index
    import loopbound.engine as engine
    import loopbound.index.store as store

    def counting(real, data_at):  # type: ignore[no-untyped-def]
        def summary(*args, **kwargs) -> ModuleSummary:  # type: ignore[no-untyped-def]
            summarised.append(args[data_at])
            return real(*args, **kwargs)  # type: ignore[no-any-return]
        return summary

    monkeypatch.setattr(engine, "summarise_file", counting(engine.summarise_file, 1))  # (context, data)
    monkeypatch.setattr(store, "summarise", counting(store.summarise, 1))
    for module in (engine, store):
        monkeypatch.setattr(module, "light_summary", counting(module.light_summary, 0))
    monkeypatch.setattr(store, "summarise_loops", counting(store.summarise_loops, 1))
    monkeypatch.chdir(project)
    settings = Settings(project_root=project)
    real_now = parallel.now  # a file's change time cannot be set back: the runs happen a minute later instead
    monkeypatch.setattr(parallel, "now", lambda: real_now() + 60)

    def run() -> list[tuple[str, int, str]]:
        found = discover([Path(".")], settings)
        result = check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=1,
                            cache_dir=tmp_path / "cache")
        return [(finding.path, finding.start.row, finding.severity.value) for finding in result.findings]

    def files() -> set[str]:
        by_bytes = {path.read_bytes(): path.relative_to(project).as_posix() for path in project.rglob("*.py")}
        return {by_bytes[data] for data in summarised}

    first = run()
    assert first == [("src/app/cache.py", 3, "error")]
    assert files() == {path.relative_to(project).as_posix() for path in project.rglob("*.py")}  # every file
    summarised.clear()
    assert run() == first and summarised == []
    (project / "src" / "app" / "cache.py").write_text(
        "from . import make_redis\n\n# moved down\nredis = make_redis('redis://127.0.0.1:6379/0')\n")
    os.utime(project / "src" / "app" / "cache.py", (1_000_000_100, 1_000_000_100))
    assert run() == [("src/app/cache.py", 4, "error")]
    assert files() == {"src/app/cache.py"}


def test_no_fix_is_offered_for_a_resource_made_through_project_code(monkeypatch: pytest.MonkeyPatch) -> None:
    project = FIXTURES / "projects" / "index_same_module_helper"
    monkeypatch.chdir(project)
    settings = Settings(project_root=project)
    found = discover([Path(".")], settings)
    result = check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=1)
    [finding] = [finding for finding in result.findings if finding.code == "LB101"]
    assert finding.datum("made_through") == "make_engine"
    assert "`make_engine(...)` (it creates a `sqlalchemy.ext.asyncio.create_async_engine` at `app/db.py:8`)" in (
        finding.message)
    [attached] = attach_fixes([finding], settings)
    assert attached.fix is None
