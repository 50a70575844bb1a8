"""Final receipts: a settled payment's receipt with the proof that its block is on DA."""

from __future__ import annotations

from fontana.ledger.base import LedgerBase
from fontana.ledger.holds import check_txid
from fontana.models import SignedHeader, SignedReceipt
from fontana.models.payment import FinalReceipt, MerkleProof


class FinalReceipts(LedgerBase):
    def final_receipt(self, txid: bytes) -> FinalReceipt | None:
        """The settled payment's receipt, its block's signed header, the inclusion proof of
        the txid in that header's ``tx_root`` and the DA reference; ``None`` until the
        block is on DA (or for a payment settled by no paid call)."""
        check_txid(txid)
        with self.storage.read() as s:
            settlement = s.get_settlements([txid]).get(txid)
            entry = s.get_entry(txid)
            if settlement is None or entry is None or entry.block_height is None:
                return None
            block = s.get_block(entry.block_height)
            if block is None or not block.committed:
                return None
            ids = [e.entry_id for e in s.entries_in_block(block.height)]
        return FinalReceipt(
            receipt=SignedReceipt.from_bytes(settlement.receipt.body),
            header=SignedHeader.from_bytes(block.header),
            inclusion=MerkleProof.build(ids, entry.block_index or 0),
            da_height=block.da_height,
            da_commitment=block.da_commitment,
            da_namespace=self.genesis.da_namespace,
        )
