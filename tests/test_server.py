"""`loopbound server` end to end: pytest-lsp starts the real server as a subprocess and speaks LSP to it.

Fixes are held to `loopbound check --fix` (run as a subprocess on a copy of the same tree): the
fix-all action and the quick fixes applied one by one must give the very text it writes.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from cli_runner import run_loopbound
from conftest import write_files
from lsp_session import (
    apply_text_edits,
    apply_workspace_edit,
    change_document,
    code_actions,
    codes,
    open_document,
    after,
    count_publishes,
    eventually,
    save_document,
    start,
)
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from loopbound.fixes.files import decode_source, read_source

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "loopbound", "server"])
FIXES = Path(__file__).resolve().parent.parent / "fixtures" / "fixes"

MODULE = '''import httpx

client = httpx.AsyncClient()


async def fetch(url: str) -> int:
    session = httpx.AsyncClient()
    response = await session.get(url)
    return response.status_code
'''
TEST_MODULE = '''import pytest


@pytest.mark.asyncio(scope="module")
async def test_one() -> None:
    assert True
'''
PYPROJECT = '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    count_publishes(lsp_client)
    yield
    await lsp_client.shutdown_session()
    if lsp_client._server is not None:  # the process is gone, and left cleanly
        assert lsp_client._server.returncode == 0


def project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return write_files(root, files)


@pytest.mark.asyncio
async def test_diagnostics_on_open_change_and_save(client: LanguageClient, tmp_path: Path) -> None:
    root = project(tmp_path, {"app/client.py": MODULE, "tests/test_x.py": TEST_MODULE, "pyproject.toml": PYPROJECT})
    await start(client, root)
    uri, shown = await open_document(client, root / "app/client.py")
    assert codes(shown) == ["LB101", "LB201"]
    lb101 = next(diagnostic for diagnostic in shown if diagnostic.code == "LB101")
    assert (lb101.range.start.line, lb101.range.start.character, lb101.range.end.character) == (2, 9, 28)
    # Latent, as `loopbound check` grades it: nothing in this project imports app/client.py.
    assert lb101.severity == types.DiagnosticSeverity.Information and lb101.source == "loopbound"
    assert lb101.code_description is not None and lb101.code_description.href.endswith("LB101.md")
    fixed = MODULE.replace("client = httpx.AsyncClient()", "client = None")
    assert codes(await change_document(client, uri, fixed, 2)) == ["LB201"]  # the unsaved buffer is checked

    # The project rules: LB305 in the test module, LB306 on the pytest config, published on open.
    test_uri = (root / "tests/test_x.py").as_uri()
    test_uri, shown = await open_document(client, root / "tests/test_x.py")
    config_uri = (root / "pyproject.toml").as_uri()
    assert codes(await eventually(client, config_uri, lambda shown: shown)) == ["LB306"]
    assert codes(await eventually(client, test_uri, lambda shown: shown)) == ["LB305"]
    shown = list(client.diagnostics[test_uri])
    assert list(shown[0].tags or []) == [types.DiagnosticTag.Deprecated]
    # Saving a fixed test module clears LB305 from it: the project pass re-reads the tree.
    assert codes(await save_document(client, test_uri, TEST_MODULE.replace("scope=", "loop_scope="))) == []


@pytest.mark.asyncio
async def test_configuration_noqa_and_client_settings(client: LanguageClient, tmp_path: Path) -> None:
    config = '[tool.loopbound]\nextend-select = ["LB002"]\n\n[tool.loopbound.per-file-ignores]\n"legacy/*" = ["LB1"]\n'
    suppressed = MODULE.replace("client = httpx.AsyncClient()", "client = httpx.AsyncClient()  # noqa: LB101, LB204")
    root = project(tmp_path, {"pyproject.toml": config, "app/client.py": suppressed, "legacy/old.py": MODULE})
    await start(client, root)
    _, shown = await open_document(client, root / "app/client.py")
    assert codes(shown) == ["LB002", "LB201"]  # LB101 suppressed; LB204 in the noqa suppresses nothing
    unused = next(diagnostic for diagnostic in shown if diagnostic.code == "LB002")
    assert list(unused.tags or []) == [types.DiagnosticTag.Unnecessary]
    _, shown = await open_document(client, root / "legacy/old.py")
    assert codes(shown) == ["LB201"]  # per-file-ignores drop LB1 there
    expected = run_loopbound("check", "--no-cache", "--output-format", "concise", ".", cwd=root).stdout
    assert [line.split()[1] for line in expected.splitlines() if ": LB" in line] == ["LB002", "LB201", "LB201"]

    # Client settings: `ignore` replaces the configuration's list, as `--ignore` does.
    uri = (root / "legacy/old.py").as_uri()
    settings = types.DidChangeConfigurationParams({"loopbound": {"ignore": ["LB2"]}})
    assert codes(await after(client, uri, lambda: client.workspace_did_change_configuration(settings))) == []


@pytest.mark.asyncio
async def test_hover_noqa_action_and_workspace_check(client: LanguageClient, tmp_path: Path) -> None:
    root = project(tmp_path, {"app/client.py": MODULE + "\nclient2 = httpx.AsyncClient()  # noqa: LB101\n",
                              "app/other.py": MODULE})
    await start(client, root)
    uri, shown = await open_document(client, root / "app/client.py")
    hover = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(10, 40)))
    assert hover is not None and "module-level-async-resource" in str(hover.contents)
    hover = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri), types.Position(6, 20)))
    assert hover is not None and "LB201" in str(hover.contents) and "never released" in str(hover.contents)

    noqa = [action for action in await code_actions(client, uri, lines=(2, 2)) if action.title.startswith("Disable")]
    assert [action.title for action in noqa] == ["Disable LB101 for this line (`# noqa: LB101`)"]
    assert noqa[0].edit is not None
    text = apply_workspace_edit(noqa[0].edit, {uri: (root / "app/client.py").read_text()})[uri]
    assert "client = httpx.AsyncClient()  # noqa: LB101\n" in text
    assert codes(await change_document(client, uri, text, 2)) == ["LB201"]

    other = (root / "app/other.py").as_uri()
    await client.workspace_execute_command_async(types.ExecuteCommandParams("loopbound.checkWorkspace"))
    assert codes(list(client.diagnostics[other])) == ["LB101", "LB201"]  # a file never opened


@pytest.mark.asyncio
async def test_bad_buffers_never_bring_the_server_down(client: LanguageClient, tmp_path: Path) -> None:
    root = project(tmp_path / "work", {"app/ok.py": MODULE})
    outside = project(tmp_path / "elsewhere", {"loose.py": MODULE})
    await start(client, root)
    _, shown = await open_document(client, root / "app/broken.py", "import httpx\nclient = httpx.AsyncClient(\n")
    assert codes(shown) == ["LB001"]
    _, shown = await open_document(client, root / "app/nul.py", "import httpx\nclient = httpx.AsyncClient()\0\n")
    assert codes(shown) == ["LB001"]
    # Declared latin-1, holding a character latin-1 cannot write: logged, nothing published as findings.
    _, shown = await open_document(client, root / "app/latin.py", "# -*- coding: latin-1 -*-\nx = '\u20ac'\n")
    assert shown == []
    assert any("cannot be written as latin-1" in message.message for message in client.log_messages)
    _, shown = await open_document(client, root / "app/unknown.py", "# -*- coding: klingon -*-\nx = 1\n")
    assert shown == []
    _, shown = await open_document(client, outside / "loose.py")  # outside every workspace folder
    assert codes(shown) == ["LB101", "LB201"]
    _, shown = await open_document(client, root / "app/deleted.py", MODULE)  # no such file on disk
    assert codes(shown) == ["LB101", "LB201"]
    assert codes(await save_document(client, (root / "app/deleted.py").as_uri())) == ["LB101", "LB201"]
    client.text_document_did_open(types.DidOpenTextDocumentParams(  # not a file: nothing to say
        types.TextDocumentItem("untitled:Untitled-1", "python", 1, MODULE)))
    assert not [message for message in client.log_messages if "internal error" in message.message]
    # Still answering.
    _, shown = await open_document(client, root / "app/ok.py")
    assert codes(shown) == ["LB101", "LB201"]
    assert "untitled:Untitled-1" not in client.diagnostics


@pytest.mark.asyncio
async def test_each_workspace_folder_has_its_own_configuration(client: LanguageClient, tmp_path: Path) -> None:
    first = project(tmp_path / "first", {"pyproject.toml": '[tool.loopbound]\nignore = ["LB201"]\n', "a.py": MODULE})
    second = project(tmp_path / "second", {"loopbound.toml": 'ignore = ["LB101"]\n', "b.py": MODULE})
    await start(client, first, second)
    _, shown = await open_document(client, first / "a.py")
    assert codes(shown) == ["LB101"]
    _, shown = await open_document(client, second / "b.py")
    assert codes(shown) == ["LB201"]


@pytest.mark.asyncio
async def test_a_broken_configuration_is_reported_not_fatal(client: LanguageClient, tmp_path: Path) -> None:
    root = project(tmp_path, {"pyproject.toml": "[tool.loopbound]\nselect = [\"LB999\"]\n", "a.py": MODULE})
    await start(client, root)
    _, shown = await open_document(client, root / "a.py")
    assert shown == []
    assert any("unknown rule `LB999`" in message.message for message in client.messages)
    (root / "pyproject.toml").write_text("[tool.loopbound]\nselect = [\"LB1\"]\n")
    assert codes(await save_document(client, (root / "pyproject.toml").as_uri())) == []
    assert codes(list(client.diagnostics[(root / "a.py").as_uri()])) == ["LB101"]


# ---- fixes: the same text as `loopbound check --fix` ---------------------------------------------------

PER_FILE_CASES = sorted(case for case in FIXES.glob("*/*") if case.parent.name < "LB3" and (case / "input.py").exists())


def _place(case: Path) -> str:
    test_module = b"# test-file" in (case / "input.py").read_bytes()[:200]
    name = f"{case.parent.name}_{case.name}"
    return f"{name}/tests/test_snapshot.py" if test_module else f"{name}/app/snapshot.py"


def _case_tree(root: Path) -> dict[str, str]:
    """Every per-file fix snapshot's input in one project; the texts as an editor shows them (no BOM)."""
    texts = {}
    for case in PER_FILE_CASES:
        place = root / _place(case)
        place.parent.mkdir(parents=True, exist_ok=True)
        data = (case / "input.py").read_bytes()
        place.write_bytes(data)
        texts[_place(case)] = decode_source(str(place), data).text
    return texts


