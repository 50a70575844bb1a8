"""Final receipts: a settled payment's receipt with the proof that its block is on DA."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fontana.hashing import merkle_root
from fontana.ledger.base import LedgerBase
from fontana.ledger.holds import check_txid
from fontana.models import SignedHeader, SignedReceipt

if TYPE_CHECKING:
    from fontana.models.payment import FinalReceipt


def inclusion_path(ids: Sequence[bytes], index: int) -> list[bytes]:
    """Siblings of leaf ``index`` in :func:`~fontana.hashing.merkle_root` of ``ids``,
    from the leaf up (RFC 6962's audit path order)."""
    if not 0 <= index < len(ids):
        raise ValueError(f"leaf {index} is not among {len(ids)} ids")
    top_down: list[bytes] = []
    lo, hi = 0, len(ids)
    while hi - lo > 1:
        k = 1 << ((hi - lo - 1).bit_length() - 1)  # the left subtree's size, as merkle_root
        if index < lo + k:
            top_down.append(merkle_root(ids[lo + k : hi]))
            hi = lo + k
        else:
            top_down.append(merkle_root(ids[lo : lo + k]))
            lo += k
    return top_down[::-1]


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
        from fontana.models.payment import FinalReceipt, MerkleProof  # part A of issue 8

        index = entry.block_index or 0
        return FinalReceipt(
            receipt=SignedReceipt.from_bytes(settlement.receipt.body),
            header=SignedHeader.from_bytes(block.header),
            inclusion=MerkleProof(
                index=index, count=len(ids), siblings=tuple(inclusion_path(ids, index))
            ),
            da_height=block.da_height,
            da_commitment=block.da_commitment,
            da_namespace=self.genesis.da_namespace,
        )
