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


async def diagnostics_for(client: LanguageClient, uri: str, *, after: int = 0) -> list[types.Diagnostic]:
    """The next diagnostics published for `uri` (the `after`-th skipped first)."""
    seen = 0
    while True:
        params = await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS),
                                        TIMEOUT)
        if params.uri == uri:
            if seen >= after:
                return list(params.diagnostics)
            seen += 1


async def until(client: LanguageClient, uri: str, wanted: Any) -> list[types.Diagnostic]:
    """Diagnostics of `uri` once `wanted(diagnostics)` holds (already published ones count)."""
    current = list(client.diagnostics.get(uri, []))
    while not wanted(current):
        current = await diagnostics_for(client, uri)
    return current


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return sorted(str(diagnostic.code) for diagnostic in diagnostics)


def open_document(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    source = path.read_text(encoding="utf-8") if text is None else text
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri, "python", version, source)))
    return uri


def change_document(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(version, uri),
        [types.TextDocumentContentChangeWholeDocument(text)]))


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
