"""The command line: parses options, calls the command (command.py), picks nothing itself.

A plain `loopbound check` never comes here: warm.py reads it (options.py) and runs the command.
"""

from __future__ import annotations

from pathlib import Path

import click

from loopbound import __version__
from loopbound.command import fail, run, split_selectors
from loopbound.report import FORMATS
from loopbound.rules import ALL_RULES, RULES_BY_CODE, RULES_BY_NAME
from loopbound.selection import resolve_selector


def _selectors(values: tuple[str, ...]) -> list[str]:
    selectors = split_selectors(values)
    for selector in selectors:
        if resolve_selector(selector) is None:
            raise click.BadParameter(f"unknown rule or prefix `{selector}`; `loopbound rule --all` lists them")
    return selectors


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
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="Ignore the findings recorded in this baseline file.")
@click.option("--write-baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="Record every current finding in this baseline file.")
@click.option("--add-noqa", is_flag=True, help="Append `# noqa: LBxxx` to every line with a finding.")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place; report what remains.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes marked unsafe (with --fix or --diff).")
@click.option("--diff", is_flag=True, help="Print the unified diff --fix would make; write nothing.")
@click.option("--exit-non-zero-on-fix", is_flag=True, help="Exit 1 when --fix changed a file.")
@click.option("--no-cache", is_flag=True, help="Check every file; neither read nor write the results cache.")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where to keep the results cache (default: .loopbound_cache/ in the project root).")
@click.option("--jobs", "-j", type=click.IntRange(min=1),
              help="Processes that check files, the main one included (default: the number of CPUs).")
def check(paths: tuple[Path, ...], select: tuple[str, ...], extend_select: tuple[str, ...], ignore: tuple[str, ...],
          output_format: str, output_file: Path | None, statistics: bool, exit_zero: bool, config_path: Path | None,
          isolated: bool, stdin_filename: str | None, quiet: bool, baseline: Path | None,
          write_baseline: Path | None, add_noqa: bool, fix: bool, unsafe_fixes: bool, diff: bool,
          exit_non_zero_on_fix: bool, no_cache: bool, cache_dir: Path | None, jobs: int | None) -> None:
    """Check PATHS (default: the current directory)."""
    run(paths, select, extend_select, ignore, output_format, output_file, statistics, exit_zero, config_path, isolated,
        stdin_filename, quiet, baseline, write_baseline, add_noqa, fix, unsafe_fixes, diff, exit_non_zero_on_fix,
        no_cache, cache_dir, jobs, selectors=_selectors)


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
            fail(f"unknown rule `{code}`; `loopbound rule --all` lists them")
        rules = [found]
    else:
        fail("give a rule code, or --all")
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console()
    for documented in rules:
        if console.is_terminal:
            console.print(Markdown(documented.documentation))
        else:
            click.echo(documented.documentation)


@cli.command()
@click.option("--stdio", is_flag=True, help="Speak LSP over stdin/stdout (the default and only transport).")
def server(stdio: bool) -> None:
    """Run the language server (LSP over stdin/stdout) for editors; see docs/editors.md."""
    from loopbound.server import serve

    serve()


def main() -> None:
    cli(prog_name="loopbound")
