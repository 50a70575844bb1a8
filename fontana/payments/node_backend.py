"""``NodeBackend``: a provider's :class:`~fontana.payments.backends.PaymentBackend` over a
node's HTTP API (``charge.node_url``), for providers that do not reach the database.

It behaves as the direct ``LedgerBackend`` does, with what a node allows
(docs/node.md, *Who can call what*): on a **private** node (``fontana serve
--private``) responses are cached for retries and holds are released; a
**public** node keeps no response (a retry of a settled payment gets
``409 already_settled`` and the same receipt, as for a response too large to
cache) and releases nothing (a failed call's hold ends at its expiry, when
the consumer's inputs are free again; nothing is ever paid).
"""

from __future__ import annotations

from fontana.ledger import CachedResponse, HoldResult, SettledPayment
from fontana.models import Transaction
from fontana.node.client import DEFAULT_TIMEOUT_S, NodeClient
from fontana.node.errors import NodeResponseError
from fontana.node.payments import MAX_CACHED_BODY


class NodeBackend:
    """The payment calls of a provider, made to the node at ``url``."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.client = NodeClient(url, timeout=timeout)
        status = self.client.status()
        self.genesis = self.client.genesis()
        if self.genesis.hash != status.genesis_hash:
            raise NodeResponseError(f"{url}: the node's genesis changed while it was read")
        #: Whether the node keeps responses and releases holds (``fontana serve --private``).
        self.private = status.private

    def hold(self, tx: Transaction, until_ms: int) -> HoldResult:
        return self.client.hold(tx, until_ms)

    def settle(self, tx: Transaction, receipt: bytes, response: CachedResponse | None) -> None:
        if not self.private or (response is not None and len(response.body) > MAX_CACHED_BODY):
            response = None  # kept by no public node, and too large for any
        self.client.settle(tx, receipt, response)

    def release(self, txid: bytes) -> None:
        if self.private:
            self.client.release(txid)

    def settled(self, txid: bytes) -> SettledPayment | None:
        return self.client.settled(txid)

    def open_height(self) -> int:
        return self.client.status().open_height

    def close(self) -> None:
        """Nothing to do: every call opens and closes its own connection."""
