"""Fixes: computed lazily (libcst is ~10x slower than ast), applied as non-overlapping edits, written atomically.

`attach_fixes` gives findings their Fix when an output needs it (`--fix`, `--diff`, JSON);
`fix_paths` runs the check-fix-recheck loop over files and writes or diffs the result.
"""

from __future__ import annotations

from loopbound.fixes.builders import BUILDERS, attach_fixes
from loopbound.fixes.run import FixRun, fix_paths, fix_text, unified_diffs

__all__ = ["BUILDERS", "FixRun", "attach_fixes", "fix_paths", "fix_text", "unified_diffs"]
