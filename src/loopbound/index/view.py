"""One file's view of the project index, as the per-file rules ask it: is this call a maker's?"""

from __future__ import annotations

import ast

from loopbound.index.resolution import IndexedModule, Maker, ProjectIndex
from loopbound.names import dotted


class FileView:
    """Resolves the calls of one module to the project functions and classes that make resources."""

    def __init__(self, index: ProjectIndex, module: IndexedModule, words: frozenset[str]) -> None:
        self.index = index
        self.module = module
        self.words = words  # the last names of every maker: what a file must mention to call one
        self._found: dict[str, Maker | None] = {}

    def maker(self, func: ast.expr) -> Maker | None:
        ref = dotted(func)
        if ref is None or ref.startswith(("self.", "cls.")) or ref.rsplit(".", 1)[-1] not in self.words:
            return None
        if ref not in self._found:
            symbol = self.index.symbol(self.module, ref)
            self._found[ref] = self.index.maker(symbol) if symbol is not None else None
        return self._found[ref]
