"""Human amounts ("1.5tia", "1500utia") to integer utia and back.

Decimal text is split on the point and scaled as integers: a float would
turn 0.1 TIA into 99999 or 100001 utia. Only ASCII digits, letters and
spaces are accepted: ``int()`` alone would also take Arabic-Indic or
full-width digits, and raises a bare ``ValueError`` past 4300 digits.
"""

from __future__ import annotations

import re
from typing import Final

from fontana.errors import AmountError

UTIA_PER_TIA: Final = 1_000_000
TIA_DECIMALS: Final = 6
MAX_AMOUNT: Final = 2**64 - 1
#: Digits of MAX_AMOUNT; longer digit runs (leading zeros aside) are out of range.
_MAX_DIGITS: Final = len(str(MAX_AMOUNT))
_ASCII_SPACE: Final = " \t\n\r\x0b\x0c"

_AMOUNT_RE: Final = re.compile(
    r"(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]+))?\s*(?P<unit>utia|tia)?", re.ASCII | re.IGNORECASE
)


def parse_amount(text: str | int, *, allow_zero: bool = False) -> int:
    """Utia in ``text``: a bare integer is utia; a ``tia`` amount may carry 6 decimals."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise AmountError(f"an amount is text or an integer, got {type(text).__name__}")
    if isinstance(text, int):
        value = text
    else:
        match = _AMOUNT_RE.fullmatch(text.strip(_ASCII_SPACE))
        if match is None:
            raise AmountError(f"{text!r:.80} is not an amount (try 1500, 1500utia or 1.5tia)")
        value = _scale(match["whole"], match["frac"], (match["unit"] or "utia").lower(), text)
    if value < 0 or value > MAX_AMOUNT:
        shown = value if value.bit_length() <= 128 else f"of {value.bit_length()} bits"
        raise AmountError(f"amount {shown} utia is outside 0..{MAX_AMOUNT}")
    if value == 0 and not allow_zero:
        raise AmountError("amount must be positive")
    return value


def _scale(whole: str, frac: str | None, unit: str, text: str) -> int:
    if len(whole.lstrip("0")) > _MAX_DIGITS:
        raise AmountError(f"an amount of {len(whole)} digits is outside 0..{MAX_AMOUNT} {unit}")
    whole = whole.lstrip("0") or "0"
    if unit == "utia":
        if frac is not None:
            raise AmountError(f"{text!r:.80}: utia has no fractions")
        return int(whole)
    frac = frac or ""
    if len(frac) > TIA_DECIMALS:
        raise AmountError(f"{text!r:.80}: TIA has at most {TIA_DECIMALS} decimals")
    return int(whole) * UTIA_PER_TIA + int(frac.ljust(TIA_DECIMALS, "0"))


def format_tia(utia: int) -> str:
    """Exact decimal TIA text, without trailing zeros: 1500000 -> "1.5"."""
    if isinstance(utia, bool) or not isinstance(utia, int) or utia < 0:
        raise AmountError(f"cannot format {utia!r} as an amount")
    whole, frac = divmod(utia, UTIA_PER_TIA)
    digits = str(frac).rjust(TIA_DECIMALS, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def format_amount(utia: int) -> str:
    """Both units, so a reader never has to count zeros: "1.5 TIA (1500000 utia)"."""
    return f"{format_tia(utia)} TIA ({utia} utia)"
