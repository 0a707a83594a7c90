"""LB302/LB303 fixes together with LB301: the fix loop ends in one consistent config, with no fix
dropped, and the cases where no fix is offered stay as they were."""

from __future__ import annotations

from pathlib import Path

import libcst
import pytest

from loopbound.config import Settings
from loopbound.fixes import fix_paths
from loopbound.fixes.event_loop import remove_function

LB3 = frozenset({"LB301", "LB302", "LB303", "LB305", "LB306"})

SESSION_FIXTURE = """\
import asyncio

import pytest_asyncio


@pytest_asyncio.fixture
async def ticket():
    return asyncio.get_running_loop().create_future()
"""

TEST_MODULE = """\
import asyncio


async def test_ticket(ticket):
    asyncio.get_running_loop().call_soon(ticket.set_result, 42)
    assert await ticket == 42
"""

EVENT_LOOP = """\
import asyncio

import pytest


@pytest.fixture(scope="session")
def event_loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
"""


def _fix(root: Path, files: dict[str, str], monkeypatch: pytest.MonkeyPatch,
         codes: frozenset[str] = LB3) -> tuple[dict[str, str], list[str]]:
    for place, text in files.items():
        (root / place).parent.mkdir(parents=True, exist_ok=True)
        (root / place).write_text(text)
    monkeypatch.chdir(root)
    python = [Path(place) for place in files if place.endswith(".py")]
    configs = [Path(place) for place in files if not place.endswith(".py")]
    run = fix_paths(python, Settings(project_root=root.resolve()), codes, unsafe=True, write=True,
                    config_files=configs)
    assert not run.errors, run.errors
    return {place: (root / place).read_text() for place in files}, [finding.code for finding in run.findings]


def _fixed_point(root: Path, files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    again, _ = _fix(root, files, monkeypatch)
    assert again == files


@pytest.mark.parametrize("codes", [frozenset({"LB301", "LB302"}), frozenset({"LB302"}), frozenset({"LB301"})])
def test_lb302_makes_the_lb301_edit_so_both_agree(codes: frozenset[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"pyproject.toml": '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
                               'asyncio_default_fixture_loop_scope = "session"\n',
             "conftest.py": SESSION_FIXTURE, "test_ticket.py": TEST_MODULE}
    fixed, left = _fix(tmp_path, files, monkeypatch, codes)
    assert fixed["pyproject.toml"].count("asyncio_default_test_loop_scope") == 1
    assert 'asyncio_default_fixture_loop_scope = "session"\nasyncio_default_test_loop_scope = "session"\n' in (
        fixed["pyproject.toml"])
    assert fixed["test_ticket.py"] == TEST_MODULE  # the config moved the tests: no mark needed
    assert left == []
    _fixed_point(tmp_path, fixed, monkeypatch)


def test_lb301_changes_a_narrower_test_key_instead_of_adding_a_second(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"pytest.ini": "[pytest]\nasyncio_mode = auto\nasyncio_default_test_loop_scope = function\n"
                           "asyncio_default_fixture_loop_scope = module\n",
             "conftest.py": SESSION_FIXTURE, "test_ticket.py": TEST_MODULE}
    fixed, left = _fix(tmp_path, files, monkeypatch, frozenset({"LB301"}))
    assert fixed["pytest.ini"] == ("[pytest]\nasyncio_mode = auto\nasyncio_default_test_loop_scope = module\n"
                                   "asyncio_default_fixture_loop_scope = module\n")
    assert left == []


def test_event_loop_fixture_and_config_fixes_converge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The incident layout: LB301, LB302 and LB303 all want the test key; it is written once."""
    files = {"pytest.ini": "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n",
             "conftest.py": EVENT_LOOP.replace("import pytest\n", "import pytest\nimport pytest_asyncio\n")
             + "\n\n" + SESSION_FIXTURE.split("\n\n\n")[1],
             "test_ticket.py": TEST_MODULE}
    fixed, left = _fix(tmp_path, files, monkeypatch)
    assert fixed["pytest.ini"] == ("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n"
                                   "asyncio_default_test_loop_scope = session\n")
    assert "event_loop" not in fixed["conftest.py"] and "import asyncio" in fixed["conftest.py"]
    assert left == []
    _fixed_point(tmp_path, fixed, monkeypatch)


def test_event_loop_fixture_stays_while_a_plain_function_requests_it(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = function\n", "conftest.py": EVENT_LOOP,
             "test_loop.py": "def test_open(event_loop):\n    assert not event_loop.is_closed()\n"}
    fixed, left = _fix(tmp_path, files, monkeypatch)
    assert fixed == files
    assert left == ["LB303", "LB303"]


ADDOPTS = ("[pytest]\naddopts = -o asyncio_default_test_loop_scope=function\n"
           "asyncio_default_fixture_loop_scope = function\n")
PLAIN = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
CALLABLE = "scope=lambda fixture_name, config: 'session'"


@pytest.mark.parametrize(("config", "scope"), [(ADDOPTS, 'scope="session"'), (ADDOPTS, CALLABLE), (PLAIN, CALLABLE)])
def test_event_loop_scope_that_cannot_be_carried_keeps_the_fixture(config: str, scope: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`-o` in addopts would win over the keys written; a callable scope names no loop scope."""
    files = {"pytest.ini": config, "conftest.py": EVENT_LOOP.replace('scope="session"', scope),
             "test_one.py": "async def test_one():\n    pass\n"}
    fixed, left = _fix(tmp_path, files, monkeypatch, frozenset({"LB303"}))
    assert fixed == files
    assert left == ["LB303"]


def test_tests_with_a_narrower_fixture_are_not_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"pytest.ini": "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n",
             "conftest.py": SESSION_FIXTURE.replace("@pytest_asyncio.fixture",
                                                    '@pytest_asyncio.fixture(scope="module", loop_scope="module")')
             + "\n\n@pytest_asyncio.fixture\nasync def local():\n    return asyncio.Event()\n",
             "test_ticket.py": TEST_MODULE.replace("(ticket)", "(ticket, local)")}
    fixed, left = _fix(tmp_path, files, monkeypatch)
    assert fixed == files
    assert left == ["LB302"]


@pytest.mark.parametrize("place", ["test_one.py", "tests/conftest.py"])
def test_event_loop_of_one_module_or_directory_is_not_carried_into_the_config(
        place: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It set the loop of some tests only (test_three.py never saw it); the config keys would move them all."""
    files = {"pytest.ini": "[pytest]\nasyncio_default_fixture_loop_scope = function\n",
             place: EVENT_LOOP.replace('scope="session"', 'scope="module"'),
             "tests/test_two.py": "async def test_two():\n    pass\n",
             "test_three.py": "async def test_three():\n    pass\n"}
    fixed, left = _fix(tmp_path, files, monkeypatch, frozenset({"LB303"}))
    assert fixed == files
    assert left == ["LB303"]


def test_removing_the_fixture_keeps_the_blank_lines_around_what_stays() -> None:
    source = ('from __future__ import annotations\n\nimport asyncio\n\nimport pytest\n\n\n'
              'class CustomLoop(asyncio.SelectorEventLoop):\n    """No overrides."""\n\n\n'
              '@pytest.fixture(scope="module")\ndef event_loop():\n    loop = CustomLoop()\n    yield loop\n'
              '    loop.close()\n')
    assert remove_function(libcst.parse_module(source), 13) == (
        'from __future__ import annotations\n\nimport asyncio\n\n\n'
        'class CustomLoop(asyncio.SelectorEventLoop):\n    """No overrides."""\n')
