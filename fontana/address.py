"""Rollup addresses: 32-byte ed25519 public keys written as bech32m (``fnt1...``).

bech32m (BIP-350) is used for its checksum, which catches any single typo and
any swap of two adjacent characters; 32 raw bytes also fit an L1 ``bytes32``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from fontana.errors import AddressError

HRP: Final = "fnt"
ADDRESS_LEN: Final = 32
_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST: Final = 0x2BC830A3
_GEN: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
#: BIP-350's length limit for a whole bech32m string.
_MAX_LEN: Final = 90


def _gen_of(top: int) -> int:
    """The generator terms BIP-350's checksum step XORs in for the 5 bits ``top``."""
    out = 0
    for i in range(5):
        if (top >> i) & 1:
            out ^= _GEN[i]
    return out


#: :func:`_gen_of` of every 5-bit value: one lookup per character instead of five tests.
_GEN_OF_TOP: Final = tuple(_gen_of(top) for top in range(32))


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        chk = ((chk & 0x1FFFFFF) << 5 ^ value) ^ _GEN_OF_TOP[chk >> 25]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convertbits(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        raise AddressError("address has non-zero padding bits")
    return out


# A provider's receipts name the same few keys over and over, and bech32 in
# Python costs about as much as a signature check: both directions are cached
# for exact ``bytes`` and ``str`` (only successes: a bad address is refused anew).


def encode_address(raw: bytes, hrp: str = HRP) -> str:
    """Text form of a 32-byte public key."""
    if type(raw) is bytes and type(hrp) is str:
        return _encode_cached(raw, hrp)
    return _encode(raw, hrp)


def _encode(raw: bytes, hrp: str) -> str:
    if len(raw) != ADDRESS_LEN:
        raise AddressError(f"an address is {ADDRESS_LEN} bytes, got {len(raw)}")
    data = _convertbits(raw, 8, 5, pad=True)
    polymod = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ _BECH32M_CONST
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


_encode_cached: Final = lru_cache(maxsize=4096)(_encode)


def decode_address(text: str, hrp: str = HRP) -> bytes:
    """Raw 32 bytes of a text address; rejects any typo, case mix or wrong prefix."""
    if not isinstance(text, str):
        raise AddressError(f"an address is text, got {type(text).__name__}")
    if type(text) is str and type(hrp) is str:
        return _decode_cached(text, hrp)
    return _decode(text, hrp)


def _decode(text: str, hrp: str) -> bytes:
    if len(text) > _MAX_LEN:
        raise AddressError(f"{text!r:.100} is not a bech32m address (over {_MAX_LEN} characters)")
    # BIP-350 allows only ASCII 33..126: checked before any case folding, since
    # str.lower() maps non-ASCII look-alikes (U+212A KELVIN SIGN) to ASCII letters.
    if not all(33 <= ord(c) <= 126 for c in text):
        raise AddressError(f"address {text!r} has a character outside printable ASCII")
    if text.lower() != text and text.upper() != text:
        raise AddressError(f"address {text!r} mixes upper and lower case")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text):
        raise AddressError(f"{text!r} is not a bech32m address")
    if text[:sep] != hrp:
        raise AddressError(f"address {text!r} has prefix {text[:sep]!r}, expected {hrp!r}")
    try:
        data = [_CHARSET.index(c) for c in text[sep + 1 :]]
    except ValueError:
        raise AddressError(f"address {text!r} contains a character outside bech32") from None
    if _polymod(_hrp_expand(hrp) + data) != _BECH32M_CONST:
        raise AddressError(f"address {text!r} has a bad checksum (typo?)")
    raw = bytes(_convertbits(data[:-6], 5, 8, pad=False))
    if len(raw) != ADDRESS_LEN:
        raise AddressError(f"address {text!r} holds {len(raw)} bytes, expected {ADDRESS_LEN}")
    return raw


_decode_cached: Final = lru_cache(maxsize=4096)(_decode)
