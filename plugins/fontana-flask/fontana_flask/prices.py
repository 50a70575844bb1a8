"""A view's price: a fixed number of utia, or a function of the request."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fontana.amounts import MAX_AMOUNT
from fontana.errors import AmountError

R = TypeVar("R")
Price = Callable[[R], int]


def price_function(utia: int | None, price: Price[R] | None) -> Price[R]:
    """One of ``utia`` and ``price``, checked now (fixed) or at each call (a function)."""
    if (utia is None) == (price is None):
        raise TypeError("@charge takes exactly one of utia=... and price=...")
    if price is None:
        fixed = checked_price(utia, "utia")
        return lambda _request: fixed
    if not callable(price):
        raise TypeError(f"price must be a function of the request, got {type(price).__name__}")

    def priced(request: R) -> int:
        return checked_price(price(request), "the price function's result")

    return priced


def checked_price(value: object, what: str) -> int:
    """A positive integer of utia: no floats, no booleans, no text."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AmountError(f"{what} must be an integer number of utia, got {type(value).__name__}")
    if not 1 <= value <= MAX_AMOUNT:
        raise AmountError(f"{what} must be in 1..{MAX_AMOUNT} utia, got {value}")
    return value
