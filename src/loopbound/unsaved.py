"""Unsaved editor buffers standing in for their files while the project rules read the tree.

`loopbound server` fixes a buffer the way `check --fix` fixes the file, whose later passes
re-read the tree after writing; here each pass's text is put in place of the file instead of
written. Outside `standing_in` (every CLI run) this is a plain read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

_STANDING_IN: dict[str, bytes] = {}


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes, or the buffer standing in for it; raises OSError as Path.read_bytes does.

    Read unbuffered: one read of the whole file, a third cheaper than `Path.read_bytes` on a tree."""
    if _STANDING_IN:
        data = _STANDING_IN.get(os.path.realpath(path))
        if data is not None:
            return data
    with open(path, "rb", buffering=0) as stream:
        return stream.readall()


def stands_in(path: Path) -> bool:
    return bool(_STANDING_IN) and os.path.realpath(path) in _STANDING_IN


def read_text(path: Path) -> str:
    """UTF-8 text, as Path.read_text(encoding="utf-8") reads it (OSError, UnicodeDecodeError)."""
    return read_bytes(path).decode("utf-8")


@contextmanager
def standing_in(files: Mapping[str, bytes]) -> Iterator[dict[str, bytes]]:
    """Within the block, reads of these paths see these bytes; the dict given may be updated to add more."""
    _STANDING_IN.clear()
    _STANDING_IN.update({os.path.realpath(path): data for path, data in files.items()})
    try:
        yield _STANDING_IN
    finally:
        _STANDING_IN.clear()


def stand_in(overlay: dict[str, bytes], path: str, data: bytes) -> None:
    overlay[os.path.realpath(path)] = data
