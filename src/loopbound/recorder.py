"""The run being recorded for the warm replay: where discovery, the checker and the progress bar note what they read.

warm.py, the command's entry point, starts and finishes the recording (warm.Recording); the
modules below the command line reach it here rather than through the entry point, which imports
the command line and so everything else.
"""

from __future__ import annotations

TYPE_CHECKING = False  # a warm run imports this module too: typing costs it a fifth of its time

if TYPE_CHECKING:
    from loopbound.warm import Partial, Recording

RECORDINGS: list[Recording] = []  # the run being recorded is the last; empty when none is


def recording() -> Recording | None:
    """The run being recorded, if any: the parts of a run that read inputs note them here."""
    return RECORDINGS[-1] if RECORDINGS else None


def partial() -> Partial | None:
    """The recorded run this one replays in part, if any (discovery and the checker consult it)."""
    return RECORDINGS[-1].partial if RECORDINGS else None
