"""A digest of everything the LB3 rules can learn from one module: an edit that keeps it cannot change their answer.

The LB3 pass (project.py) reads each test module and conftest.py into its facts (module_facts.Module:
fixtures, tests, marks, what each fixture hands over, the nodes findings point at) and keeps the source
for three things: the text of the lines findings start and end on (their columns), the `# noqa`
comments that suppress them, and whether it names `anyio` or `trio`. The digest covers all of the
facts, every node's positions included, and of the source exactly those: a comment or a blank line
added below the last test, or an edit inside a test's body that moves no kept node, keeps it; a new
test, a changed mark, a moved fixture or a `noqa` anywhere changes it.

The warm replay (unseen_edits.py) compares the digest of an edited module with the recorded one before
it loads the checker, so this imports nothing heavy: the facts, not discovery nor the configuration.
"""

from __future__ import annotations

import ast
import enum
from pathlib import PurePath

from loopbound.blake2 import blake2b

try:  # pickle.dumps itself, without importing the pure-Python pickle module (2-3 ms of a replay after an edit)
    from _pickle import dumps as _pickled
except ImportError:  # an interpreter without the C accelerator
    from pickle import dumps as _pickled

TYPE_CHECKING = False  # the warm replay imports this module: typing would cost it more than the rest

if TYPE_CHECKING:
    from pathlib import Path

    from loopbound.module_facts import Module
    from loopbound.registry import Registry

NO_FACTS = "none"  # a module the pass reads and finds nothing in (no async test, fixture nor mark)
# Derived from the path and the working directory, both fixed for the runs whose digests are compared.
_LOCATION_FIELDS = frozenset({"path", "display"})
_SOURCE_WORDS = ("anyio", "trio")  # Module.mentions_other_plugin


def module_digest(path: Path, is_test: bool, registry: Registry) -> str:
    """The digest of the module's facts as the LB3 pass would read them now (project.read_module_file)."""
    from loopbound.module_facts import read_facts

    return facts_digest(read_facts(path, is_test, registry, display=""))


def facts_digest(module: Module | None) -> str:
    """The digest of a module the LB3 pass read (None: it found nothing in it)."""
    if module is None:
        return NO_FACTS
    facts = _Facts(module)
    facts.add(module)
    lines = module.source.splitlines()
    source = [*(f"{row}:{lines[row - 1]}" for row in sorted(facts.rows) if 0 < row <= len(lines)),
              *(f"noqa {row}:{line}" for row, line in enumerate(lines, 1) if "noqa" in line.lower()),
              *(word for word in _SOURCE_WORDS if word in module.source)]
    for line in ("\0source", *source):
        facts.text(line)
    return blake2b(b"\0".join(facts.parts), digest_size=16).hexdigest()


class _Facts:
    """A canonical text of an object graph: fields in order, sets sorted, shared objects once, the
    module's source left out (facts_digest takes the parts of it that count)."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.parts: list[bytes] = []
        self.seen: dict[int, int] = {}
        self.rows: set[int] = set()  # the lines of every kept node: findings start and end on them

    def text(self, text: str) -> None:
        self.parts.append(text.encode("utf-8", "surrogatepass"))

    def add(self, value: object) -> None:
        if value is None or isinstance(value, (str, int, float, bytes)):
            self.text(repr(value))
            return
        if isinstance(value, (enum.Enum, PurePath)):
            self.text(f"{type(value).__name__}:{value}")
            return
        if id(value) in self.seen:
            self.text(f"@{self.seen[id(value)]}")
            return
        self.seen[id(value)] = len(self.seen)
        if isinstance(value, ast.AST):
            self._node(value)
        elif isinstance(value, (list, tuple)):
            self.text(f"{type(value).__name__}[{len(value)}")
            for item in value:
                self.add(item)
        elif isinstance(value, dict):
            self.text(f"dict[{len(value)}")
            for key, item in value.items():
                self.add(key)
                self.add(item)
        elif isinstance(value, (set, frozenset)):
            self.text(f"set[{sorted(map(repr, value))}")
        elif hasattr(value, "__dict__"):
            self.text(type(value).__qualname__)
            for name, item in vars(value).items():
                if value is self.module and (name == "source" or name in _LOCATION_FIELDS):
                    continue
                self.text(name)
                self.add(item)
        else:
            self.text(repr(value))

    def _node(self, node: ast.AST) -> None:
        # Every field and position of the node and those below it: pickle writes them in C, in field order (a
        # third of the time ast.dump takes). Equal nodes may still pickle apart where one shares an object
        # the other copies: a missed replay, never a wrong one.
        self.parts.append(_pickled(node, protocol=5))
        for inner in ast.walk(node):
            for name in ("lineno", "end_lineno"):
                row = getattr(inner, name, None)
                if isinstance(row, int):
                    self.rows.add(row)
