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

