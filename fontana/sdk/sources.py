"""Where a paying wallet reads its UTXOs and sends its own transfers: a ledger, or a node.

The pool and the builders need only this much of either, so an application
that holds the ledger (a provider paying another provider from the same
database) and one that only reaches a node's HTTP API pay the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Union, runtime_checkable

if TYPE_CHECKING:
    from fontana.ledger import Ledger
    from fontana.models import UTXO, Transaction
    from fontana.node.client import NodeClient


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

    def applied(self, txid: bytes) -> bool:
        """Whether the ledger holds the transaction ``txid`` (pending, sealed or on DA)."""


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

    def applied(self, txid: bytes) -> bool:
        return self.ledger.transaction_status(txid).state != "unknown"


class NodeSource:
    """A :class:`WalletSource` on a node's HTTP API; the deployment is read once, at start.

    The node lists at most 1000 UTXOs of an address (oldest first): a wallet
    with more pays from those until they are spent.
    """

    def __init__(self, client: NodeClient) -> None:
        status = client.status()
        self.client = client
        self.chain_id = status.chain_id
        self.genesis_hash = status.genesis_hash
        self.min_fee = status.min_fee

    def utxos(self, owner: bytes) -> list[UTXO]:
        return self.client.utxos(owner)

    def submit(self, tx: Transaction) -> None:
        self.client.submit(tx)

    def applied(self, txid: bytes) -> bool:
        return self.client.transaction(txid).state != "unknown"


#: What the clients take as a source: a ledger, a node (URL or client), or any source.
SourceLike = Union["WalletSource", "Ledger", "NodeClient", str]


def as_source(source: SourceLike) -> WalletSource:
    """A :class:`WalletSource` from a ledger, a node URL or ``NodeClient``, or a source."""
    from fontana.ledger import Ledger
    from fontana.node.client import NodeClient

    if isinstance(source, str):
        return NodeSource(NodeClient(source))
    if isinstance(source, NodeClient):
        return NodeSource(source)
    if isinstance(source, Ledger):
        return LedgerSource(source)
    if isinstance(source, WalletSource):
        return source
    raise TypeError(f"cannot pay from a {type(source).__name__}: pass a Ledger or a node URL")
