"""The ledger: validates state changes and applies each atomically.

The parts live in their own modules: :mod:`~fontana.ledger.payments` (users'
transactions, group commit), :mod:`~fontana.ledger.holds` (paid calls: hold,
then settle or release), :mod:`~fontana.ledger.receipts` (final receipts),
:mod:`~fontana.ledger.bridge` (L1 events),
:mod:`~fontana.ledger.sealing` (blocks), :mod:`~fontana.ledger.replay`
(blocks read back from DA) and :mod:`~fontana.ledger.queries` (reads);
:mod:`~fontana.ledger.base` explains the time rule they share.
"""

from __future__ import annotations

from collections.abc import Callable

from fontana.clock import now_ms
from fontana.errors import NotInitializedError
from fontana.interfaces import ProofProvider, TxEngine
from fontana.ledger.holds import Holds
from fontana.ledger.meta import META_GENESIS
from fontana.ledger.queries import Queries
from fontana.ledger.receipts import FinalReceipts
from fontana.ledger.replay import Replay
from fontana.models import Genesis
from fontana.storage.base import Storage


class Ledger(Holds, FinalReceipts, Replay, Queries):
    """One chain's ledger on one storage; safe to use from many processes at once."""

    @classmethod
    def load(
        cls,
        storage: Storage,
        proofs: ProofProvider,
        clock: Callable[[], int] = now_ms,
        keep_versions: int = 0,
        tx_engine: TxEngine | None = None,
    ) -> Ledger:
        """The ledger a ``fontana genesis`` run created in ``storage``."""
        with storage.read() as s:
            raw = s.get_meta(META_GENESIS)
        if raw is None:
            raise NotInitializedError(
                f"{storage.url} has no genesis; run `fontana genesis genesis.json` first"
            )
        genesis = Genesis.from_bytes(bytes.fromhex(raw))
        return cls(storage, proofs, genesis, clock, keep_versions, tx_engine)
