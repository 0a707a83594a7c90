"""A module's light summary, read from its bytes alone: its imports. It imports nothing but `re` (the summary's
data classes once a summary is made), so that a run that only needs to know whether an edited file's light
summary moved (unseen_edits.py compares the imports read) does not load the checker nor `dataclasses`."""

from __future__ import annotations

import re

TYPE_CHECKING = False

if TYPE_CHECKING:
    from loopbound.index.model import BindingRow, ModuleSummary

_IMPORT_LINE = re.compile(
    rb"[ \t]*(?:from[ \t]+(?P<dots>\.*)[ \t]*(?P<module>[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#;]*)"
    rb"|import[ \t]+(?P<modules>[^\n#;]+))")


def light_summary(data: bytes, is_test: bool) -> ModuleSummary:
    """A summary from the bytes: the imports. How a test module's tests run is the LB3 pass's loop table."""
    return light_of(*read_imports(data))


def light_of(bindings: list[BindingRow] | tuple[BindingRow, ...],
             imports: list[tuple[int, str, tuple[str, ...]]] | tuple[tuple[int, str, tuple[str, ...]], ...]
             ) -> ModuleSummary:
    """The light summary of a module whose import statements bind `bindings` and read `imports`."""
    from loopbound.index.model import ModuleSummary

    return ModuleSummary(bindings=tuple(bindings), imports=tuple(imports), functions=(), classes=(), hooks=(),
                         entries=(), import_time_calls=(), light=True)


def scan_imports(data: bytes) -> list[tuple[int, str, tuple[str, ...]]]:
    """The import statements read from the bytes: (level, module, the names a `from` import takes)."""
    return read_imports(data)[1]


def read_imports(data: bytes) -> tuple[list[BindingRow], list[tuple[int, str, tuple[str, ...]]]]:
    """The names the import statements bind and the statements, read from the bytes.

    A search for the word `import` is what costs nothing on files of thousands of lines; only its own line
    is then matched. A docstring line that reads like an import adds an edge, which is harmless here.
    Most files of a tree are summarised here alone: each import is read in one step, its groups taken at once.
    """
    bindings: list[BindingRow] = []
    imports: list[tuple[int, str, tuple[str, ...]]] = []
    find, rfind, match_line = data.find, data.rfind, _IMPORT_LINE.match
    position = find(b"import")
    while position >= 0:
        match = match_line(data, rfind(b"\n", 0, position) + 1)
        if match is None:
            position = find(b"import", position + 6)
            continue
        dots, module_text, names_text, modules = match.groups()
        if match.start(3 if modules is None else 4) <= position:  # the `names` or the `modules` group
            position = find(b"import", position + 6)
            continue
        if modules is not None:
            for part in modules.decode("ascii", "replace").split(","):
                words = part.split()
                if words:
                    name = words[0]
                    top = name.split(".", 1)[0]
                    bound = words[2] if len(words) == 3 else top
                    imports.append((0, name, ()))
                    bindings.append((bound, name if bound != top else bound, 0, None))
        else:
            text = names_text.decode("ascii", "replace").strip("()\\ \t\r\n").replace("\n", " ")
            level, module = len(dots), module_text.decode("ascii", "replace")
            names: list[str] = []
            for part in text.split(","):
                words = part.split()
                if words:
                    name = words[0]
                    names.append(name)
                    if name != "*":
                        bindings.append((words[2] if len(words) == 3 else name, module, level, name))
            imports.append((level, module, tuple(names)))
        position = find(b"import", match.end())
    return bindings, imports
