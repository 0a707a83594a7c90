"""A fix never removes or renames a module-level name another checked module uses (issue 13, item 1).

The project below imports the globals of app/db.py in every form a fix must see; only the one no
other module touches is rewritten, and afterwards the project still imports and its tests pass.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cli_runner import run_loopbound

import pytest

from loopbound.fixes import builders
from loopbound.fixes.importers import importable_names, importers

DB = '''import httpx

imported = httpx.AsyncClient()
attribute = httpx.AsyncClient()
relative = httpx.AsyncClient()
reexported = httpx.AsyncClient()
patched = httpx.AsyncClient()
via_package = httpx.AsyncClient()
private = httpx.AsyncClient()


async def ping(url):
    for client in (imported, attribute, relative, reexported, patched, via_package):
        await client.get(url)


async def ping_private(url):
    await private.get(url)
'''

FILES = {
    "app/__init__.py": "from app.db import reexported\n",
    "app/db.py": DB,
    "app/api.py": "from .db import relative\n\n\ndef relative_user():\n    return relative\n",
    "app/service.py": "import app.db\n\n\ndef attribute_user():\n    return app.db.attribute\n",
    "app/views.py": "from app import db\n\n\ndef package_user():\n    return db.via_package\n",
    "tests/test_app.py": '''from unittest import mock

import app.db
from app import reexported
from app.api import relative_user
from app.db import imported
from app.service import attribute_user
from app.views import package_user


def test_every_name_still_resolves():
    assert reexported is app.db.reexported and imported is app.db.imported
    assert relative_user() is app.db.relative and attribute_user() is app.db.attribute
    assert package_user() is app.db.via_package


def test_patch_target_still_exists():
    with mock.patch("app.db.patched") as patched:
        assert app.db.patched is patched
''',
}


def _project(root: Path) -> Path:
    for place, text in FILES.items():
        (root / place).parent.mkdir(parents=True, exist_ok=True)
        (root / place).write_text(text)
    (root / ".git").mkdir()
    return root


def test_fix_keeps_every_imported_name_and_the_project_passes(tmp_path: Path) -> None:
    root = _project(tmp_path)
    run = run_loopbound("check", "--no-cache", "--select", "LB101", "--fix", "--unsafe-fixes", cwd=root)
    assert "Fixed 1 finding in 1 file." in run.stderr, run.stderr
    fixed = (root / "app" / "db.py").read_text()
    assert "def get_private() -> httpx.AsyncClient:" in fixed and "await get_private().get(url)" in fixed
    for name in ("imported", "attribute", "relative", "reexported", "patched", "via_package"):
        assert f"\n{name} = httpx.AsyncClient()\n" in fixed, name
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=root,
                           capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_importers_name_each_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    texts = {place: (root / place).read_text() for place in FILES}
    uses = {name: sorted(importers("app/db.py", {name}, list(FILES), texts.__getitem__, root))
            for name in ("imported", "attribute", "relative", "reexported", "patched", "via_package", "private")}
    assert uses == {  # the test module reads each as `app.db.<name>` too (rows 12-14)
        "imported": ["tests/test_app.py:12", "tests/test_app.py:6"],
        "attribute": ["app/service.py:5", "tests/test_app.py:13"],
        "relative": ["app/api.py:1", "tests/test_app.py:13"],
        "reexported": ["app/__init__.py:1", "tests/test_app.py:12"],
        "patched": ["tests/test_app.py:18", "tests/test_app.py:19"],
        "via_package": ["app/views.py:5", "tests/test_app.py:14"],
        "private": [],
    }


def test_module_names_are_the_index_names(tmp_path: Path) -> None:
    """A `src/` layout: the package name by its `__init__.py`, and every suffix of the path from the root."""
    for place in ("src/app/__init__.py", "src/app/db.py"):
        (tmp_path / place).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / place).write_text("")
    assert importable_names(str(tmp_path / "src/app/db.py"), tmp_path) == {"src.app.db", "app.db", "db"}
    assert importable_names(str(tmp_path / "src/app/__init__.py"), tmp_path) == {"src.app", "app"}


def test_relative_imports_resolve_from_the_importers_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`from .. import engine` in app/api/v1.py reads app/__init__.py; `from . import engine` there reads app/api."""
    files = {"app/__init__.py": "engine = 1\n", "app/api/__init__.py": "engine = 2\n",
             "app/api/v1.py": "from .. import engine\n", "app/api/v2.py": "from . import engine\n"}
    for place, text in files.items():
        (tmp_path / place).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / place).write_text(text)
    monkeypatch.chdir(tmp_path)
    assert importers("app/__init__.py", {"engine"}, list(files), files.__getitem__, tmp_path) == ["app/api/v1.py:1"]
    assert importers("app/api/__init__.py", {"engine"}, list(files), files.__getitem__, tmp_path) == ["app/api/v2.py:1"]


def test_the_importers_search_keeps_the_texts_it_read_only_up_to_its_budget() -> None:
    reads: list[str] = []

    def read(path: str) -> str:
        reads.append(path)
        return path * 10

    kept = builders._KeptUpTo(read, budget=30)
    for path in ("a", "bb", "a", "bb", "c", "c"):
        assert kept(path) == path * 10
    assert reads == ["a", "bb", "c", "c"]  # "c" came once the 30 characters of the budget were kept
    assert kept.kept == {"a": "a" * 10, "bb": "bb" * 10}
