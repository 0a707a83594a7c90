"""Our own import table: local name -> fully qualified name, per scope.

libcst's QualifiedNameProvider costs about 11x a parse on real code; a walk over the import
statements, a few assignments and the parameters gives the same answer for what the rules ask.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping

LOCAL = "<local>"
_TYPING_MODULES = ("typing", "typing_extensions")


def scope_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run in this scope, including those nested in if/try/with/for/while/match."""
    statements: list[ast.stmt] = []
    _collect_statements(body, statements)
    return iter(statements)


_DEFINITIONS = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef})  # made by the parser, never subclassed
_NESTING: dict[type[ast.AST], tuple[str, ...]] = {}  # a statement class's blocks, in the order they are listed


def _collect_statements(body: list[ast.stmt], statements: list[ast.stmt]) -> None:
    """`scope_statements` into a list, without a generator per block: each statement, then its `body`,
    `orelse` and `finalbody`, then the bodies of its handlers and cases."""
    for statement in body:
        statements.append(statement)
        kind = statement.__class__
        blocks = _NESTING.get(kind)
        if blocks is None:
            blocks = _NESTING[kind] = () if kind in _DEFINITIONS else tuple(
                name for name in ("body", "orelse", "finalbody", "handlers", "cases") if name in kind._fields)
        for name in blocks:
            if name == "handlers" or name == "cases":
                for part in getattr(statement, name):
                    _collect_statements(part.body, statements)
            else:
                _collect_statements(getattr(statement, name), statements)


def dotted(node: ast.expr) -> str | None:
    """`a.b.c` as written, for a chain of names and attributes; None for anything else (`f().x`, `x[0]`).

    Looked up by class (the parser makes these classes themselves, never subclasses): a name or a
    name's attribute, most of what the summary and the rules ask about, takes no list and no join."""
    kind = node.__class__
    if kind is _NAME:
        return node.id  # type: ignore[attr-defined,no-any-return]
    if kind is not _ATTRIBUTE:
        return None
    value = node.value  # type: ignore[attr-defined]
    if value.__class__ is _NAME:
        return f"{value.id}.{node.attr}"  # type: ignore[attr-defined]
    parts = [node.attr]  # type: ignore[attr-defined]
    while value.__class__ is _ATTRIBUTE:
        parts.append(value.attr)
        value = value.value
    if value.__class__ is not _NAME:
        return None
    parts.append(value.id)
    parts.reverse()
    return ".".join(parts)


_NAME, _ATTRIBUTE = ast.Name, ast.Attribute
# The statements that bind a name an import table records (`ImportTable._bind_scope`).
_BINDING_KINDS = frozenset({ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef, ast.Assign,
                            ast.AnnAssign})


class ImportTable:
    """Maps the names bound in one scope to what they stand for."""

    def __init__(self, bindings: Mapping[str, str], parent: ImportTable | None = None) -> None:
        self._bindings = dict(bindings)
        self._parent = parent

    def lookup(self, name: str) -> str | None:
        table: ImportTable | None = self
        while table is not None:
            bound = table._bindings.get(name)
            if bound is not None:
                return bound
            table = table._parent
        return None

    def qualify(self, node: ast.expr) -> str | None:
        """`h.AsyncClient` with `import httpx as h` -> `httpx.AsyncClient`; unknown -> None."""
        written = dotted(node)
        if written is None:
            return None
        head, _, rest = written.partition(".")
        base = self.lookup(head)
        if base is None or base.startswith(LOCAL):
            return None
        return f"{base}.{rest}" if rest else base

    @classmethod
    def for_module(cls, tree: ast.Module) -> ImportTable:
        table = cls({})
        table._bind_scope(tree.body)
        return table

    def for_function(self, function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> ImportTable:
        """A child scope: parameters shadow imports, function-level imports add to them."""
        arguments = function.args
        parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        parameters += [arg for arg in (arguments.vararg, arguments.kwarg) if arg]
        child = ImportTable({parameter.arg: f"{LOCAL}.{parameter.arg}" for parameter in parameters}, self)
        if not isinstance(function, ast.Lambda):
            child._bind_scope(function.body)
        return child

    def _bind_scope(self, body: list[ast.stmt]) -> None:
        statements: list[ast.stmt] = []
        _collect_statements(body, statements)
        # Told by class (the parser makes no subclass): most statements are none of these, and cost one
        # look-up each rather than six isinstance calls.
        for statement in statements:
            if statement.__class__ not in _BINDING_KINDS:
                continue
            if isinstance(statement, ast.Import):
                for alias in statement.names:
                    if alias.asname:
                        self._bindings[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".", 1)[0]
                        self._bindings[top] = top
            elif isinstance(statement, ast.ImportFrom):
                module = statement.module or ""
                base = f"{LOCAL}.{module}" if statement.level else module
                for alias in statement.names:
                    if alias.name != "*":
                        self._bindings[alias.asname or alias.name] = f"{base}.{alias.name}"
            elif isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                self._bindings[statement.name] = f"{LOCAL}.{statement.name}"
            elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                self._bind_assignment(statement.targets[0], statement.value)
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                self._bind_assignment(statement.target, statement.value)

    def _bind_assignment(self, target: ast.expr, value: ast.expr) -> None:
        if not isinstance(target, ast.Name):
            return
        if isinstance(value, (ast.Name, ast.Attribute)):
            # `C = httpx.AsyncClient` makes an alias; `AsyncClient = MyWrapper` hides the import.
            self._bindings[target.id] = self.qualify(value) or f"{LOCAL}.{target.id}"
        elif not isinstance(value, ast.Constant):
            # `aioredis = None` in an `except ImportError:` keeps the import's meaning.
            self._bindings[target.id] = f"{LOCAL}.{target.id}"


def is_type_checking(test: ast.expr, table: ImportTable) -> bool:
    """`if TYPE_CHECKING:` / `if typing.TYPE_CHECKING:` guard only type checkers' imports."""
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    qualified = table.qualify(test)
    return qualified is not None and qualified in {f"{module}.TYPE_CHECKING" for module in _TYPING_MODULES}


def is_main_guard(test: ast.expr) -> bool:
    """`if __name__ == "__main__":` runs only as a script, where one loop is all there is."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [side for side in sides if isinstance(side, ast.Name) and side.id == "__name__"]
    strings = [side for side in sides if isinstance(side, ast.Constant) and side.value == "__main__"]
    return bool(names and strings)
