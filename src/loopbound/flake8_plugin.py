"""flake8 entry point (`LB`): a thin adapter over the engine, not a second implementation.

flake8 hands over each file's lines; the engine checks them with the `[tool.loopbound]` settings
that govern that file, and flake8 applies its own selection, `# noqa` and output on top. Only the
per-file rules run here: the LB3 rules need the whole test tree, which flake8 never shows a plugin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

from loopbound import __version__
from loopbound.config import Settings, load_settings
from loopbound.discovery import is_test_file, relative_to_root
from loopbound.engine import check_source, per_file_selected
from loopbound.noqa import NOQA
from loopbound.selection import select_codes

Flake8Result = tuple[int, int, str, type]


@lru_cache(maxsize=64)
def _settings_for(folder: Path) -> tuple[Settings, frozenset[str]]:
    """One settings lookup per folder: flake8 calls the plugin once per file."""
    settings = load_settings(None, start=folder)  # a ConfigError names the file; flake8 shows it
    selected = select_codes(list(settings.select), list(settings.extend_select), list(settings.ignore))
    return settings, selected


def _without_line_noqa(lines: Sequence[str]) -> list[str]:
    """Blank out `# noqa` comments so that flake8 alone decides what they suppress.

    flake8's own options (`--disable-noqa`, `--extend-select`) then behave as with any plugin.
    The comments become spaces, so every column stays where it was; `# loopbound: noqa` for a
    whole file is ours and is kept.
    """
    def blank(match: re.Match[str]) -> str:
        return " " * len(match.group(0))

    return [NOQA.sub(blank, line) if "#" in line else line for line in lines]


class LoopboundPlugin:
    name = "loopbound"
    version = __version__

    def __init__(self, tree: object, filename: str, lines: Sequence[str]) -> None:
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[Flake8Result]:
        path = Path(self.filename)
        folder = path.parent if self.filename not in ("-", "stdin") else Path.cwd()
        settings, selected = _settings_for(folder.resolve())
        data = "".join(_without_line_noqa(self.lines)).encode("utf-8")
        result = check_source(data, self.filename, settings,
                              per_file_selected(relative_to_root(path, settings), settings, selected),
                              is_test=is_test_file(path, settings))
        for finding in result.findings:
            # flake8 columns are 0-based; ours are 1-based like ruff's.
            yield finding.start.row, finding.start.column - 1, f"{finding.code} {finding.message}", type(self)
