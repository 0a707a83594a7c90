"""The one place that says which rules exist.

The per-file groups are what checking one file needs; the LB3 rules (loop_scope: the project model,
pytest's configuration) are imported when a run first asks for them or for the list of every rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopbound.rules import checker, import_time, lifecycle
from loopbound.rules.base import FileRuleGroup, Rule

if TYPE_CHECKING:
    from loopbound.rules.loop_scope import ProjectRuleGroup

    # Rules that need the whole test tree (pytest config, conftest.py files): run by engine.check_project.
    PROJECT_RULE_GROUPS: tuple[ProjectRuleGroup, ...]
    ALL_RULES: tuple[Rule, ...]
    RULES_BY_CODE: dict[str, Rule]
    RULES_BY_NAME: dict[str, Rule]

FILE_RULE_GROUPS: tuple[FileRuleGroup, ...] = (import_time.IMPORT_TIME, lifecycle.LIFECYCLE)


def __getattr__(name: str) -> Any:
    """The names that need the LB3 rules, made on first use (PEP 562)."""
    if name not in ("PROJECT_RULE_GROUPS", "ALL_RULES", "RULES_BY_CODE", "RULES_BY_NAME"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from loopbound.rules import loop_scope

    project_groups = (loop_scope.LOOP_SCOPE,)
    grouped = [rule for group in FILE_RULE_GROUPS for rule in group.rules]
    grouped += [rule for project_group in project_groups for rule in project_group.rules]
    every = tuple(sorted((*checker.RULES, *grouped), key=lambda rule: rule.code))
    names = {"PROJECT_RULE_GROUPS": project_groups, "ALL_RULES": every,
             "RULES_BY_CODE": {rule.code: rule for rule in every}, "RULES_BY_NAME": {rule.name: rule for rule in every}}
    globals().update(names)
    return names[name]
