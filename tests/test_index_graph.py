"""The import graph resolved file by file as the per-file results come in (index.graph.ExpectedModules) is the
graph resolved at once from every summary, and a cold run with workers that uses it finds the same."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, write_files

from loopbound import parallel, scheduling
from loopbound.config import Settings
from loopbound.discovery import CheckedFile, checked_file, discover
from loopbound.engine import CheckResult
from loopbound.index import graph as graph_module
from loopbound.index.graph import ExpectedModules, ModuleGraph, _ModuleNamer, module_graph, module_names
from loopbound.index.model import ModuleSummary
from loopbound.parallel import check_tree
from loopbound.rules import ALL_RULES

EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)
# Modules that share names across folders (`app.db`, `tests.conftest`, `helpers`), relative imports, a
# package re-export and a `src` layout: what the per-folder choice of a module resolves.
_SHARED_NAMES = {
    "one/src/app/__init__.py": "from .db import engine\n",
    "one/src/app/db.py": "import httpx\nengine = httpx.AsyncClient()\n",
    "one/src/app/api/__init__.py": "",
    "one/src/app/api/routes.py": "from ..db import engine\nfrom app import db\nimport helpers\n",
    "one/tests/helpers.py": "from app.db import engine\n",
    "one/tests/test_routes.py": "import helpers\nfrom app.api import routes\nfrom . import helpers as again\n",
    "two/app/__init__.py": "",
    "two/app/db.py": "import redis.asyncio as redis\nclient = redis.Redis()\n",
    "two/tests/helpers.py": "from app import db\n",
    "two/tests/test_db.py": "from helpers import db\nimport app.db\nfrom app.db import *\n",
    "two/broken.py": "import httpx\nclient = httpx.AsyncClient(\n",  # past the pre-filter, unparsable
}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The index fixture projects, the rule fixtures and modules of the same names side by side, in one tree."""
    for project in sorted((FIXTURES / "projects").iterdir()):
        if project.name.startswith("index_") or project.name == "monorepo":
            shutil.copytree(project, tmp_path / project.name)
    shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    write_files(tmp_path, _SHARED_NAMES)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _checked(root: Path) -> tuple[list[CheckedFile], dict[str, ModuleSummary]]:
    settings = Settings(project_root=root)
    files = discover([Path(".")], settings).python_files
    summaries = check_tree(files, [], settings, EVERY_CODE, jobs=1).summaries
    return files, summaries


def _shape(graph: ModuleGraph) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The graph's names and its importers, by shown path."""
    return ({name: [module.shown for module in modules] for name, modules in graph.by_name.items()},
            {module.shown: [importer.shown for importer in importers] for module, importers in graph.importers().items()})


def _fed(files: list[CheckedFile], summaries: dict[str, ModuleSummary], root: Path, seed: int) -> ExpectedModules:
    """The summaries given one by one in a shuffled order, as results come in from two processes."""
    expected = ExpectedModules(files, root)
    arriving = list(summaries.items())
    random.Random(seed).shuffle(arriving)
    for shown, summary in arriving:
        expected.add(shown, summary)
    return expected


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_graph_resolved_as_summaries_arrive_is_the_one_resolved_at_once(tree: Path, seed: int) -> None:
    files, summaries = _checked(tree)
    whole = _shape(module_graph(files, summaries, tree))
    assert len(whole[1]) > 20, "modules import each other"
    assert any(len(modules) > 1 for modules in whole[0].values()), "names are shared"
    assert "two/broken.py" not in summaries  # unparsable: expected, but never given
    graph = _fed(files, summaries, tree, seed).graph_for(files, summaries)
    assert graph is not None
    assert _shape(graph) == whole


def test_without_an_unparsable_module_every_file_given_serves_as_it_is(tree: Path) -> None:
    (tree / "two" / "broken.py").unlink()
    files, summaries = _checked(tree)
    expected = _fed(files, summaries, tree, 0)
    kept = expected.graph
    graph = expected.graph_for(files, summaries)
    assert graph is kept and graph is not None
    assert _shape(graph) == _shape(module_graph(files, summaries, tree))
    assert expected.graph_for(files, summaries) is None, "served once: the index refines its modules"


def test_other_modules_or_summaries_than_those_given_are_not_served(tree: Path) -> None:
    files, summaries = _checked(tree)
    shown = next(file.shown for file in files if file.shown in summaries and file.path.suffix == ".py")
    other = dict(summaries)
    other[shown] = ModuleSummary(**{**vars(summaries[shown])})  # equal, but not the summary given
    assert _fed(files, summaries, tree, 0).graph_for(files, other) is None
    fewer = {key: value for key, value in summaries.items() if key != shown}
    assert _fed(files, fewer, tree, 0).graph_for(files, summaries) is None
    rest = discover([tree / "rules"], Settings(project_root=tree)).python_files[0]
    moved = CheckedFile(rest.path, "elsewhere.py", rest.real, "elsewhere.py", False)  # a project checked in part
    assert _fed(files, summaries, tree, 0).graph_for([*files, moved], {**summaries, "elsewhere.py": summaries[shown]}) is None


