"""pytest config discovery and the loop-scope model, on small trees written to tmp_path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from loopbound.config import Settings
from loopbound.engine import check_project
from loopbound.pytest_config import PytestConfigError, load, locate
from loopbound.rules import ALL_RULES

EVERY_CODE = frozenset(rule.code for rule in ALL_RULES)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def findings(root: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings | None = None) -> list[tuple[str, int, str]]:
    monkeypatch.chdir(root)
    files = sorted(path.relative_to(root) for path in root.rglob("*.py"))
    result = check_project(files, [], settings or Settings(project_root=root), EVERY_CODE)
    assert not result.errors
    return [(finding.path, finding.start.row, finding.code) for finding in result.findings]


SESSION_FIXTURE = """\
    import pytest_asyncio

    @pytest_asyncio.fixture(scope="session")
    async def db():
        return object()
"""


def test_ini_continuation_and_addopts_override(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": """\
        [tox]
        envlist = py3
        [pytest]
        addopts =
            -ra
            --override-ini=asyncio_default_test_loop_scope=module
            --asyncio-mode=auto
        asyncio_default_test_loop_scope = session
    """})
    config = locate(tmp_path / "tox.ini")
    assert config is not None and config.section == "pytest"
    setting = config.asyncio("asyncio_default_test_loop_scope")
    assert setting is not None and (setting.value, setting.line, setting.key) == ("module", 4, "addopts")
    assert config.mode == "auto"


def test_pytest_toml_native_types_and_key_lines(tmp_path: Path) -> None:
    write(tmp_path, {"pytest.toml": """\
        # comment
        [pytest]
        addopts = ["-o", "asyncio_mode=auto"]
        asyncio_default_fixture_loop_scope = "module"
    """})
    config = load(tmp_path / "pytest.toml")
    assert config is not None and config.section_line == 2
    assert config.keys["asyncio_default_fixture_loop_scope"].line == 4
    assert config.mode == "auto"


def test_precedence_within_a_directory_and_walking_up(tmp_path: Path) -> None:
    write(tmp_path, {
        "pyproject.toml": '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n',
        "setup.cfg": "[tool:pytest]\nasyncio_mode = strict\n",
        "sub/setup.cfg": "[metadata]\nname = x\n",
        "sub/pkg/test_x.py": "",
    })
    config = locate(tmp_path / "sub" / "pkg" / "test_x.py")
    assert config is not None and config.path.name == "pyproject.toml" and config.mode == "auto"
    write(tmp_path, {".pytest.ini": ""})
    config = locate(tmp_path / "sub" / "pkg" / "test_x.py")
    assert config is not None and config.path.name == ".pytest.ini" and config.mode == "strict"


@pytest.mark.parametrize(("name", "text", "row"), [
    ("setup.cfg", "[metadata]\nname = x\n[pytest]\nasyncio_mode = auto\n", 3),
    ("pytest.ini", "[pytest]\nasyncio_mode = auto\nthis line has no equals sign\n", 3),
    ("pytest.ini", "  continued before any key\n", 1),
    ("pyproject.toml", '[tool.pytest.ini_options]\nasyncio_mode = "auto\n', 2),
])
def test_configs_pytest_refuses_name_file_and_line(tmp_path: Path, name: str, text: str, row: int) -> None:
    write(tmp_path, {name: text})
    with pytest.raises(PytestConfigError) as raised:
        load(tmp_path / name)
    assert raised.value.line == row and str(raised.value).startswith(f"{tmp_path / name}:{row}: ")


def test_closest_asyncio_mark_wins_even_without_loop_scope(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-asyncio reads the closest mark only: a bare function mark hides the module's loop_scope."""
    write(tmp_path, {
        "pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = fixture-scope\n",
        "conftest.py": SESSION_FIXTURE,
        "test_a.py": """\
            import pytest

            pytestmark = pytest.mark.asyncio(loop_scope="session")

            async def test_module_mark(db):
                pass

            @pytest.mark.asyncio
            async def test_own_mark(db):
                pass
        """,
    })
    found = findings(tmp_path, monkeypatch)
    assert found == [("conftest.py", 4, "LB302")]


