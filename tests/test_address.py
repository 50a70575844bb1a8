"""bech32m addresses: round trips and typo detection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fontana.address import _CHARSET, _polymod, decode_address, encode_address
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


def _ascii_lookalikes() -> dict[str, str]:
    """Non-ASCII characters whose case mapping yields an ASCII letter or digit, by that letter."""
    out: dict[str, str] = {}
    for code in range(128, 0x10000):
        c = chr(code)
        for mapped in (c.lower(), c.upper(), c.casefold()):
            ascii_part = [x for x in mapped if x.isascii() and x.isalnum()]
            if ascii_part:
                out.setdefault(c, ascii_part[0].lower())
    return out


LOOKALIKES = _ascii_lookalikes()


def test_the_lookalike_table_holds_the_known_ones() -> None:
    assert LOOKALIKES["\u212a"] == "k"  # KELVIN SIGN
    assert LOOKALIKES["\u017f"] == "s"  # LATIN SMALL LETTER LONG S
    assert LOOKALIKES["\u0131"] == "i"  # DOTLESS I


@pytest.mark.parametrize("text", [TEXT, TEXT.upper()])
def test_non_ascii_lookalikes_are_rejected(text: str) -> None:
    """BIP-350 is ASCII only; str.lower() would turn U+212A into "k" and accept it."""
    tried = 0
    for c, letter in LOOKALIKES.items():
        i = text.lower().find(letter, 4)
        if i < 0:
            continue
        tried += 1
        with pytest.raises(AddressError, match="printable ASCII"):
            decode_address(text[:i] + c + text[i + 1 :])
    assert tried > 10


@pytest.mark.parametrize(
    "text",
    [TEXT + "\n", " " + TEXT, TEXT[:10] + "\x00" + TEXT[11:], TEXT[:10] + "\udcff" + TEXT[11:]],
)
def test_spaces_controls_and_undecodable_bytes_are_rejected(text: str) -> None:
    with pytest.raises(AddressError):
        decode_address(text)


def test_a_huge_text_is_rejected_with_a_short_message() -> None:
    with pytest.raises(AddressError) as caught:
        decode_address("fnt1" + "q" * 1_000_000)
    assert len(caught.value.message) < 200


def _bitwise_polymod(values: list[int]) -> int:
    """BIP-350's checksum step as the BIP writes it: the reference for the table-driven one."""
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


@given(st.lists(st.integers(0, 31), max_size=120))
def test_polymod_is_bip350s(values: list[int]) -> None:
    assert _polymod(values) == _bitwise_polymod(values)


def test_cached_results_are_the_computed_ones() -> None:
    """The caches hold successes only: a refusal is refused again, and other types still are."""
    for _ in range(2):
        assert decode_address(TEXT) == RAW and encode_address(RAW) == TEXT
        with pytest.raises(AddressError):
            decode_address(TEXT[:-1] + ("q" if TEXT[-1] != "q" else "p"))
    assert encode_address(bytearray(RAW)) == TEXT and encode_address(memoryview(RAW)) == TEXT
    with pytest.raises((AddressError, TypeError)):
        encode_address(32)  # type: ignore[arg-type]  # never bytes(32), an address of zeros
