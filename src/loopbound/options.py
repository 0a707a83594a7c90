"""A plain `loopbound check` command line read without click: the options exactly as click would pass them.

Importing click costs a one-file run about a tenth of its time. The command lines people and editors
run are simple (paths, `--output-format concise`, `--select LB1`), so warm.py reads those here and runs
the command (command.py) itself. Anything this reader does not take word for word as click would (an
unknown or abbreviated option, `--`, short options run together, a value click would refuse or check,
`--help`, shell completion) returns None and goes to click, which parses it and reports the error.
tests/test_options.py holds this table to the click command's and compares the two readings.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

# Option -> its parameter, by kind. Paths: (parameter, may be a file, may be a folder), as click.Path has them.
FLAGS = {"--statistics": "statistics", "--exit-zero": "exit_zero", "--isolated": "isolated", "--quiet": "quiet",
         "-q": "quiet", "--add-noqa": "add_noqa", "--fix": "fix", "--unsafe-fixes": "unsafe_fixes", "--diff": "diff",
         "--exit-non-zero-on-fix": "exit_non_zero_on_fix", "--no-cache": "no_cache"}
REPEATED = {"--select": "select", "--extend-select": "extend_select", "--ignore": "ignore"}
TEXTS = {"--output-format": "output_format", "--stdin-filename": "stdin_filename"}
PATHS = {"--output-file": ("output_file", True, True), "--config": ("config_path", True, False),
         "--baseline": ("baseline", True, False), "--write-baseline": ("write_baseline", True, False),
         "--cache-dir": ("cache_dir", False, True)}
COUNTS = {"--jobs": "jobs", "-j": "jobs"}
DEFAULTS: dict[str, Any] = {"paths": (), **{name: () for name in REPEATED.values()}, "output_format": "full",
                            **{name: False for name in FLAGS.values()}, "stdin_filename": None,
                            **{name: None for name, _, _ in PATHS.values()}, "jobs": None}
_COMPLETION = "_LOOPBOUND_COMPLETE"  # click's shell completion variable for the program `loopbound`


def plain_check(arguments: list[str]) -> dict[str, Any] | None:
    """The keyword arguments click would pass to `check` for `loopbound ARGUMENTS`; None when this is
    not a plain check or click might answer otherwise (an error, help, completion)."""
    if not arguments or arguments[0] != "check" or _COMPLETION in os.environ:
        return None
    values = dict(DEFAULTS)
    paths: list[str] = []
    pending = arguments[1:]
    index = 0
    while index < len(pending):
        argument = pending[index]
        index += 1
        if argument == "-" or not argument.startswith("-"):
            paths.append(argument)
            continue
        option, equals, value = argument.partition("=")
        if option in FLAGS and not equals:
            values[FLAGS[option]] = True
            continue
        if not equals:
            if index == len(pending) or pending[index].startswith("-"):
                return None  # no value, or one click might read as an option
            value = pending[index]
            index += 1
        if option in REPEATED:
            values[REPEATED[option]] = (*values[REPEATED[option]], value)
        elif option in TEXTS:
            values[TEXTS[option]] = value
        elif option in COUNTS:
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                return None
            values[COUNTS[option]] = int(value)
        elif option in PATHS:
            name, file_okay, dir_okay = PATHS[option]
            if not _plain_path(value, file_okay, dir_okay):
                return None
            values[name] = value
        else:
            return None  # `--help`, `--`, `-qj2`, an unknown or misspelt option
    if not all(_plain_path(path, True, True) for path in paths) or not _known(values):
        return None
    from pathlib import Path

    values["paths"] = tuple(Path(path) for path in paths)
    for name, _, _ in PATHS.values():
        if values[name] is not None:
            values[name] = Path(values[name])
    return values


def _plain_path(value: str, file_okay: bool, dir_okay: bool) -> bool:
    """Whether click.Path (readable, not required to exist) takes the value without a word."""
    try:
        status = os.stat(value)
    except OSError:
        return True
    except ValueError:
        return False  # a NUL in the name: click's own error
    if (not file_okay and stat.S_ISREG(status.st_mode)) or (not dir_okay and stat.S_ISDIR(status.st_mode)):
        return False
    return os.access(value, os.R_OK)


def _known(values: dict[str, Any]) -> bool:
    """Whether the output format and every rule selector are ones click's checks let through."""
    from loopbound.report import FORMATS
    from loopbound.selection import resolve_selector

    if values["output_format"] not in FORMATS:
        return False
    return all(resolve_selector(item.strip()) is not None
               for name in REPEATED.values() for value in values[name] for item in value.split(",") if item.strip())
