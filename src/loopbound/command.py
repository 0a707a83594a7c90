"""`loopbound check`: what the command does once its options are parsed, with no click in it.

cli.py's click command calls `check`; warm.py calls `run` directly when the command line is a plain
check (options.py reads it as click would, or hands it to click), so such a run never imports click.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

from loopbound.cache import default_cache_dir
from loopbound.config import ConfigError, Settings, load_settings
from loopbound.discovery import CheckedFile, DiscoveryError, discover, is_test_file, real_path, relative_to_root
from loopbound.findings import Severity, apply_latent_policy, fails_run
from loopbound.engine import CheckResult, check_source, per_file_selected
from loopbound.noqa import add_noqa_to_files
from loopbound.parallel import check_tree
from loopbound.scheduling import default_jobs
from loopbound.progress import with_progress
from loopbound.report import Report, get_reporter
from loopbound.rules import RULES_BY_CODE
from loopbound.selection import select_codes

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def main(options: dict[str, Any]) -> NoReturn:
    """`run(**options)` as click's standalone mode runs its commands: an interrupt prints "Aborted!"
    and a closed pipe ends the run quietly, both with status 1."""
    import errno

    try:
        run(**options)
    except (EOFError, KeyboardInterrupt):
        echo("")
        echo("Aborted!")
        sys.exit(1)
    except OSError as error:
        if error.errno != errno.EPIPE:
            raise
        from click.utils import PacifyFlushWrapper

        sys.stdout = PacifyFlushWrapper(sys.stdout)
        sys.stderr = PacifyFlushWrapper(sys.stderr)
        sys.exit(1)


def echo(message: str) -> None:
    """`click.echo(message, err=True)`: the line, flushed. click itself only where it would write
    something else: ANSI codes it strips off a terminal, a stream it would re-wrap (no encoding, ASCII)."""
    stream = sys.stderr
    encoding = getattr(stream, "encoding", None)
    if stream is None or "\x1b" in message or encoding is None or getattr(stream, "errors", None) is None \
            or _is_ascii(encoding):
        import click

        click.echo(message, err=True)
        return
    stream.write(message + "\n")
    stream.flush()


def _is_ascii(encoding: str) -> bool:
    import codecs

    try:
        return codecs.lookup(encoding).name == "ascii"
    except LookupError:
        return False


def split_selectors(values: tuple[str, ...]) -> list[str]:
    """The rule selectors of --select (and the like): each value split at commas."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _whole_project(paths: tuple[Path, ...], settings: Settings) -> list[CheckedFile] | None:
    """Every Python file of the project when the paths are only part of it: which event loops reach a
    checked module depends on the test suites and apps that import it."""
    checked = [real_path(path) for path in paths or (Path("."),)]
    if all(path == settings.project_root for path in checked):
        return None
    if any(path != settings.project_root and settings.project_root not in path.parents for path in checked):
        return None  # a path outside the project the settings came from: that project's suites do not run it
    if settings.config_path is None and not (settings.project_root / ".git").exists():
        return None  # no configuration, no repository: the folder a run starts in is not known to be a project
    try:
        return discover([settings.project_root], settings).python_files
    except DiscoveryError:
        return None


def fail(message: str) -> NoReturn:
    echo(f"loopbound: error: {message}")
    sys.exit(EXIT_ERROR)


