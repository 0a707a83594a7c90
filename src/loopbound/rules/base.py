"""What a rule is (metadata: code, name, docs, severity, fix) and what a file-level rule sees."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

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
    _lines: list[str] | None = field(init=False, default=None)  # split on the first finding: most files have none
    _registry_rows: list[tuple[int, str]] | None = field(init=False, default=None)
    _own: dict[ast.AST, list[ast.AST]] = field(init=False, default_factory=dict)
    _scopes: dict[ast.AST, ImportTable] = field(init=False, default_factory=dict)
    # What a rule module reads from the file once for several rule groups, by name (`candidates_of`).
    shared: dict[str, object] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.imports = ImportTable.for_module(self.tree)

    @property
    def registry_rows(self) -> list[tuple[int, str]]:
        """Each whole-word mention of a registry name's last word or of a release method, with its row:
        the one scan of the text that the summary's kept functions and LB2's candidates both read."""
        if self._registry_rows is None:
            self._registry_rows = word_rows(self.registry.name_words | self.registry.release_methods, self.source)
        return self._registry_rows

    def own(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
        """The function's own nodes (`scope_nodes` of its body), listed once for the summary and every rule."""
        nodes = self._own.get(function)
        if nodes is None:
            nodes = self._own[function] = scope_node_list(function.body)
        return nodes

    def scope_imports(self, function: ast.FunctionDef | ast.AsyncFunctionDef, outer: ImportTable) -> ImportTable:
        """The function's import table (`outer.for_function`), made once for the summary and every rule;
        `outer` is the table of the scope the function is defined in."""
        table = self._scopes.get(function)
        if table is None:
            table = self._scopes[function] = outer.for_function(function)
        return table

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
        if self._lines is None:
            self._lines = self.source.splitlines()
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


_MARKER_FIELDS = frozenset({"ctx", "op", "ops"})  # Load/Store, +, ==: shared singletons no rule looks at
# Fields that hold a name, a number or a flag, never a node (`name` is a node in `type X = ...` only).
_SCALAR_FIELDS = frozenset({"id", "attr", "arg", "module", "level", "asname", "kind", "conversion", "is_async",
                            "simple", "type_comment", "tag", "kwd_attrs", "rest", "name"})
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
_CHILD_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {}
_BLOCK_FIELDS_OF: dict[type[ast.AST], tuple[str, ...]] = {}


def _child_fields(kind: type[ast.AST]) -> tuple[str, ...]:
    fields = tuple(name for name in kind._fields
                   if name not in _MARKER_FIELDS and (name not in _SCALAR_FIELDS or kind.__name__ == "TypeAlias")
                   and not (kind is ast.Constant and name == "value"))
    _CHILD_FIELDS[kind] = fields
    return fields


# Names and constants, most of the nodes of a function, hold no call and no other node worth a look: walks
# that look for calls skip them by class (the parser makes no subclass).
LEAF_KINDS = frozenset({ast.Name, ast.Constant})


def child_nodes(node: ast.AST) -> list[ast.AST]:
    """`list(ast.iter_child_nodes(node))` without the context and operator markers, and without its two
    generators or a look at fields that never hold a node: the summary and the rules walk every node of
    the functions they read, and `ast.iter_child_nodes` was most of that walk."""
    fields = _CHILD_FIELDS.get(node.__class__)
    if fields is None:
        fields = _child_fields(node.__class__)
    children: list[ast.AST] = []
    for name in fields:
        value = getattr(node, name, None)
        if value.__class__ is list:
            for item in value:
                if isinstance(item, ast.AST):
                    children.append(item)
        elif isinstance(value, ast.AST):
            children.append(value)
    return children


def statement_children(node: ast.AST) -> list[ast.AST]:
    """The statements (and handlers, cases) directly under a node, in `ast.iter_child_nodes`' order:
    where functions can be defined."""
    fields = _BLOCK_FIELDS_OF.get(node.__class__)
    if fields is None:
        fields = _BLOCK_FIELDS_OF[node.__class__] = tuple(
            name for name in node._fields if name in _BLOCK_FIELDS)
    children: list[ast.AST] = []
    for name in fields:
        value = getattr(node, name, None)
        if value.__class__ is list:
            children.extend(value)  # a list under these names holds only statements, handlers or cases
    return children


def scope_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """The nodes of a scope's own body in source order, not of functions or classes nested in it, nor the
    context and operator markers (`child_nodes`).

    Source order matters: LB104 must see `engine = make()` before `return engine`.
    """
    return iter(scope_node_list(body))


def function_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    return scope_nodes(function.body)


def scope_node_list(body: list[ast.stmt]) -> list[ast.AST]:
    """`scope_nodes` as a list, made without a generator's step or a call per node: each node's children
    are pushed straight onto the stack, last field and last item first, so that they come off it in
    `child_nodes` order; a leaf (a name, a constant: about half the nodes) has no field to look at."""
    nodes: list[ast.AST] = []
    append = nodes.append
    stack: list[ast.AST] = list(reversed(body))
    pop, push = stack.pop, stack.append
    fields_of = _REVERSED_FIELDS
    node_class = ast.AST
    while stack:
        node = pop()
        append(node)
        fields = fields_of.get(node.__class__)
        if fields is None:
            fields = _reversed_fields(node.__class__)
        for name in fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                for item in reversed(value):
                    if isinstance(item, node_class):
                        push(item)
            elif isinstance(value, node_class):
                push(value)
    return nodes


