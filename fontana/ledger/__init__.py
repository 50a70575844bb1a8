"""The ledger engine: validation, atomic application, blocks and proofs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fontana.ledger.bridge import DepositResult
from fontana.ledger.holds import CachedResponse, HoldResult, SettledPayment, SettleItem
from fontana.ledger.ledger import Ledger
from fontana.ledger.payments import ApplyResult
from fontana.ledger.queries import TxStatus

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import ProofProvider

__all__ = [
    "ApplyResult",
    "CachedResponse",
    "DepositResult",
    "HoldResult",
    "Ledger",
    "SettleItem",
    "SettledPayment",
    "TxStatus",
    "open_ledger",
    "open_proofs",
]


def open_proofs(settings: Settings) -> ProofProvider:
    """The proof provider ``proofs.provider`` names, via its plugin (``auto``: see config)."""
    from fontana.plugins import get_host

    registry = get_host().backends("proofs")
    name = settings.proofs.provider
    if name == "auto":
        name = "native-smt" if "native-smt" in registry.names() else "python-smt"
    spec = registry.resolve(name)
    return spec.factory(settings)  # type: ignore[no-any-return]


def open_ledger(settings: Settings) -> Ledger:
    """The configured ledger (storage and proof provider from the settings)."""
    from fontana.storage import open_storage
    from fontana.txengine import open_tx_engine

    return Ledger.load(
        open_storage(settings),
        open_proofs(settings),
        keep_versions=settings.proofs.keep_versions,
        tx_engine=open_tx_engine(settings),
    )
