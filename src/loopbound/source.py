"""Reading and decoding a Python source file, as Python itself reads it: the one low module that does.

The checker, the project model, the index, the fixes and the server all read files through here,
so that a file one of them can read the others read alike, with the same message when it cannot be.
"""

from __future__ import annotations

import gc
import io
import os
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager

from loopbound import unsaved


class SourceError(Exception):
    """The file cannot be read or decoded; the message is for the user."""


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        return unsaved.read_bytes(path)
    except PermissionError:
        raise SourceError("cannot read the file: permission denied") from None
    except IsADirectoryError:
        raise SourceError("is a directory, not a file") from None
    except OSError as error:
        raise SourceError(f"cannot read the file: {error.strerror or error}") from None


def detected_encoding(data: bytes) -> str:
    """The encoding a PEP 263 declaration or a UTF-8 BOM gives (SyntaxError for a bad declaration)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return encoding


def decode(data: bytes) -> str:
    """PEP 263 and a UTF-8 BOM decide the encoding, as Python itself decides it."""
    try:
        encoding = detected_encoding(data)
    except SyntaxError as error:
        raise SourceError(f"bad encoding declaration: {error.msg}") from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        row = data[: error.start].count(b"\n") + 1
        raise SourceError(
            f"cannot decode line {row} as {encoding}: byte {data[error.start]:#04x} at offset {error.start}"
        ) from None
    except LookupError:
        raise SourceError(f"unknown encoding `{encoding}`") from None


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic collector off while a syntax tree is built and read.

    Syntax trees hold no reference cycles, yet every collection rescans all their nodes: with it on,
    parsing the corpus took a third longer. Whatever cycles the rules make are collected afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
