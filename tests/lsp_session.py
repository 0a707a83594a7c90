"""Driving `loopbound server` from the tests: a project on disk, a session, documents, waits for diagnostics."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

TIMEOUT = 60.0  # the machine is shared: generous, a stuck server still fails the test


async def start(client: LanguageClient, *folders: Path, options: dict[str, Any] | None = None,
                capabilities: str = "neovim") -> types.InitializeResult:
    return await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(capabilities),
        root_uri=folders[0].as_uri() if folders else None,
        workspace_folders=[types.WorkspaceFolder(folder.as_uri(), folder.name) for folder in folders] or None,
        initialization_options=options))


PUBLISHED: dict[int, dict[str, int]] = {}  # per client: how many times each URI's diagnostics were published


def count_publishes(client: LanguageClient) -> None:
    """Count every publish (an empty list twice is the same tuple, so the lists themselves cannot tell)."""
    counts = PUBLISHED.setdefault(id(client), {})
    features = client.protocol.fm.features
    store = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def counted(params: types.PublishDiagnosticsParams) -> None:
        counts[params.uri] = counts.get(params.uri, 0) + 1
        store(params)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = counted


def publishes(client: LanguageClient, uri: str) -> int:
    return PUBLISHED[id(client)].get(uri, 0)


async def published(client: LanguageClient, uri: str, before: int) -> list[types.Diagnostic]:
    """The diagnostics of `uri` once it was published more than `before` times."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while publishes(client, uri) <= before:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"no diagnostics published for {uri} within {TIMEOUT} s")
        await asyncio.sleep(0.005)
    return list(client.diagnostics[uri])


async def eventually(client: LanguageClient, uri: str, wanted: Any) -> list[types.Diagnostic]:
    """The diagnostics of `uri` once `wanted(diagnostics)` holds; what was published already counts."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while not wanted(list(client.diagnostics.get(uri, []))):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{uri}: never got the diagnostics wanted, last {client.diagnostics.get(uri)}")
        await asyncio.sleep(0.005)
    return list(client.diagnostics[uri])


async def after(client: LanguageClient, uri: str, send: Any) -> list[types.Diagnostic]:
    """Send a notification (a callable) and return the diagnostics published for `uri` after it."""
    before = publishes(client, uri)
    send()
    return await published(client, uri, before)


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return sorted(str(diagnostic.code) for diagnostic in diagnostics)


async def open_document(client: LanguageClient, path: Path, text: str | None = None, uri: str | None = None,
                        language: str = "python") -> tuple[str, list[types.Diagnostic]]:
    """Open a file (or a buffer with this text) and wait for its first diagnostics."""
    uri = uri or path.as_uri()
    source = path.read_text(encoding="utf-8") if text is None else text
    item = types.TextDocumentItem(uri, language, 1, source)
    return uri, await after(client, uri, lambda: client.text_document_did_open(types.DidOpenTextDocumentParams(item)))


async def change_document(client: LanguageClient, uri: str, text: str, version: int) -> list[types.Diagnostic]:
    params = types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version, uri),
                                               [types.TextDocumentContentChangeWholeDocument(text)])
    return await after(client, uri, lambda: client.text_document_did_change(params))


async def save_document(client: LanguageClient, uri: str, text: str | None = None) -> list[types.Diagnostic]:
    """Write the buffer as an editor does (in the file's own encoding), tell the server, wait for the
    diagnostics the save brings (the project rules run on save)."""
    from pygls.uris import to_fs_path

    from loopbound.fixes.files import read_source

    if text is not None:
        path = Path(to_fs_path(uri) or "")
        path.write_bytes(text.encode(read_source(str(path)).encoding if path.exists() else "utf-8"))
    params = types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri))
    return await after(client, uri, lambda: client.text_document_did_save(params))


async def code_actions(client: LanguageClient, uri: str, only: list[str] | None = None,
                       lines: tuple[int, int] = (0, 10**6)) -> list[types.CodeAction]:
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), types.Range(types.Position(lines[0], 0), types.Position(lines[1], 0)),
        types.CodeActionContext(list(client.diagnostics.get(uri, [])), only=only)))
    return [action for action in actions or [] if isinstance(action, types.CodeAction)]


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    """What an editor does with TextEdits (UTF-16 positions, as the test client negotiates)."""
    lines = text.splitlines(keepends=True) or [""]

    def offset(position: types.Position) -> int:
        if position.line >= len(lines):
            return len(text)
        before = sum(len(line) for line in lines[: position.line])
        units, index, line = 0, 0, lines[position.line]
        while units < position.character and index < len(line):
            units += len(line[index].encode("utf-16-le")) // 2
            index += 1
        return before + index

    for edit in sorted(edits, key=lambda edit: (edit.range.start.line, edit.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]
        lines = text.splitlines(keepends=True) or [""]
    return text


def apply_workspace_edit(edit: types.WorkspaceEdit, texts: dict[str, str]) -> dict[str, str]:
    """The texts (by URI) after the edit; files not in `texts` are read from disk."""
    from pygls.uris import to_fs_path

    result = dict(texts)
    for uri, edits in (edit.changes or {}).items():
        if uri not in result:
            result[uri] = Path(to_fs_path(uri) or "").read_text(encoding="utf-8")
        result[uri] = apply_text_edits(result[uri], list(edits))
    return result
