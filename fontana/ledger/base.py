"""What every part of the ledger shares: its storage, tree, genesis, clock and epoch lock.

Time: a transaction is valid in a block iff ``expiry_ms >= block timestamp``.
A block's timestamp is the moment its collection window opened (when the
previous block was cut), kept in storage as the ``open_block_ts`` epoch
value. Payments read it under a shared lock and sealing takes it
exclusively, so the block that carries a payment is always the one whose
timestamp the payment was checked against, and replaying blocks gives the
same verdicts without any wall clock. Payments are also refused once the
wall clock passes their expiry (a stricter check, so replay never disagrees).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fontana.clock import now_ms
from fontana.errors import AmountOverflowError, NotInitializedError
from fontana.interfaces import ProofProvider, TxEngine
from fontana.ledger.meta import COUNTER_SUPPLY, MAX_LEDGER_AMOUNT, META_OPEN_TS
from fontana.models import Genesis
from fontana.storage.base import Storage, StorageSession
from fontana.txengine import default_tx_engine


class LedgerBase:
    """State and helpers of one chain's ledger; the parts live in sibling modules."""

    def __init__(
        self,
        storage: Storage,
        proofs: ProofProvider,
        genesis: Genesis,
        clock: Callable[[], int] = now_ms,
        keep_versions: int = 0,
        tx_engine: TxEngine | None = None,
    ) -> None:
        self.storage = storage
        self.proofs = proofs
        self.genesis = genesis
        #: What every signature on this deployment is bound to (docs/protocol.md).
        self.genesis_hash = genesis.hash
        #: Tree versions (blocks) kept provable; older ones are pruned as blocks
        #: are sealed. 0 keeps every version.
        self.keep_versions = keep_versions
        self.chain_id = genesis.chain_id
        self.min_fee = genesis.min_fee
        self.clock = clock
        #: Decodes transactions and checks their signatures (``tx.engine``); ``None``
        #: takes the ``auto`` one: native when its plugin is loaded.
        self.tx_engine = tx_engine if tx_engine is not None else default_tx_engine()

    def _epoch(self, s: StorageSession, *, exclusive: bool) -> int:
        value = s.lock_meta(META_OPEN_TS, exclusive=exclusive)
        if value is None:
            raise NotInitializedError(f"{self.storage.url} has no genesis")
        return int(value)

    def _change_supply(self, s: StorageSession, delta: int) -> None:
        """Track all value in existence, so no sum of balances can overflow storage.

        One atomic counter update: concurrent deposits and burns (which hold
        the epoch lock only shared) never lose each other's changes.
        """
        if s.add_to_counter(COUNTER_SUPPLY, delta, MAX_LEDGER_AMOUNT) is None:
            supply = s.get_counter(COUNTER_SUPPLY)
            raise AmountOverflowError(
                f"the ledger holds {supply} utia; changing that by {delta} would leave "
                f"0..{MAX_LEDGER_AMOUNT}"
            )


def checked_sum(amounts: Sequence[int], what: str) -> int:
    total = sum(amounts)
    if total > MAX_LEDGER_AMOUNT:
        raise AmountOverflowError(f"{what} total {total} utia exceeds {MAX_LEDGER_AMOUNT}")
    return total
