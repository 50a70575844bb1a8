"""Shared helpers of the models: the JSON field parsers, chain id rules, signature checks.

The wire types in ``fontana.models.codec`` build each field's JSON form on
these parsers, so every JSON input is judged by one set of rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import IntEnum
from typing import Any, Final, TypeVar

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from fontana.address import decode_address
from fontana.errors import AddressError, AmountError, EncodingError

E = TypeVar("E", bound=IntEnum)

CHAIN_ID_MAX: Final = 32
#: The chain id rule: 1..32 characters, each in ``[a-z0-9-]``.
CHAIN_ID_PATTERN: Final = r"[a-z0-9-]{1,32}"
_DIGITS_RE: Final = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_HEX_RE: Final = re.compile(r"(?:[0-9a-f]{2})*", re.ASCII)


def verify_signature(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """ed25519 check that answers False (never raises) for any bad key or signature."""
    try:
        VerifyKey(pubkey).verify(message, signature)
    except (CryptoError, ValueError):
        return False
    return True


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
