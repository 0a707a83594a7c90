"""Which rules a selector names (`LB101`, a prefix such as `LB1`, `ALL`, a rule's name), and ruff's
select/ignore order.

The configuration checks the selectors it reads against this table, so it sits below the
configuration; the rules sit above both (the LB3 rules read the project model), and
tests/test_layers.py keeps this table and their codes, names and opt-in the same.
"""

from __future__ import annotations

# Every rule's code: its name, and whether it is opt-in (chosen only where selected by its code or name).
RULE_CODES: dict[str, tuple[str, bool]] = {
    "LB001": ("syntax-error", False),
    "LB002": ("unused-noqa", True),
    "LB101": ("module-level-async-resource", False),
    "LB102": ("class-attribute-async-resource", False),
    "LB103": ("default-argument-async-resource", False),
    "LB104": ("cached-async-resource-factory", False),
    "LB105": ("global-async-resource-singleton", False),
    "LB106": ("module-level-asyncio-primitive", False),
    "LB107": ("import-time-event-loop", False),
    "LB201": ("unclosed-async-resource", False),
    "LB202": ("release-not-awaited", False),
    "LB203": ("release-not-in-finally", False),
    "LB204": ("fixture-without-teardown", False),
    "LB301": ("loop-scope-config-mismatch", False),
    "LB302": ("fixture-loop-wider-than-test-loop", False),
    "LB303": ("custom-event-loop-fixture", False),
    "LB304": ("async-fixture-not-awaited", False),
    "LB305": ("deprecated-asyncio-mark-scope", False),
    "LB306": ("unset-fixture-loop-scope", False),
    "LB307": ("invalid-loop-scope", False),
    "LB308": ("fixture-scope-wider-than-loop-scope", False),
    "LB309": ("unsupported-by-pytest-asyncio-version", False),
}
_CODES_BY_NAME = {name: code for code, (name, _) in RULE_CODES.items()}


def resolve_selector(selector: str) -> frozenset[str] | None:
    """A code (`LB101`), a prefix (`LB1`, `LB`, `ALL`) or a rule name; None when it names nothing."""
    if selector in _CODES_BY_NAME:
        return frozenset({_CODES_BY_NAME[selector]})
    if selector.upper() == "ALL":
        return frozenset(RULE_CODES)
    matched = frozenset(code for code in RULE_CODES if code.startswith(selector.upper()))
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
        chosen = {c for c in chosen if not RULE_CODES[c][1] or c in explicit or RULE_CODES[c][0] in explicit}
    else:
        chosen = {code for code, (_, opt_in) in RULE_CODES.items() if not opt_in}
    return frozenset((chosen | union(extend_select)) - union(ignore))
