"""The table code -> fix builder, and attaching fixes to findings only when an output needs them.

Builders are named as `module:function` strings and imported on first use, so importing this
package (or running a plain `loopbound check`) never imports libcst.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from importlib import import_module
from pathlib import Path

from loopbound.config import Settings
from loopbound.discovery import is_test_file
from loopbound.findings import Finding, Fix
from loopbound.fixes.context import Builder, FixContext, Reader
from loopbound.fixes.files import read_source
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
    """
    checked = tuple(files)
    reader = read or _read_file
    contexts: dict[str, FixContext | None] = {}
    attached = []
    for finding in findings:
        # A resource made through the project's own code ("made_through") is beyond what the codemods rewrite.
        builder = builder_for(finding.code) if finding.fix is None and not finding.datum("made_through") else None
        if builder is None:
            attached.append(finding)
            continue
        if finding.path not in contexts:
            contexts[finding.path] = _context(finding.path, settings, reader, checked)
        context = contexts[finding.path]
        fix = _build(builder, finding, context, notes) if context else None
        attached.append(dataclasses.replace(finding, fix=fix) if fix else finding)
    return attached


def _context(path: str, settings: Settings, reader: Reader, files: tuple[str, ...]) -> FixContext | None:
    try:
        text = reader(path)
    except (OSError, UnicodeDecodeError, SyntaxError):
        return None  # the check already reported the unreadable file
    return FixContext(path, text, settings, is_test_file(Path(path), settings) and collected_by_pytest(Path(path)),
                      reader, files)


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
