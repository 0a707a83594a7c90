"""Location, message, a source frame with carets, and the fix hint; coloured only on a terminal."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TextIO

from loopbound.findings import Applicability, Finding, Fix, Severity
from loopbound.report import Report


_COLOUR = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.LATENT: "blue"}
# What rich drops from printed text (rich.control.STRIP_CONTROL_CODES): bell, backspace, vertical
# tab, form feed, carriage return.
_CONTROL_CODES = {code: None for code in (7, 8, 11, 12, 13)}
Paint = Callable[[str, str], str]  # (style, text): the text marked up for rich, or left as it is
Text = Callable[[str], str]  # unstyled text: escaped for rich, or left as it is


def _frame(finding: Finding, lines: list[str], paint: Paint, text: Text) -> list[str]:
    row = finding.start.row
    if not lines or row > len(lines):
        return []
    first = max(1, row - 1)
    last = min(len(lines), finding.end.row if finding.end.row >= row else row)
    last = min(last, row + 4)
    width = len(str(last))
    gutter = " " * width
    out = [paint("blue", f"{gutter} |")]
    for number in range(first, last + 1):
        out.append(f"{paint('blue', f'{number:>{width}} |')} {text(lines[number - 1])}")
        if number == row:
            end = finding.end.column if finding.end.row == row else len(lines[row - 1]) + 1
            carets = "^" * max(1, end - finding.start.column)
            out.append(f"{paint('blue', f'{gutter} |')} {' ' * (finding.start.column - 1)}{paint('red', carets)} "
                       f"{paint('bold red', finding.code)}")
    out.append(paint("blue", f"{gutter} |"))
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


def _lines(finding: Finding, report: Report, paint: Paint, text: Text) -> list[str]:
    """The printed lines of one finding, the blank line after it included."""
    colour = _COLOUR[finding.severity]
    marker = " " + paint("cyan", "[*]") if finding.fix and finding.fix.applicability is Applicability.SAFE else ""
    latent = " " + paint("blue", "(latent)") if finding.severity is Severity.LATENT else ""
    help = text(fix_hint(finding.fix) if finding.fix else no_fix_hint(finding.code))
    return [f"{paint('bold', finding.path)}:{finding.start.row}:{finding.start.column}: "
            f"{paint(f'bold {colour}', finding.code)}{marker}{latent} {text(finding.message)}",
            *_frame(finding, report.source_lines(finding.path), paint, text),
            f"  {paint('cyan', '= help:')} {help}", ""]


def render(report: Report, stream: TextIO) -> None:
    if _coloured(stream):
        from rich.console import Console
        from rich.markup import escape

        def markup(style: str, text: str) -> str:
            return f"[{style}]{escape(text)}[/{style}]"

        # emoji=False: a `:name:` in a source line or message is text, not an emoji.
        console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False)
        for finding in report.findings:
            for line in _lines(finding, report, markup, escape):
                console.print(line)
        return
    for finding in report.findings:
        stream.write("".join(_as_printed(line) for line in _lines(finding, report, _unstyled, str)))


def _unstyled(style: str, text: str) -> str:
    return text


def _coloured(stream: TextIO) -> bool:
    """Whether rich would style the output: on a terminal, or when the environment forces it. Else
    the text rich would print is written directly (a third of a run with findings went to rich)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or any(name in os.environ for name in ("FORCE_COLOR", "TTY_COMPATIBLE"))


def _as_printed(line: str) -> str:
    """`line` as rich prints it without styles: control codes dropped, tabs expanded from the line's
    start (by character here; by cell width, which rich itself works out, when wide text is before one)."""
    line = line.translate(_CONTROL_CODES)
    if "\t" not in line:
        return line + "\n"
    if line.isascii():
        return line.expandtabs(8) + "\n"
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, highlight=False, soft_wrap=True, markup=False, emoji=False).print(line)
    return buffer.getvalue()
