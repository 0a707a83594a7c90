"""Findings, fixes and edits as plain frozen data, so they can be cached, compared and serialised."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any


class Severity(str, enum.Enum):
    """ERROR and WARNING fail the run; LATENT is reported without failing it by default.

    A finding is latent when the rule's letter holds but nothing in the project shows it breaking: no
    multi-loop entry point reaches the resource, or a fixture hands nothing loop-bound across loops.
    """

    ERROR = "error"
    WARNING = "warning"
    LATENT = "latent"


class LatentPolicy(str, enum.Enum):
    """What `latent = ...` in `[tool.loopbound]` does with latent findings."""

    REPORT = "report"  # shown, never failing the run
    ERROR = "error"  # shown as errors, failing the run
    HIDE = "hide"  # not shown at all


def apply_latent_policy(findings: list[Finding], policy: LatentPolicy) -> list[Finding]:
    """The findings as the user asked to see latent ones: kept, promoted to errors, or dropped."""
    if policy is LatentPolicy.REPORT:
        return findings
    if policy is LatentPolicy.HIDE:
        return [finding for finding in findings if finding.severity is not Severity.LATENT]
    return [replace(finding, severity=Severity.ERROR) if finding.severity is Severity.LATENT else finding
            for finding in findings]


def fails_run(finding: Finding) -> bool:
    return finding.severity is not Severity.LATENT


class Applicability(str, enum.Enum):
    """ruff's model: a safe fix keeps behaviour except for the bug; an unsafe one may change more."""

    SAFE = "safe"
    UNSAFE = "unsafe"


@dataclass(frozen=True, order=True)
class Location:
    """1-based row, 1-based column counted in characters (not bytes)."""

    row: int
    column: int

    def to_dict(self) -> dict[str, int]:
        return {"row": self.row, "column": self.column}


@dataclass(frozen=True)
class Edit:
    """Replace the text between start and end (end exclusive) of `path` with `content`."""

    path: str
    start: Location
    end: Location
    content: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "location": self.start.to_dict(),
            "end_location": self.end.to_dict(),
            "filename": self.path,
        }


@dataclass(frozen=True)
class Fix:
    applicability: Applicability
    message: str
    edits: tuple[Edit, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "applicability": self.applicability.value,
            "message": self.message,
            "edits": [edit.to_dict() for edit in self.edits],
        }


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    message: str
    path: str
    start: Location
    end: Location
    severity: Severity = Severity.ERROR
    fix: Fix | None = None
    # Extra data a rule's fix builder needs later (for example the bound name); never shown.
    data: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.start.row, self.start.column, self.code)

    def datum(self, key: str) -> str | None:
        return dict(self.data).get(key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "filename": self.path,
            "location": self.start.to_dict(),
            "end_location": self.end.to_dict(),
            "severity": self.severity.value,
            "fix": self.fix.to_dict() if self.fix else None,
            "url": f"docs/rules/{self.code}.md",
        }


@dataclass(frozen=True)
class FileError:
    """A file that could not be checked at all (unreadable, undecodable): exit code 2."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"
