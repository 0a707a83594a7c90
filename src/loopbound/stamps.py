"""What the caches compare to decide that a file is unchanged without reading it.

A stamp is (size, modification time, change time, inode) from one `stat`. Size and mtime alone,
as ruff keys its cache, miss a rewrite that keeps both: `cp -p`, `rsync -a`, `tar -x`, a formatter
or checkout that restores the old mtime (`os.utime`). The change time (ctime) cannot be set from
user space: the kernel moves it to "now" on every write, utime, chmod or rename, so such a rewrite
changes it, and the inode changes when a tool replaces the file. Where the platform has no change
time (Windows reports the creation time in `st_ctime`) the stamp holds a hash of the bytes instead.

A stamp is only trusted once settled: a file changed within `RACY_SECONDS` before a run is
checked but not cached, since an edit in the same clock tick (coarse filesystems count in
seconds) could leave every field as it was. This module imports nothing heavy: the warm path uses it
before anything else is loaded.
"""

from __future__ import annotations

import os

RACY_SECONDS = 2.0
# Whether `st_ctime` is the time of the last change (POSIX) rather than the creation time (Windows).
CHANGE_TIME_IS_RELIABLE = os.name != "nt"

Stamp = tuple[int, int, int, int] | None  # (size, mtime ns, ctime ns or mtime ns, inode or bytes hash)


def stamp(path: str | os.PathLike[str]) -> Stamp:
    """The stamp of the file at `path`; None when it is missing (its appearance is then a change)."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    if CHANGE_TIME_IS_RELIABLE:
        return status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino
    return status.st_size, status.st_mtime_ns, status.st_mtime_ns, _content_hash(path)


def _content_hash(path: str | os.PathLike[str]) -> int:
    from loopbound.blake2 import blake2b

    try:
        with open(path, "rb") as stream:
            return int.from_bytes(blake2b(stream.read(), digest_size=8).digest(), "big")
    except OSError:
        return -1  # a folder or an unreadable file: size and times still count


def is_settled(file_stamp: Stamp, started: float) -> bool:
    """Changed long enough before `started` that any later edit must change the stamp."""
    return file_stamp is None or max(file_stamp[1], file_stamp[2]) < (started - RACY_SECONDS) * 1e9
