"""Where a paying wallet reads its UTXOs and sends its own transfers: a ledger, or a node.

The pool and the builders need only this much of either, so an application
that holds the ledger (a provider paying another provider from the same
database) and one that only reaches a node's HTTP API pay the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from fontana.ledger import Ledger
    from fontana.models import UTXO, Transaction


@runtime_checkable
class WalletSource(Protocol):
    """A chain's view for one wallet: deployment, fee floor, UTXOs, and a way to submit."""

    chain_id: str
    genesis_hash: bytes
    min_fee: int

    def utxos(self, owner: bytes) -> list[UTXO]:
        """Every unspent output of ``owner`` (held ones included: the ledger decides)."""

    def submit(self, tx: Transaction) -> None:
        """Apply ``tx`` now; a rejection is the ledger's typed error, and changes nothing."""


class LedgerSource:
    """A :class:`WalletSource` on a :class:`~fontana.ledger.Ledger` in this process."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.chain_id = ledger.chain_id
        self.genesis_hash = ledger.genesis_hash
        self.min_fee = ledger.min_fee

    def utxos(self, owner: bytes) -> list[UTXO]:
        return self.ledger.utxos(owner)

    def submit(self, tx: Transaction) -> None:
        self.ledger.apply_transaction(tx)


SourceLike = "WalletSource | Ledger"


def as_source(source: object) -> WalletSource:
    """A :class:`WalletSource` from a ledger or a source."""
    from fontana.ledger import Ledger

    if isinstance(source, Ledger):
        return LedgerSource(source)
    if isinstance(source, WalletSource):
        return source
    raise TypeError(f"cannot pay from a {type(source).__name__}: pass a Ledger or a node URL")
