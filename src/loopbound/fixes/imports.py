"""Adding an import the way the file already orders its imports (isort's sections and order)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import libcst as cst

_Key = Callable[[cst.SimpleStatementLine], tuple[object, ...]]


def dotted_name(node: cst.BaseExpression) -> str:
    """`a.b.c` for a Name/Attribute chain, empty for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{dotted_name(node.value)}.{node.attr.value}"
    return ""


def _import_of(statement: cst.BaseStatement) -> cst.Import | cst.ImportFrom | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            return small
    return None


def local_name_of_module(module: cst.Module, target: str) -> str | None:
    """The name `import target` / `import target as t` binds at module level, if any."""
    for statement in module.body:
        found = _import_of(statement)
        if isinstance(found, cst.Import):
            for alias in found.names:
                if dotted_name(alias.name) == target:
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        return alias.asname.name.value
                    return target
    return None


def _module_of(statement: cst.SimpleStatementLine) -> str:
    small = statement.body[0]
    if isinstance(small, cst.Import):
        return dotted_name(small.names[0].name)
    assert isinstance(small, cst.ImportFrom)
    dots = "." * len(small.relative)
    return dots + (dotted_name(small.module) if small.module else "")


def _section(statements: Sequence[cst.SimpleStatementLine]) -> str:
    modules = [_module_of(statement) for statement in statements]
    if any(module == "__future__" for module in modules):
        return "future"
    if all(module.startswith(".") for module in modules):
        return "local"
    if all(module.split(".")[0] in sys.stdlib_module_names for module in modules):
        return "stdlib"
    return "third-party"


def _blocks(module: cst.Module) -> list[list[int]]:
    """Runs of module-level import statements not separated by a blank line or comment."""
    blocks: list[list[int]] = []
    previous = -2
    for index, statement in enumerate(module.body):
        if _import_of(statement) is None:
            continue
        assert isinstance(statement, cst.SimpleStatementLine)
        if previous == index - 1 and not statement.leading_lines:
            blocks[-1].append(index)
        else:
            blocks.append([index])
        previous = index
    return blocks


def _plain_first(statement: cst.SimpleStatementLine) -> tuple[object, ...]:
    """isort's default: `import x` lines before `from x import y` lines, each sorted by module."""
    return (isinstance(statement.body[0], cst.ImportFrom), _module_of(statement).lower())


def _by_module(statement: cst.SimpleStatementLine) -> tuple[object, ...]:
    """isort's `force_sort_within_sections`: sorted by module whatever the import's form."""
    return (_module_of(statement).lower(),)


def _position(statements: list[cst.SimpleStatementLine], new: cst.SimpleStatementLine) -> int:
    for key in (_plain_first, _by_module):
        keys = [key(statement) for statement in statements]
        if keys == sorted(keys):
            return next((i for i, existing in enumerate(keys) if existing > key(new)), len(statements))
    plain = [i for i, statement in enumerate(statements) if isinstance(statement.body[0], cst.Import)]
    return plain[-1] + 1 if plain else len(statements)


def add_import(module: cst.Module, target: str, near: str = "") -> cst.Module:
    """`import target` in the third-party block (the one importing `near` if any), at its sorted place.

    With no third-party block, a new block goes after the standard library's.
    """
    new = cst.SimpleStatementLine([cst.Import([cst.ImportAlias(cst.parse_expression(target))])])  # type: ignore[arg-type]
    body = list(module.body)
    blocks = _blocks(module)
    statements = [[body[i] for i in block] for block in blocks]
    sections = [_section(block) for block in statements]  # type: ignore[arg-type]
    chosen = next((i for i, block in enumerate(statements)
                   if sections[i] == "third-party"
                   and any(_module_of(s).split(".")[0] == near for s in block)), None)  # type: ignore[arg-type]
    if chosen is None:
        chosen = next((i for i, section in enumerate(sections) if section == "third-party"), None)
    if chosen is not None:
        return _insert_into_block(module, body, blocks[chosen], statements[chosen], new)  # type: ignore[arg-type]
    after = [block for block, section in zip(blocks, sections) if section in ("future", "stdlib")]
    if after:
        at = after[-1][-1] + 1
    else:
        at = 1 if body and is_docstring(body[0]) else 0
    if at > 0 or module.header:
        new = new.with_changes(leading_lines=[cst.EmptyLine()] if at > 0 else [])
    if at < len(body) and _import_of(body[at]) is not None:
        following = body[at]
        assert isinstance(following, cst.SimpleStatementLine)
        if not following.leading_lines:
            body[at] = following.with_changes(leading_lines=[cst.EmptyLine()])
    body.insert(at, new)
    return module.with_changes(body=body)


def _insert_into_block(module: cst.Module, body: list[cst.BaseStatement], block: list[int],
                       statements: list[cst.SimpleStatementLine], new: cst.SimpleStatementLine) -> cst.Module:
    """`new` at its sorted place in an import block; placed first, it takes over the block's leading lines."""
    offset = _position(statements, new)
    at = block[0] + offset
    if offset == 0:
        first = body[at]
        assert isinstance(first, cst.SimpleStatementLine)
        new = new.with_changes(leading_lines=first.leading_lines)
        body[at] = first.with_changes(leading_lines=())
    body.insert(at, new)
    return module.with_changes(body=body)


def add_stdlib_import(module: cst.Module, target: str) -> cst.Module:
    """`import target` (a standard-library module) at its sorted place in the standard-library block; with
    none, as a block of its own before the first block of other imports (after `__future__`)."""
    new = cst.SimpleStatementLine([cst.Import([cst.ImportAlias(cst.parse_expression(target))])])  # type: ignore[arg-type]
    body = list(module.body)
    blocks = _blocks(module)
    statements = [[body[i] for i in block] for block in blocks]
    sections = [_section(block) for block in statements]  # type: ignore[arg-type]
    if "stdlib" in sections:
        chosen = sections.index("stdlib")
        return _insert_into_block(module, body, blocks[chosen], statements[chosen], new)  # type: ignore[arg-type]
    later = next((block for block, section in zip(blocks, sections) if section != "future"), None)
    if later is None:
        return add_import(module, target)
    first = body[later[0]]
    assert isinstance(first, cst.SimpleStatementLine)
    body[later[0]] = first.with_changes(leading_lines=[cst.EmptyLine()])
    body.insert(later[0], new.with_changes(leading_lines=first.leading_lines))
    return module.with_changes(body=body)


def is_docstring(statement: cst.BaseStatement) -> bool:
    """A statement that is only a string: a module's or a function's docstring when it comes first."""
    return (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def ensure_module_import(module: cst.Module, target: str, near: str = "") -> tuple[cst.Module, str]:
    """The local name for `target`, importing it when the module does not yet: in the standard library's
    block for a standard-library module, as isort and ruff's `I` rules place it."""
    name = local_name_of_module(module, target)
    if name is not None:
        return module, name
    if target.split(".")[0] in sys.stdlib_module_names:
        return add_stdlib_import(module, target), target
    return add_import(module, target, near), target
