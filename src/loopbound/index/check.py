"""The whole-project pass over the per-file results: resources made through the project's own code,
lifespan-managed globals, and which findings a multi-loop entry point reaches.

It runs in the parent once the per-file results are in (from the workers or the results cache, which
stay per file: nothing here changes what one file's check returns). Summaries come from their own
cache; only the files that call one of the project's resource makers are parsed again here.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loopbound.blake2 import blake2b
from loopbound.stamps import is_settled, stamp
from loopbound.config import Settings
from loopbound.discovery import CheckedFile, relative_to_root
from loopbound.cache import project_result
from loopbound.engine import INDEXED_CODES, CheckResult, per_file_selected
from loopbound.findings import Finding, Severity
from loopbound.index.lifespan import lifespan_findings
from loopbound.index.reach import Reach, Reachability
from loopbound.index.graph import ExpectedModules, module_graph
from loopbound.index.resolution import IndexedModule, ProjectIndex, Symbol
from loopbound.index.model import LoopTable, ModuleSummary, loop_table_digest
from loopbound.index.store import SummaryStore
from loopbound.index.summary import CONSTRUCTORS, ENTRY_WORDS
from loopbound.index.view import FileView
from loopbound.noqa import suppress
from loopbound.resolved_index import ResolvedIndexCache, note_reads
from loopbound.resolved_index import question as resolved_question
from loopbound.rules.base import FileContext
from loopbound.rules.import_time_rules import GLOBAL_SINGLETON
from loopbound.rules import FILE_RULE_GROUPS, PROJECT_RULE_GROUPS
from loopbound.source import SourceError, decode, paused_gc, read_bytes

# Findings about something made once and shared by every loop: reachability decides their severity.
IMPORT_TIME_CODES = frozenset({"LB101", "LB102", "LB103", "LB104", "LB105", "LB106", "LB107"})
# Leaks whose cost ends with the process when a one-shot script runs them.
LEAK_CODES = frozenset({"LB201", "LB203"})
_GRADED_CODES = IMPORT_TIME_CODES | LEAK_CODES
PROJECT_CODES = frozenset().union(*(group.codes for group in PROJECT_RULE_GROUPS))  # the LB3 rules'


def build_index(python_files: Iterable[CheckedFile], summaries: dict[str, ModuleSummary], settings: Settings,
                store: SummaryStore, started: float, expected: ExpectedModules | None = None) -> ProjectIndex:
    """Every checked module with the summary the per-file pass gave it, resolved together. `expected`: the
    modules and imports resolved as the per-file results came in, when they are the ones to index."""
    graph = expected.graph_for(python_files, summaries) if expected is not None else None
    index = ProjectIndex(graph or module_graph(python_files, summaries, settings.project_root), settings.registry)

    tried: set[tuple[Path, tuple[bytes, ...]]] = set()

    def refine(module: IndexedModule, words: tuple[bytes, ...], entries: bool, loops_only: bool = False) -> bool:
        """A partial summary has its entry points and hooks already: a light one lacks them, and the search
        for hooks (`entries` without `loops_only`) reads the functions of a partial one that runs loops."""
        summary = module.summary
        wanted = summary.light or (summary.partial and (not entries or (summary.runs_loops and not loops_only)))
        if not wanted or (module.path, words) in tried:
            return False
        tried.add((module.path, words))
        full = store.full_summary(module.path, settings, module.is_test, words, started, loops_only)
        index.note_read(module.path, () if full is not None else words)
        if full is not None:
            module.refined(full)
        return full is not None

    index.refine = refine
    index.refine_loops = lambda module: refine(module, ENTRY_WORDS, True, loops_only=True)
    return index


ProjectFiles = Sequence[CheckedFile] | Callable[[], Sequence[CheckedFile] | None] | None


def check_index(python_files: list[CheckedFile], settings: Settings, selected: frozenset[str], result: CheckResult,
                cache_dir: Path | None, started: float, project_files: ProjectFiles = None,
                config_files: Sequence[Path] = (), loops: Callable[[], LoopTable] = dict,
                expected: ExpectedModules | None = None) -> CheckResult:
    """The per-file `result` with the project's own findings added and each finding's severity decided.

    `project_files`, when only part of the project is checked (pre-commit passes the changed files),
    are the rest of it: read for their imports, so that a test suite that is not checked still counts.
    Given as a function, they are found only when the checked files' findings may depend on them.
    `loops` gives the LB3 pass's loop table of the checked files (engine.check_project): asked for only
    once the findings are graded (or a cached answer is compared), so the pass can run meanwhile.
    `expected`: the modules and their imports, resolved as the per-file results came in (parallel.py).
    """
    if not selected & INDEXED_CODES or not result.summaries:
        return result
    summaries = dict(result.summaries)
    files = list(python_files)
    opened: SummaryStore | None = None  # not read when the cache answers, unless the named files were tried alone
    if callable(project_files):
        opened = SummaryStore.open(cache_dir, settings)
        alone = _answer_alone(files, summaries, result.findings, settings, opened, started, loops, expected)
        if alone is not None:
            return dataclasses.replace(result, findings=alone)
        project_files = project_files()
    if opened is None and project_files:
        opened = SummaryStore.open(cache_dir, settings)
    rest: list[CheckedFile] = []
    if opened is not None:
        for file in project_files or ():
            if file.shown not in summaries and file.path.suffix == ".py":
                light = opened.light(file.real, file.is_test, started)
                if light is not None:
                    summaries[file.shown] = light
                    rest.append(file)
    files.extend(rest)
    if rest:
        loops = _with_rest(loops, rest, config_files, settings, selected, cache_dir, started)
    loops = _once(loops)
    paths = [file.path for file in files] if cache_dir is not None else []  # what the caches key on: none, no Path
    resolved = ResolvedIndexCache(cache_dir, settings)  # first: it answers whenever the store's graded answer would
    asked = resolved_question(paths, config_files, settings, selected) if cache_dir is not None else ""
    answer = resolved.answer(asked, summaries, result.findings, graded, lambda: loop_table_digest(loops()))
    if answer is not None:
        return dataclasses.replace(result, findings=answer)
    store = opened or SummaryStore.open(cache_dir, settings)

    def question() -> str:
        return _question(paths, config_files, result.findings, selected, loop_table_digest(loops()))

    answer = store.answer(question)
    if answer is not None:
        return dataclasses.replace(result, findings=answer)
    index = build_index(files, summaries, settings, store, started, expected)
    makers = _maker_words(index)
    found = list(result.findings)
    for module in index.modules:
        if makers and _calls_a_maker(module, index, makers):
            found.extend(_indirect(module, index, makers, settings, selected, store))
    found = lifespan_findings(index, found, selected)
    reach = Reachability(index, loops)
    findings = sorted((_with_severity(finding, index, reach) for finding in found), key=lambda finding: finding.sort_key)
    verdicts = {module.shown: (reach.verdict(module), reach.kind(module))
                for module in {index.by_shown[finding.path] for finding in found
                               if needs_verdict(finding) and finding.path in index.by_shown}}
    if cache_dir is not None:
        digest = loop_table_digest(loops())
        resolved.remember(asked, summaries, paths, result.findings, index.read, findings, verdicts, started, digest)
        if all(is_settled(stamp(path), started) for path in [*paths, *config_files]):
            store.remember(question(), findings)
    store.save()
    return dataclasses.replace(result, findings=findings)


def _answer_alone(files: list[CheckedFile], summaries: dict[str, ModuleSummary], findings: list[Finding], settings: Settings,
                  store: SummaryStore, started: float, loops: Callable[[], LoopTable],
                  expected: ExpectedModules | None = None) -> list[Finding] | None:
    """The answer for named files without the rest of the project, when it provably cannot depend on it; else None.

    The rest of the project enters through light summaries, which define no resource maker and no global:
    when the checked modules make no resource in a function (no maker, so nothing is re-checked and no
    importer is parsed) and store no global (nothing for the lifespan rules), the only question left is
    each graded finding's verdict, and a module that is itself a multi-loop entry point (a test module
    run by pytest-asyncio with a loop per test) answers it without its importers. Its loop scope comes from
    the LB3 pass's loop table, which read the conftest.py files above it.
    """
    for summary in summaries.values():
        for function in summary.functions:
            made = [*function.returns, *(value for _, value in function.stored_attributes)]
            if function.stored_globals or any(value.registry for value in made):
                return None
    if any(finding.code == GLOBAL_SINGLETON.code for finding in findings):
        return None
    index = build_index(files, summaries, settings, store, started, expected)
    reach = Reachability(index, loops)
    graded_modules = {index.by_shown[finding.path] for finding in findings
                      if needs_verdict(finding) and finding.path in index.by_shown}
    if any(reach.kind(module)[0] != "many" for module in graded_modules):
        return None
    note_reads(index.read)
    return sorted((_with_severity(finding, index, reach) for finding in findings), key=lambda finding: finding.sort_key)


def _question(files: list[Path], config_files: Sequence[Path], findings: list[Finding], selected: frozenset[str],
              loops: str) -> str:
    """What the answer depends on: every file's path and stamp (the summaries follow from them), the
    pytest configs, the per-file findings, the codes, and the loop table's digest (the pytest-asyncio
    releases a lock file pins are in it, not in any checked file)."""
    digest = blake2b(digest_size=16)
    digest.update(f"{loops}\n".encode())
    for path in sorted({*files, *config_files}):
        digest.update(f"{path}\0{stamp(path)}\n".encode())
    for finding in findings:
        digest.update(repr((finding.path, finding.start, finding.end, finding.code, finding.message, finding.severity,
                            finding.data)).encode())
    digest.update(",".join(sorted(selected)).encode())
    return digest.hexdigest()


def _maker_words(index: ProjectIndex) -> frozenset[str]:
    """The last names of every project function and class that makes a resource.

    A light module that imports a maker's module and mentions its name is parsed, and may turn out to
    be a maker itself (a wrapper of a wrapper): repeated until no new maker appears.
    """
    words: set[str] = set()
    checked: set[str] = set()
    candidates: dict[IndexedModule, tuple[ModuleSummary, list[str]]] = {}  # by module, while its summary holds
    while True:
        makers: dict[str, set[str]] = {}  # by resolved path
        for module in index.modules:
            if module.summary.light:
                continue
            known = candidates.get(module)
            if known is None or known[0] is not module.summary:
                known = candidates[module] = (module.summary, [name for name in [*module.functions, *module.class_names]
                                                               if _may_make(module, name)])
            makers[module.path_text] = {name.rsplit(".", 1)[-1] for name in known[1]
                                        if index.maker(Symbol(module, name)) is not None}
        words = set().union(*makers.values())
        encoded = tuple(f"{word}(".encode() for word in sorted(words))
        refined = False
        for path, names in makers.items():
            if not names or path in checked:
                continue
            checked.add(path)
            refined |= index.refine(index.by_path_text[path], encoded, False)  # a same-module caller
            for importer in index.importers(index.by_path_text[path]):
                refined |= index.refine(importer, encoded, False)
                if importer.is_package:  # `from . import make_redis` through the package's re-export
                    for outer in index.importers(importer):
                        refined |= index.refine(outer, encoded, False)
        if not refined:
            return frozenset(words)
        index.forget_makers()


def _may_make(module: IndexedModule, name: str) -> bool:
    """Whether a function returns, or a class's constructor stores, something made: without, it is no maker
    (ProjectIndex.maker), and asking costs a symbol and a lookup for each of the project's functions."""
    if name in module.class_names:
        return any(function is not None and function.stored_attributes
                   for function in (module.functions.get(f"{name}.{constructor}") for constructor in CONSTRUCTORS))
    return bool(module.functions[name].returns)