_REVERSED_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {}


def _reversed_fields(kind: type[ast.AST]) -> tuple[str, ...]:
    """`child_nodes`' fields of a kind, last first; none for a nested scope, whose insides are not its own."""
    fields = () if kind in _SCOPE_KINDS else tuple(reversed(_CHILD_FIELDS.get(kind) or _child_fields(kind)))
    _REVERSED_FIELDS[kind] = fields
    return fields


# The parser makes these classes themselves, never subclasses: a look-up by class is enough.
_SCOPE_KINDS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda})
_WORD_CHARACTER = re.compile(r"\w")


def word_rows(words: Collection[str], source: str) -> list[tuple[int, str]]:
    """Each whole-word occurrence of one of `words` (identifiers) in `source`, with its row, in order.

    What a regex of the words between word boundaries finds, at a third of the cost. The words that
    start with a capital are matched as a tree of their letters, and the boundary before a match is
    checked only where one is found (a match that starts inside a longer word is dropped: an identifier
    holds no other word boundary). A word that starts with a small letter or `_` would send that regex
    into its tree at most letters of the text: each such word of four letters or more is looked for with
    `str.find`, and its boundaries are checked where it is found; one that holds another (`aclose` holds
    `close`) is looked for only where that one is found. Whole words never overlap, so each start holds
    at most one word.
    """
    found: list[tuple[int, str]] = []
    if not words:
        return found
    capitalised, small = _split_words(frozenset(words))
    is_word_character = _WORD_CHARACTER.match
    starts: list[tuple[int, str]] = []
    if capitalised:
        for match in _tree_pattern(capitalised).finditer(source):
            start = match.start()
            if not (start and is_word_character(source, start - 1)):
                starts.append((start, match.group()))
    find, holds_at = source.find, source.startswith
    for word, holders in small:
        start = find(word)
        while start != -1:
            if not (start and is_word_character(source, start - 1)) and not is_word_character(source, start + len(word)):
                starts.append((start, word))
            for holder, offset in holders:
                at = start - offset
                if (at >= 0 and holds_at(holder, at) and not (at and is_word_character(source, at - 1))
                        and not is_word_character(source, at + len(holder))):
                    starts.append((at, holder))
            start = find(word, start + 1)
    if small:
        starts.sort()
    row, position = 1, 0
    count, lone_returns = source.count, has_lone_returns(source)
    for start, word in starts:
        row += count("\n", position, start)
        if lone_returns:
            row += count("\r", position, start) - count("\r\n", position, start)
        position = start
        found.append((row, word))
    return found


def has_lone_returns(source: str) -> bool:
    """Whether a carriage return ends a line on its own (old Mac line endings): the parser counts it as a line
    end, so rows counted by line feeds alone are not its lines."""
    return "\r" in source and source.count("\r") != source.count("\r\n")


@lru_cache(maxsize=64)
def _split_words(words: frozenset[str]) -> tuple[frozenset[str], tuple[tuple[str, tuple[tuple[str, int], ...]], ...]]:
    """The words for the letter tree (a capital first, or short: `db` would be found inside many longer
    words) and those looked for one by one (the rest), each with the words of the rest that hold it and
    where (`aclose` holds `close` at 1): those are looked for only where it is found."""
    small = sorted(word for word in words if len(word) >= 4 and not word[0].isupper())
    held_in: dict[str, str] = {}  # a word that holds another, and the one it is looked for by
    for word in small:
        inner = [other for other in small if other != word and other in word and not any(
            third != other and third in other for third in small)]
        if inner:
            held_in[word] = min(inner)
    searched = tuple((word, tuple((holder, holder.index(word)) for holder in small if held_in.get(holder) == word))
                     for word in small if word not in held_in)
    return words.difference(small), searched


@lru_cache(maxsize=64)
def _tree_pattern(words: frozenset[str]) -> re.Pattern[str]:
    return re.compile(_letter_tree(sorted(words)) + r"\b")


def _letter_tree(words: list[str]) -> str:
    """One regex alternative per first letter, and so on down: `A(?:syncClient|IOKafkaConsumer)`."""
    ends_here = "" in words
    by_first: dict[str, list[str]] = {}
    for word in words:
        if word:
            by_first.setdefault(word[0], []).append(word[1:])
    alternatives = [re.escape(first) + _letter_tree(rest) for first, rest in by_first.items()]
    if not alternatives:
        return ""
    if len(alternatives) == 1 and not ends_here:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")" + ("?" if ends_here else "")


_Derived = TypeVar("_Derived")


def per_registry(derive: Callable[[Registry], _Derived]) -> Callable[[Registry], _Derived]:
    """`derive(registry)`, made once per registry object and asked for by every file checked: an `lru_cache`
    would hash the registry, every row of it, at each call."""
    made: dict[int, tuple[Registry, _Derived]] = {}

    def cached(registry: Registry) -> _Derived:
        found = made.get(id(registry))
        if found is None or found[0] is not registry:  # the registry is kept: its id is not reused meanwhile
            if len(made) >= 8:
                made.clear()
            found = made[id(registry)] = (registry, derive(registry))
        return found[1]

    return cached


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


def on_self(target: ast.expr) -> bool:
    """Whether the target is an attribute of `self` (`self.client`)."""
    return isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
