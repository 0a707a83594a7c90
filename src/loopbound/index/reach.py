"""Which event loops reach a module: entry points, how many loops each runs, and the import chains.

A module whose import-time resource a multi-loop entry point imports (directly or through other
modules) meets a second loop: that finding is an error, and its message names the entry and the
chain. Otherwise it is latent: only single-loop programs import it, or nothing in the project does
(library code, whose users' loops are unknown).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from loopbound.index.model import LoopTable
from loopbound.index.resolution import IndexedModule, ProjectIndex


@dataclass(frozen=True)
class Reach:
    """The verdict for one module."""

    multi_loop: bool
    reason: str  # for an error: the entry and the chain; for a latent finding: why it is latent


class Reachability:
    """Entry points and verdicts over a resolved index. How many loops a test module runs is the LB3 pass's
    loop table (rules/loop_table.py), asked for only when a search meets a module the table could name."""

    def __init__(self, index: ProjectIndex, loops: Callable[[], LoopTable]) -> None:
        self.index = index
        self._loops = loops
        self._table: LoopTable | None = None
        self._kinds: dict[str, tuple[str, str]] = {}  # module's path -> ("many" or "single" or "", how)
        self._many_test_dirs: set[str] | None = None  # the folders of test modules that run many loops
        self._verdicts: dict[str, Reach] = {}

    def table(self) -> LoopTable:
        if self._table is None:
            self._table = self._loops()
        return self._table

    def kind(self, module: IndexedModule) -> tuple[str, str]:
        """("many", how) for a multi-loop entry point, ("single", how) for a single-loop one, else ("", "")."""
        if module.path_text not in self._kinds:
            self.index.refine_loops(module)
            self._kinds[module.path_text] = self._classify(module)
        return self._kinds[module.path_text]

    def _classify(self, module: IndexedModule) -> tuple[str, str]:
        entries = module.summary.entries
        many = next((entry.kind for entry in entries if entry.many), None)
        if many:
            return "many", many
        loops = self.table().get(module.path_text)
        if loops is not None:
            if loops.scope != "session":
                per = "test" if loops.scope == "function" else loops.scope
                return "many", f"runs each {per} on its own event loop" + (f" ({loops.note})" if loops.note else "")
            return "single", "runs every test on one session-wide event loop"
        if (os.path.basename(module.path_text) == "conftest.py"
                and self._under_many_loop_tests(os.path.dirname(module.path_text))):
            return "many", "is loaded by pytest for tests that each run on their own event loop"
        single = next((entry.kind for entry in entries if not entry.many), None)
        return ("single", single) if single else ("", "")

    def _under_many_loop_tests(self, folder: str) -> bool:
        """pytest imports every conftest.py above a test module: for many-loop tests, it is an entry too.
        The table's paths are resolved: a folder holds a test module when its text starts the module's."""
        if self._many_test_dirs is None:
            self._many_test_dirs = {os.path.dirname(path) for path, loops in self.table().items()
                                    if os.path.basename(path) != "conftest.py" and loops.scope != "session"}
        prefix = folder if folder.endswith(os.sep) else folder + os.sep
        return any(directory == folder or directory.startswith(prefix) for directory in self._many_test_dirs)

    def verdict(self, module: IndexedModule) -> Reach:
        if module.path_text not in self._verdicts:
            self._verdicts[module.path_text] = self._search(module)
        return self._verdicts[module.path_text]

    def _search(self, module: IndexedModule) -> Reach:
        """Breadth-first up the importers: the nearest multi-loop entry point and the chain to it."""
        parents: dict[str, IndexedModule | None] = {module.path_text: None}
        queue = deque([module])
        single: tuple[IndexedModule, str] | None = None
        while queue:
            current = queue.popleft()
            kind, how = self.kind(current)
            if kind == "many":
                return Reach(True, f"{current.shown} {how}" + _chain(current, parents))
            if single is None and kind == "single":
                single = current, how
            for importer in self.index.importers(current):
                if importer.path_text not in parents:
                    parents[importer.path_text] = current
                    queue.append(importer)
        if single is not None:
            return Reach(False, f"latent: only single-loop code reaches it: {single[0].shown} "
                         f"{single[1]}{_chain(single[0], parents)}")
        if len(parents) == 1:
            return Reach(False, "latent: nothing in the project imports it and it runs no event loop itself; "
                         "as library code, its users' loops are unknown")
        return Reach(False, "latent: no entry point that runs several event loops imports it")


def _chain(entry: IndexedModule, parents: dict[str, IndexedModule | None]) -> str:
    """` and imports a → b`: the modules between `entry` and the one searched from, nearest first."""
    steps: list[str] = []
    current = parents[entry.path_text]
    while current is not None:
        steps.append(current.shown)
        current = parents[current.path_text]
    return f" and imports {' → '.join(steps)}" if steps else ""
