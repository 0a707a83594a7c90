"""The one place that says which rules exist."""

from __future__ import annotations

from loopbound.rules import checker, import_time, lifecycle, loop_scope
from loopbound.rules.base import FileRuleGroup, Rule

FILE_RULE_GROUPS: tuple[FileRuleGroup, ...] = (import_time.IMPORT_TIME, lifecycle.LIFECYCLE)
# Rules that need the whole test tree (pytest config, conftest.py files): run by engine.check_project.
PROJECT_RULE_GROUPS: tuple[loop_scope.ProjectRuleGroup, ...] = (loop_scope.LOOP_SCOPE,)

_GROUPED_RULES = [rule for group in FILE_RULE_GROUPS for rule in group.rules]
_GROUPED_RULES += [rule for project_group in PROJECT_RULE_GROUPS for rule in project_group.rules]
ALL_RULES: tuple[Rule, ...] = tuple(sorted((*checker.RULES, *_GROUPED_RULES), key=lambda r: r.code))
RULES_BY_CODE = {rule.code: rule for rule in ALL_RULES}
RULES_BY_NAME = {rule.name: rule for rule in ALL_RULES}


def resolve_selector(selector: str) -> frozenset[str] | None:
    """A code (`LB101`), a prefix (`LB1`, `LB`, `ALL`) or a rule name; None when it names nothing."""
    if selector in RULES_BY_NAME:
        return frozenset({RULES_BY_NAME[selector].code})
    if selector.upper() == "ALL":
        return frozenset(RULES_BY_CODE)
    matched = frozenset(code for code in RULES_BY_CODE if code.startswith(selector.upper()))
    return matched or None


def select_codes(select: list[str], extend_select: list[str], ignore: list[str]) -> frozenset[str]:
    """ruff's order: select (default: every rule but the opt-in ones), plus extend-select, minus ignore."""
    def union(selectors: list[str]) -> set[str]:
        codes: set[str] = set()
        for selector in selectors:
            codes |= resolve_selector(selector) or set()
        return codes

    if select:
        chosen = union(select)
        explicit = {s.upper() for s in select} | set(select)
        chosen = {c for c in chosen if not RULES_BY_CODE[c].opt_in or c in explicit or RULES_BY_CODE[c].name in explicit}
    else:
        chosen = {code for code, rule in RULES_BY_CODE.items() if not rule.opt_in}
    return frozenset((chosen | union(extend_select)) - union(ignore))
