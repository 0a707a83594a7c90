"""The table code -> fix builder, and attaching fixes to findings only when an output needs them.

Builders are named as `module:function` strings and imported on first use, so importing this
package (or running a plain `loopbound check`) never imports libcst.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from importlib import import_module
from pathlib import Path

from loopbound.config import Settings
from loopbound.discovery import is_test_file
from loopbound.findings import Finding, Fix
from loopbound.fixes.context import Builder, FixContext, Reader
from loopbound.fixes.files import read_source
from loopbound.fixes.text import newline_of
from loopbound.project import is_test_module
from loopbound.pytest_config import PytestConfigError, locate

BUILDERS: dict[str, str] = {
    "LB101": "loopbound.fixes.module_resource:build",
    "LB201": "loopbound.fixes.lifecycle:wrap_in_async_with",
    "LB202": "loopbound.fixes.lifecycle:add_await",
    "LB203": "loopbound.fixes.lifecycle:release_in_finally",
    "LB204": "loopbound.fixes.lifecycle:release_after_yield",
    "LB301": "loopbound.fixes.loop_scope:add_test_loop_scope",
    "LB302": "loopbound.fixes.loop_alignment:align_test_loops",
    "LB303": "loopbound.fixes.event_loop:retire_event_loop",
    "LB304": "loopbound.fixes.loop_scope:use_pytest_asyncio_fixture",
    "LB305": "loopbound.fixes.loop_scope:rename_mark_scope",
    "LB306": "loopbound.fixes.loop_scope:set_fixture_loop_scope",
    "LB308": "loopbound.fixes.loop_alignment:widen_fixture_loop",
}

# Builders that rewrite only the function holding the finding: they get a context over that
# function's top-level statement (`windows.py`), not over the whole file.
WITHIN_STATEMENT = frozenset({"LB201", "LB203", "LB204"})


def builder_for(code: str) -> Builder | None:
    target = BUILDERS.get(code)
    if target is None:
        return None
    module_name, _, function = target.partition(":")
    builder: Builder = getattr(import_module(module_name), function)
    return builder


def _read_file(path: str) -> str:
    return read_source(path).text


def attach_fixes(findings: Iterable[Finding], settings: Settings, *, read: Reader | None = None,
                 notes: list[str] | None = None, files: Iterable[str] = ()) -> list[Finding]:
    """The same findings, each with its Fix when its rule has a builder that can rewrite this case.

    `files` are the other checked files: a fix that removes a module-level name looks there for importers.
    A fix built on one statement (`WITHIN_STATEMENT`) has the same edits as one built on the whole
    file (`edits_between` sets aside the lines the texts share at both ends), so every output uses it.
    """
    contexts = _Contexts(settings, read or _read_file, tuple(files))
    attached = []
    for finding in findings:
        # A resource made through the project's own code ("made_through") is beyond what the codemods rewrite.
        builder = builder_for(finding.code) if finding.fix is None and not finding.datum("made_through") else None
        if builder is None:
            attached.append(finding)
            continue
        context = contexts.around(finding) if finding.code in WITHIN_STATEMENT else contexts.whole(finding.path)
        fix = _build(builder, finding, context, notes) if context else None
        attached.append(dataclasses.replace(finding, fix=fix) if fix else finding)
    return attached


class _Contexts:
    """Fix contexts made once per file, and once per top-level statement that a finding is in."""

    def __init__(self, settings: Settings, read: Reader, files: tuple[str, ...]) -> None:
        self.settings, self.files = settings, files
        self.read: Reader = functools.cache(read)  # importers of several names read the same files
        self.files_seen: dict[str, FixContext | None] = {}
        self.statements: dict[tuple[str, int], FixContext | None] = {}

    def whole(self, path: str) -> FixContext | None:
        if path not in self.files_seen:
            try:
                text = self.read(path)
            except (OSError, UnicodeDecodeError, SyntaxError):
                text = None  # the check already reported the unreadable file
            self.files_seen[path] = None if text is None else FixContext(
                path, text, self.settings, is_test_file(Path(path), self.settings) and collected_by_pytest(Path(path)),
                self.read, self.files)
        return self.files_seen[path]

    def around(self, finding: Finding) -> FixContext | None:
        """A context over the top-level statement holding the finding; the whole file's when that
        slice does not parse on its own (a statement boundary the text scan got wrong)."""
        import libcst

        whole = self.whole(finding.path)
        if whole is None:
            return None
        found = whole.windows().around(finding.start.row, newline_of(whole.text))
        if found is None:
            return whole
        text, first_row = found
        key = (finding.path, first_row)
        if key not in self.statements:
            context = FixContext(whole.path, text, whole.settings, whole.is_test, whole.read, whole.files,
                                 first_row=first_row, newline=newline_of(whole.text))
            try:
                context.module()
            except libcst.ParserSyntaxError:
                context = whole
            self.statements[key] = context
        return self.statements[key]


def collected_by_pytest(path: Path) -> bool:
    """Whether pytest runs this module (its `python_files`, or conftest.py), so that fixtures reach its code.

    A helper module under tests/ that tests import is a test file for the rules, but turning its global
    into a fixture would break every importer: for fixes it is ordinary code.
    """
    if path.name == "conftest.py":
        return True
    try:
        config = locate(path)
    except PytestConfigError:
        config = None
    return is_test_module(path.name, config)


def _build(builder: Builder, finding: Finding, context: FixContext, notes: list[str] | None) -> Fix | None:
    import libcst

    try:
        return builder(finding, context)
    except libcst.ParserSyntaxError:
        return None  # ast parsed it but libcst cannot (rare syntax): report without a fix
    except Exception as error:  # noqa: BLE001 - a codemod bug must cost one fix, not the whole run
        if notes is not None:
            notes.append(f"{finding.path}:{finding.start.row}: no fix for {finding.code}: "
                         f"the codemod failed ({type(error).__name__}: {error})")
        return None
