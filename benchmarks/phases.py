"""Where a cold run's time goes: CPU seconds per phase, in one process, over a tree.

    python benchmarks/phases.py benchmarks/corpus/src

The phases are those of `loopbound check --no-cache`: discovery, reading, the byte pre-filter,
parsing the files that pass it, each per-file rule group, each file's summary for the project index,
the LB3 facts of the test modules and conftest.py files (read where the per-file pass checks them,
from its tree when it parsed one), the lock files read ahead for the LB3 pass, the LB3 project pass,
and the project index's resolution. The CLI runs the per-file phases in two processes, then the LB3
pass in a worker while the main process resolves the index; here they run one after the other so
that each can be timed. The garbage collector is paused as the CLI pauses it.
"""

from __future__ import annotations

import ast
import gc
import sys
import time
from collections import defaultdict
from pathlib import Path

from loopbound import project as project_module
from loopbound.asyncio_declarations import read_locks_ahead
from loopbound.config import load_settings
from loopbound.discovery import discover, real_path
from loopbound.engine import CheckResult, check_project, needs_parse
from loopbound.index.check import check_index
from loopbound.index.summary import light_summary, summarise_file
from loopbound.project import parsed_keeper
from loopbound.rules import FILE_RULE_GROUPS
from loopbound.rules.base import FileContext
from loopbound.selection import select_codes
from loopbound.source import decode, read_bytes
from loopbound.stamps import stamp


def main(root: Path) -> None:
    settings = load_settings(None, start=root)
    selected = select_codes(list(settings.select), list(settings.extend_select), list(settings.ignore))
    seconds: dict[str, float] = defaultdict(float)
    slowest: dict[str, list[tuple[float, str]]] = defaultdict(list)

    def timed(phase: str, started: float, path: str = "") -> None:
        spent = time.process_time() - started
        seconds[phase] += spent
        if path:
            slowest[phase].append((spent, path))

    started = time.process_time()
    found = discover([root], settings)
    timed("discovery", started)
    gc.disable()
    lb3_facts = "LB3 facts (test modules and conftest.py files, with the per-file phases)"
    project_module.PARSED = {}
    parsed = lines = 0
    per_file = CheckResult()
    for file in found.python_files:
        path = file.path
        started = time.process_time()
        data = read_bytes(path)  # as the checker reads it
        timed("read", started)
        started = time.process_time()
        passes = needs_parse(data, settings, selected)
        timed("pre-filter", started)
        started = time.process_time()
        keep = parsed_keeper(path, stamp(path), data, settings.registry)
        timed(lb3_facts, started)
        if not passes:
            started = time.process_time()
            per_file.summaries[file.shown] = light_summary(data, file.is_test)
            timed("index summaries (light, per file)", started)
            if keep is not None:
                started = time.process_time()
                keep.finish(data)
                timed(lb3_facts, started, str(path))
            continue
        started = time.process_time()
        source = decode(data)
        tree = ast.parse(source)
        timed("parse", started, str(path))
        parsed, lines = parsed + 1, lines + source.count("\n")
        context = FileContext(str(path), source, tree, settings.registry, file.is_test)
        started = time.process_time()
        per_file.summaries[file.shown] = summarise_file(context, data)
        timed("index summaries (parsed, per file)", started, str(path))
        for group in FILE_RULE_GROUPS:
            started = time.process_time()
            per_file.findings.extend(finding for finding in group.check(context) if finding.code in selected)
            timed("rules " + ",".join(sorted(group.codes)), started, str(path))
        if keep is not None:
            started = time.process_time()
            keep(source, tree)
            timed(lb3_facts, started, str(path))
    started = time.process_time()
    read_locks_ahead(sorted({real_path(path).parent for path in found.config_files}), real_path(settings.project_root))
    timed("lock files read ahead for the LB3 pass", started)
    started = time.process_time()
    project = check_project([file.path for file in found.python_files], found.config_files, settings, selected)
    timed("LB3 project pass (resolution and rules, from the facts above)", started)
    project_module.PARSED = None
    started = time.process_time()
    check_index(list(found.python_files), settings, selected, per_file, None, time.time(),
                loops=lambda: project.loops or {})
    timed("project index (resolution, reachability, re-reads)", started)
    print(f"{len(found.python_files)} files, {parsed} parsed ({lines} lines)\n")
    print("| phase | CPU s |\n|---|---:|")
    for phase, spent in seconds.items():
        print(f"| {phase} | {spent:.2f} |")
    print(f"| total | {sum(seconds.values()):.2f} |\n")
    for phase, entries in slowest.items():
        top = ", ".join(f"{Path(name).name} {spent:.2f}" for spent, name in sorted(entries, reverse=True)[:3])
        print(f"slowest in {phase}: {top}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
