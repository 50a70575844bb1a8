"""A view's price: fixed utia, checked once, or a function of the request."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fontana.errors import AmountError
from fontana.ledger.meta import MAX_LEDGER_AMOUNT

R = TypeVar("R")
Price = Callable[[R], int]


def price_function(utia: int | None, price: Price[R] | None) -> Price[R]:
    """One of ``utia`` and ``price``; the charger checks what a function returns, per call."""
    if (utia is None) == (price is None):
        raise TypeError("@charge takes exactly one of utia=... and price=...")
    if price is None:
        if isinstance(utia, bool) or not isinstance(utia, int) or not 0 < utia <= MAX_LEDGER_AMOUNT:
            raise AmountError(f"utia is an integer in 1..{MAX_LEDGER_AMOUNT}, got {utia!r:.40}")
        fixed = utia
        return lambda _request: fixed
    if not callable(price):
        raise TypeError(f"price must be a function of the request, got {type(price).__name__}")
    return price
