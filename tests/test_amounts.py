"""Human amount text to integer utia, and back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fontana.amounts import MAX_AMOUNT, UTIA_PER_TIA, format_amount, format_tia, parse_amount
from fontana.errors import AmountError


@pytest.mark.parametrize(
    ("text", "utia"),
    [
        ("1500", 1500),
        ("1500utia", 1500),
        ("1500 UTIA", 1500),
        ("1.5tia", 1_500_000),
        ("1.5 TiA", 1_500_000),
        ("0.000001 TIA", 1),
        ("0.1tia", 100_000),
        ("2tia", 2_000_000),
        ("  7 utia ", 7),
        ("007", 7),
        ("0" * 5000 + "1", 1),
        ("0" * 5000 + "1.5tia", 1_500_000),
        (str(MAX_AMOUNT), MAX_AMOUNT),
        ("18446744073709.551615tia", MAX_AMOUNT),
        (42, 42),
    ],
)
def test_parse(text: str | int, utia: int) -> None:
    assert parse_amount(text) == utia


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "0",
        "0tia",
        "0.0000001tia",
        "1.0000000tia",
        "-5",
        "-1tia",
        "+5",
        "1.5",
        "1.5utia",
        "1e6",
        "1,000",
        "1_000",
        ".5tia",
        "5.tia",
        "5 btc",
        "tia",
        "١٢٣",
        "²",
        "１５",
        "9" * 5000,
        "9" * 5000 + "tia",
        "1" + "0" * 20,
        "\u300015",
        "15\u3000",
        "15\u00a0utia",
        "1.5\u2009tia",
        "15\x00",
        "\udcff15",
        str(MAX_AMOUNT + 1),
        "18446744073709.551616tia",
        1.5,
        True,
        False,
        None,
        -1,
        0,
        MAX_AMOUNT + 1,
    ],
)
def test_parse_rejects(text: object) -> None:
    with pytest.raises(AmountError):
        parse_amount(text)  # type: ignore[arg-type]


def test_zero_only_when_allowed() -> None:
    assert parse_amount("0", allow_zero=True) == 0
    assert parse_amount("0tia", allow_zero=True) == 0
    with pytest.raises(AmountError):
        parse_amount("-0.1tia", allow_zero=True)


def test_format() -> None:
    assert format_amount(1_500_000) == "1.5 TIA (1500000 utia)"
    assert format_amount(1) == "0.000001 TIA (1 utia)"
    assert format_amount(0) == "0 TIA (0 utia)"
    assert format_tia(3 * UTIA_PER_TIA) == "3"
    for bad in (-1, 1.5, True):
        with pytest.raises(AmountError):
            format_tia(bad)  # type: ignore[arg-type]


@given(st.integers(1, MAX_AMOUNT))
def test_format_parses_back(utia: int) -> None:
    assert parse_amount(f"{format_tia(utia)}tia") == utia
    assert parse_amount(f"{utia}utia") == utia


def test_huge_inputs_get_short_messages() -> None:
    for text in ("9" * 5000, 10**5000):
        with pytest.raises(AmountError) as caught:
            parse_amount(text)  # type: ignore[arg-type]
        assert len(caught.value.message) < 200
