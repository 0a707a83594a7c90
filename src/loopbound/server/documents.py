"""Open buffers: their last check, and the debounce that coalesces a burst of edits into one check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loopbound.engine import check_source, needs_parse
from loopbound.findings import Finding
from loopbound.index.view import FileView
from loopbound.server.projects import FileSetup
from loopbound.server.reparse import Reparser
from loopbound.source import detected_encoding

PYTHON_SUFFIXES = (".py", ".pyi")


@dataclass
class Checked:
    """The per-file findings of one version of a buffer; fixes are attached on the first code action."""

    version: int | None
    text: str
    setup: FileSetup
    findings: list[Finding]
    with_fixes: list[Finding] | None = None
    graded: list[Finding] | None = None  # the findings as `loopbound check` grades them (server.tree)
    seen_makers: bool = False  # checked with the project's makers in sight: `findings` hold what they make


class BufferError(Exception):
    """The buffer cannot be turned into the bytes a file with its encoding declaration would hold."""


def buffer_bytes(text: str) -> bytes:
    """The buffer as the file would be written: in the encoding its PEP 263 line declares (UTF-8 by default)."""
    second_end = text.find("\n", text.find("\n") + 1)
    head = text[: second_end + 1 if second_end >= 0 else len(text)].encode("utf-8", "surrogatepass")
    try:
        encoding = detected_encoding(head)
        return text.encode("utf-8" if encoding == "utf-8-sig" else encoding)
    except (SyntaxError, LookupError):
        return text.encode("utf-8", "surrogatepass")  # the check reports the bad declaration itself
    except UnicodeEncodeError as error:
        raise BufferError(f"character {error.object[error.start]!r} cannot be written as {error.encoding}") from None


def check_buffer(text: str, version: int | None, setup: FileSetup, parse: Reparser | None = None,
                 view: FileView | None = None) -> tuple[Checked, str | None]:
    """The per-file rules on the unsaved text, exactly as `loopbound check` would run them on the file;
    `parse`, the buffer's own parser, reuses what its last version's tree shares with this one; with
    `view`, the same pass finds the resources made through the project's makers."""
    try:
        data = buffer_bytes(text)
    except BufferError as error:
        return Checked(version, text, setup, []), f"{setup.shown}: {error}"
    # No summary: the buffer is graded against the index of the last save (server.tree), never re-resolved.
    result = check_source(data, setup.shown, setup.settings, setup.selected, is_test=setup.is_test,
                          summarise_for_index=False, parse=parse, index=view,
                          prefilter=view is None)  # the pre-filter knows the registry's words, not the makers'
    findings = result.findings
    if view is not None and not needs_parse(data, setup.settings, setup.selected):
        # `loopbound check` reads no further than its pre-filter here (not even a syntax error): only the
        # findings made through the makers, from its project pass, stand.
        findings = [finding for finding in findings if finding.datum("made_through")]
    return Checked(version, text, setup, findings, seen_makers=view is not None), result.error


def is_python(path: Path, language: str | None) -> bool:
    return path.suffix in PYTHON_SUFFIXES or language == "python"


@dataclass
class Debouncer:
    """One pending check per document; a newer edit replaces the pending one.

    Leading edge first: an edit to a document with no check in the last `delay` is checked at once (a
    single keystroke waits for nothing); edits that follow within `delay` of a check wait and coalesce
    into one check, `delay` after the last of them.
    """

    pending: dict[str, asyncio.Handle] = field(default_factory=dict)
    last_run: dict[str, float] = field(default_factory=dict)

    def schedule(self, key: str, delay: float, callback: Callable[[], None]) -> None:
        self.cancel(key)
        loop = asyncio.get_running_loop()

        def run() -> None:
            self.pending.pop(key, None)
            try:
                callback()
            finally:
                self.last_run[key] = loop.time()

        quiet = loop.time() - self.last_run.get(key, float("-inf")) >= delay
        self.pending[key] = loop.call_soon(run) if quiet else loop.call_later(delay, run)

    def cancel(self, key: str) -> None:
        handle = self.pending.pop(key, None)
        if handle is not None:
            handle.cancel()
