"""What `check --fix / --unsafe-fixes / --diff` do, so cli.py only wires options to this one call."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from loopbound import recorder
from loopbound.config import Settings
from loopbound.discovery import CheckedFile
from loopbound.engine import CheckResult
from loopbound.findings import Applicability, Finding
from loopbound.fixes.builders import attach_fixes
from loopbound.fixes.run import FixRun, fix_paths, fix_text, unified_diffs

@dataclass
class FixOptions:
    fix: bool
    diff: bool
    unsafe: bool
    quiet: bool
    cache_dir: Path | None = None  # where built fixes are kept between runs (fixes/cache.py); None: not kept
    jobs: int = 1  # processes that build the report's fixes (fixes/builders.py attach_fixes)


@dataclass
class Fixing:
    """What the fixes did; `exit_code` is set when the command is done (`--diff`, stdin)."""

    changed_files: int = 0
    exit_code: int | None = None


def apply_fix_options(result: CheckResult, options: FixOptions, settings: Settings, selected: frozenset[str], *,
                      python_files: list[CheckedFile], config_files: list[Path],
                      stdin: tuple[str, bytes] | None = None,
                      recheck: Callable[[], CheckResult] | None = None) -> Fixing:
    """Attach, apply or diff fixes; `result.findings` becomes what remains, with fixes attached.

    `recheck` is the whole check run again once fixes are written: the fix passes see each file and
    the LB3 pass, but only the whole check resolves the project index (which findings a multi-loop
    entry point reaches, resources made through the project's own code).
    """
    def attach(findings: list[Finding]) -> list[Finding]:
        files = tuple(file.shown for file in python_files)
        cache = None
        if options.cache_dir is not None and findings:
            from loopbound import parallel
            from loopbound.fixes.cache import FixCache

            cache = FixCache(options.cache_dir, settings, files, parallel.now())
        attached = attach_fixes(findings, settings, files=files, cache=cache, jobs=options.jobs)
        recording = recorder.recording()
        if cache is not None:
            cache.save()
        if recording is not None and options.cache_dir is not None:
            recording.fix_inputs = cache.inputs_known() if cache is not None else ([], [])
        return attached

    if not (options.fix or options.diff):
        result.findings = attach(result.findings)
        return Fixing()
    if stdin is not None:
        return _fix_stdin(result, options, settings, selected, stdin)
    write = options.fix and not options.diff
    run = fix_paths([file.path for file in python_files], settings, selected, unsafe=options.unsafe, write=write,
                    config_files=config_files)
    _echo_problems(run)
    if write and recheck is not None:
        remaining = recheck() if run.changed else result
        result.findings = attach(remaining.findings)
    else:
        result.findings = run.findings
    result.errors.extend(error for error in run.errors if error not in result.errors)
    fixing = Fixing(changed_files=len(run.changed))
    if options.diff:
        sys.stdout.write(unified_diffs(run))
        _summary(run, options, "Would fix")
        fixing.exit_code = 2 if result.errors else (1 if run.changed else 0)
    else:
        _summary(run, options, "Fixed")
    return fixing


def _fix_stdin(result: CheckResult, options: FixOptions, settings: Settings, selected: frozenset[str],
               stdin: tuple[str, bytes]) -> Fixing:
    """As ruff does: the fixed source goes to stdout (or the diff with `--diff`), the rest to stderr."""
    filename, data = stdin
    run = fix_text(data, filename, settings, selected, unsafe=options.unsafe)
    _echo_problems(run)
    source = run.files[filename]
    if options.diff:
        sys.stdout.write(unified_diffs(run))
        code = 1 if source.changed else 0
    else:
        sys.stdout.write(source.text)
        code = 1 if run.findings else 0
    _summary(run, options, "Would fix" if options.diff else "Fixed")
    result.findings = run.findings
    return Fixing(changed_files=int(source.changed), exit_code=2 if result.errors else code)


def _echo_problems(run: FixRun) -> None:
    for note in run.notes:
        click.echo(f"loopbound: warning: {note}", err=True)
    for error in run.errors:
        click.echo(f"loopbound: error: {error}", err=True)


def _summary(run: FixRun, options: FixOptions, verb: str) -> None:
    if options.quiet:
        return
    files = len(run.changed)
    hidden = sum(1 for f in run.findings if f.fix and f.fix.applicability is Applicability.UNSAFE)
    message = f"{verb} {run.fixed} {'finding' if run.fixed == 1 else 'findings'} in {files} " \
              f"{'file' if files == 1 else 'files'}."
    if hidden and not options.unsafe:
        message += f" {hidden} more fixable with `--unsafe-fixes`."
    click.echo(message, err=True)
