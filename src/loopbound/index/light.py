"""A module's light summary, read from its bytes alone: its imports. It imports nothing but `re` and the summary's data classes, so that a run that only needs to know
whether an edited file's light summary moved (warm.py) does not load the checker."""

from __future__ import annotations

import re
from collections.abc import Iterator

from loopbound.index.model import BindingRow, ModuleSummary

_IMPORT_LINE = re.compile(
    rb"[ \t]*(?:from[ \t]+(?P<dots>\.*)[ \t]*(?P<module>[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#;]*)"
    rb"|import[ \t]+(?P<modules>[^\n#;]+))")


def _scan(data: bytes) -> Iterator[tuple[int, str, tuple[tuple[str, str], ...], bool]]:
    """Import statements read from the bytes: (level, module, ((name, bound as), ...), is a `from` import).

    A search for the word `import` is what costs nothing on files of thousands of lines; only its own line
    is then matched. A docstring line that reads like an import adds an edge, which is harmless here.
    """
    position = data.find(b"import")
    while position >= 0:
        start = data.rfind(b"\n", 0, position) + 1
        match = _IMPORT_LINE.match(data, start)
        if match is not None and match.start("names" if match["names"] is not None else "modules") > position:
            if match["modules"] is not None:
                for part in match["modules"].decode("ascii", "replace").split(","):
                    words = part.split()
                    if words:
                        top = words[0].split(".", 1)[0]
                        yield 0, words[0], ((words[0], words[2] if len(words) == 3 else top),), False
            else:
                text = match["names"].decode("ascii", "replace").strip("()\\ \t\r\n").replace("\n", " ")
                pairs = tuple((words[0], words[2] if len(words) == 3 else words[0])
                              for words in (part.split() for part in text.split(",")) if words)
                yield len(match["dots"]), match["module"].decode("ascii", "replace"), pairs, True
            position = match.end()
        else:
            position += 6
        position = data.find(b"import", position)


Scanned = list[tuple[int, str, tuple[tuple[str, str], ...], bool]]


def scan_imports(data: bytes) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    return _imports_of(list(_scan(data)))


def _imports_of(scanned: Scanned) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    for level, module, pairs, is_from in scanned:
        yield level, module, tuple(name for name, _ in pairs) if is_from else ()


def _scanned_bindings(scanned: Scanned) -> Iterator[BindingRow]:
    for level, module, pairs, is_from in scanned:
        for name, bound in pairs:
            if is_from:
                if name != "*":
                    yield bound, module, level, name
            else:
                yield bound, name if bound != name.split(".", 1)[0] else bound, 0, None


def light_summary(data: bytes, is_test: bool) -> ModuleSummary:
    """A summary from the bytes: the imports. How a test module's tests run is the LB3 pass's loop table."""
    scanned = list(_scan(data))
    return ModuleSummary(bindings=tuple(_scanned_bindings(scanned)), imports=tuple(_imports_of(scanned)),
                         functions=(), classes=(), hooks=(), entries=(), import_time_calls=(), light=True)
