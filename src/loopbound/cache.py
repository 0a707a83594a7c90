"""The results cache: a file whose bytes, settings and rules are unchanged is not checked again.

An entry is keyed by everything that decides a file's findings: its content hash, its shown path
(findings carry it), whether it is a test module, the codes selected for it (after per-file-ignores),
the registry (built-in and configured resources) and the tool itself (its version plus the size and
mtime of its own modules, so an editable install that changed code never serves stale results).
The LB3 project pass is whole-tree and is not cached here.

The cache lives in `.loopbound_cache/` under the project root, marked with a CACHEDIR.TAG and a
`.gitignore` of `*` like ruff's, and holds one pickle per settings fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from loopbound import __version__
from loopbound.config import Settings
from loopbound.engine import FileResult

CACHE_DIR_NAME = ".loopbound_cache"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by loopbound.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
FORMAT = 1


def default_cache_dir(settings: Settings) -> Path:
    return settings.project_root / CACHE_DIR_NAME


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@lru_cache(maxsize=1)
def _tool_fingerprint() -> str:
    """The version plus the loopbound modules' sizes and mtimes: a code change is a new tool."""
    package = Path(__file__).parent
    digest = hashlib.blake2b(f"{__version__}/{FORMAT}".encode(), digest_size=16)
    for module in sorted(package.rglob("*.py")):
        stat = module.stat()
        digest.update(f"{module.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def settings_fingerprint(settings: Settings) -> str:
    """What all files share: the tool and the registry (resources in order, safe names sorted)."""
    registry = settings.registry
    text = "\n".join([_tool_fingerprint(), repr(registry.resources), repr(sorted(registry.safe_names))])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def file_key(data: bytes, shown: str, selected: frozenset[str], is_test: bool) -> str:
    """What is particular to one file: its bytes, the path findings carry, its codes, its test status."""
    header = f"{shown}\0{','.join(sorted(selected))}\0{int(is_test)}\0".encode()
    return content_hash(header + data)


@dataclass
class ResultCache:
    """The entries of one settings fingerprint; load once, look up and store per file, save once."""

    path: Path
    entries: dict[str, FileResult] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    dirty: bool = False

    @classmethod
    def open(cls, directory: Path, settings: Settings) -> ResultCache:
        path = directory / f"results-{settings_fingerprint(settings)}.pickle"
        cache = cls(path)
        try:
            with path.open("rb") as stream:
                loaded = pickle.load(stream)
            if isinstance(loaded, dict):
                cache.entries = loaded
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            cache.entries = {}
        return cache

    def get(self, key: str) -> FileResult | None:
        found = self.entries.get(key)
        if found is not None:
            self.used.add(key)
        return found

    def put(self, key: str, result: FileResult) -> None:
        if result.error is None:
            self.entries[key] = result
            self.used.add(key)
            self.dirty = True

    def save(self) -> None:
        """Drop the old versions of the files this run checked, so entries do not pile up.

        Entries of files this run did not look at stay: checking one file keeps the others warm.
        """
        if not self.dirty:
            return
        checked = {self.entries[key].path for key in self.used if key in self.entries}
        kept = {key: result for key, result in self.entries.items() if key in self.used or result.path not in checked}
        try:
            _prepare(self.path.parent)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(kept, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.path)
        except OSError:
            return  # a cache that cannot be written only costs speed


def _prepare(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tag = directory / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text(CACHEDIR_TAG, encoding="utf-8")
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by loopbound automatically.\n*\n", encoding="utf-8")
