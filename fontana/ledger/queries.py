"""Reads: balances, UTXOs, transaction status, blocks and state proofs."""

from __future__ import annotations

import attrs

from fontana.errors import NotInitializedError, UnknownWithdrawalError
from fontana.ledger.base import LedgerBase
from fontana.ledger.meta import COUNTER_SUPPLY
from fontana.ledger.records import decode_entry_record
from fontana.models import UTXO, EntryType, OutPoint, Transaction, WithdrawalLeaf, utxo_key
from fontana.storage.base import BlockRecord, StorageSession


@attrs.frozen
class TxStatus:
    """``pending`` (applied, not yet in a block), ``sealed`` or ``unknown``."""

    state: str
    seq: int | None = None
    block_height: int | None = None


class Queries(LedgerBase):
    def balance(self, owner: bytes) -> int:
        with self.storage.read() as s:
            return s.balance(owner)

    def supply(self) -> int:
        """All utia in existence: genesis plus deposits minus burns.

        Once every fee is credited (after a seal), the unspent outputs sum to it.
        """
        with self.storage.read() as s:
            supply = s.get_counter(COUNTER_SUPPLY)
        if supply is None:
            raise NotInitializedError(f"{self.storage.url} has no genesis")
        return supply

    def utxos(self, owner: bytes, limit: int | None = None) -> list[UTXO]:
        with self.storage.read() as s:
            return [
                UTXO(r.owner, r.amount, r.txid, r.output_index)
                for r in s.unspent_by_owner(owner, limit)
            ]

    def transaction_status(self, txid: bytes) -> TxStatus:
        with self.storage.read() as s:
            record = s.get_entry(txid)
        if record is None:
            return TxStatus("unknown")
        if record.block_height is None:
            return TxStatus("pending", record.seq)
        return TxStatus("sealed", record.seq, record.block_height)

    def current_state_root(self) -> bytes:
        """Root of the latest sealed block: the tree moves block by block, never between."""
        with self.storage.read() as s:
            latest = s.latest_block()
            if latest is None:
                raise NotInitializedError(f"{self.storage.url} has no genesis block")
            return latest.state_root

    def latest_block(self) -> BlockRecord:
        with self.storage.read() as s:
            latest = s.latest_block()
        if latest is None:
            raise NotInitializedError(f"{self.storage.url} has no genesis block")
        return latest

    def signed_header(self, height: int) -> bytes:
        """The canonical SignedHeader bytes of block ``height`` (KeyError if there is none).

        What a bridge validator checks before it signs the block's checkpoint.
        """
        with self.storage.read() as s:
            block = s.get_block(height)
        if block is None:
            raise KeyError(f"no block at height {height}")
        return block.header

    def prove_utxo(self, outpoint: OutPoint, height: int) -> tuple[bytes, bytes | None, bytes]:
        """``(state root, value hash or None, proof)`` of a UTXO at block ``height``.

        A withdrawal is proven against the root of a block before its burn.
        """
        key = utxo_key(outpoint)
        with self.storage.read() as s:
            block = s.get_block(height)
            if block is None:
                raise KeyError(f"no block at height {height}")
            proof = self.proofs.prove(s, key, height)
            value = _proof_value(s, outpoint, block.height)
        return block.state_root, value, proof

    def prove_withdrawal(self, burn_txid: bytes, height: int) -> tuple[WithdrawalLeaf, bytes]:
        """The withdrawal leaf of burn ``burn_txid`` and its proof in the root of block ``height``.

        What the vault's ``release`` needs with a checkpoint of that root. The leaf is
        in the tree from the block that sealed the burn on, so ``height`` must be
        that block or a later one (UnknownWithdrawalError otherwise, and for a txid
        that is no withdrawal); KeyError when there is no block ``height``.
        """
        with self.storage.read() as s:
            block = s.get_block(height)
            if block is None:
                raise KeyError(f"no block at height {height}")
            record = s.get_entry(burn_txid)
            entry = (
                decode_entry_record(record)
                if record is not None and record.entry_type == EntryType.TRANSACTION
                else None
            )
            leaf = WithdrawalLeaf.of(entry) if isinstance(entry, Transaction) else None
            if leaf is None:
                raise UnknownWithdrawalError(f"no withdrawal burn {burn_txid.hex()} on this ledger")
            assert record is not None
            if record.block_height is None or record.block_height > height:
                raise UnknownWithdrawalError(
                    f"withdrawal {burn_txid.hex()} is not sealed by block {height}"
                    f" (sealed in {record.block_height})"
                )
            proof = self.proofs.prove(s, leaf.key, height)
        return leaf, proof


def _proof_value(s: StorageSession, outpoint: OutPoint, height: int) -> bytes | None:
    """The UTXO's value hash if it existed at ``height``: created by then, not yet spent."""
    key = (outpoint.txid, outpoint.index)
    record = s.get_utxos([key]).get(key)
    if record is None:
        return None
    # Genesis allocations have no entry: they exist from block 0.
    created = 0 if record.created_seq is None else s.entry_block_height(record.created_seq)
    if created is None or created > height:
        return None
    if record.spent_seq is not None:
        spent = s.entry_block_height(record.spent_seq)
        if spent is not None and spent <= height:
            return None
    return UTXO(record.owner, record.amount, record.txid, record.output_index).leaf_value_hash()
