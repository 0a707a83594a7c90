"""The command line: parses options, calls the engine, picks a reporter. No logic of its own."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn, TextIO

import click

from loopbound import __version__
from loopbound.config import ConfigError, Settings, load_settings
from loopbound.discovery import DiscoveryError, discover, is_test_file
from loopbound.engine import CheckResult, check_files, check_source, per_file_selected
from loopbound.report import FORMATS, Report, get_reporter
from loopbound.rules import ALL_RULES, RULES_BY_CODE, RULES_BY_NAME, resolve_selector, select_codes

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _selectors(values: tuple[str, ...]) -> list[str]:
    selectors = [item.strip() for value in values for item in value.split(",") if item.strip()]
    for selector in selectors:
        if resolve_selector(selector) is None:
            raise click.BadParameter(f"unknown rule or prefix `{selector}`; `loopbound rule --all` lists them")
    return selectors


def _fail(message: str) -> NoReturn:
    click.echo(f"loopbound: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="loopbound")
def cli() -> None:
    """Find async resources bound to the wrong event loop."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--select", multiple=True, help="Rule codes, prefixes (LB1) or names to enable.")
@click.option("--extend-select", multiple=True, help="Rules to enable on top of the selection.")
@click.option("--ignore", multiple=True, help="Rules to disable.")
@click.option("--output-format", type=click.Choice(sorted(FORMATS)), default="full", show_default=True)
@click.option("--output-file", type=click.Path(path_type=Path), help="Write the report here instead of stdout.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Use this config file.")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--stdin-filename", help="The path to report for source read from stdin (`-`).")
@click.option("--quiet", "-q", is_flag=True, help="Print findings only, no summary.")
def check(paths: tuple[Path, ...], select: tuple[str, ...], extend_select: tuple[str, ...], ignore: tuple[str, ...],
          output_format: str, output_file: Path | None, statistics: bool, exit_zero: bool, config_path: Path | None,
          isolated: bool, stdin_filename: str | None, quiet: bool) -> None:
    """Check PATHS (default: the current directory)."""
    try:
        start = paths[0] if paths and str(paths[0]) != "-" else Path(stdin_filename or ".")
        settings = load_settings(config_path, isolated=isolated, start=start)
    except ConfigError as error:
        _fail(str(error))
    settings = settings.with_overrides(
        select=tuple(_selectors(select)) or None,
        extend_select=tuple(_selectors(extend_select)) or None,
        ignore=tuple(_selectors(ignore)) or None,
    )
    selected = select_codes(list(settings.select), list(settings.extend_select), list(settings.ignore))
    reading_stdin = [str(path) for path in paths] == ["-"]
    if reading_stdin:
        result, sources = _check_stdin(stdin_filename or "-", settings, selected)
    else:
        try:
            found = discover(list(paths) or [Path(".")], settings)
        except DiscoveryError as error:
            _fail(str(error))
        result = check_files(found.python_files, settings, selected)
        result.errors[:0] = found.errors
        sources = {}
    for problem in result.errors:
        click.echo(f"loopbound: error: {problem}", err=True)
    report = Report(result.findings, result.files_checked, sources)
    stream: TextIO = output_file.open("w", encoding="utf-8") if output_file else sys.stdout
    try:
        get_reporter(output_format)(report, stream)
        if statistics:
            _print_statistics(report, stream)
    finally:
        if output_file:
            stream.close()
    if not quiet and output_format in ("full", "concise"):
        _print_summary(report)
    if result.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if result.findings and not exit_zero else EXIT_CLEAN)


def _check_stdin(filename: str, settings: Settings, selected: frozenset[str]) -> tuple[CheckResult, dict[str, str]]:
    data = sys.stdin.buffer.read()
    path = Path(filename)
    file_result = check_source(data, filename, settings, per_file_selected(path, settings, selected),
                               is_test=is_test_file(path, settings))
    result = CheckResult(findings=file_result.findings, files_checked=1)
    if file_result.error:
        result.errors.append(file_result.error)
    return result, {filename: data.decode("utf-8", errors="replace")}


def _print_statistics(report: Report, stream: TextIO) -> None:
    counts = Counter(finding.code for finding in report.findings)
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        stream.write(f"{count:>5}  {code}  {RULES_BY_CODE[code].name}\n")


def _print_summary(report: Report) -> None:
    total = len(report.findings)
    noun = "finding" if total == 1 else "findings"
    if total == 0:
        click.echo(f"All checks passed ({report.files_checked} files checked).", err=True)
        return
    fixable = f" ({report.fixable} fixable with `--fix`)" if report.fixable else ""
    click.echo(f"Found {total} {noun}{fixable} in {report.files_checked} files checked.", err=True)


@cli.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Print the documentation of every rule.")
def rule(code: str | None, show_all: bool) -> None:
    """Print the documentation of rule CODE (or of every rule)."""
    if show_all:
        rules = list(ALL_RULES)
    elif code:
        found = RULES_BY_CODE.get(code.upper()) or RULES_BY_NAME.get(code)
        if found is None:
            _fail(f"unknown rule `{code}`; `loopbound rule --all` lists them")
        rules = [found]
    else:
        _fail("give a rule code, or --all")
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console()
    for documented in rules:
        if console.is_terminal:
            console.print(Markdown(documented.documentation))
        else:
            click.echo(documented.documentation)


def main() -> None:
    cli(prog_name="loopbound")
