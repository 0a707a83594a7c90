"""`--diff` runs exactly what `--fix` runs, on a throwaway copy, so the diff is what `--fix` would write.

The LB3 rules read the tree from disk between passes; fixing in memory only would stop their fixes
after the first pass. The copy holds the checked files and every file the project rules read beside
them (pytest config files and conftest.py from each file's folder up to the project root), under
the same relative paths, plus a `.git` marker when the root has one (it bounds the conftest walk).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from loopbound.config import Settings
from loopbound.discovery import display_path
from loopbound.findings import Finding
from loopbound.fixes.files import SourceFile
from loopbound.pytest_config import CONFIG_NAMES

if TYPE_CHECKING:
    from loopbound.fixes.run import FixRun

Fixer = Callable[[list[Path], Settings, list[Path]], "FixRun"]


def fix_in_shadow(paths: list[Path], settings: Settings, config_files: list[Path], fixer: Fixer) -> FixRun | None:
    """The run `fixer` makes with writing on, on a copy; its files, findings and notes name the real paths.

    None when a file lies outside the project root (there is no sound copy to make): the caller
    then fixes in memory.
    """
    root = Path(os.path.realpath(settings.project_root))
    relative: dict[Path, Path] = {}
    for path in [*paths, *config_files]:
        real = Path(os.path.realpath(path))
        if not real.is_relative_to(root):
            return None
        relative[path] = real.relative_to(root)
    with tempfile.TemporaryDirectory(prefix="loopbound-diff-") as folder:
        shadow = Path(os.path.realpath(folder))
        for inside in {*relative.values(), *_companions(root, relative.values())}:
            (shadow / inside).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / inside, shadow / inside)
        if (root / ".git").exists():
            (shadow / ".git").mkdir(exist_ok=True)
        run = fixer([shadow / relative[path] for path in paths], dataclasses.replace(settings, project_root=shadow),
                    [shadow / relative[path] for path in config_files])
        return _renamed(run, {display_path(shadow / inside): display_path(root / inside)
                              for inside in relative.values()}, str(shadow), str(root))


def _companions(root: Path, files: Iterable[Path]) -> set[Path]:
    """Config files and conftest.py files in the folders from each file up to the root."""
    found: set[Path] = set()
    folders = {(root / inside).parent for inside in files}
    for folder in folders:
        for current in (folder, *folder.parents):
            if not current.is_relative_to(root):
                break
            for name in (*CONFIG_NAMES, "conftest.py"):
                if (current / name).is_file():
                    found.add((current / name).relative_to(root))
    return found


def _renamed(run: FixRun, names: dict[str, str], shadow: str, root: str) -> FixRun:
    def rename(text: str) -> str:
        for fake, real in names.items():
            text = text.replace(fake, real)
        return text.replace(shadow, root)

    def real_path(path: str) -> str:
        return names.get(path, rename(path))

    def finding(found: Finding) -> Finding:
        fix = found.fix and dataclasses.replace(found.fix, edits=tuple(
            dataclasses.replace(edit, path=real_path(edit.path)) for edit in found.fix.edits))
        return dataclasses.replace(found, path=real_path(found.path), fix=fix)

    files: dict[str, SourceFile] = {real_path(path): dataclasses.replace(source, path=real_path(path))
                                    for path, source in run.files.items()}
    return dataclasses.replace(run, files=files, findings=[finding(found) for found in run.findings],
                               notes=[rename(note) for note in run.notes], errors=[rename(error) for error in run.errors])