def _calls_a_maker(module: IndexedModule, index: ProjectIndex, words: frozenset[str]) -> bool:
    """Whether a call the summary records resolves to a project maker: the rules then run again on the
    file. A maker's last name alone is not enough (`from_url`, `AsyncClient` name registry calls too)."""
    if module.summary.light:
        return False
    for call in module.summary.called:
        if call.rsplit(".", 1)[-1] in words:
            symbol = index.symbol(module, call)
            if symbol is not None and index.maker(symbol) is not None:
                return True
    return False


def _indirect(module: IndexedModule, index: ProjectIndex, words: frozenset[str], settings: Settings,
              selected: frozenset[str], store: SummaryStore) -> Iterator[Finding]:
    """The LB1/LB2 rules run again on a file, seeing the project's makers; only what they add is kept. The
    tree the index parsed the file into for its full summary serves, while the file's bytes are unchanged."""
    index.note_read(module.path)
    try:
        data = read_bytes(module.path)
        parsed = store.parsed(module.path, data)
        source = parsed[0] if parsed is not None else decode(data)
    except SourceError:
        return
    yield from _indirect_in(module, index, words, settings, selected, source, parsed[1] if parsed is not None else None)


def _indirect_in(module: IndexedModule, index: ProjectIndex, words: frozenset[str], settings: Settings,
                 selected: frozenset[str], source: str, tree: ast.Module | None = None) -> Iterator[Finding]:
    with paused_gc():
        try:
            tree = tree or ast.parse(source, filename=module.shown)
        except (SyntaxError, ValueError):
            return
        context = FileContext(path=module.shown, source=source, tree=tree, registry=settings.registry,
                              is_test_file=module.is_test, index=FileView(index, module, words))
        file_selected = per_file_selected(relative_to_root(module.path, settings), settings, selected)
        findings = [finding for group in FILE_RULE_GROUPS if group.codes & file_selected
                    for finding in group.check(context) if finding.code in file_selected and finding.datum("made_through")]
    yield from suppress(findings, source, file_selected, module.shown) if findings else ()


