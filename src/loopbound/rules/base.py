"""What a rule is (metadata: code, name, docs, severity, fix) and what a file-level rule sees."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loopbound.findings import Applicability, Finding, Location, Severity
from loopbound.names import ImportTable
from loopbound.registry import Registry, Resource

if TYPE_CHECKING:
    from loopbound.index.view import FileView


@dataclass(frozen=True)
class Rule:
    """A rule's public contract; docs, `loopbound rule`, SARIF metadata and the README come from here.

    The doc sections are ruff's: what it does, why it is bad, an example, what to use instead,
    whether its fix is safe, and references to the libraries' own documentation.
    """

    code: str
    name: str
    summary: str
    what_it_does: str
    why_bad: str
    example: str
    use_instead: str
    fix_safety: str = "This rule has no automatic fix."
    references: tuple[str, ...] = ()
    severity: Severity = Severity.ERROR
    fix_applicability: Applicability | None = None
    opt_in: bool = False

    @property
    def documentation(self) -> str:
        references = "\n".join(f"- {reference}" for reference in self.references)
        return (
            f"# {self.code} {self.name}\n\n{self.summary}\n\n"
            f"Severity: {self.severity.value}. "
            f"Fix: {self.fix_applicability.value if self.fix_applicability else 'none'}."
            f"{' Opt-in: enable it with `--extend-select`.' if self.opt_in else ''}\n\n"
            f"## What it does\n\n{self.what_it_does}\n\n"
            f"## Why is this bad?\n\n{self.why_bad}\n\n"
            f"## Example\n\n```python\n{self.example.strip()}\n```\n\n"
            f"## Use instead\n\n```python\n{self.use_instead.strip()}\n```\n\n"
            f"## Fix safety\n\n{self.fix_safety}\n"
            + (f"\n## References\n\n{references}\n" if references else "")
        )


@dataclass
class FileContext:
    """Everything a file-level rule may look at, computed once per file."""

    path: str
    source: str
    tree: ast.Module
    registry: Registry
    is_test_file: bool
    # The project index seen from this file: set by the whole-project pass, None in the per-file one.
    index: FileView | None = None
    imports: ImportTable = field(init=False)
    _lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.imports = ImportTable.for_module(self.tree)
        self._lines = self.source.splitlines()

    def made_by_project(self, call: ast.Call) -> Resource | None:
        """The resource a call of one of the project's own functions or classes makes, if any."""
        maker = self.index.maker(call.func) if self.index is not None else None
        return maker.resource if maker is not None else None

    def described(self, call: ast.expr, resource: Resource) -> str:
        """`httpx.AsyncClient`, or for a project's own factory the chain down to the registry call."""
        if self.index is None or not isinstance(call, ast.Call):
            return f"`{resource.qualname}`"
        maker = self.index.maker(call.func)
        return maker.describe(ast.unparse(call.func)) if maker is not None else f"`{resource.qualname}`"

    def via(self, call: ast.expr | None) -> dict[str, str]:
        """Finding data marking a resource made through project code: fixes written for the registry's
        own constructors do not apply to it."""
        maker = self.index.maker(call.func) if self.index is not None and isinstance(call, ast.Call) else None
        return {"made_through": maker.symbol.name} if maker is not None else {}

    def line(self, row: int) -> str:
        return self._lines[row - 1] if 0 < row <= len(self._lines) else ""

    def location(self, row: int, byte_column: int) -> Location:
        """ast counts columns in UTF-8 bytes; users and editors count characters."""
        text = self.line(row)
        if not text.isascii():
            byte_column = len(text.encode("utf-8")[:byte_column].decode("utf-8", "replace"))
        return Location(row, byte_column + 1)

    def definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> ast.AST:
        """The `def name` / `class name` span of a definition, rather than its whole body."""
        keyword = {"FunctionDef": "def", "AsyncFunctionDef": "async def", "ClassDef": "class"}[type(node).__name__]
        text = self.line(node.lineno).encode("utf-8")
        start = text.find(keyword.encode(), node.col_offset)
        name_at = text.find(node.name.encode(), max(start, node.col_offset))
        span = ast.Name(id=node.name, lineno=node.lineno, end_lineno=node.lineno)
        span.col_offset = start if start >= 0 else node.col_offset
        span.end_col_offset = name_at + len(node.name) if name_at >= 0 else span.col_offset
        return span

    def finding(self, rule: Rule, node: ast.AST, message: str, **data: str) -> Finding:
        start = self.location(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end_row = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
        end_column = getattr(node, "end_col_offset", None)
        end = self.location(end_row, end_column) if end_column is not None else start
        return Finding(
            code=rule.code,
            name=rule.name,
            message=message,
            path=self.path,
            start=start,
            end=end,
            severity=rule.severity,
            data=tuple(sorted(data.items())),
        )


FileChecker = Callable[[FileContext], Iterator[Finding]]


@dataclass(frozen=True)
class FileRuleGroup:
    """One visitor that serves several rules (one walk of the tree for LB101-LB107)."""

    rules: tuple[Rule, ...]
    check: FileChecker
    # Words that let a file past the pre-filter besides the last parts of registry names.
    triggers: frozenset[str] = frozenset()

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(rule.code for rule in self.rules)


def codes_of(rules: Iterable[Rule]) -> frozenset[str]:
    return frozenset(rule.code for rule in rules)
