"""The plain `check` command line warm.py reads without click (options.py) reads as click does, or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import pytest

from loopbound.cli import cli
from loopbound.options import COUNTS, DEFAULTS, FLAGS, PATHS, REPEATED, TEXTS, plain_check


def _click_reading(arguments: list[str]) -> dict[str, Any] | None:
    """What click passes to `check` for these arguments; None when it refuses them."""
    command = cli.commands["check"]
    try:
        with command.make_context("check", list(arguments[1:])) as context:
            return dict(context.params)
    except (click.ClickException, click.exceptions.Exit):
        return None


def test_the_table_is_the_click_command() -> None:
    """Every option of the click command is in the table, as the kind of value it takes."""
    options = {option: parameter for parameter in cli.commands["check"].params
               for option in [*parameter.opts, *parameter.secondary_opts]}
    table = {**FLAGS, **REPEATED, **TEXTS, **COUNTS, **{option: row[0] for option, row in PATHS.items()}}
    declared = {option for option, parameter in options.items() if isinstance(parameter, click.Option)}
    assert set(table) == declared
    for option, name in table.items():
        parameter = options[option]
        assert parameter.name == name
        assert isinstance(parameter, click.Option)
        assert parameter.is_flag == (option in FLAGS)
        assert parameter.multiple == (option in REPEATED)
        assert DEFAULTS[name] == (() if parameter.multiple else parameter.default if not parameter.is_flag else False)
        if option in PATHS:
            assert isinstance(parameter.type, click.Path)
            assert (parameter.type.file_okay, parameter.type.dir_okay) == PATHS[option][1:]
        elif option in COUNTS:
            assert isinstance(parameter.type, click.IntRange) and parameter.type.min == 1
    assert set(DEFAULTS) == {parameter.name for parameter in cli.commands["check"].params}


READ_HERE = [
    ["check"],
    ["check", "."],
    ["check", "--no-cache", "--output-format", "concise", "--quiet", "--exit-zero", "src/a.py"],
    ["check", "--output-format=json", "a.py", "--select", "LB1", "--select=LB201,LB301", "b.py"],
    ["check", "--extend-select", "LB2", "--ignore", "LB101", "-q", "--statistics", "-j", "2", "."],
    ["check", "--jobs=3", "--cache-dir", "cache", "--config", "loopbound.toml", "--baseline", "base.json", "."],
    ["check", "--write-baseline", "base.json", "--output-file", "out.txt", "--isolated", "--fix", "--diff"],
    ["check", "--unsafe-fixes", "--add-noqa", "--exit-non-zero-on-fix", "--stdin-filename", "x.py", "-"],
    ["check", "--output-format", "concise", "--output-format", "json", "folder", "file.txt"],
]
# Refused by click (its message is the answer), or read by it in a way this reader leaves to it.
LEFT_TO_CLICK = [
    ["check", "--select", "LB999"],
    ["check", "--select", "nonsense,LB1"],
    ["check", "--output-format", "yaml"],
    ["check", "--jobs", "0"],
    ["check", "-j", "two"],
    ["check", "-j2"],
    ["check", "-qj", "2"],
    ["check", "--quiet=yes"],
    ["check", "--select"],
    ["check", "--select", "--ignore", "LB1"],
    ["check", "--", "-weird.py"],
    ["check", "--unknown"],
    ["check", "--no-cach"],
    ["check", "--help"],
    ["check", "--config", "folder"],
    ["check", "--cache-dir", "file.txt"],
    ["check", "--baseline", "folder"],
    ["check", "nul\0.py"],
    ["rule", "LB101"],
    ["--version"],
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("")
    return tmp_path


@pytest.mark.parametrize("arguments", READ_HERE, ids=[" ".join(line) for line in READ_HERE])
def test_plain_command_lines_are_read_as_click_reads_them(arguments: list[str], folder: Path) -> None:
    """The command lines of editors, pre-commit and the benchmark: read here, never importing click."""
    plain = plain_check(arguments)
    assert plain is not None
    assert plain == _click_reading(arguments)


@pytest.mark.parametrize("arguments", LEFT_TO_CLICK, ids=[" ".join(line) for line in LEFT_TO_CLICK])
def test_anything_else_is_left_to_click(arguments: list[str], folder: Path) -> None:
    assert plain_check(arguments) is None


def test_an_unreadable_path_is_left_to_click(folder: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    (folder / "secret.py").write_text("")
    (folder / "secret.py").chmod(0)
    assert plain_check(["check", "secret.py"]) is None
    assert _click_reading(["check", "secret.py"]) is None


def test_shell_completion_is_left_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_LOOPBOUND_COMPLETE", "bash_complete")
    assert plain_check(["check", "."]) is None