def _once(loops: Callable[[], LoopTable]) -> Callable[[], LoopTable]:
    """The table, asked for once: the LB3 pass's result is waited for (or a table built) a single time."""
    kept: list[LoopTable] = []

    def table() -> LoopTable:
        if not kept:
            kept.append(loops())
        return kept[0]

    return table


def _with_rest(loops: Callable[[], LoopTable], rest: list[CheckedFile], config_files: Sequence[Path],
               settings: Settings, selected: frozenset[str], cache_dir: Path | None,
               started: float) -> Callable[[], LoopTable]:
    """The checked files' table with the rows of the rest of the project's test modules (a run in part:
    its LB3 pass read only the checked files), from a pass over the rest that computes the table alone,
    cached as the LB3 pass is."""

    def table() -> LoopTable:
        pass_over_rest = project_result([file.path for file in rest], list(config_files), settings,
                                        selected - PROJECT_CODES, cache_dir, started, kind="rest")
        return {**(pass_over_rest.loops or {}), **loops()}

    return table


def _with_severity(finding: Finding, index: ProjectIndex, reach: Reachability) -> Finding:
    module = index.by_shown.get(finding.path)
    if module is None:
        return finding
    return graded(finding, lambda: reach.verdict(module), lambda: reach.kind(module))


def needs_verdict(finding: Finding) -> bool:
    """Whether `graded` asks for the verdict (and the entry kind) of the finding's module."""
    return finding.severity is not Severity.LATENT and finding.code in _GRADED_CODES


