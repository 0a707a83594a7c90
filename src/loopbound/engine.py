"""The per-file pipeline: read -> pre-filter -> decode -> parse -> rules -> suppressions -> findings.

Knows nothing of the terminal: it returns plain data, which the CLI hands to a reporter.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from loopbound.config import Settings
from loopbound.findings import Finding, Location
from loopbound.index.model import LoopTable, ModuleSummary
from loopbound.index.summary import light_summary, summarise_file
from loopbound.noqa import suppress as _suppress
from loopbound.registry import Registry
from loopbound.rules import FILE_RULE_GROUPS
from loopbound.rules.base import FileContext
from loopbound.rules.checker import SYNTAX_ERROR, UNUSED_NOQA
from loopbound.selection import resolve_selector
from loopbound.source import SourceError, decode, paused_gc, read_bytes
from loopbound.stamps import Stamp

if TYPE_CHECKING:
    from loopbound.discovery import CheckedFile
    from loopbound.project import FactsKeeper, ModuleReaderFunction, Project
    from loopbound.index.view import FileView


@dataclass
class FileResult:
    path: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    parsed: bool = False  # False when the pre-filter showed it cannot hold a finding
    summary: ModuleSummary | None = None  # what the project index needs of the file (index/summary.py)


# Words that let a file past the pre-filter besides the registry's own, whichever module it names.
_GROUP_TRIGGERS = tuple(group.triggers for group in FILE_RULE_GROUPS)


@lru_cache(maxsize=256)
def _trigger_pattern(words: frozenset[str]) -> re.Pattern[bytes]:
    alternatives = "|".join(sorted(re.escape(word) for word in words))
    return re.compile(rb"\b(?:" + alternatives.encode() + rb")\b")


@lru_cache(maxsize=256)
def _names_under(module_names: frozenset[str]) -> tuple[tuple[bytes, ...], re.Pattern[bytes]]:
    """A registry module's names and the group triggers, as bytes to look for and as one pattern. The bytes
    leave out a name that holds another (`LifoQueue`, `Queue`): a text holding it holds the other."""
    names = module_names.union(*_GROUP_TRIGGERS)
    shortest = sorted(name for name in names if not any(other != name and other in name for other in names))
    return tuple(name.encode() for name in shortest), _trigger_pattern(names)


def may_have_findings(data: bytes, registry: Registry) -> bool:
    """The byte-level pre-filter: most files create no registry resource and are never parsed.

    A file must import a registry module and name, anywhere, the last part of a name under that
    module (`httpx` and `AsyncClient`, `asyncio` and `Lock`); words of another library's row do not
    count. The rules resolve names through the file's imports, so a module counts only where it is
    imported: on a line holding `import` (or continued from or onto one by a backslash), which is a
    small part of a file that says `asyncio` on many lines. A module is named there when it is one of the
    lines' words, which `_WORD_BYTES` splits them into as a bytes regex's `\b` does (half the time of
    searching the lines for every module word). A name is looked for with a plain substring search before
    the word-boundary regex confirms it.
    """
    imports = _import_lines(data)
    if not imports:
        return False
    pairs = registry.names_by_module
    for word in _module_words(frozenset(pairs)).intersection(imports.translate(_WORD_BYTES).split()):
        encoded, pattern = _names_under(pairs[word.decode()])
        if any(name in data for name in encoded) and pattern.search(data) is not None:
            return True
    return False


# Every byte that a bytes regex's `\w` does not match made a space, so that `split` gives the words `\b` bounds.
_WORD_BYTES = bytes(byte if chr(byte).isascii() and (chr(byte).isalnum() or byte == ord("_")) else ord(" ")
                    for byte in range(256))


@lru_cache(maxsize=256)
def _module_words(modules: frozenset[str]) -> frozenset[bytes]:
    return frozenset(module.encode() for module in modules)


def _import_lines(data: bytes) -> bytes:
    """Every line that holds `import`, with the lines a backslash joins to it, one after the other.

    A line is continued when it ends with a backslash before its LF or CRLF (byte 92, then 13): tested
    in place rather than by a call per line, since every file of a tree passes here. Lines that follow
    one another in the file (an import block) are taken as one slice: they are already one after the other."""
    find, rfind = data.find, data.rfind
    found = find(b"import")
    if found == -1:
        return b""
    pieces: list[bytes] = []
    start = _line_start(data, found)
    while True:
        end = find(b"\n", found)
        while end > 0 and (data[end - 1] == 92 or (data[end - 1] == 13 and end > 1 and data[end - 2] == 92)):
            end = find(b"\n", end + 1)
        if end == -1:
            pieces.append(data[start:])
            break
        found = find(b"import", end)
        if found == -1:
            pieces.append(data[start:end])
            break
        # The line before the next one's ends at `end`, and does not end with a backslash: it starts after.
        if rfind(b"\n", 0, found) != end:
            pieces.append(data[start:end])
            start = _line_start(data, found)
    return b"\n".join(pieces)


def _line_start(data: bytes, position: int) -> int:
    """Where the line holding `position` starts, with the lines a backslash joins before it."""
    start = data.rfind(b"\n", 0, position) + 1
    # The line before `start` ends at start - 1: its last byte is at start - 2.
    while start > 1 and (data[start - 2] == 92 or (data[start - 2] == 13 and start > 2 and data[start - 3] == 92)):
        start = data.rfind(b"\n", 0, start - 1) + 1
    return start


_PER_FILE_CODES = frozenset({SYNTAX_ERROR.code, UNUSED_NOQA.code}).union(*(group.codes for group in FILE_RULE_GROUPS))
# The rules whose findings the project index adds to and grades: a run that selects none needs no summaries.
INDEXED_CODES = frozenset().union(*(group.codes for group in FILE_RULE_GROUPS))


def needs_parse(data: bytes, settings: Settings, selected: frozenset[str]) -> bool:
    """False when the pre-filter proves the file holds no finding (no trigger word, no stale noqa)."""
    if not selected & _PER_FILE_CODES:
        return False  # only whole-tree rules (LB3) are selected: they read the files themselves
    stale_noqa_possible = UNUSED_NOQA.code in selected and b"noqa" in data
    return stale_noqa_possible or may_have_findings(data, settings.registry)


def check_source(data: bytes, path: str, settings: Settings, selected: frozenset[str], *,
                 is_test: bool = False, prefilter: bool = True, summarise_for_index: bool = True,
                 parse: Callable[[str, str], ast.Module] | None = None, index: FileView | None = None,
                 parsed: Callable[[str, ast.Module], None] | None = None) -> FileResult:
    """One file's per-file findings, and (`summarise_for_index`) its summary for the project index.

    `parse(source, path)` stands for `ast.parse` (it must give the same tree): an editor's buffer reuses
    the statements of its previous version that an edit left alone. With `index`, the rules also see the
    project's resource makers, in the same pass: the findings made through one (`made_through`) follow
    the others, suppressed on their own as the project pass (index.check) suppresses them. `parsed` gets
    the text and the tree once the rules are done with it (project.parsed_keeper).
    """
    result = FileResult(path)
    indexed = summarise_for_index and bool(selected & INDEXED_CODES)
    if prefilter and not needs_parse(data, settings, selected):
        if indexed:
            result.summary = light_summary(data, is_test)
        return result
    try:
        source = decode(data)
    except SourceError as error:
        result.error = f"{path}: {error}"
        return result
    result.parsed = True
    if "\0" in source:
        before = source[: source.index("\0")]
        row, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        result.findings = _suppress([_finding_at(path, row, column, "the file contains a NUL byte")], source,
                                    selected)
        return result
    with paused_gc():
        try:
            tree = parse(source, path) if parse is not None else ast.parse(source, filename=path)
        except SyntaxError as error:
            result.findings = _suppress([_syntax_finding(path, error, source)], source, selected)
            return result
        context = FileContext(path=path, source=source, tree=tree, registry=settings.registry, is_test_file=is_test,
                              index=index)
        if indexed:
            result.summary = summarise_file(context, data)
        findings: list[Finding] = []
        for group in FILE_RULE_GROUPS:
            if group.codes & selected:
                findings.extend(finding for finding in group.check(context) if finding.code in selected)
        if parsed is not None:
            parsed(source, tree)
    made_through = [finding for finding in findings if finding.datum("made_through")] if index is not None else []
    if made_through:
        findings = [finding for finding in findings if not finding.datum("made_through")]
    result.findings = _suppress(findings, source, selected, path)
    if made_through:
        result.findings += _suppress(made_through, source, selected, path)
    return result


def _finding_at(path: str, row: int, column: int, message: str) -> Finding:
    location = Location(row, column)
    return Finding(SYNTAX_ERROR.code, SYNTAX_ERROR.name, message, path, location, location, SYNTAX_ERROR.severity)


def _syntax_finding(path: str, error: SyntaxError, source: str) -> Finding:
    row = error.lineno or 1
    column = max(error.offset or 1, 1)
    return _finding_at(path, row, column, f"cannot parse the file: {error.msg}")


def per_file_selected(relative: str, settings: Settings, selected: frozenset[str]) -> frozenset[str]:
    """Codes left for the file at `relative` (to the project root) once `per-file-ignores` has taken its own."""
    if not settings.per_file_ignores:
        return selected
    from loopbound.patterns import matches_any  # not needed to check a file

    for pattern, codes in settings.per_file_ignores:
        if matches_any((pattern,), relative):
            for code in codes:
                selected = selected - (resolve_selector(code) or frozenset())
    return selected


def check_file(file: CheckedFile, settings: Settings, selected: frozenset[str]) -> FileResult:
    return check_path(file.path, file.shown, settings, per_file_selected(file.relative, settings, selected),
                      file.is_test)


def check_path(path: str | Path, shown: str, settings: Settings, selected: frozenset[str], is_test: bool,
               stamped: Stamp = None) -> FileResult:
    """Read and check one file whose shown path, codes and test status are already known (the cache
    keys on them, so parallel.py works them out before reading). `stamped`: the file's stamp from before
    it was read, when the LB3 pass may take the facts of a test module parsed here (project.PARSED)."""
    try:
        data = read_bytes(path)
    except SourceError as error:
        return FileResult(shown, error=f"{shown}: {error}")
    keep: FactsKeeper | None = (_project_model().parsed_keeper(path, stamped, data, settings.registry)
                                if stamped is not None else None)
    result = check_source(data, shown, settings, selected, is_test=is_test, parsed=keep)
    if keep is not None:
        keep.finish(data)
    return result


@lru_cache(maxsize=1)
def _project_model() -> ModuleType:
    """The project model, imported when a file is first checked for the LB3 pass (project.PARSED), not by every
    user of the checker; once, as an import statement per file cost 4 ms of CPU on the benchmark corpus."""
    import loopbound.project

    return loopbound.project


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    files_checked: int = 0
    summaries: dict[str, ModuleSummary] = field(default_factory=dict)  # by shown path, for the project index
    warnings: list[str] = field(default_factory=list)  # reported, but the run does not fail for them
    # The LB3 pass's loop table (rules/loop_table.py), for the project index's reachability; None when the
    # pass did not run or its codes and the index's are all deselected.
    loops: LoopTable | None = None

    @classmethod
    def of_files(cls, results: Iterable[FileResult]) -> CheckResult:
        """Every file's findings in the deterministic order (path, row, column, code), and its errors."""
        collected = cls()
        for file_result in results:
            collected.files_checked += 1
            collected.findings.extend(file_result.findings)
            if file_result.summary is not None:
                collected.summaries[file_result.path] = file_result.summary
            if file_result.error:
                collected.errors.append(file_result.error)
        collected.findings.sort(key=lambda finding: finding.sort_key)
        return collected


