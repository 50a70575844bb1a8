"""The canonical binary encoding's reader: big-endian fixed-width integers, no varints.

Chosen so a Rust or Solidity decoder is a handful of lines: every length is a
fixed-width prefix, every integer has one byte form, and decoding is strict
(trailing bytes, oversize fields and unknown tags are errors), so each value
has exactly one encoding and hashes of encodings are stable identities. The
wire types that read and write each field are in ``fontana.models.codec``.
"""

from __future__ import annotations

from fontana.errors import EncodingError


class Reader:
    """A cursor over bytes that names the dotted path of the field in every error.

    ``end`` may be moved in to read a nested value that must fill a sub-range
    exactly (an entry's body). The path is a stack of names and list indexes,
    joined only when an error is raised, so reading costs nothing for it.
    """

    __slots__ = ("_path", "data", "end", "pos")

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise EncodingError(f"{what}: expected bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.pos = 0
        self.end = len(self.data)
        self._path: list[str | int] = [what]

    def path(self, field: str = "") -> str:
        """Dotted name of ``field`` under the current scope: ``transaction.inputs[2].txid``."""
        out = ""
        for part in self._path:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += f".{part}" if out else part
        return f"{out}.{field}" if field else out

    def push(self, part: str | int) -> None:
        """Enter a nested value (a field name) or a list item (its index)."""
        self._path.append(part)

    def pop(self) -> None:
        self._path.pop()

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, size: int, field: str) -> bytes:
        """The next ``size`` bytes; an error naming ``field`` if fewer are left."""
        pos = self.pos
        if self.end - pos < size:
            raise self.error(field, f"truncated, needs {size} bytes, {self.end - pos} left")
        self.pos = pos + size
        return self.data[pos : pos + size]

    def uint(self, size: int, field: str) -> int:
        """A big-endian unsigned integer of ``size`` bytes."""
        return int.from_bytes(self.take(size, field), "big")

    def error(
        self, field: str, message: str, kind: type[EncodingError] = EncodingError
    ) -> EncodingError:
        """An error for ``field`` at the current scope, named like every other."""
        return kind(f"{self.path(field)}: {message}")

    def finish(self) -> None:
        """The value must have filled the input (or the sub-range) exactly."""
        if self.pos != self.end:
            raise self.error("", f"{self.end - self.pos} trailing bytes")
