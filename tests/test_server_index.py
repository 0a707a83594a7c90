"""`loopbound server` and `loopbound check` agree on what the project index decides: a finding's severity
(an import-time resource that a multi-loop entry point reaches is an error, else latent) and the
resources made through the project's own functions and classes, with the chain in the message.

Every expectation is the real command line's JSON on the same saved tree, run from the directory the
server runs in (paths in messages are shown relative to it).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from cli_runner import run_loopbound
from lsp_session import change_document, count_publishes, eventually, open_document, save_document, start
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "loopbound", "server"])
PROJECTS = Path(__file__).resolve().parent.parent / "fixtures" / "projects"
SEVERITIES = {types.DiagnosticSeverity.Error: "error", types.DiagnosticSeverity.Warning: "warning",
              types.DiagnosticSeverity.Information: "latent"}

Shown = list[tuple[str, int, int, str, str]]  # code, row, column, severity, message


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    count_publishes(lsp_client)
    yield
    await lsp_client.shutdown_session()


def copy(name: str, tmp_path: Path) -> Path:
    """The fixture project with a configuration file of its own: the project's root for both the server and the
    command line (without one, the command line's project is the directory it runs in)."""
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root)
    (root / "loopbound.toml").write_text("", encoding="utf-8")
    return root


def cli(root: Path, file: Path) -> Shown:
    """What `loopbound check` reports for `file` when run over the project from the server's directory."""
    run = run_loopbound("check", "--no-cache", "--output-format", "json", str(root), cwd=Path.cwd())
    assert run.code in (0, 1), run.stderr
    found: list[dict[str, Any]] = json.loads(run.stdout)
    return sorted((item["code"], item["location"]["row"], item["location"]["column"], item["severity"], item["message"])
                  for item in found if Path(item["filename"]).resolve() == file.resolve())


def editor(diagnostics: list[types.Diagnostic]) -> Shown:
    return sorted((str(item.code), item.range.start.line + 1, item.range.start.character + 1,
                   SEVERITIES[types.DiagnosticSeverity(item.severity)], item.message) for item in diagnostics)


@pytest.mark.asyncio
@pytest.mark.parametrize(("fixture", "severity"), [("index_asgi_only", "latent"), ("index_function_loop_suite", "error")])
async def test_module_level_engine_has_the_severity_the_cli_gives_it(client: LanguageClient, tmp_path: Path,
                                                                    fixture: str, severity: str) -> None:
    root = copy(fixture, tmp_path)
    db = root / "app" / "db.py"
    await start(client, root)
    expected = cli(root, db)
    assert [(code, shown) for code, _, _, shown, _ in expected] == [("LB101", severity)]  # as the fixture says
    uri, shown = await open_document(client, db)
    assert editor(shown) == expected
    # An unsaved edit elsewhere in the module is graded against the last resolved index: same verdict.
    edited = db.read_text(encoding="utf-8") + "\nTIMEOUT = 5\n"
    assert editor(await change_document(client, uri, edited, 2)) == expected
    assert editor(await save_document(client, uri, edited)) == cli(root, db)


@pytest.mark.asyncio
async def test_a_saved_test_module_turns_a_latent_engine_into_an_error(client: LanguageClient, tmp_path: Path) -> None:
    root = copy("index_asgi_only", tmp_path)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\nasyncio_mode = "auto"\n', encoding="utf-8")
    db = root / "app" / "db.py"
    await start(client, root)
    db_uri, shown = await open_document(client, db)
    assert [SEVERITIES[types.DiagnosticSeverity(item.severity)] for item in shown] == ["latent"]

    # A function-loop pytest-asyncio suite that imports the module: once saved, the index is resolved again.
    test = root / "tests" / "test_db.py"
    test.parent.mkdir()
    test.write_text("", encoding="utf-8")
    test_text = "from app.db import engine\n\n\nasync def test_one() -> None:\n    assert engine\n\n\n" \
                "async def test_two() -> None:\n    assert engine\n"
    test_uri, _ = await open_document(client, test, test_text)
    await save_document(client, test_uri, test_text)
    expected = cli(root, db)
    assert [shown for _, _, _, shown, _ in expected] == ["error"]
    assert editor(list(client.diagnostics[db_uri])) == expected


@pytest.mark.asyncio
async def test_a_resource_made_through_the_projects_own_class_shows_the_cli_message(client: LanguageClient,
                                                                                    tmp_path: Path) -> None:
    root = copy("index_wrapper_class", tmp_path)
    services = root / "app" / "services.py"
    final = services.read_text(encoding="utf-8")
    services.write_text(final.replace('api = ApiClient("http://127.0.0.1:8000")  # error: LB101\n', ""),
                        encoding="utf-8")
    await start(client, root)
    uri, shown = await open_document(client, services)
    assert "LB101" not in [str(item.code) for item in shown]

    # Typed, not saved: `ApiClient` builds an httpx.AsyncClient in __init__, in another module.
    changed = editor(await change_document(client, uri, final, 2))
    assert [(code, row) for code, row, *_ in changed] == [("LB101", 3), ("LB201", 20)]
    assert "it creates a `httpx.AsyncClient` at `" in changed[0][4]

    saved = editor(await save_document(client, uri, final))
    expected = cli(root, services)
    assert [(code, row, shown) for code, row, _, shown, _ in expected] == [("LB101", 3, "error"), ("LB201", 20, "error")]
    assert saved == expected
    assert changed == expected  # the buffer's verdict before the save was already the saved tree's


@pytest.mark.asyncio
async def test_the_latent_policy_and_the_show_latent_setting_apply_to_the_index_verdict(client: LanguageClient,
                                                                                        tmp_path: Path) -> None:
    root = copy("index_asgi_only", tmp_path)
    config = root / "loopbound.toml"
    config.write_text('latent = "error"\n', encoding="utf-8")
    db = root / "app" / "db.py"
    await start(client, root)
    db_uri, shown = await open_document(client, db)
    expected = cli(root, db)
    assert [shown for _, _, _, shown, _ in expected] == ["error"]
    assert editor(shown) == expected

    config.write_text('latent = "report"\n', encoding="utf-8")
    await save_document(client, config.as_uri())
    assert [SEVERITIES[types.DiagnosticSeverity(item.severity)] for item in client.diagnostics[db_uri]] == ["latent"]
    assert editor(list(client.diagnostics[db_uri])) == cli(root, db)

    hidden = types.DidChangeConfigurationParams({"loopbound": {"showLatent": False}})
    before = len(client.diagnostics[db_uri])
    client.workspace_did_change_configuration(hidden)
    assert before == 1 and await eventually(client, db_uri, lambda diagnostics: diagnostics == []) == []
