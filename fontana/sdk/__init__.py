"""Paying for Fontana APIs: budgets, a UTXO pool shared by concurrent calls, HTTP clients.

``Client`` (requests) and ``AsyncClient`` (httpx, ``pip install fontana[async]``)
are imported on first use, so the budget and the pool need neither library.
See docs/sdk.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fontana.sdk.budget import Budget
from fontana.sdk.pool import UtxoPool

if TYPE_CHECKING:
    from fontana.sdk.aio import AsyncClient
    from fontana.sdk.client import Client
    from fontana.sdk.payer import Payer
    from fontana.sdk.response import PaidResponse

__all__ = ["AsyncClient", "Budget", "Client", "PaidResponse", "Payer", "UtxoPool"]

_LAZY = {
    "AsyncClient": "fontana.sdk.aio",
    "Client": "fontana.sdk.client",
    "Payer": "fontana.sdk.payer",
    "PaidResponse": "fontana.sdk.response",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fontana.sdk' has no attribute {name!r}")
