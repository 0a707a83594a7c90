"""The language server: LSP messages wired to the checks, the code actions and the publishing of diagnostics.

Per-file rules run on the unsaved buffer (on open, and on change after a short debounce); the
project rules (LB3) run over the buffer's workspace folder on open and on save, through the
cache `loopbound check` keeps. Nothing a buffer holds may bring the server down: every handler
logs what went wrong to the client's output channel and carries on.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from loopbound import __version__
from loopbound.config import CONFIG_FILES, ConfigError
from loopbound.discovery import PYTEST_CONFIG_NAMES
from loopbound.findings import Finding
from loopbound.rules import PROJECT_RULE_GROUPS
from loopbound.fixes.builders import attach_fixes
from loopbound.fixes.files import read_source
from loopbound.fixes.run import fix_buffer
from loopbound.server import actions
from loopbound.server.convert import Positions, absolute, diagnostic, related_information
from loopbound.server.documents import Checked, Debouncer, buffer_bytes, check_buffer, is_python
from loopbound.server.projects import FileSetup, Projects
from loopbound.server.settings import merged, parse_settings
from loopbound.server.reparse import Reparser
from loopbound.server.tree import FolderCheck

CHECK_WORKSPACE = "loopbound.checkWorkspace"
_PROJECT_CODES = frozenset().union(*(group.codes for group in PROJECT_RULE_GROUPS))
Handler = TypeVar("Handler", bound=Callable[..., Any])


def guarded(handler: Handler) -> Handler:
    """A failing handler logs its traceback to the client and answers nothing, instead of failing the server."""
    @functools.wraps(handler)
    def run(server: LoopboundServer, *args: Any) -> Any:
        try:
            return handler(server, *args)
        except Exception:  # noqa: BLE001 - the editor session must survive any bug or bad input
            server.log(f"internal error in {handler.__name__}:\n{traceback.format_exc()}", types.MessageType.Error)
            return None
    return run  # type: ignore[return-value]


class LoopboundServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("loopbound", __version__)
        self.projects = Projects()
        self.buffers: dict[str, Checked] = {}
        self.languages: dict[str, str] = {}
        self.parsers: dict[str, Reparser] = {}  # per open buffer: its last version's tree, to parse the next
        self.project_findings: dict[Path, dict[Path, list[Finding]]] = {}  # folder -> file -> LB3 findings
        self.trees: dict[Path, FolderCheck] = {}  # folder -> its last whole check (loopbound check in it)
        self.workspace_checked_files: set[Path] = set()  # shown while closed: the workspace check asked for them
        self.debouncer = Debouncer()
        self.reported_errors: set[str] = set()
        self.raw_settings: object = None  # as last applied: a change's keys go over them

    # ---- plumbing -------------------------------------------------------------------------------

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(kind, message))

    def report_once(self, message: str) -> None:
        """A configuration error is shown to the user once, then only logged."""
        self.log(message, types.MessageType.Error)
        if message not in self.reported_errors:
            self.reported_errors.add(message)
            self.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"loopbound: {message}"))

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)

    def set_folders(self) -> None:
        folders = [to_fs_path(folder.uri) for folder in self.workspace.folders.values()]
        if not folders and self.workspace.root_path:
            folders = [self.workspace.root_path]
        self.projects.folders = [Path(folder).resolve() for folder in folders if folder]

    def text_of(self, shown: str) -> str | None:
        """A file's current text: the open buffer when there is one, else the file on disk."""
        path = absolute(shown)
        uri = from_fs_path(str(path))
        if uri in self.buffers:
            return self.buffers[uri].text
        return _disk_text(path)

    def read(self, shown: str) -> str:
        text = self.text_of(shown)
        if text is None:
            raise OSError(f"{shown}: cannot read the file")
        return text

    def setup(self, path: Path) -> FileSetup | None:
        try:
            return self.projects.setup(path)
        except ConfigError as error:
            self.report_once(str(error))
            return None

    # ---- checking and publishing ----------------------------------------------------------------

    def check(self, uri: str) -> None:
        document = self.workspace.text_documents.get(uri)
        path = _path_of(uri)
        if document is None or path is None:
            return  # not a file (an unsaved new buffer, a diff view): nothing to say about it
        setup = self.setup(path)
        if setup is None:
            self.buffers.pop(uri, None)
            self.publish(uri)
            return
        if not is_python(path, self.languages.get(uri)):
            # A pytest config: no per-file rules, only what the project rules found in it (and their fixes).
            self.buffers[uri] = Checked(document.version, document.source, setup, [])
            self.publish(uri)
            return
        folder_check = self.trees.get(setup.folder) if setup.folder is not None else None
        edited = folder_check is not None and _disk_text(path) != document.source
        resolved = folder_check.resolved if folder_check is not None else None
        view = folder_check.view(setup, document.source) if folder_check is not None and edited else None
        if folder_check is not None and folder_check.resolved is not resolved:
            asyncio.get_running_loop().call_soon(settle_memory)  # an index was resolved: kept until a save
        checked, problem = check_buffer(document.source, document.version, setup,
                                        self.parsers.setdefault(uri, Reparser()), view)
        if problem is not None:
            self.log(problem, types.MessageType.Warning)
        self.buffers[uri] = checked
        self.publish(uri)

    def project_findings_of(self, path: Path) -> list[Finding]:
        """The LB3 findings the last project passes put on a file, over every workspace folder."""
        return [finding for by_file in self.project_findings.values() for finding in by_file.get(path, [])]

    def publish(self, uri: str) -> None:
        path = _path_of(uri)
        checked = self.buffers.get(uri)
        findings: list[Finding] = self.graded(checked) if checked else []
        if path is not None:
            findings.extend(self.project_findings_of(path))
            if checked is None and path in self.workspace_checked_files:
                folder_check = self.trees.get(self.projects.folder_of(path) or path)
                findings.extend(folder_check.findings.get(path, []) if folder_check else [])
        text = checked.text if checked else (self.text_of(str(path)) if path else None)
        if findings and text is not None and path is not None:
            setup = checked.setup if checked else self.setup(path)
            if setup is not None:
                findings = self.projects.shown(findings, setup.settings)
        else:
            findings = []
        positions = Positions(text or "", self.encoding)
        diagnostics = [diagnostic(finding, positions, related_information(finding, self.text_of, self.encoding))
                       for finding in sorted(findings, key=lambda finding: finding.sort_key)]
        version = checked.version if checked else None
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, diagnostics, version))

    def graded(self, checked: Checked) -> list[Finding]:
        """A buffer's per-file findings as `loopbound check` reports them: as the last check of its folder
        graded the file when the buffer is what is on disk, else graded against that check's index."""
        setup = checked.setup
        folder_check = self.trees.get(setup.folder) if setup.folder is not None else None
        if folder_check is None or not folder_check.holds(setup.path) or not is_python(setup.path, None):
            return list(checked.findings)
        if checked.graded is None:
            saved = folder_check.current(setup.path)
            if saved is not None and _disk_text(setup.path) == checked.text:
                checked.graded = saved
            else:
                checked.graded = folder_check.grade(setup, checked.text, checked.findings, checked.seen_makers)
        return list(checked.graded)

    def check_project(self, folder: Path) -> set[str]:
        """Run the LB3 pass over a folder and publish every file whose project findings changed."""
        try:
            result = self.projects.check_project(folder)
        except ConfigError as error:
            self.report_once(str(error))
            return set()
        for problem in result.errors:
            self.log(problem, types.MessageType.Warning)
        published = self._replace(self.project_findings, folder, result.findings)
        folder_check = self.trees.get(folder)
        if folder_check is not None and folder_check.ran_lb3(result.loops):
            # How many loops a test module runs moved (a mark, a conftest.py, a pinned release): every
            # open buffer of the folder is graded again.
            self._recheck_folder(folder)
        asyncio.get_running_loop().call_soon(settle_memory)
        return published

    def check_tree(self, folder: Path, recheck: bool = True) -> None:
        """Check the folder whole, as `loopbound check` in it would; publish what changed, and check the
        open buffers in it again (unless `recheck` is off: the caller checks the one it opens)."""
        try:
            result, python_files, settings, selected, started = self.projects.check_folder(folder)
        except ConfigError as error:
            self.report_once(str(error))
            return
        for problem in result.errors:
            self.log(problem, types.MessageType.Warning)
        self.trees[folder] = FolderCheck.of(result, python_files, settings, selected, _PROJECT_CODES, started)
        self._replace(self.project_findings, folder,
                      [finding for finding in result.findings if finding.code in _PROJECT_CODES],
                      publish_open=False)
        if recheck:
            self._recheck_folder(folder)  # its settings or the pytest config may be new
        asyncio.get_running_loop().call_soon(settle_memory)

    def _recheck_folder(self, folder: Path) -> None:
        for uri in list(self.workspace.text_documents):
            path = _path_of(uri)
            if path is not None and self.projects.folder_of(path) == folder:
                self.check(uri)

    def saved(self, path: Path) -> None:
        """A saved Python file: checked again and graded against the project, as `loopbound check` would."""
        setup = self.setup(path)
        folder_check = self.trees.get(setup.folder) if setup is not None and setup.folder is not None else None
        if setup is None or folder_check is None or not is_python(path, None):
            return
        changed = folder_check.saved(setup)
        for uri, checked in list(self.buffers.items()):
            if checked.setup.path == path:
                checked.graded = None  # the file is on disk now: graded as the check of its folder grades it
            elif checked.setup.folder == setup.folder and changed:
                if checked.seen_makers:
                    self.check(uri)  # its check saw the makers of the index before: with the new ones
                else:
                    checked.graded = None  # the index changed: what it says of the others may change
                    self.publish(uri)

    def check_workspace(self) -> None:
        for folder in self.projects.folders:
            self.check_tree(folder)
            folder_check = self.trees.get(folder)
            if folder_check is not None:
                before = set(self.workspace_checked_files)
                self.workspace_checked_files |= set(folder_check.findings)
                for path in sorted(set(folder_check.findings) | before):
                    uri = from_fs_path(str(path))
                    if uri is not None and uri not in self.buffers:
                        self.publish(uri)
        self.log(f"checked {len(self.projects.folders)} workspace folder(s)")

    def _replace(self, store: dict[Path, dict[Path, list[Finding]]], folder: Path, findings: list[Finding],
                 publish_open: bool = True) -> set[str]:
        """Store a folder's findings; publish the files they changed (and open ones they touch); say which."""
        before = store.get(folder, {})
        after: dict[Path, list[Finding]] = {}
        for finding in findings:
            after.setdefault(absolute(finding.path), []).append(finding)
        store[folder] = after
        published = set()
        for path in sorted(set(before) | set(after)):
            uri = from_fs_path(str(path))
            if uri is None or (uri in self.buffers and not publish_open):
                continue  # an open buffer the caller checks and publishes itself
            if before.get(path) != after.get(path) or uri in self.buffers:
                self.publish(uri)
                published.add(uri)
        return published

    def recheck_open(self, outside_folders: bool = False) -> None:
        for uri in list(self.workspace.text_documents):
            path = _path_of(uri)
            if not outside_folders or path is None or self.projects.folder_of(path) is None:
                self.check(uri)

    # ---- code actions -----------------------------------------------------------------------------

    def current(self, uri: str) -> Checked | None:
        """The buffer's check, redone first when an edit is still waiting for its debounce."""
        checked = self.buffers.get(uri)
        document = self.workspace.text_documents.get(uri)
        if document is not None and (checked is None or checked.version != document.version):
            self.debouncer.cancel(uri)
            self.check(uri)
            checked = self.buffers.get(uri)
        return checked

    def fixable(self, uri: str, checked: Checked) -> list[Finding]:
        """The buffer's findings with their fixes; project findings only while the buffer matches the disk."""
        if checked.with_fixes is None:
            findings = self.graded(checked)
            on_disk = _disk_text(checked.setup.path)
            if on_disk == checked.text:
                findings.extend(self.project_findings_of(checked.setup.path))
            findings = self.projects.shown(findings, checked.setup.settings)
            checked.with_fixes = attach_fixes(findings, checked.setup.settings, read=self.read)
        return checked.with_fixes

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        checked = self.current(uri)
        if checked is None:
            return []
        buffer = actions.Buffer(uri, checked.setup.shown, checked.text, self.encoding)
        found: list[types.CodeAction] = []
        only = params.context.only
        if actions.wanted(types.CodeActionKind.QuickFix, only):
            found.extend(actions.quick_fixes(buffer, self.fixable(uri, checked), params.range,
                                             self.projects.client.unsafe_fixes, self.text_of))
        if actions.wanted(actions.FIX_ALL, only) and is_python(checked.setup.path, None) and any(
                finding.fix for finding in self.fixable(uri, checked)):
            if only is None and self.resolves_edits:
                # Asked for every action (a light bulb): the fix loop waits until this one is picked.
                found.append(types.CodeAction("Fix all loopbound findings", kind=actions.FIX_ALL,
                                              data={"uri": uri, "version": checked.version}))
            else:
                fix_all = actions.fix_all_action(buffer, self.fix_all(checked))
                if fix_all is not None:
                    found.append(fix_all)
        return found

    @property
    def resolves_edits(self) -> bool:
        capabilities = self.client_capabilities.text_document
        support = capabilities.code_action.resolve_support if capabilities and capabilities.code_action else None
        return support is not None and "edit" in support.properties

    def resolve_code_action(self, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        checked = self.current(str(data.get("uri", "")))
        if action.kind == actions.FIX_ALL and checked is not None:
            buffer = actions.Buffer(str(data["uri"]), checked.setup.shown, checked.text, self.encoding)
            resolved = actions.fix_all_action(buffer, self.fix_all(checked))
            action.edit = resolved.edit if resolved is not None else types.WorkspaceEdit(changes={})
        return action

    def fix_all(self, checked: Checked) -> str:
        """The buffer after `loopbound check --fix` (with `--unsafe-fixes` when the client enables them)."""
        setup = checked.setup
        python_files, config_files = self.projects.tree(setup)
        run = fix_buffer(setup.path, buffer_bytes(checked.text), setup.settings,
                         self.projects.selected(setup.settings), unsafe=self.projects.client.unsafe_fixes,
                         python_files=python_files, config_files=config_files)
        for note in run.notes:
            self.log(note, types.MessageType.Warning)
        return run.files[setup.shown].text

    def hover(self, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        checked = self.current(uri)
        if checked is None:
            return None
        buffer = actions.Buffer(uri, checked.setup.shown, checked.text, self.encoding)
        project = self.project_findings_of(checked.setup.path)
        return actions.hover(buffer, self.projects.shown([*self.graded(checked), *project], checked.setup.settings),
                             params.position)

    # ---- settings ---------------------------------------------------------------------------------

    def change_settings(self, raw: object) -> None:
        self.apply_settings(merged(self.raw_settings, raw))

    def apply_settings(self, raw: object) -> None:
        self.raw_settings = raw
        parsed = parse_settings(raw)
        for problem in parsed.problems:
            self.log(f"settings: {problem}", types.MessageType.Warning)
        self.projects.reset(parsed.settings)
        self.reported_errors.clear()


def settle_memory() -> None:
    """Collect, then freeze what survives (the project pass's modules, kept for the next save) out of the
    collector's sight: otherwise every check of a buffer paid for rescanning them."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _path_of(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path).resolve() if path else None


def _disk_text(path: Path) -> str | None:
    try:
        return read_source(str(path)).text
    except (OSError, UnicodeDecodeError, SyntaxError, LookupError):
        return None


def is_config(path: Path) -> bool:
    return path.name in PYTEST_CONFIG_NAMES or path.name in CONFIG_FILES
