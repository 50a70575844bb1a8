"""bech32m addresses: round trips and typo detection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fontana.address import _CHARSET, decode_address, encode_address
from fontana.errors import AddressError

RAW = bytes(range(32))
TEXT = encode_address(RAW)


@given(st.binary(min_size=32, max_size=32))
def test_round_trip(raw: bytes) -> None:
    text = encode_address(raw)
    assert text.startswith("fnt1") and text == text.lower()
    assert decode_address(text) == raw


def test_every_single_character_substitution_is_rejected() -> None:
    for i in range(len(TEXT)):
        for c in _CHARSET + "1bio":
            if c == TEXT[i]:
                continue
            typo = TEXT[:i] + c + TEXT[i + 1 :]
            with pytest.raises(AddressError):
                decode_address(typo)


def test_adjacent_swaps_are_rejected() -> None:
    for i in range(4, len(TEXT) - 1):
        if TEXT[i] != TEXT[i + 1]:
            with pytest.raises(AddressError):
                decode_address(TEXT[:i] + TEXT[i + 1] + TEXT[i] + TEXT[i + 2 :])


def test_case() -> None:
    assert decode_address(TEXT.upper()) == RAW
    for i in range(4, len(TEXT)):
        if TEXT[i].isalpha():
            with pytest.raises(AddressError, match="case"):
                decode_address(TEXT[:i] + TEXT[i].upper() + TEXT[i + 1 :])


@pytest.mark.parametrize(
    "text", ["", "fnt1", TEXT[:-1], TEXT + "q", "fnx" + TEXT[3:], TEXT.replace("1", "", 1), 42]
)
def test_malformed(text: object) -> None:
    with pytest.raises(AddressError):
        decode_address(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [b"", bytes(20), bytes(33)])
def test_encode_needs_32_bytes(raw: bytes) -> None:
    with pytest.raises(AddressError):
        encode_address(raw)
