"""Location, message, a source frame with carets, and the fix hint; coloured only on a terminal."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.markup import escape

from loopbound.findings import Applicability, Finding, Severity
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


def _hint(code: str) -> str:
    """Fixes are computed only for --fix/--diff/json (libcst is slow), so say which command may fix it."""
    from loopbound.rules import RULES_BY_CODE

    applicability = RULES_BY_CODE[code].fix_applicability
    if applicability is None:
        return f"see `loopbound rule {code}`"
    flags = "--fix" if applicability is Applicability.SAFE else "--fix --unsafe-fixes"
    return f"`loopbound check --diff` shows a {applicability.value} fix, `{flags}` applies it; see `loopbound rule {code}`"


def _latent_tag(finding: Finding) -> str:
    return " [blue](latent)[/blue]" if finding.severity is Severity.LATENT else ""


def render(report: Report, stream: TextIO) -> None:
    console = Console(file=stream, highlight=False, soft_wrap=True)
    for finding in report.findings:
        colour = _COLOUR[finding.severity]
        marker = " [cyan]\\[*][/cyan]" if finding.fix else ""
        console.print(f"[bold]{escape(finding.path)}[/bold]:{finding.start.row}:{finding.start.column}: "
                      f"[bold {colour}]{finding.code}[/bold {colour}]{marker}{_latent_tag(finding)} {escape(finding.message)}")
        for line in _frame(finding, report.source_lines(finding.path)):
            console.print(line)
        if finding.fix:
            console.print(f"  [cyan]= help:[/cyan] {escape(finding.fix.message)} ({finding.fix.applicability.value} fix)")
        else:
            console.print(f"  [cyan]= help:[/cyan] {escape(_hint(finding.code))}")
        console.print()
