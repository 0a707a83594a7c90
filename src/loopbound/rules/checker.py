"""LB0xx: findings about the checker's own input, not about async code."""

from __future__ import annotations

from loopbound.findings import Applicability
from loopbound.rules.base import Rule

SYNTAX_ERROR = Rule(
    code="LB001",
    name="syntax-error",
    summary="The file cannot be parsed, so none of its code was checked.",
    what_it_does="Reports a Python file that does not parse, with the parser's message and position.",
    why_bad="A file that is skipped silently hides every finding in it; a CI gate must say what it did not check.",
    example="engine = create_async_engine(URL\n",
    use_instead="engine = create_async_engine(URL)\n",
)
UNUSED_NOQA = Rule(
    code="LB002",
    name="unused-noqa",
    summary="A `# noqa: LB...` comment suppresses no finding.",
    what_it_does="Reports `# noqa` comments naming loopbound codes that no finding on that line needs.",
    why_bad="A stale suppression hides the next real finding on that line.",
    example="client = make_client()  # noqa: LB101\n",
    use_instead="client = make_client()\n",
    fix_safety="The fix removes the unused codes, or the whole comment when none is left; it is safe.",
    fix_applicability=Applicability.SAFE,
    opt_in=True,
)

RULES = (SYNTAX_ERROR, UNUSED_NOQA)
