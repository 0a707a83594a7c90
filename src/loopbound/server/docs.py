"""Where a diagnostic's `codeDescription` points: the rule's documentation page as a file the editor can open.

A source checkout has the generated pages in docs/rules/; an installed package has none, so the
page is written once per version from the rule's own text (what `loopbound rule CODE` prints)
under the user's cache directory.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from loopbound import __version__
from loopbound.rules import RULES_BY_CODE

_CHECKOUT_DOCS = Path(__file__).resolve().parents[3] / "docs" / "rules"


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@lru_cache(maxsize=None)
def rule_docs_uri(code: str) -> str | None:
    rule = RULES_BY_CODE.get(code)
    if rule is None:
        return None
    page = _CHECKOUT_DOCS / f"{code}.md"
    if not page.is_file():
        page = _cache_home() / "loopbound" / __version__ / "rules" / f"{code}.md"
        try:
            if not page.is_file():
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(rule.documentation, encoding="utf-8")
        except OSError:
            return None
    return page.as_uri()