def graded(finding: Finding, verdict_of: Callable[[], Reach], kind_of: Callable[[], tuple[str, str]]) -> Finding:
    """The finding with the severity its module's reachability gives it; the verdict and the kind of entry
    point are asked only when the code needs them (a cached resolution answers from what it recorded)."""
    if not needs_verdict(finding):
        return finding
    if finding.code in IMPORT_TIME_CODES:
        verdict = verdict_of()
        if verdict.multi_loop:
            return dataclasses.replace(finding, message=f"{finding.message}: {verdict.reason}")
        return dataclasses.replace(finding, severity=Severity.LATENT, message=f"{finding.message}; {verdict.reason}")
    verdict = verdict_of()
    if verdict.multi_loop:
        return dataclasses.replace(finding, message=f"{finding.message}: {verdict.reason}")
    kind, how = kind_of()
    if kind == "single" and "__main__" in how:
        return dataclasses.replace(finding, severity=Severity.LATENT, message=(
            f"{finding.message}; latent: a one-shot script that {how}, and its process exits with its loop"))
    return finding


@dataclass
class ResolvedIndex:
    """The project index of the last check of the whole tree, resolved once, to grade the findings of a file
    being edited against (an editor's buffer) until the tree is checked again."""

    index: ProjectIndex
    makers: frozenset[str]
    reach: Reachability
    store: SummaryStore  # where the index read the full summaries of the modules it refined
    _uncalled: dict[frozenset[str], list[Finding]] = field(default_factory=dict)

    def uncalled_releases(self, selected: frozenset[str]) -> list[Finding]:
        """What the lifespan pass adds to findings without LB105 ones: the same for every such buffer."""
        if selected not in self._uncalled:
            self._uncalled[selected] = lifespan_findings(self.index, [], selected)
        return self._uncalled[selected]


