"""A progress bar on stderr for scans that take more than a moment, and only on a terminal.

rich is imported only once the bar is shown, so piped and CI runs never pay for it, and stdout
(where reports go) is never touched.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

Item = TypeVar("Item")
DELAY_SECONDS = 0.5


def with_progress(items: Sequence[Item], description: str = "Checking", *,
                  delay: float = DELAY_SECONDS) -> Iterator[Item]:
    """Yield `items`; after `delay` seconds on a terminal, show how many are done."""
    if not sys.stderr.isatty():
        yield from items
        return
    started = time.monotonic()
    bar: Any = None
    task: Any = None
    try:
        for done, item in enumerate(items):
            if bar is None and time.monotonic() - started > delay:
                bar, task = _start(description, len(items), done)
            yield item
            if bar is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()


def _start(description: str, total: int, done: int) -> tuple[Any, Any]:
    from loopbound import recorder

    recording = recorder.recording()
    if recording is not None:
        recording.unrepeatable = True  # a bar's cursor moves are not output to replay
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task(description, total=total, completed=done)
    bar.start()
    return bar, task
