"""What a fix builder sees: the file's text, its libcst tree (parsed on first request), settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loopbound.config import Settings
from loopbound.findings import Applicability, Edit, Finding, Fix
from loopbound.fixes.text import edits_between

if TYPE_CHECKING:
    import libcst as cst

Reader = Callable[[str], str]


@dataclass
class FixContext:
    path: str
    text: str
    settings: Settings
    is_test: bool
    read: Reader  # the current text of another file (a config file an LB3 fix edits)
    _module: cst.Module | None = field(default=None, repr=False)

    def module(self) -> cst.Module:
        """The libcst tree, parsed once per file however many findings it has."""
        if self._module is None:
            import libcst

            self._module = libcst.parse_module(self.text)
        return self._module


Builder = Callable[[Finding, FixContext], "Fix | None"]


def fix_from_texts(applicability: Applicability, message: str, old: Mapping[str, str],
                   new: Mapping[str, str]) -> Fix | None:
    """A Fix made of the minimal edits between old and new texts of one or more files."""
    edits: list[Edit] = []
    for path, text in new.items():
        edits.extend(edits_between(path, old[path], text))
    if not edits:
        return None
    return Fix(applicability, message, tuple(edits))