def check_files(files: Iterable[CheckedFile], settings: Settings, selected: frozenset[str]) -> CheckResult:
    """The plain serial pipeline; parallel.run_checks adds the cache and workers around the same steps."""
    return CheckResult.of_files(check_file(file, settings, selected) for file in files)


def _project(python_files: Iterable[Path], config_files: Iterable[Path], settings: Settings,
             reader: ModuleReaderFunction | None) -> Project:
    from loopbound.asyncio_declarations import target
    from loopbound.project import build

    stated = settings.target_pytest_asyncio
    return build(python_files, config_files, settings.project_root, target(stated) if stated else None,
                 settings.registry, reader)


def check_project(python_files: Iterable[Path], config_files: Iterable[Path], settings: Settings,
                  selected: frozenset[str], *, inputs: list[Path] | None = None,
                  folders: list[Path] | None = None, reader: ModuleReaderFunction | None = None) -> CheckResult:
    """The LB3 pass: rules that need the pytest config and conftest.py files, not one file at a time.

    Findings in Python files honour `# noqa` and per-file-ignores like the per-file pass; findings
    in config files honour per-file-ignores. A config file pytest would refuse is an error.
    `inputs` and `folders`, when given, receive every file the answer depends on and every folder
    searched for a config (for the cache); `reader`
    reads one module for the pass (the cache's keeps each module's facts between runs).
    """
    from loopbound.rules import PROJECT_RULE_GROUPS

    groups = [group for group in PROJECT_RULE_GROUPS if group.codes & selected]
    result = CheckResult()
    graded = bool(selected & INDEXED_CODES)  # the project index grades with the loop table
    if not groups and not graded:
        return result
    project = _project(python_files, config_files, settings, reader)
    if graded:
        from loopbound.rules.loop_table import loop_table

        result.loops = loop_table(project)  # reads the modules unittest classes take their bases from
    if inputs is not None:
        from loopbound.project import inputs as project_inputs

        inputs.extend(project_inputs(project))
    if folders is not None:
        from loopbound.project import searched_folders

        folders.extend(searched_folders(project))
    if not groups:
        return result
    result.errors.extend(str(error) for error in project.config_errors.values())
    result.warnings.extend(f"{error}; it governs none of the checked files"
                           for path, error in project.config_warnings.items() if path not in project.config_errors)
    from loopbound.discovery import relative_to_root

    by_path: dict[str, list[Finding]] = {}
    for group in groups:
        for finding in group.check(project):
            by_path.setdefault(finding.path, []).append(finding)
    sources = {module.display: module for module in project.modules.values()}
    for shown, findings in by_path.items():
        file_selected = per_file_selected(relative_to_root(shown, settings), settings, selected)
        module = sources.get(shown)
        if module is not None:
            result.findings.extend(_suppress(findings, module.source, file_selected))
        else:
            result.findings.extend(finding for finding in findings if finding.code in file_selected)
    result.findings.sort(key=lambda finding: finding.sort_key)
    return result