def _cli_fixed(root: Path, tmp: Path, *flags: str) -> dict[str, str]:
    """Every Python file after `loopbound check --fix FLAGS .` on a copy of the tree."""
    copy = tmp / f"cli{''.join(flags)}"
    shutil.copytree(root, copy)
    run_loopbound("check", "--fix", "--no-cache", *flags, ".", cwd=copy)
    return {str(path.relative_to(copy)): read_source(str(path)).text for path in sorted(copy.rglob("*.py"))}


async def _fix_all(client: LanguageClient, uri: str, text: str) -> str:
    offered = await code_actions(client, uri, only=["source.fixAll.loopbound"])
    if not offered:
        return text
    assert len(offered) == 1 and offered[0].kind == "source.fixAll.loopbound"
    assert offered[0].edit is not None and list(offered[0].edit.changes or {}) == [uri]
    return apply_text_edits(text, list((offered[0].edit.changes or {})[uri]))


@pytest.mark.asyncio
async def test_fix_all_gives_what_check_fix_gives(client: LanguageClient, tmp_path: Path) -> None:
    root = tmp_path / "project"
    texts = _case_tree(root)
    expected = {"safe": _cli_fixed(root, tmp_path), "unsafe": _cli_fixed(root, tmp_path, "--unsafe-fixes")}
    assert expected["safe"] != expected["unsafe"]
    await start(client, root)
    for place, text in texts.items():
        uri, _ = await open_document(client, root / place, text)
        assert await _fix_all(client, uri, text) == expected["safe"][place], place
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams({"loopbound": {"unsafeFixes": True}}))
    for place, text in texts.items():
        assert await _fix_all(client, (root / place).as_uri(), text) == expected["unsafe"][place], place


