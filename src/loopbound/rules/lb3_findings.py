"""Findings of the project-level LB3 rules: in a Python module (at a node) or in a pytest config (at a row)."""

from __future__ import annotations

import ast

from loopbound import unsaved
from loopbound.findings import Finding, Location
from loopbound.module_facts import Module
from loopbound.pytest_config import PytestConfig
from loopbound.rules.base import Rule


def _column(text: str, byte_column: int) -> int:
    return len(text.encode("utf-8")[:byte_column].decode("utf-8", "replace")) + 1


def python_finding(rule: Rule, module: Module, node: ast.AST, message: str, **data: str) -> Finding:
    lines = module.source.splitlines()
    row = node.lineno  # type: ignore[attr-defined]
    end_row = getattr(node, "end_lineno", None) or row
    start = Location(row, _column(lines[row - 1] if row <= len(lines) else "", node.col_offset))  # type: ignore
    end_offset = getattr(node, "end_col_offset", None)
    end = Location(end_row, _column(lines[end_row - 1], end_offset)) if end_offset is not None else start
    return Finding(rule.code, rule.name, message, module.display, start, end, rule.severity,
                   data=tuple(sorted(data.items())))


def config_finding(rule: Rule, config: PytestConfig, display: str, row: int, message: str, **data: str) -> Finding:
    row = max(row, 1)
    try:
        text = unsaved.read_text(config.path).splitlines()
    except (OSError, UnicodeDecodeError):
        text = []
    line = text[row - 1] if row <= len(text) else ""
    start = Location(row, len(line) - len(line.lstrip()) + 1)
    end = Location(row, max(len(line.rstrip()) + 1, start.column))
    data.setdefault("config_path", str(config.path))
    data.setdefault("section", config.section)
    return Finding(rule.code, rule.name, message, display, start, end, rule.severity,
                   data=tuple(sorted(data.items())))


def definition_span(module: Module, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
    line = module.source.splitlines()[node.lineno - 1].encode("utf-8")
    keyword = b"async def" if isinstance(node, ast.AsyncFunctionDef) else b"def"
    start = line.find(keyword, node.col_offset)
    name_at = line.find(node.name.encode(), max(start, node.col_offset))
    span = ast.Name(id=node.name)
    span.lineno = span.end_lineno = node.lineno
    span.col_offset = start if start >= 0 else node.col_offset
    span.end_col_offset = name_at + len(node.name) if name_at >= 0 else span.col_offset
    return span
