"""Shared machinery of the models: attrs validators, JSON field codecs, byte round trips.

Validators run on every construction, including decoding, so an invalid value
can never exist as a model object whichever way it arrived.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any, ClassVar, Final, Self, TypeVar

import attrs
from nacl.exceptions import CryptoError
from nacl.signing import SigningKey, VerifyKey

from fontana.address import decode_address
from fontana.encoding import Reader, Writer
from fontana.errors import AddressError, AmountError, EncodingError

E = TypeVar("E", bound=IntEnum)
C = TypeVar("C", bound="Canonical")
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

CHAIN_ID_MAX: Final = 32
_CHAIN_ID_RE: Final = re.compile(r"[a-z0-9-]{1,32}", re.ASCII)
_DIGITS_RE: Final = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_HEX_RE: Final = re.compile(r"(?:[0-9a-f]{2})*", re.ASCII)


class Canonical:
    """Mixin giving ``to_bytes``/``from_bytes`` from a model's ``write``/``read``."""

    __slots__ = ()
    NAME: ClassVar[str]

    def write(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def read(cls, r: Reader) -> Self:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        w = Writer()
        self.write(w)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Strict decode: the whole input must be exactly one canonical value."""
        r = Reader(data, cls.NAME)
        value = cls.read(r)
        r.finish()
        return value


class Signed(Canonical):
    """An inner value plus an ed25519 signature, by one of its fields, over one of its ids.

    Subclasses are attrs classes with two fields, the inner value (named ``INNER``)
    and ``signature``, and say which inner attribute holds the signer's key
    (``SIGNER``) and which is the signed 32-byte message (``MESSAGE``).
    """

    __slots__ = ()
    INNER: ClassVar[str]
    INNER_TYPE: ClassVar[type[Canonical]]
    SIGNER: ClassVar[str]
    MESSAGE: ClassVar[str]
    signature: bytes

    @property
    def _inner(self) -> Any:
        return getattr(self, self.INNER)

    @classmethod
    def sign(cls, inner: Any, signing_key: SigningKey) -> Self:
        if bytes(signing_key.verify_key) != getattr(inner, cls.SIGNER):
            raise EncodingError(
                f"{cls.__name__}: the signing key is not the {cls.INNER}'s {cls.SIGNER}"
            )
        return cls(inner, signing_key.sign(getattr(inner, cls.MESSAGE)).signature)  # type: ignore[call-arg]

    def verify(self) -> bool:
        inner = self._inner
        return verify_signature(
            getattr(inner, self.SIGNER), getattr(inner, self.MESSAGE), self.signature
        )

    def write(self, w: Writer) -> None:
        self._inner.write(w)
        w.fixed(self.signature, 64, "signature")

    @classmethod
    def read(cls, r: Reader) -> Self:
        with r.scope(cls.INNER):
            inner = cls.INNER_TYPE.read(r)
        return cls(inner, r.fixed(64, "signature"))  # type: ignore[call-arg]

    def to_json(self) -> dict[str, Any]:
        return {self.INNER: self._inner.to_json(), "signature": self.signature.hex()}

    @classmethod
    def from_json(cls, d: Any, what: str | None = None) -> Self:
        what = what or cls.NAME
        d = json_fields(d, what, (cls.INNER, "signature"))
        return cls(  # type: ignore[call-arg]
            cls.INNER_TYPE.from_json(d[cls.INNER], f"{what}.{cls.INNER}"),  # type: ignore[attr-defined]
            json_hex(d["signature"], f"{what}.signature", 64),
        )


def read_list(r: Reader, kind: type[C], max_count: int, field: str) -> tuple[C, ...]:
    """A ``list(kind, max_count)``; item errors are named ``field[i].sub``."""
    out = []
    for i in range(r.count(max_count, field)):
        with r.scope(f"{field}[{i}]"):
            out.append(kind.read(r))
    return tuple(out)


def verify_signature(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """ed25519 check that answers False (never raises) for any bad key or signature."""
    try:
        VerifyKey(pubkey).verify(message, signature)
    except (CryptoError, ValueError):
        return False
    return True


# --- validators ------------------------------------------------------------------


def _where(inst: Any, attr: attrs.Attribute[Any]) -> str:
    return f"{type(inst).__name__}.{attr.name}"


def fixed_bytes(size: int) -> Validator:
    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, bytes) or len(value) != size:
            raise EncodingError(f"{_where(inst, attr)}: expected {size} bytes, got {value!r:.80}")

    return check


def max_bytes(limit: int) -> Validator:
    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, bytes) or len(value) > limit:
            raise EncodingError(f"{_where(inst, attr)}: expected at most {limit} bytes")

    return check


def uint(bits: int) -> Validator:
    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
            raise EncodingError(f"{_where(inst, attr)}: {value!r} is not a u{bits}")

    return check


def positive_amount(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    """Outputs, deposits, burns and credits of 0 utia would only bloat the UTXO set."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 1 << 64:
        raise AmountError(f"{_where(inst, attr)}: {value!r} is not a positive u64 amount")


def version_one(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or value != 1:
        raise EncodingError(f"{_where(inst, attr)}: unsupported version {value!r}, expected 1")


def chain_id(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not _CHAIN_ID_RE.fullmatch(value):
        raise EncodingError(
            f"{_where(inst, attr)}: {value!r:.40} is not 1..32 characters of [a-z0-9-]"
        )


def enum_member(enum: type[IntEnum]) -> Validator:
    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, enum):
            raise EncodingError(f"{_where(inst, attr)}: {value!r} is not a {enum.__name__}")

    return check


def items(kind: type, lo: int, hi: int) -> Validator:
    """A tuple of ``lo..hi`` instances of ``kind``."""

    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, tuple) or not lo <= len(value) <= hi:
            raise EncodingError(f"{_where(inst, attr)}: expected {lo}..{hi} items")
        for i, item in enumerate(value):
            if not isinstance(item, kind):
                raise EncodingError(f"{_where(inst, attr)}[{i}]: expected a {kind.__name__}")

    return check


def optional(inner: Validator) -> Validator:
    def check(inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is not None:
            inner(inst, attr, value)

    return check


def to_tuple(value: Any) -> Any:
    """Lists are accepted for convenience; other things are left for the validator to reject."""
    return tuple(value) if isinstance(value, list) else value


# --- JSON ------------------------------------------------------------------------


def json_fields(data: Any, what: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    """``data`` as an object with exactly ``keys``: unknown and missing keys are errors."""
    if not isinstance(data, Mapping):
        raise EncodingError(f"{what}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(keys), key=str)
    if unknown:
        raise EncodingError(f"{what}: unknown keys {', '.join(map(str, unknown))}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise EncodingError(f"{what}: missing keys {', '.join(missing)}")
    return data


def json_u64(value: Any, field: str) -> int:
    """A u64 from a JSON int or decimal digit string (no sign, no leading zeros)."""
    if isinstance(value, str) and len(value) <= 20 and _DIGITS_RE.fullmatch(value):
        value = int(value)  # 20 digits hold every u64; longer would meet int()'s 4300-digit limit
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise EncodingError(f"{field}: {value!r:.40} is not a u64 (decimal string or integer)")
    return value


def json_amount(value: Any, field: str) -> int:
    try:
        return json_u64(value, field)
    except EncodingError as exc:
        raise AmountError(exc.message) from None


def json_int(value: Any, bits: int, field: str) -> int:
    """Small integers (u8..u32) are plain JSON numbers."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise EncodingError(f"{field}: {value!r:.40} is not a u{bits}")
    return value


def json_hex(value: Any, field: str, size: int | None = None) -> bytes:
    """Lowercase hex without ``0x``; ``size`` pins the byte length."""
    if not isinstance(value, str) or not _HEX_RE.fullmatch(value):
        raise EncodingError(f"{field}: {value!r:.40} is not lowercase hex")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        raise EncodingError(f"{field}: expected {size} bytes of hex, got {len(raw)}")
    return raw


def json_address(value: Any, field: str) -> bytes:
    try:
        return decode_address(value)
    except AddressError as exc:
        raise AddressError(f"{field}: {exc.message}") from None


def json_list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise EncodingError(f"{field}: expected a JSON array")
    return value


def json_str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise EncodingError(f"{field}: expected a string")
    return value


def json_enum(value: Any, enum: type[E], field: str) -> E:
    """Enums are their lowercase member names."""
    names = {m.name.lower(): m for m in enum}
    if not isinstance(value, str) or value not in names:
        raise EncodingError(f"{field}: {value!r:.40} is not one of {', '.join(names)}")
    return names[value]