def run(paths: tuple[Path, ...] = (), select: tuple[str, ...] = (), extend_select: tuple[str, ...] = (),
          ignore: tuple[str, ...] = (), output_format: str = "full", output_file: Path | None = None,
          statistics: bool = False, exit_zero: bool = False, config_path: Path | None = None, isolated: bool = False,
          stdin_filename: str | None = None, quiet: bool = False, baseline: Path | None = None,
          write_baseline: Path | None = None, add_noqa: bool = False, fix: bool = False, unsafe_fixes: bool = False,
          diff: bool = False, exit_non_zero_on_fix: bool = False, no_cache: bool = False,
          cache_dir: Path | None = None, jobs: int | None = None, *,
          selectors: Callable[[tuple[str, ...]], list[str]] = split_selectors) -> NoReturn:
    """`loopbound check PATHS`: the options as click passes them; `selectors` splits (and, from click,
    validates) the values of --select, --extend-select and --ignore."""
    try:
        start = paths[0] if paths and str(paths[0]) != "-" else Path(stdin_filename or ".")
        settings = load_settings(config_path, isolated=isolated, start=start)
    except ConfigError as error:
        fail(str(error))
    settings = settings.with_overrides(
        select=tuple(selectors(select)) or None,
        extend_select=tuple(selectors(extend_select)) or None,
        ignore=tuple(selectors(ignore)) or None,
    )
    selected = select_codes(list(settings.select), list(settings.extend_select), list(settings.ignore))
    reading_stdin = [str(path) for path in paths] == ["-"]
    if reading_stdin and add_noqa:
        fail("--add-noqa edits files in place and cannot be used with source read from stdin")
    cache_in = None if no_cache or reading_stdin else cache_dir or default_cache_dir(settings)
    if reading_stdin:
        result, sources = _check_stdin(stdin_filename or "-", settings, selected)
        checked = [stdin_filename or "-"]
    else:
        try:
            found = discover(list(paths) or [Path(".")], settings)
        except DiscoveryError as error:
            fail(str(error))
        def check_found() -> CheckResult:
            return check_tree(found.python_files, found.config_files, settings, selected, jobs=jobs,
                              progress=with_progress, cache_dir=cache_in,
                              project_files=lambda: _whole_project(paths, settings))

        result = check_found()
        result.errors[:0] = found.errors
        for note in [] if quiet else found.notes:
            echo(f"loopbound: note: {note}")
        sources = {}
        checked = [file.shown for file in found.python_files]
    fixing = None
    if fix or diff or output_format in FIXES_SHOWN:
        from loopbound.fixes.command import FixOptions, apply_fix_options

        stdin = (checked[0], sources[checked[0]].encode("utf-8")) if reading_stdin else None
        options = FixOptions(fix, diff, unsafe_fixes, quiet, cache_dir=cache_in, jobs=jobs or default_jobs())
        fixing = apply_fix_options(result, options, settings, selected,
                                   python_files=[] if reading_stdin else found.python_files,
                                   config_files=[] if reading_stdin else found.config_files, stdin=stdin,
                                   recheck=None if reading_stdin else check_found)
        if fixing.exit_code is not None:
            sys.exit(fixing.exit_code)
    for problem in result.errors:
        echo(f"loopbound: error: {problem}")
    for warning in result.warnings:
        echo(f"loopbound: warning: {warning}")
    report = Report(apply_latent_policy(result.findings, settings.latent), result.files_checked, sources,
                    checked_paths=checked)
    if add_noqa:
        sys.exit(_add_noqa(report, failed=bool(result.errors)))
    if write_baseline:
        sys.exit(_write_baseline(write_baseline, report, failed=bool(result.errors)))
    if baseline:
        _apply_baseline(baseline, report, quiet)
    stream: TextIO = output_file.open("w", encoding="utf-8") if output_file else sys.stdout
    try:
        if report.findings or output_format != "full":  # the full reporter prints nothing then: skip importing rich
            get_reporter(output_format)(report, stream)
        if statistics:
            _print_statistics(report, stream)
    finally:
        if output_file:
            stream.close()
    if not quiet and output_format in ("full", "concise"):
        _print_summary(report, fixes_known=fixing is not None)
    if result.errors:
        sys.exit(EXIT_ERROR)
    if exit_non_zero_on_fix and fixing is not None and fixing.changed_files:
        sys.exit(EXIT_FINDINGS)
    failing = any(fails_run(finding) for finding in report.findings)
    sys.exit(EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN)


def _add_noqa(report: Report, failed: bool) -> int:
    outcome = add_noqa_to_files(report.findings)
    for problem in outcome.errors:
        echo(f"loopbound: error: {problem}")
    for finding in outcome.skipped:
        echo(f"loopbound: warning: {finding.path}:{finding.start.row}: cannot add `# noqa: {finding.code}` "
                   f"inside a multi-line string or after a line continuation")
    noun = "directive" if outcome.lines_changed == 1 else "directives"
    echo(f"Added {outcome.lines_changed} noqa {noun}.")
    return EXIT_ERROR if failed or outcome.errors else EXIT_CLEAN


