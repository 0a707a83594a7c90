"""Reporters turn findings into text; one module per output format."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from loopbound import recorder
from loopbound.findings import Finding


@dataclass
class Report:
    """What every reporter gets: the findings, and a way to read the code they point at."""

    findings: list[Finding]
    files_checked: int = 0
    sources: dict[str, str] = field(default_factory=dict)  # stdin, or files already read
    checked_paths: list[str] = field(default_factory=list)  # every file checked, as findings name them
    # Each source's lines, split once per text rather than once per finding (reporters ask per finding).
    _lines: dict[str, tuple[str, list[str]]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def source_lines(self, path: str) -> list[str]:
        if path not in self.sources:
            recording = recorder.recording()
            if recording is not None:  # the report shows these lines: an edit of them changes it
                recording.sources_read.add(os.path.abspath(path))
            try:
                self.sources[path] = Path(path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                self.sources[path] = ""
        text = self.sources[path]
        cached = self._lines.get(path)
        if cached is None or cached[0] is not text:
            cached = self._lines[path] = (text, text.splitlines())
        return cached[1]

    def fix_counts(self) -> tuple[int, int, int]:
        """How many findings have a safe fix, an unsafe fix, none."""
        safe = sum(1 for finding in self.findings if finding.fix and finding.fix.applicability.value == "safe")
        unsafe = sum(1 for finding in self.findings if finding.fix and finding.fix.applicability.value == "unsafe")
        return safe, unsafe, len(self.findings) - safe - unsafe


Reporter = Callable[[Report, TextIO], None]


def get_reporter(name: str) -> Reporter:
    from importlib import import_module

    module_name, _, function = FORMATS[name].partition(":")
    module = import_module(f"loopbound.report.{module_name}")
    reporter: Reporter = getattr(module, function or "render")
    return reporter


FORMATS = {
    "full": "full",
    "concise": "concise",
    "json": "json_format",
    "json-lines": "json_format:render_lines",
    "sarif": "sarif",
    "github": "github",
    "gitlab": "gitlab",
    "junit": "junit",
}
