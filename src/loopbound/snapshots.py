"""Where a recorded run is kept: a snapshot's head, what the warm replay reads (the output, the status,
every recorded path and its stamp); its rest (`.rest`: what an edit's replay compares the edited files
with), read only when a stamp moved; and its state (`.state`: the recorded discovery and results a run in
part reuses, most of the bytes on a large project), read only by such a run. The three carry a token of
the write that made them: a head is never read with another write's rest or state. Like warm.py, this
imports nothing heavy.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

SNAPSHOT_PREFIX = "warm-"
KEPT_SNAPSHOTS = 8
# What a warm run reads: the rest of a snapshot (what a run in part needs, nine tenths of its bytes on a
# large project) lives in a file of its own, read only when a stamp moved.
_HEAD = ("format", "key", "paths", "stamps", "presence", "output", "status", "cache_dir", "rest")
_REST_SUFFIX = ".rest"
_STATE_SUFFIX = ".state"
_PER_SNAPSHOT = 3  # files: the head, the rest, the state


def file_name(key: str) -> str:
    from binascii import crc32  # a name, not a proof: the snapshot holds the whole key

    encoded = key.encode("utf-8", "surrogateescape")
    return f"{SNAPSHOT_PREFIX}{crc32(encoded):08x}{len(encoded):x}.marshal"


def load_rest(snapshot: dict[str, Any]) -> bool:
    """Add to `snapshot` the rest written with it; False when that is gone or belongs to another run."""
    import marshal

    if "replaceable" in snapshot:
        return True  # loaded already
    try:
        with open(os.path.join(snapshot["cache_dir"], file_name(snapshot["key"]) + _REST_SUFFIX), "rb") as stream:
            rest = marshal.loads(stream.read())
    except (OSError, EOFError, ValueError, TypeError):
        return False
    if not isinstance(rest, dict) or snapshot.get("rest") is None or rest.get("rest") != snapshot["rest"]:
        return False
    snapshot.update((name, value) for name, value in rest.items() if name not in _HEAD)
    return True


def load_state(snapshot: dict[str, Any]) -> bytes | None:
    """The state written with `snapshot` (its recorded discovery and results, pickled); None when that is
    gone or belongs to another write."""
    import marshal

    try:
        with open(os.path.join(snapshot["cache_dir"], file_name(snapshot["key"]) + _STATE_SUFFIX), "rb") as stream:
            token, state = marshal.loads(stream.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return state if token == snapshot.get("rest") and isinstance(state, bytes) else None


def write_snapshot(directory: str, name: str, snapshot: dict[str, Any]) -> None:
    """The head of `snapshot` to `name`, the rest and the state (`snapshot["state"]`, kept in the rest as
    whether there is one) beside it, the three tied by a token of this write."""
    import time

    token = f"{time.time_ns()}-{os.getpid()}"
    head = {field: snapshot.get(field) for field in _HEAD}
    head["rest"] = token
    rest = {"rest": token, **{field: value for field, value in snapshot.items() if field not in _HEAD}}
    state = rest.get("state")
    rest["state"] = None if state is None else True
    kept = (name, name + _REST_SUFFIX, name + _STATE_SUFFIX)
    try:
        # The head last: it is never read with an older rest or state.
        if state is not None:
            _write_atomically(directory, name + _STATE_SUFFIX, (token, state))
        _write_atomically(directory, name + _REST_SUFFIX, rest)
        _write_atomically(directory, name, head)
        others = sorted((entry for entry in os.scandir(directory) if entry.name.startswith(SNAPSHOT_PREFIX)
                         and entry.name not in kept),
                        key=lambda entry: entry.stat().st_mtime_ns)
        for old in others[:-_PER_SNAPSHOT * (KEPT_SNAPSHOTS - 1)]:
            os.unlink(old.path)
    except (OSError, ValueError):
        return  # a snapshot that cannot be written only costs speed


def write_head(directory: str, name: str, snapshot: dict[str, Any]) -> None:
    """Only the head of `snapshot`, still tied to the rest already written for it (its token): what a replay
    after an edit changes is the recorded stamps, all in the head; the rest, most of the bytes, stays."""
    try:
        _write_atomically(directory, name, {field: snapshot.get(field) for field in _HEAD})
    except (OSError, ValueError):
        return


def _write_atomically(directory: str, name: str, value: dict[str, Any] | tuple[str, bytes]) -> None:
    """Written beside its place under a name no other process makes, then renamed over it. Not with
    tempfile, whose import (random, shutil and the compressors) costs a replay after an edit a tenth."""
    import marshal
    import time

    temporary = os.path.join(directory, f".{name}.{os.getpid()}-{time.monotonic_ns()}.tmp")  # not pruned as a snapshot
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(handle, "wb") as stream:
            marshal.dump(value, stream)
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