def _write_baseline(path: Path, report: Report, failed: bool) -> int:
    from loopbound.baseline import BaselineError
    from loopbound.baseline import write_baseline as write_baseline_file

    try:
        count = write_baseline_file(path, report.findings, report.source_lines)
    except BaselineError as error:
        fail(str(error))
    echo(f"Wrote {count} {'finding' if count == 1 else 'findings'} to the baseline {path}.")
    return EXIT_ERROR if failed else EXIT_CLEAN


def _apply_baseline(path: Path, report: Report, quiet: bool) -> None:
    from loopbound.baseline import BaselineError, apply_baseline  # json and hashlib: only for baselines

    try:
        filtered = apply_baseline(path, report.findings, report.source_lines)
    except BaselineError as error:
        fail(str(error))
    report.findings = filtered.new
    for entry in filtered.stale:
        echo(f"loopbound: stale baseline entry in {path}: {entry.path} {entry.code} no longer found "
                   f"({entry.message or entry.fingerprint})")
    if filtered.stale:
        echo(f"loopbound: {len(filtered.stale)} stale baseline entries; refresh with `--write-baseline {path}`")
    if filtered.baselined and not quiet:
        noun = "finding" if filtered.baselined == 1 else "findings"
        echo(f"{filtered.baselined} {noun} hidden by the baseline {path}.")


def _check_stdin(filename: str, settings: Settings, selected: frozenset[str]) -> tuple[CheckResult, dict[str, str]]:
    data = sys.stdin.buffer.read()
    path = Path(filename)
    file_selected = per_file_selected(relative_to_root(path, settings), settings, selected)
    file_result = check_source(data, filename, settings, file_selected,
                               is_test=is_test_file(path, settings))
    result = CheckResult(findings=file_result.findings, files_checked=1)
    if file_result.error:
        result.errors.append(file_result.error)
    return result, {filename: data.decode("utf-8", errors="replace")}


def _print_statistics(report: Report, stream: TextIO) -> None:
    counts = Counter(finding.code for finding in report.findings)
    latent = Counter(finding.code for finding in report.findings if finding.severity is Severity.LATENT)
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        of_which = f"  ({latent[code]} latent)" if latent[code] else ""
        stream.write(f"{count:>5}  {code}  {RULES_BY_CODE[code].name}{of_which}\n")


# Formats that show each finding's fix (its edits, or the help line and summary that say what `--fix`
# will do): fixes are computed for their findings even without --fix. Only files with a finding of a
# fixable rule pay for it (libcst parses them once). `concise`, made for speed and scripts, does not:
# it then marks no finding fixable and its summary makes no promise.
FIXES_SHOWN = frozenset({"json", "json-lines", "sarif", "full"})


def _print_summary(report: Report, *, fixes_known: bool) -> None:
    total = len(report.findings)
    noun = "finding" if total == 1 else "findings"
    files = f"{report.files_checked} file{'' if report.files_checked == 1 else 's'} checked"
    if total == 0:
        echo(f"All checks passed ({files}).")
        return
    latent = sum(1 for finding in report.findings if finding.severity is Severity.LATENT)
    errors = total - latent
    split = f" ({errors} {'error' if errors == 1 else 'errors'}, {latent} latent)" if latent else ""
    fixes = f": {_fix_summary(report)}" if fixes_known else ""
    echo(f"Found {total} {noun}{split} in {files}{fixes}.")


def _fix_summary(report: Report) -> str:
    """From the fixes computed for these findings: what `--fix` and `--fix --unsafe-fixes` would do."""
    safe, unsafe, none = report.fix_counts()
    if not safe and not unsafe:
        return "none with an automatic fix"
    parts = [f"{safe} with a safe fix (`--fix`)" if safe else "",
             f"{unsafe} with an unsafe fix (`--fix --unsafe-fixes`)" if unsafe else "",
             f"{none} without a fix" if none else ""]
    return ", ".join(part for part in parts if part)


