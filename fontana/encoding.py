"""The canonical binary encoding: big-endian fixed-width integers, no varints.

Chosen so a Rust or Solidity decoder is a handful of lines: every length is a
fixed-width prefix, every integer has one byte form, and decoding is strict
(trailing bytes, oversize fields and unknown tags are errors), so each value
has exactly one encoding and hashes of encodings are stable identities.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Final, TypeVar

from fontana.errors import EncodingError

U8_MAX: Final = 2**8 - 1
U16_MAX: Final = 2**16 - 1
U32_MAX: Final = 2**32 - 1
U64_MAX: Final = 2**64 - 1

E = TypeVar("E", bound=IntEnum)


def _check_uint(value: int, bits: int, field: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise EncodingError(f"{field}: expected an integer, got {type(value).__name__}")
    if not 0 <= value < 1 << bits:
        raise EncodingError(f"{field}: {value} is outside u{bits}")


class Writer:
    """Appends canonical fields; range-checks on the way so bad values never get bytes."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def getvalue(self) -> bytes:
        return b"".join(self._parts)

    def raw(self, data: bytes) -> None:
        """Already-encoded bytes (a nested value's own encoding)."""
        self._parts.append(data)

    def uint(self, value: int, bits: int, field: str) -> None:
        _check_uint(value, bits, field)
        self._parts.append(value.to_bytes(bits // 8, "big"))

    def u8(self, value: int, field: str) -> None:
        self.uint(value, 8, field)

    def u16(self, value: int, field: str) -> None:
        self.uint(value, 16, field)

    def u32(self, value: int, field: str) -> None:
        self.uint(value, 32, field)

    def u64(self, value: int, field: str) -> None:
        self.uint(value, 64, field)

    def fixed(self, data: bytes, size: int, field: str) -> None:
        if not isinstance(data, bytes) or len(data) != size:
            raise EncodingError(f"{field}: expected {size} bytes")
        self._parts.append(data)

    def varbytes(self, data: bytes, max_len: int, field: str) -> None:
        if len(data) > max_len:
            raise EncodingError(f"{field}: {len(data)} bytes, above the maximum {max_len}")
        self.u32(len(data), field)
        self._parts.append(data)

    def string(self, text: str, max_len: int, field: str) -> None:
        data = text.encode("utf-8")
        if len(data) > min(max_len, U8_MAX):
            raise EncodingError(f"{field}: {len(data)} bytes, above the maximum {max_len}")
        self.u8(len(data), field)
        self._parts.append(data)

    def count(self, n: int, max_count: int, field: str) -> None:
        """A list's u16 item count."""
        if n > max_count:
            raise EncodingError(f"{field}: {n} items, above the maximum {max_count}")
        self.u16(n, field)

    def option(self, present: bool) -> None:
        self._parts.append(b"\x01" if present else b"\x00")


class Reader:
    """Reads canonical fields; every error names the dotted path of the field."""

    __slots__ = ("_data", "_path", "_pos")

    def __init__(self, data: bytes, what: str) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise EncodingError(f"{what}: expected bytes, got {type(data).__name__}")
        self._data = bytes(data)
        self._pos = 0
        self._path = [what]

    def path(self, field: str = "") -> str:
        """Dotted name of ``field`` under the current scope, for error messages."""
        return ".".join([*self._path, field]) if field else ".".join(self._path)

    @contextmanager
    def scope(self, name: str) -> Iterator[None]:
        """Nest field names (``tx.inputs[2].txid``) while reading a sub-value."""
        self._path.append(name)
        try:
            yield
        finally:
            self._path.pop()

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    @property
    def position(self) -> int:
        return self._pos

    def consumed_since(self, start: int) -> bytes:
        """The bytes read from ``start`` (a past ``position``) to here: a value's encoding."""
        return self._data[start : self._pos]

    def fixed(self, size: int, field: str) -> bytes:
        if self.remaining < size:
            raise EncodingError(
                f"{self.path(field)}: truncated, needs {size} bytes, {self.remaining} left"
            )
        out = self._data[self._pos : self._pos + size]
        self._pos += size
        return out

    def uint(self, bits: int, field: str) -> int:
        return int.from_bytes(self.fixed(bits // 8, field), "big")

    def u8(self, field: str) -> int:
        return self.uint(8, field)

    def u16(self, field: str) -> int:
        return self.uint(16, field)

    def u32(self, field: str) -> int:
        return self.uint(32, field)

    def u64(self, field: str) -> int:
        return self.uint(64, field)

    def varbytes(self, max_len: int, field: str) -> bytes:
        n = self.u32(field)
        if n > max_len:
            raise EncodingError(f"{self.path(field)}: length {n} above the maximum {max_len}")
        return self.fixed(n, field)

    def string(self, max_len: int, field: str) -> str:
        n = self.u8(field)
        if n > max_len:
            raise EncodingError(f"{self.path(field)}: length {n} above the maximum {max_len}")
        try:
            return self.fixed(n, field).decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError(f"{self.path(field)}: not valid UTF-8") from None

    def count(self, max_count: int, field: str) -> int:
        n = self.u16(field)
        if n > max_count:
            raise EncodingError(f"{self.path(field)}: {n} items, above the maximum {max_count}")
        return n

    def option(self, field: str) -> bool:
        tag = self.u8(field)
        if tag > 1:
            raise EncodingError(f"{self.path(field)}: option tag {tag}, expected 0 or 1")
        return tag == 1

    def enum(self, allowed: type[E], field: str) -> E:
        """A u8 that must be one of an IntEnum's values."""
        value = self.u8(field)
        try:
            return allowed(value)
        except ValueError:
            raise EncodingError(f"{self.path(field)}: unknown value {value}") from None

    def error(self, field: str, message: str) -> EncodingError:
        """An error for a semantic check the caller makes, named like the others."""
        return EncodingError(f"{self.path(field)}: {message}")

    def finish(self) -> None:
        if self.remaining:
            raise EncodingError(f"{self.path('')}: {self.remaining} trailing bytes")
