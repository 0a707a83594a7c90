"""The client's settings (initializationOptions, workspace/didChangeConfiguration), checked and typed.

They play the part of the command line's options: `select`/`extendSelect`/`ignore` replace the
configuration's lists as `--select`/`--extend-select`/`--ignore` do, `configuration` is `--config`,
`unsafeFixes` is `--unsafe-fixes`. `showLatent` hides latent findings the configuration shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loopbound.selection import resolve_selector

SECTION = "loopbound"
DEFAULT_DEBOUNCE_MS = 15


@dataclass(frozen=True)
class ClientSettings:
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    unsafe_fixes: bool = False
    show_latent: bool = True
    configuration: Path | None = None
    debounce_ms: int = DEFAULT_DEBOUNCE_MS


@dataclass
class Parsed:
    settings: ClientSettings
    problems: list[str] = field(default_factory=list)  # logged to the client; a bad value is left out


_KEYS = {"select", "extendSelect", "ignore", "unsafeFixes", "showLatent", "configuration", "debounceMs"}


def unwrap(raw: object) -> object:
    """Settings as sent, either bare or under a `loopbound` key (VS Code and Neovim nest them)."""
    if isinstance(raw, Mapping) and isinstance(raw.get(SECTION), Mapping):
        return raw[SECTION]
    return raw


def merged(base: object, change: object) -> object:
    """A didChangeConfiguration's keys over the initialization options: an empty or null change
    (Neovim sends `{}` at start, VS Code `null`) keeps them."""
    base, change = unwrap(base), unwrap(change)
    if not isinstance(change, Mapping) or not change:
        return base
    return {**base, **change} if isinstance(base, Mapping) else change


def parse_settings(raw: object) -> Parsed:
    raw = unwrap(raw)
    if raw is None:
        return Parsed(ClientSettings())
    if not isinstance(raw, Mapping):
        return Parsed(ClientSettings(), [f"settings must be an object, got {type(raw).__name__}"])
    problems = [f"unknown setting `{key}`; expected one of {', '.join(sorted(_KEYS))}"
                for key in raw if key not in _KEYS]
    values: dict[str, Any] = {}
    for key, attribute in (("select", "select"), ("extendSelect", "extend_select"), ("ignore", "ignore")):
        if key in raw:
            values[attribute] = _selectors(key, raw[key], problems)
    for key, attribute in (("unsafeFixes", "unsafe_fixes"), ("showLatent", "show_latent")):
        if key in raw:
            if isinstance(raw[key], bool):
                values[attribute] = raw[key]
            else:
                problems.append(f"`{key}` must be true or false, got {raw[key]!r}")
    configuration = raw.get("configuration")
    if isinstance(configuration, str) and configuration:
        values["configuration"] = Path(configuration).expanduser()
    elif configuration is not None:
        problems.append(f"`configuration` must be a path, got {configuration!r}")
    debounce = raw.get("debounceMs")
    if isinstance(debounce, int) and not isinstance(debounce, bool) and 0 <= debounce <= 5000:
        values["debounce_ms"] = debounce
    elif debounce is not None:
        problems.append(f"`debounceMs` must be a whole number of milliseconds (0 to 5000), got {debounce!r}")
    return Parsed(ClientSettings(**values), problems)


def _selectors(key: str, value: object, problems: list[str]) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = [item for item in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"`{key}` must be a list of rule codes, prefixes or names, got {value!r}")
        return None
    selectors = []
    for item in (item.strip() for item in value):
        if not item:
            continue
        if resolve_selector(item) is None:
            problems.append(f"`{key}` names unknown rule `{item}`; left out")
        else:
            selectors.append(item)
    return tuple(selectors)
