"""Fontana as a payment scheme of x402's Python SDK: x402's clients pay Fontana APIs.

``FontanaScheme`` is imported on first use: every ``fontana`` command imports
this package (its plugin entry point), and the x402 SDK is not light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fontana_x402.scheme import FontanaScheme

__version__ = "0.1.0"
__all__ = ["FontanaScheme"]


def __getattr__(name: str) -> Any:
    if name == "FontanaScheme":
        from fontana_x402.scheme import FontanaScheme

        return FontanaScheme
    raise AttributeError(f"module 'fontana_x402' has no attribute {name!r}")
