"""Reading a file the way Python reads it, and writing it back without losing a byte we did not mean to change."""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from loopbound.source import detected_encoding


class FixWriteError(Exception):
    """A fixed file could not be written; the message names the file."""


@dataclass
class SourceFile:
    """A file's text plus what it takes to turn the text back into the same kind of bytes."""

    path: str
    original: str
    text: str
    encoding: str  # `utf-8-sig` keeps a UTF-8 BOM; a PEP 263 cookie gives any other codec

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def encoded(self) -> bytes:
        return self.text.encode(self.encoding)


def decode_source(path: str, data: bytes) -> SourceFile:
    """Python files honour their PEP 263 cookie and BOM; config files are UTF-8 (with or without BOM)."""
    if path.endswith((".py", ".pyi")):
        encoding = detected_encoding(data)
    else:
        encoding = "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    # newline="" semantics: bytes.decode keeps `\r\n`, so CRLF files stay CRLF.
    text = data.decode(encoding)
    return SourceFile(path, text, text, encoding)


def read_source(path: str) -> SourceFile:
    return decode_source(path, Path(path).read_bytes())


def write_atomically(path: str, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename over the original.

    A crash leaves either the old file or the new one, never half of each; the rename happens in one
    directory so it stays on one filesystem. The file's permission bits are carried over, and a
    symlink is kept by writing to the file it points at.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".loopbound")
    except OSError as error:
        raise FixWriteError(f"{path}: cannot write the fixed file: {error.strerror or error}") from None
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise FixWriteError(f"{path}: cannot write the fixed file: {error.strerror or error}") from None
