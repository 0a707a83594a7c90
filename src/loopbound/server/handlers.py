"""Which LSP message does what; the work itself is in LoopboundServer."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from loopbound.server.actions import KINDS
from loopbound.server.protocol import CHECK_WORKSPACE, LoopboundServer, _path_of, guarded, is_config


def build() -> LoopboundServer:
    from loopbound.unseen_edits import quiet_parse_warnings

    quiet_parse_warnings()  # the server parses every buffer it is sent, however it was started
    server = LoopboundServer()

    @server.feature(types.INITIALIZE)
    @guarded
    def initialize(ls: LoopboundServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options)

    @server.feature(types.INITIALIZED)
    @guarded
    def initialized(ls: LoopboundServer, params: types.InitializedParams) -> None:
        ls.set_folders()
        ls.log(f"loopbound {ls.version} serving {', '.join(map(str, ls.projects.folders)) or 'no workspace folder'}")

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guarded
    def did_change_configuration(ls: LoopboundServer, params: types.DidChangeConfigurationParams) -> None:
        ls.change_settings(params.settings)
        ls.trees.clear()
        for folder in ls.projects.folders:
            ls.check_tree(folder)  # re-checks the open buffers in it
        ls.recheck_open(outside_folders=True)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    @guarded
    def did_change_folders(ls: LoopboundServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        ls.set_folders()
        ls.recheck_open()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guarded
    def did_open(ls: LoopboundServer, params: types.DidOpenTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.languages[uri] = params.text_document.language_id
        path = _path_of(uri)
        folder = ls.projects.folder_of(path) if path is not None else None
        if folder is not None and folder not in ls.trees:
            ls.check_tree(folder, recheck=False)  # first: the buffer's one publish on open is graded by it
        ls.check(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded
    def did_change(ls: LoopboundServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.debouncer.schedule(uri, ls.projects.client.debounce_ms / 1000, lambda: guarded(_check)(ls, uri))

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    @guarded
    def did_save(ls: LoopboundServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        path = _path_of(uri)
        folder = ls.projects.folder_of(path) if path is not None else None
        if path is not None and is_config(path):
            # The settings or the pytest config may have changed: the folder and its open buffers again.
            if folder is not None:
                ls.check_tree(folder)
            ls.recheck_open(outside_folders=True)
        elif path is not None:
            ls.saved(path)
            if ls.current(uri) is None:
                ls.publish(uri)
        published = ls.check_project(folder) if folder is not None else set()
        if uri not in published:
            ls.publish(uri)  # once per save, with the project findings: what a client waiting on a save sees

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guarded
    def did_close(ls: LoopboundServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.debouncer.cancel(uri)
        ls.buffers.pop(uri, None)
        ls.languages.pop(uri, None)
        ls.parsers.pop(uri, None)
        ls.publish(uri)  # what remains is what the project and workspace checks found on disk

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=KINDS,
                                                                                 resolve_provider=True))
    @guarded
    def code_action(ls: LoopboundServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return ls.code_actions(params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    @guarded
    def resolve_code_action(ls: LoopboundServer, params: types.CodeAction) -> types.CodeAction:
        return ls.resolve_code_action(params)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded
    def hover(ls: LoopboundServer, params: types.HoverParams) -> types.Hover | None:
        return ls.hover(params)

    @server.command(CHECK_WORKSPACE)
    @guarded
    def check_workspace(ls: LoopboundServer, *args: Any) -> None:
        ls.check_workspace()

    return server


def _check(ls: LoopboundServer, uri: str) -> None:
    ls.check(uri)


def serve() -> None:
    """Speak LSP over stdin and stdout until the client says exit."""
    from loopbound import project

    project.MEMO = {}  # every save re-runs the project rules: re-read only the files that changed
    build().start_io()