async def _quick_fixes(client: LanguageClient, uri: str, text: str) -> tuple[str, list[str]]:
    """Apply the first offered fix, again and again, saving each time, as a user clicking light bulbs would."""
    titles: list[str] = []
    for version in range(2, 40):
        fixes = [action for action in await code_actions(client, uri, only=[types.CodeActionKind.QuickFix])
                 if not action.title.startswith("Disable ")]
        if not fixes:
            return text, titles
        titles.append(fixes[0].title)
        assert fixes[0].edit is not None
        text = apply_workspace_edit(fixes[0].edit, {uri: text})[uri]
        await change_document(client, uri, text, version)
        await save_document(client, uri, text)
    raise AssertionError(f"quick fixes never ran out: {titles}")


@pytest.mark.asyncio
async def test_quick_fixes_one_by_one_give_what_check_fix_gives(client: LanguageClient, tmp_path: Path) -> None:
    root = tmp_path / "project"
    texts = _case_tree(root)
    expected = _cli_fixed(root, tmp_path, "--unsafe-fixes")
    await start(client, root, options={"unsafeFixes": True})
    offered = []
    for place, text in texts.items():
        uri, _ = await open_document(client, root / place, text)
        fixed, titles = await _quick_fixes(client, uri, text)
        assert fixed == expected[place], (place, titles)
        offered.extend(titles)
    assert any("(unsafe fix)" in title for title in offered)


@pytest.mark.asyncio
async def test_project_rule_fixes_edit_the_config_file_too(client: LanguageClient, tmp_path: Path) -> None:
    """LB306's fix writes the missing key into pyproject.toml: one WorkspaceEdit over another file."""
    root = project(tmp_path / "project", {"tests/test_x.py": TEST_MODULE.replace("scope=", "loop_scope="),
                                          "pyproject.toml": PYPROJECT})
    expected = _cli_fixed(root, tmp_path)
    await start(client, root)
    config_uri = (root / "pyproject.toml").as_uri()
    await open_document(client, root / "tests/test_x.py")
    assert codes(await eventually(client, config_uri, lambda shown: shown)) == ["LB306"]
    uri, _ = await open_document(client, root / "pyproject.toml", language="toml")
    fixes = [action for action in await code_actions(client, uri) if action.kind == types.CodeActionKind.QuickFix]
    assert len(fixes) == 1 and fixes[0].edit is not None and list(fixes[0].edit.changes or {}) == [config_uri]
    fixed = apply_workspace_edit(fixes[0].edit, {})[config_uri]
    run_loopbound("check", "--fix", "--no-cache", ".", cwd=tmp_path / "cli")
    assert fixed == (tmp_path / "cli" / "pyproject.toml").read_text(encoding="utf-8")
    assert expected  # the Python file is untouched by either
