"""What a fix builder sees: the file's text, its libcst tree and metadata (each computed once per file,
however many findings it has), settings.

A fix's edits cover only the top-level statements it changed (`fix_from_module`): regenerating and
diffing the whole file for each finding made `--fix` cost findings x file size (minutes on a
7,500-line file with a few hundred findings).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopbound.config import Settings
from loopbound.findings import Applicability, Edit, Finding, Fix, Location
from loopbound.fixes.inputs import Inputs
from loopbound.fixes.text import edits_between, line_starts, newline_of, to_location
from loopbound.fixes.windows import Windows

if TYPE_CHECKING:
    import libcst as cst
    from libcst.metadata import MetadataWrapper

Reader = Callable[[str], str]


@dataclass
class FixContext:
    path: str
    text: str
    settings: Settings
    is_test: bool
    read: Reader  # the current text of another file (a config file an LB3 fix edits)
    files: tuple[str, ...] = ()  # every checked Python file, as findings name them (to find importers)
    first_row: int = 1  # the file's row of `text`'s first line: `text` may be one top-level statement of it
    newline: str = ""  # the file's line ending, when `text` is a slice of it
    inputs: Inputs = field(default_factory=Inputs)  # what the fix being built reads, for the fix cache
    peek: Reader | None = None  # reads a file only to search it (importers): an input only once `inputs.used`
    _module: cst.Module | None = field(default=None, repr=False)
    _wrapper: MetadataWrapper | None = field(default=None, repr=False)
    _spans: dict[int, tuple[int, int]] | None = field(default=None, repr=False)
    _body_end: int = field(default=-1, repr=False)
    memo: dict[str, Any] = field(default_factory=dict, repr=False)  # indexes a builder computes once per file

    def module(self) -> cst.Module:
        """The libcst tree, parsed once per file however many findings it has."""
        if self._module is None:
            import libcst

            self._module = libcst.parse_module(self.text)
        return self._module

    def metadata(self) -> MetadataWrapper:
        """A metadata wrapper over `module()` itself (no copy, so its nodes are the module's); it keeps
        what it resolved, so positions, parents and scopes are computed once per file."""
        if self._wrapper is None:
            from libcst.metadata import MetadataWrapper

            self._wrapper = MetadataWrapper(self.module(), unsafe_skip_copy=True)
        return self._wrapper

    def windows(self) -> Windows:
        """Where the text's statements start, scanned once per file."""
        if "windows" not in self.memo:
            self.memo["windows"] = Windows(self.text)
        windows: Windows = self.memo["windows"]
        return windows

    def top_level(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement of the module's body that holds node: as `blocks.statement_block` noted it when
        it found node, else by row, so that the fixes that need only positions do not pay for libcst's
        parent map."""
        import bisect

        noted: cst.CSTNode | None = self.memo.get("top_level", {}).get(id(node))
        if noted is not None:
            return noted

        from libcst.metadata import PositionProvider

        positions = self.metadata().resolve(PositionProvider)
        body = self.module().body
        if "top_rows" not in self.memo:
            self.memo["top_rows"] = [positions[statement].start.line for statement in body]
        index = bisect.bisect_right(self.memo["top_rows"], positions[node].start.line) - 1
        return body[index]

    def spans(self) -> dict[int, tuple[int, int]] | None:
        """Where each top-level statement's text starts and ends, by the statement's id; None when the
        pieces do not add up to the file's text (then fixes diff the whole file)."""
        if self._spans is None and self._body_end == -1:
            module = self.module()
            header = "".join(module.code_for_node(line) for line in module.header)
            footer = "".join(module.code_for_node(line) for line in module.footer)
            if (len(module.body) == 1 and module.has_trailing_newline and len(header) + len(footer) <= len(self.text)
                    and self.text.startswith(header) and self.text.endswith(footer)):
                # One statement (a window, `FixContext.first_row`): libcst gives back the text it parsed, so the
                # statement is what the header and footer leave, without generating its code.
                self._body_end = len(self.text) - len(footer)
                self._spans = {id(module.body[0]): (len(header), self._body_end)}
                return self._spans
            offset = len(header)
            spans = {}
            for statement in module.body:
                size = len(module.code_for_node(statement))
                spans[id(statement)] = (offset, offset + size)
                offset += size
            self._body_end = offset
            if module.code == self.text:
                self._spans = spans
        return self._spans


def fix_from_texts(applicability: Applicability, message: str, old: Mapping[str, str],
                   new: Mapping[str, str]) -> Fix | None:
    """A Fix made of the minimal edits between old and new texts of one or more files."""
    edits: list[Edit] = []
    for path, text in new.items():
        edits.extend(edits_between(path, old[path], text))
    if not edits:
        return None
    return Fix(applicability, message, tuple(edits))


def fix_from_module(ctx: FixContext, applicability: Applicability, message: str, new: cst.Module) -> Fix | None:
    """A Fix turning ctx's module into `new`, a copy sharing the statements it left unchanged (same objects).

    Only the top-level statements that differ are generated and diffed.
    """
    old = ctx.module()
    spans = ctx.spans()
    same_frame = all(len(a) == len(b) and "".join(map(old.code_for_node, a)) == "".join(map(old.code_for_node, b))
                     for a, b in ((old.header, new.header), (old.footer, new.footer)))
    if spans is None or not same_frame:
        whole = fix_from_texts(applicability, message, {ctx.path: ctx.text}, {ctx.path: new.code})
        return whole if whole is None or ctx.first_row == 1 else Fix(
            applicability, message, tuple(_shifted(edit, ctx.first_row - 1) for edit in whole.edits))
    if "line_starts" not in ctx.memo:
        ctx.memo["line_starts"] = line_starts(ctx.text)
    starts: list[int] = ctx.memo["line_starts"]
    newline = ctx.newline or newline_of(ctx.text)
    edits: list[Edit] = []
    matcher = difflib.SequenceMatcher(None, [id(s) for s in old.body], [id(s) for s in new.body], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start = spans[id(old.body[i1])][0] if i1 < len(old.body) else ctx._body_end
        end = spans[id(old.body[i2 - 1])][1] if i2 > i1 else start
        code = "".join(old.code_for_node(statement) for statement in new.body[j1:j2])
        first_row = to_location(starts, start).row + ctx.first_row - 1
        edits.extend(edits_between(ctx.path, ctx.text[start:end], code, newline=newline, first_row=first_row))
    if not edits:
        return None
    return Fix(applicability, message, tuple(edits))


def _shifted(edit: Edit, rows: int) -> Edit:
    return Edit(edit.path, Location(edit.start.row + rows, edit.start.column),
                Location(edit.end.row + rows, edit.end.column), edit.content)


def replace_in_module(ctx: FixContext, old: cst.CSTNode, new: cst.CSTNode) -> cst.Module:
    """ctx's module with `old` swapped for `new`, rebuilding only the top-level statement that holds it."""
    import libcst

    module = ctx.module()
    top = ctx.top_level(old)
    if top is old:
        replaced = new
    else:
        replaced = top.deep_replace(old, new)
    assert isinstance(replaced, libcst.BaseStatement)
    body = [replaced if statement is top else statement for statement in module.body]
    return module.with_changes(body=body)


Builder = Callable[[Finding, FixContext], "Fix | None"]
