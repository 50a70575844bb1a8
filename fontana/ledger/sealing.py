"""Sealing: cutting the pending entries into the next block with its fee credit and root.

Everything that changes state is an *entry* in one ordered log; the
sequencer cuts that log into blocks, which is why the genesis file plus the
blocks reproduce the whole state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nacl.signing import SigningKey

from fontana.da.limits import entry_frame, fee_credit_size
from fontana.errors import ConfigError, NotInitializedError
from fontana.hashing import merkle_root
from fontana.ledger.base import LedgerBase, checked_sum
from fontana.ledger.changes import created_utxos, tree_updates
from fontana.ledger.meta import META_OPEN_TS
from fontana.ledger.records import block_record, decode_entry_record, utxo_record
from fontana.models import Block, BlockHeader, Entry, EntryType, FeeCredit, SignedHeader, entry_id
from fontana.models.chain import MAX_BLOCK_ENTRIES, encode_entries, entries_hash
from fontana.storage.base import EntryRecord, StorageSession


class Sealing(LedgerBase):
    def _credit_fees(self, s: StorageSession, credit: FeeCredit, at_ms: int) -> None:
        seq = s.insert_entry(
            EntryRecord(credit.id, EntryType.FEE_CREDIT, credit.to_bytes(), 0, at_ms)
        )
        s.insert_utxos([utxo_record(u, seq) for u in created_utxos(credit)])

    def _commit_block(
        self,
        s: StorageSession,
        entries: Sequence[Entry],
        header_for_root: Callable[[bytes, list[bytes]], SignedHeader],
        da_ref: tuple[int, bytes] | None = None,
    ) -> SignedHeader:
        """Tree batch, block row and entry sealing: the common end of sealing and replay."""
        ids = [entry_id(e) for e in entries]
        height = s.latest_block().height + 1  # type: ignore[union-attr]
        root = self.proofs.apply_batch(s, height, tree_updates(entries))
        signed = header_for_root(root, ids)
        s.insert_block(block_record(signed, committed=da_ref is not None, da_ref=da_ref))
        s.seal_entries(signed.header.height, ids)
        if self.keep_versions and height >= self.keep_versions:
            self.proofs.prune(s, height - self.keep_versions + 1)
        return signed

    def seal_block(
        self,
        signer: SigningKey,
        *,
        max_entries: int = 50_000,
        max_entry_bytes: int | None = None,
        guard: Callable[[StorageSession], None] | None = None,
    ) -> Block:
        """Cut the pending entries into the next block, with its fee credit and state root.

        The tree batch, the block and the sealing of its entries commit in one
        database transaction, so each header's root is exactly the tree's root
        at that height. Entries that do not fit (``max_entries``,
        ``max_entry_bytes`` of framed entries, the fee credit included) wait
        for the next block, which then keeps this block's timestamp so their
        expiry checks still hold. The oldest pending entry is always taken,
        whatever its size, so no entry can stall the chain; the sequencer's
        blob limit holds any valid entry (:func:`fontana.da.limits.min_blob_size`).
        ``guard`` runs inside the transaction first; raising aborts the seal
        (the sequencer uses it to check that it still holds its lease).
        """
        if max_entries < 1:
            raise ConfigError(f"max_entries = {max_entries}: a block must take at least one entry")
        budget = None if max_entry_bytes is None else max_entry_bytes - fee_credit_size()
        frame = entry_frame()
        proposer = bytes(signer.verify_key)
        max_entries = min(max_entries, MAX_BLOCK_ENTRIES - 1)  # room for the fee credit
        with self.storage.write() as s:
            block_ts = self._epoch(s, exclusive=True)
            cut_ms = self.clock()  # the next window opens now: later payments are its
            if guard is not None:
                guard(s)
            prev = s.latest_block()
            if prev is None:
                raise NotInitializedError(f"{self.storage.url} has no genesis block")
            height = prev.height + 1
            pending = s.unsealed_entries(max_entries + 1)
            records: list[EntryRecord] = []
            size = 0
            for record in pending[:max_entries]:
                size += len(record.body) + frame
                if records and budget is not None and size > budget:
                    break
                records.append(record)
            leftovers = len(records) < len(pending)
            entries: list[Entry] = [decode_entry_record(r) for r in records]
            fees = checked_sum([r.fee for r in records], "fee")
            if fees:
                credit = FeeCredit(height, proposer, fees)
                self._credit_fees(s, credit, block_ts)
                entries.append(credit)

            def header(root: bytes, ids: list[bytes]) -> SignedHeader:
                return SignedHeader.sign(
                    BlockHeader(
                        version=1,
                        chain_id=self.chain_id,
                        height=height,
                        prev_hash=prev.hash,
                        timestamp_ms=block_ts,
                        tx_root=merkle_root(ids),
                        entries_hash=entries_hash(encode_entries(entries)),
                        state_root=root,
                        tx_count=len(ids),
                        proposer=proposer,
                    ),
                    signer,
                    self.genesis_hash,
                )

            signed = self._commit_block(s, entries, header)
            if not leftovers:
                s.set_meta(META_OPEN_TS, str(max(cut_ms, block_ts)))
        return Block(signed, tuple(entries))
