"""Conversions between models and the storage records the ledger writes."""

from __future__ import annotations

from fontana.models import UTXO, Entry, SignedHeader, decode_entry
from fontana.storage.base import BlockRecord, EntryRecord, UtxoRecord


def decode_entry_record(record: EntryRecord) -> Entry:
    return decode_entry(
        bytes([record.entry_type]) + len(record.body).to_bytes(4, "big") + record.body
    )


def utxo_record(utxo: UTXO, seq: int | None) -> UtxoRecord:
    return UtxoRecord(utxo.txid, utxo.index, utxo.owner, utxo.amount, created_seq=seq)


def block_record(
    signed: SignedHeader, committed: bool = False, da_ref: tuple[int, bytes] | None = None
) -> BlockRecord:
    h = signed.header
    return BlockRecord(
        height=h.height,
        hash=h.hash,
        prev_hash=h.prev_hash,
        header=signed.to_bytes(),
        state_root=h.state_root,
        tx_root=h.tx_root,
        tx_count=h.tx_count,
        timestamp_ms=h.timestamp_ms,
        committed=committed,
        da_height=da_ref[0] if da_ref else None,
        da_commitment=da_ref[1] if da_ref else None,
    )
