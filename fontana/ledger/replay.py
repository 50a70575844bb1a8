"""Replay: applying a block read from DA exactly as it was sealed, checking everything."""

from __future__ import annotations

from collections.abc import Sequence

from fontana.errors import FontanaError, NotInitializedError, RecoveryError, RejectedError
from fontana.ledger.bridge import Bridge
from fontana.ledger.meta import META_OPEN_TS
from fontana.ledger.payments import Payments, repeated
from fontana.ledger.sealing import Sealing
from fontana.models import (
    Block,
    BlockHeader,
    Deposit,
    Entry,
    FeeCredit,
    SignedHeader,
    Transaction,
    WithdrawalConfirmation,
    entry_id,
)
from fontana.storage.base import MAX_STORED_INT, StorageSession


class Replay(Payments, Bridge, Sealing):
    def replay_block(self, block: Block, da_ref: tuple[int, bytes] | None = None) -> None:
        """Apply a block read from DA exactly as it was sealed, checking everything.

        Raises :class:`RecoveryError` naming the height and what differed; the
        database then stays at the previous block.
        """
        h = block.header.header
        with self.storage.write() as s:
            # Exclusive, as sealing: a replay never interleaves with a seal or a payment.
            self._epoch(s, exclusive=True)
            prev = s.latest_block()
            if prev is None:
                raise NotInitializedError(f"{self.storage.url} has no genesis block")
            where = f"block {h.height}"
            tx_root = block.compute_tx_root()
            body_hash = block.compute_entries_hash()
            checks = [
                (h.height == prev.height + 1, f"expected height {prev.height + 1}"),
                (h.chain_id == self.chain_id, f"chain {h.chain_id!r}, not {self.chain_id!r}"),
                (
                    h.prev_hash == prev.hash,
                    f"prev_hash {h.prev_hash.hex()} is not block {prev.height}'s hash "
                    f"{prev.hash.hex()}",
                ),
                (h.proposer == self.genesis.sequencer, "proposer is not the genesis sequencer"),
                (
                    block.header.verify(self.genesis_hash),
                    "the sequencer's signature does not verify",
                ),
                (
                    tx_root == h.tx_root,
                    f"tx root {h.tx_root.hex()} does not match its entries ({tx_root.hex()})",
                ),
                (
                    body_hash == h.entries_hash,
                    f"entries hash {h.entries_hash.hex()} does not match its entries "
                    f"({body_hash.hex()})",
                ),
                (h.timestamp_ms >= prev.timestamp_ms, "timestamp goes back in time"),
            ]
            for ok, problem in checks:
                if not ok:
                    raise RecoveryError(f"{where}: {problem}")
            _check_stored_range(h, da_ref, where)
            fees = 0
            entries = block.entries
            i = 0
            while i < len(entries):
                # Runs of payments are judged together, as group commit judged them.
                j = i
                while j < len(entries) and isinstance(entries[j], Transaction):
                    j += 1
                if j > i:
                    fees += self._replay_payments(s, entries, i, j, h.timestamp_ms, where)
                    i = j
                    continue
                try:
                    self._replay_event(s, entries[i], h, fees, last=i == len(entries) - 1)
                except FontanaError as exc:
                    raise _entry_error(where, entries, i, exc) from None
                i += 1
            if fees and not isinstance(block.entries[-1], FeeCredit):
                raise RecoveryError(f"{where}: {fees} utia of fees were not credited")

            def header(root: bytes, ids: list[bytes]) -> SignedHeader:
                if root != h.state_root:
                    raise RecoveryError(
                        f"{where}: state root after replay {root.hex()} differs from the "
                        f"header's {h.state_root.hex()}"
                    )
                return block.header

            self._commit_block(s, block.entries, header, da_ref)
            s.set_meta(META_OPEN_TS, str(h.timestamp_ms))

    def _replay_payments(
        self,
        s: StorageSession,
        entries: Sequence[Entry],
        start: int,
        end: int,
        block_ts: int,
        where: str,
    ) -> int:
        """Apply the payments ``entries[start:end]`` of a replayed block; return their fees."""
        txs: list[Transaction] = list(entries[start:end])  # type: ignore[arg-type]
        items = []
        seen: dict[bytes, int] = {}
        checks = self.check_stateless_many(txs)
        for n, (tx, checked) in enumerate(zip(txs, checks, strict=True), start):
            if isinstance(checked, RejectedError):
                raise _entry_error(where, entries, n, checked)
            item = (tx, checked)
            first = seen.setdefault(item[1][0], n)
            if first != n:  # its fee must not be counted twice either
                raise _entry_error(where, entries, n, repeated(item[1][0], first))
            items.append(item)
        applied = self._apply_many(s, items, block_ts, block_ts, replay=True)
        for n, result in enumerate(applied, start):
            if isinstance(result, RejectedError):
                raise _entry_error(where, entries, n, result)
            if result.already_applied:
                problem = RecoveryError("transaction appears twice in the chain")
                raise _entry_error(where, entries, n, problem)
        return sum(tx.fee for tx in txs)

    def _replay_event(
        self, s: StorageSession, entry: Entry, h: BlockHeader, fees: int, last: bool
    ) -> None:
        """Apply one deposit, withdrawal confirmation or fee credit of a replayed block."""
        if isinstance(entry, Deposit):
            if not self._credit_deposit(s, entry, h.timestamp_ms):
                raise RecoveryError("this L1 deposit was credited before (the same event twice)")
        elif isinstance(entry, WithdrawalConfirmation):
            if not self._confirm_withdrawal(s, entry, h.timestamp_ms):
                raise RecoveryError("this withdrawal was confirmed before (the same event twice)")
        else:
            if not last:
                raise RecoveryError("a fee credit is not the block's last entry")
            expected = FeeCredit(h.height, h.proposer, fees) if fees else None
            if entry != expected:
                raise RecoveryError(f"fee credit {entry} does not credit {fees} utia of fees")
            self._credit_fees(s, entry, h.timestamp_ms)


def _check_stored_range(h: BlockHeader, da_ref: tuple[int, bytes] | None, where: str) -> None:
    """A header time or DA height the ledger cannot store: no sequencer could have sealed it.

    Checked before any entry is applied, since entries are stamped with the
    block's time.
    """
    if h.timestamp_ms > MAX_STORED_INT:
        raise RecoveryError(f"{where}: timestamp {h.timestamp_ms} is above {MAX_STORED_INT}")
    if da_ref is not None and not 0 <= da_ref[0] <= MAX_STORED_INT:
        raise RecoveryError(f"{where}: DA height {da_ref[0]} is outside 0..{MAX_STORED_INT}")


def _entry_error(where: str, entries: Sequence[Entry], n: int, exc: FontanaError) -> RecoveryError:
    return RecoveryError(
        f"{where}, entry {n} ({entry_id(entries[n]).hex()}): {exc.code}: {exc.message}"
    )