def resolve_index(python_files: Iterable[CheckedFile], summaries: dict[str, ModuleSummary], settings: Settings,
                  cache_dir: Path | None, started: float, loops: LoopTable) -> ResolvedIndex:
    """The index check_index builds from a run's summaries, with its makers and reachability (by the
    loop table of the LB3 pass that ran last)."""
    store = SummaryStore.open(cache_dir, settings)
    index = build_index(python_files, summaries, settings, store, started)
    return ResolvedIndex(index, _maker_words(index), Reachability(index, lambda: loops), store)


def file_view(resolved: ResolvedIndex, shown: str, source: str) -> FileView | None:
    """What engine.check_source needs to find a file's resources made through the project's makers in its
    one pass; None when the file calls none."""
    module = resolved.index.by_shown.get(shown)
    if module is None or not any(f"{word}(" in source for word in resolved.makers):
        return None
    return FileView(resolved.index, module, resolved.makers)


def grade_file(resolved: ResolvedIndex, shown: str, source: str, findings: list[Finding], settings: Settings,
               selected: frozenset[str], seen_makers: bool = False) -> list[Finding]:
    """One file's per-file findings on its text `source` as check_index leaves them: the findings made
    through the project's makers added, the lifespan pass, and each finding's severity and message.

    `selected` is the run's codes, as check_index gets them. The other files are seen as they were when
    the index was resolved. `seen_makers`: `findings` come from a check that had the file's `file_view`,
    and hold the resources made through the project's makers already.
    """
    module = resolved.index.by_shown.get(shown)
    if module is None or not selected & INDEXED_CODES:
        return findings
    found = list(findings)
    if not seen_makers and any(f"{word}(" in source for word in resolved.makers):
        found.extend(_indirect_in(module, resolved.index, resolved.makers, settings, selected, source))
    if any(finding.code == GLOBAL_SINGLETON.code for finding in found):
        found = lifespan_findings(resolved.index, found, selected)
    else:
        found.extend(resolved.uncalled_releases(selected))
    return sorted((_with_severity(finding, resolved.index, resolved.reach) for finding in found
                   if finding.path == shown), key=lambda finding: finding.sort_key)
