"""What the fix being built depends on, recorded for the fix cache (fixes/cache.py) through its FixContext.

Without a cache (the editor, the `--fix` passes) nothing is recorded and the calls cost nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from loopbound.stamps import Stamp, stamp


@dataclass
class Built:
    """One build's inputs: files by path with the stamp they had, and names searched for in every file."""

    stamps: dict[str, Stamp] = field(default_factory=dict)
    searched: frozenset[str] = frozenset()


class Inputs:
    def __init__(self) -> None:
        self.current: Built | None = None

    def used(self, path: str) -> None:
        """A file whose text, or absence, the fix depends on."""
        if self.current is not None and path not in self.current.stamps:
            self.current.stamps[path] = stamp(path)

    def exists(self, path: str | os.PathLike[str]) -> bool:
        self.used(os.fspath(path))
        return os.path.isfile(path)

    def searched(self, names: Iterable[str]) -> None:
        """The fix is declined when another checked file uses one of `names` (fixes/importers.py): any
        file that mentions one of them is an input, whether it existed when the fix was built or not."""
        if self.current is not None:
            self.current.searched = self.current.searched | frozenset(names)
