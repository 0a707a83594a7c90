"""Which settings govern a file, and the runs that need the whole tree (LB3 on save, the workspace check).

A file gets the settings `loopbound check` would give it: the nearest configuration file above
it (or the client's `configuration`), with the client's select/ignore laid over it as the command
line's options are; its codes after per-file-ignores; its test status. Each workspace folder is a
project of its own, discovered and cached as `loopbound check` run in that folder would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from loopbound.cache import default_cache_dir
from loopbound.stamps import Stamp, stamp
from loopbound.config import Settings, find_config, load_settings
from loopbound.discovery import CheckedFile, checked_file, discover
from loopbound.engine import CheckResult, per_file_selected
from loopbound.findings import Finding, Severity, apply_latent_policy
from loopbound.parallel import check_project_cached, check_tree, now
from loopbound.selection import select_codes
from loopbound.server.settings import ClientSettings


@dataclass(frozen=True)
class FileSetup:
    """Everything a check of one file needs besides its text."""

    path: Path  # absolute
    shown: str  # as findings carry it (relative to the working directory, as the CLI prints it)
    settings: Settings
    selected: frozenset[str]  # after per-file-ignores
    is_test: bool
    folder: Path | None  # the workspace folder holding it; None outside every folder


@dataclass
class Projects:
    """The workspace folders and the settings of each configuration file, reloaded when the file changes."""

    folders: list[Path] = field(default_factory=list)
    client: ClientSettings = field(default_factory=ClientSettings)
    _loaded: dict[Path, tuple[Stamp, Settings]] = field(default_factory=dict)

    def reset(self, client: ClientSettings) -> None:
        self.client = client
        self._loaded.clear()

    def folder_of(self, path: Path) -> Path | None:
        holding = [folder for folder in self.folders if path.is_relative_to(folder)]
        return max(holding, key=lambda folder: len(folder.parts)) if holding else None

    def settings_for(self, path: Path) -> Settings:
        """Raises ConfigError (the message names the file and the key) like the CLI."""
        config = self._configuration(path)
        # Without a configuration file, patterns (test-files) are relative to where `loopbound check`
        # would run: the workspace folder, not the directory the editor started the server in.
        key = config or self.folder_of(path) or (path if path.is_dir() else path.parent)
        recorded = stamp(config) if config is not None else None
        cached = self._loaded.get(key)
        if cached is not None and cached[0] == recorded:
            return cached[1]
        loaded = load_settings(config, start=path) if config is not None else Settings(project_root=key)
        settings = loaded.with_overrides(select=self.client.select or None,
                                         extend_select=self.client.extend_select or None,
                                         ignore=self.client.ignore or None)
        self._loaded[key] = (recorded, settings)
        return settings

    def _configuration(self, path: Path) -> Path | None:
        chosen = self.client.configuration
        if chosen is None:
            return find_config(path)
        if chosen.is_absolute():
            return chosen
        folder = self.folder_of(path) or (self.folders[0] if self.folders else Path.cwd())
        return folder / chosen

    def selected(self, settings: Settings) -> frozenset[str]:
        return select_codes(list(settings.select), list(settings.extend_select), list(settings.ignore))

    def setup(self, path: Path) -> FileSetup:
        settings = self.settings_for(path)
        file = checked_file(path, settings)
        selected = per_file_selected(file.relative, settings, self.selected(settings))
        return FileSetup(path, file.shown, settings, selected, file.is_test, self.folder_of(path))

    def shown(self, findings: list[Finding], settings: Settings) -> list[Finding]:
        """The findings the editor shows: the configuration's `latent` policy, then `showLatent`."""
        kept = apply_latent_policy(findings, settings.latent)
        if not self.client.show_latent:
            kept = [finding for finding in kept if finding.severity is not Severity.LATENT]
        return kept

    def tree(self, setup: FileSetup) -> tuple[list[Path], list[Path]]:
        """The Python and pytest config files `loopbound check` in the file's folder reads (the file alone outside)."""
        if setup.folder is None:
            return [setup.path], []
        found = discover([setup.folder], setup.settings)
        python_files = [file.path for file in found.python_files]
        if setup.path not in {file.real for file in found.python_files}:
            python_files.append(setup.path)
        return python_files, found.config_files

    def check_project(self, folder: Path) -> CheckResult:
        """The LB3 pass over a folder, through the same cache `loopbound check` keeps there."""
        settings = self.settings_for(folder)
        found = discover([folder], settings)
        result = check_project_cached(found.python_files, found.config_files, settings, self.selected(settings),
                                      default_cache_dir(settings))
        result.errors[:0] = found.errors
        return result

    def check_folder(self, folder: Path) -> tuple[CheckResult, list[CheckedFile], Settings, frozenset[str], float]:
        """What `loopbound check` run in the folder finds: every file, per-file and project rules, graded by
        the project index; with the files, settings and codes of the run, and when it started."""
        settings = self.settings_for(folder)
        found = discover([folder], settings)
        selected, started = self.selected(settings), now()
        result = check_tree(found.python_files, found.config_files, settings, selected,
                            cache_dir=default_cache_dir(settings), jobs=1)
        result.errors[:0] = found.errors
        return result, found.python_files, settings, selected, started