def test_every_module_of_a_graph_has_the_names_module_names_gives_its_file_alone(tree: Path) -> None:
    """A graph names its modules folder by folder and knows the packages whose `__init__.py` it has without a stat:
    the names are those of each file on its own."""
    files, summaries = _checked(tree)
    graph = module_graph(files, summaries, tree)
    names: dict[str, set[str]] = {}
    for name, modules in graph.by_name.items():
        for module in modules:
            names.setdefault(module.shown, set()).add(name)
    assert any(module.is_package for module in graph.modules) and len(graph.modules) > 20
    for module in graph.modules:
        canonical, aliases = module_names(module.path, tree)
        assert (module.name, names[module.shown]) == (canonical, {canonical, *aliases})
        assert module.is_package == (module.path.name == "__init__.py")


def test_a_module_path_as_text_is_the_one_its_path_writes_and_keys_it_alone(tree: Path) -> None:
    """The graph keys its modules by their resolved paths as text, with no Path made: the texts must be as a Path
    writes them, so that one text stands for one Path (and the same choice of module is made)."""
    (tree / "linked.py").symlink_to(tree / "two" / "app" / "db.py")
    files, summaries = _checked(tree)
    graph = module_graph([*files, checked_file(Path("linked.py"), Settings(project_root=tree))], summaries, tree)
    by_path = {module.path: module for module in graph.modules}  # the last module of a path, as a Path keys it
    for module in graph.modules:
        assert module.path_text == str(Path(module.path_text)) == str(module.path)
        assert graph.by_path_text[module.path_text] is by_path[module.path]
    assert len(graph.by_path_text) == len(by_path) == len(graph.modules) - 1, "the link is a module of its own"


@pytest.mark.parametrize("name", ["a.py", ".py", "..py", "a.pyi", "a.py.txt", "py", "a.PY", "x..py"])
def test_a_file_has_the_py_suffix_as_its_path_has_it(tmp_path: Path, name: str) -> None:
    for given in (tmp_path / name, str(tmp_path / name)):
        file = CheckedFile(given, name, given, name, False)
        assert file.has_py_suffix == (Path(given).suffix == ".py")
        assert file.real_text == str(Path(given))


@pytest.mark.parametrize("path", ["src/app/api/client.py", "src/app/api/__init__.py", "src/app/__init__.pyi",
                                  "tests/helpers.py", "top.py", "__init__.py", "src/app/.py", "src/app/..py",
                                  "src/app/.hidden.py", "src/app/api/a.b.py", "src/app/api/stub.pyi"])
def test_a_folder_names_its_modules_as_each_module_is_named_alone(tmp_path: Path, path: str) -> None:
    """The names worked out once per folder are those the path gives, in the project and outside it."""
    write_files(tmp_path, {"project/src/app/__init__.py": "", "project/src/app/api/__init__.py": "",
                           "outside/src/app/__init__.py": "", "outside/src/app/api/__init__.py": ""})
    root = tmp_path / "project"
    for text in (str(root / path), str(tmp_path / "outside" / path)):
        assert _ModuleNamer(root).names(text) == _ModuleNamer(root)._names(text)


def _findings(result: CheckResult) -> list[tuple[str, str, int, int, str, str]]:
    return [(f.path, f.code, f.start.row, f.start.column, f.message, f.severity.value) for f in result.findings]


def test_a_run_with_workers_resolves_the_graph_as_results_arrive_and_finds_the_same(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(project_root=tree)
    found = discover([Path(".")], settings)
    serial = check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=1)
    served: list[ModuleGraph | None] = []
    taking = graph_module.ExpectedModules.graph_for

    def noted(self: ExpectedModules, *args: object) -> ModuleGraph | None:
        served.append(taking(self, *args))  # type: ignore[arg-type]
        return served[-1]

    monkeypatch.setattr(graph_module.ExpectedModules, "graph_for", noted)
    monkeypatch.setattr(scheduling, "MIN_BYTES_PER_WORKER", 1)  # a worker even for a tree this small
    monkeypatch.setattr(scheduling, "CHUNKS_PER_PROCESS", 8)
    with_workers = check_tree(found.python_files, found.config_files, settings, EVERY_CODE, jobs=2)
    assert served and served[0] is not None, "the graph resolved as the results arrived served the index"
    assert {f.code[:3] for f in serial.findings} >= {"LB1", "LB2", "LB3"}
    assert _findings(with_workers) == _findings(serial)
    assert (with_workers.errors, with_workers.warnings) == (serial.errors, serial.warnings)
