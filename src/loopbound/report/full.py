"""Location, message, a source frame with carets, and the fix hint; coloured only on a terminal."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.markup import escape

from loopbound.findings import Applicability, Finding, Fix, Severity
from loopbound.report import Report


_COLOUR = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.LATENT: "blue"}


def _frame(finding: Finding, lines: list[str]) -> list[str]:
    row = finding.start.row
    if not lines or row > len(lines):
        return []
    first = max(1, row - 1)
    last = min(len(lines), finding.end.row if finding.end.row >= row else row)
    last = min(last, row + 4)
    width = len(str(last))
    gutter = " " * width
    out = [f"[blue]{gutter} |[/blue]"]
    for number in range(first, last + 1):
        out.append(f"[blue]{number:>{width}} |[/blue] {escape(lines[number - 1])}")
        if number == row:
            end = finding.end.column if finding.end.row == row else len(lines[row - 1]) + 1
            carets = "^" * max(1, end - finding.start.column)
            out.append(f"[blue]{gutter} |[/blue] {' ' * (finding.start.column - 1)}[red]{carets}[/red] "
                       f"[bold red]{finding.code}[/bold red]")
    out.append(f"[blue]{gutter} |[/blue]")
    return out


def fix_hint(fix: Fix) -> str:
    """What `--fix` and `--fix --unsafe-fixes` will do with this very fix."""
    if fix.applicability is Applicability.SAFE:
        return f"{fix.message}: `loopbound check --fix` applies this safe fix"
    return (f"{fix.message}: `loopbound check --fix --unsafe-fixes` applies this unsafe fix (`--diff --unsafe-fixes` "
            "shows it); `--fix` alone leaves it")


def no_fix_hint(code: str) -> str:
    """For a finding with no fix: say so when the rule fixes other cases, so nobody runs `--fix` for nothing."""
    from loopbound.rules import RULES_BY_CODE

    if RULES_BY_CODE[code].fix_applicability is None:
        return f"see `loopbound rule {code}`"
    return f"no automatic fix for this case: `--fix` leaves it; see `loopbound rule {code}`"


def _latent_tag(finding: Finding) -> str:
    return " [blue](latent)[/blue]" if finding.severity is Severity.LATENT else ""


def render(report: Report, stream: TextIO) -> None:
    console = Console(file=stream, highlight=False, soft_wrap=True)
    for finding in report.findings:
        colour = _COLOUR[finding.severity]
        marker = " [cyan]\\[*][/cyan]" if finding.fix and finding.fix.applicability is Applicability.SAFE else ""
        console.print(f"[bold]{escape(finding.path)}[/bold]:{finding.start.row}:{finding.start.column}: "
                      f"[bold {colour}]{finding.code}[/bold {colour}]{marker}{_latent_tag(finding)} {escape(finding.message)}")
        for line in _frame(finding, report.source_lines(finding.path)):
            console.print(line)
        hint = fix_hint(finding.fix) if finding.fix else no_fix_hint(finding.code)
        console.print(f"  [cyan]= help:[/cyan] {escape(hint)}")
        console.print()
