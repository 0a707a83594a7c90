"""Finding and reading `[tool.loopbound]` into one frozen Settings object."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from loopbound.findings import LatentPolicy
from loopbound.registry import DEFAULT_REGISTRY, Kind, Registry, resource_from_config
from loopbound.selection import resolve_selector

CONFIG_FILES = ("pyproject.toml", "loopbound.toml", ".loopbound.toml")
DEFAULT_TEST_FILES = ("test_*.py", "*_test.py", "conftest.py", "tests/**", "test/**")


class ConfigError(Exception):
    """A configuration problem; the message names the file, the key and what was expected."""


@dataclass(frozen=True)
class Settings:
    project_root: Path = field(default_factory=Path.cwd)
    config_path: Path | None = None
    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: bool = True
    test_files: tuple[str, ...] = DEFAULT_TEST_FILES
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    registry: Registry = DEFAULT_REGISTRY
    latent: LatentPolicy = LatentPolicy.REPORT
    target_pytest_asyncio: str | None = None  # a specifier such as ">=0.23,<0.24"

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})


_LIST_KEYS = {"select", "extend-select", "ignore", "exclude", "extend-exclude", "test-files"}
_RESOURCE_KEYS: dict[str, type | tuple[type, ...]] = {"release": (str, list), "awaited": bool, "async-with": bool, "kind": str, "library": str,
                  "awaitable": bool}


def find_config(start: Path) -> Path | None:
    """The nearest file with loopbound settings, walking up from `start`."""
    directory = start if start.is_dir() else start.parent
    for folder in (directory.resolve(), *directory.resolve().parents):
        for name in CONFIG_FILES:
            candidate = folder / name
            if candidate.is_file() and (name != "pyproject.toml" or _has_loopbound_table(candidate)):
                return candidate
    return None


def _has_loopbound_table(path: Path) -> bool:
    try:
        return b"[tool.loopbound" in path.read_bytes()
    except OSError:
        return False


def load_settings(config_path: Path | None, *, isolated: bool = False, start: Path | None = None) -> Settings:
    if isolated:
        return Settings()
    path = config_path or find_config(start or Path.cwd())
    if path is None:
        return Settings()
    table = _read_table(path)
    return _settings_from_table(table, path)


def _read_table(path: Path) -> Mapping[str, Any]:
    if sys.version_info >= (3, 11):  # imported here: a run that reads no configuration file needs none of it
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("loopbound", {})
    else:
        table = data
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: `tool.loopbound` must be a table")
    return table


def _expect(path: Path, key: str, value: Any, expected: type | tuple[type, ...], description: str) -> None:
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: `{key}` must be {description}, got {type(value).__name__} {value!r}")


def _string_list(path: Path, key: str, value: Any) -> tuple[str, ...]:
    _expect(path, key, value, list, "a list of strings")
    for item in value:
        _expect(path, key, item, str, "a list of strings")
    return tuple(value)


def _settings_from_table(table: Mapping[str, Any], path: Path) -> Settings:
    values: dict[str, Any] = {"project_root": path.parent.resolve(), "config_path": path}
    extra_resources = []
    safe_names: tuple[str, ...] = ()
    for key, value in table.items():
        if key in _LIST_KEYS:
            values[key.replace("-", "_")] = _string_list(path, key, value)
        elif key == "respect-gitignore":
            _expect(path, key, value, bool, "true or false")
            values["respect_gitignore"] = value
        elif key == "per-file-ignores":
            _expect(path, key, value, dict, "a table of glob = [codes]")
            values["per_file_ignores"] = tuple(
                (pattern, _string_list(path, f"{key}.{pattern}", codes)) for pattern, codes in value.items()
            )
        elif key == "latent":
            choices = ", ".join(f'"{policy.value}"' for policy in LatentPolicy)
            _expect(path, key, value, str, f"one of {choices}")
            if value not in {policy.value for policy in LatentPolicy}:
                raise ConfigError(f"{path}: `latent` must be one of {choices}, got {value!r}")
            values["latent"] = LatentPolicy(value)
        elif key == "target-pytest-asyncio":
            values["target_pytest_asyncio"] = _target_pytest_asyncio(path, value)
        elif key == "resources":
            _expect(path, key, value, dict, 'a table of "qualified.name" = { release = "...", awaited = true }')
            extra_resources = [_resource(path, name, options) for name, options in value.items()]
        elif key == "safe":
            _expect(path, key, value, dict, "a table with `names = [...]`")
            for safe_key, safe_value in value.items():
                if safe_key != "names":
                    raise ConfigError(f"{path}: unknown key `safe.{safe_key}`; expected `names`")
                safe_names = _string_list(path, "safe.names", safe_value)
        else:
            known = sorted(_LIST_KEYS | {"respect-gitignore", "per-file-ignores", "resources", "safe", "latent",
                                         "target-pytest-asyncio"})
            raise ConfigError(f"{path}: unknown key `{key}` in [tool.loopbound]; expected one of {', '.join(known)}")
    for key in ("select", "extend_select", "ignore"):
        for selector in values.get(key, ()):
            if resolve_selector(selector) is None:
                raise ConfigError(f"{path}: `{key.replace('_', '-')}` names unknown rule `{selector}`")
    for pattern, codes in values.get("per_file_ignores", ()):
        for code in codes:
            if resolve_selector(code) is None:
                raise ConfigError(f"{path}: `per-file-ignores.{pattern}` names unknown rule `{code}`")
    if extra_resources or safe_names:
        values["registry"] = DEFAULT_REGISTRY.extended(extra_resources, safe_names)
    return Settings(**values)


def _target_pytest_asyncio(path: Path, value: Any) -> str:
    from loopbound.asyncio_versions import VersionError, admitted

    _expect(path, "target-pytest-asyncio", value, str, 'a version specifier such as ">=0.23,<0.24"')
    try:
        releases = admitted(value)
    except (VersionError, ValueError) as error:
        raise ConfigError(f"{path}: `target-pytest-asyncio` is not a version specifier: {error}") from None
    if not releases:
        raise ConfigError(f"{path}: `target-pytest-asyncio` = {value!r} admits no pytest-asyncio release")
    return str(value)


def _resource(path: Path, name: str, options: Any) -> Any:
    key = f"resources.{name}"
    _expect(path, key, options, dict, "a table such as { release = \"aclose\", awaited = true }")
    for option, value in options.items():
        if option not in _RESOURCE_KEYS:
            raise ConfigError(f"{path}: unknown key `{key}.{option}`; expected one of {', '.join(_RESOURCE_KEYS)}")
        expected = _RESOURCE_KEYS[option]
        _expect(path, f"{key}.{option}", value, expected, "a string or a list of strings" if option == "release"
                else expected.__name__ if isinstance(expected, type) else "a string")
    if "kind" in options and options["kind"] not in {kind.value for kind in Kind}:
        raise ConfigError(f"{path}: `{key}.kind` must be one of {', '.join(k.value for k in Kind)}")
    return resource_from_config(name, options)