def test_overridden_fixture_and_transitive_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {
        "pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = fixture-scope\n",
        "conftest.py": SESSION_FIXTURE,
        "tests/conftest.py": """\
            import pytest_asyncio

            @pytest_asyncio.fixture
            async def db(db):
                return db

            @pytest_asyncio.fixture
            async def session(db):
                return db
        """,
        "tests/test_b.py": """\
            import pytest

            @pytest.mark.asyncio
            async def test_session(session):
                pass
        """,
        "other/test_c.py": """\
            import pytest

            class TestLocal:
                @pytest.fixture
                def db(self):
                    return 1

                @pytest.mark.asyncio
                async def test_shadowed(self, db):
                    pass
        """,
    })
    assert findings(tmp_path, monkeypatch) == [("conftest.py", 4, "LB302")]


def test_noqa_and_per_file_ignores_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {
        "pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = fixture-scope\n",
        "conftest.py": SESSION_FIXTURE.replace("async def db():", "async def db():  # noqa: LB302"),
        "test_a.py": "import pytest\n\n@pytest.mark.asyncio(scope='module')\nasync def test_a(db):\n    pass\n",
    })
    assert findings(tmp_path, monkeypatch) == [("test_a.py", 3, "LB305")]
    ignoring = Settings(project_root=tmp_path, per_file_ignores=(("test_*.py", ("LB305",)),))
    assert findings(tmp_path, monkeypatch, ignoring) == []


def test_no_config_reports_first_pytest_asyncio_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"test_a.py": "import pytest\n\n\n@pytest.mark.asyncio\nasync def test_a():\n    pass\n"})
    assert findings(tmp_path, monkeypatch) == [("test_a.py", 4, "LB306")]


def test_sync_tests_sync_fixtures_and_unmarked_strict_tests_are_clean(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {
        "pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = fixture-scope\n",
        "conftest.py": SESSION_FIXTURE,
        "test_a.py": """\
            import pytest

            def test_sync(db):
                pass

            async def test_unmarked_in_strict_mode(db):
                pass

            @pytest.mark.trio
            async def test_trio(db):
                pass
        """,
    })
    assert findings(tmp_path, monkeypatch) == []


def test_cli_end_to_end_on_a_project() -> None:
    project = Path(__file__).resolve().parent.parent / "fixtures" / "projects" / "fixture_scope_only_config"
    completed = subprocess.run(
        [sys.executable, "-m", "loopbound", "check", ".", "--no-cache", "--output-format", "concise", "--select", "LB3"],
        cwd=project, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == 1, completed.stderr
    lines = completed.stdout.splitlines()
    assert any(line.startswith("conftest.py:7:1: LB302") for line in lines), lines
    assert any(line.startswith("pyproject.toml:6:1: LB301") for line in lines), lines


def test_cli_broken_config_is_an_error_and_python_is_still_checked() -> None:
    project = Path(__file__).resolve().parent.parent / "fixtures" / "projects" / "broken_toml"
    completed = subprocess.run(
        [sys.executable, "-m", "loopbound", "check", ".", "--no-cache", "--output-format", "concise"],
        cwd=project, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == 2
    assert "pyproject.toml:4: invalid TOML" in completed.stderr
    assert "test_app.py:3:10: LB101" in completed.stdout


def test_a_config_is_parsed_once_per_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The LB3 pass loads a config passed in, then finds it again walking up: the second load reuses the first
    parse while the text is the same, and parses the file again once it changed."""
    from loopbound import pytest_config

    parses: list[str] = []
    real = pytest_config._load_ini
    monkeypatch.setattr(pytest_config, "_load_ini", lambda path, text: parses.append(text) or real(path, text))
    config = tmp_path / "pytest.ini"
    config.write_text("[pytest]\nasyncio_mode = auto\n", encoding="utf-8")
    first = load(config)
    assert first is not None and locate(tmp_path / "test_x.py") is first and len(parses) == 1
    config.write_text("[pytest]\nasyncio_mode = strict\n", encoding="utf-8")
    second = load(config)
    assert second is not None and second.mode == "strict" and len(parses) == 2
