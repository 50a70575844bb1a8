"""What each entry does to the UTXO set, derived from the entry alone.

Sealing and recovery both compute a block's tree batch with this one
function, so a rebuilt ledger cannot disagree with the live one about which
UTXOs a block created or spent.
"""

from __future__ import annotations

from collections.abc import Iterable

from fontana.models import (
    UTXO,
    Deposit,
    Entry,
    FeeCredit,
    OutPoint,
    Transaction,
    WithdrawalLeaf,
    utxo_key,
)


def created_utxos(entry: Entry) -> list[UTXO]:
    """Outputs the entry creates."""
    if isinstance(entry, Transaction):
        txid = entry.txid
        return [UTXO(o.owner, o.amount, txid, i) for i, o in enumerate(entry.outputs)]
    if isinstance(entry, Deposit):
        return [UTXO(entry.recipient, entry.amount, entry.id, 0)]
    if isinstance(entry, FeeCredit):
        return [UTXO(entry.recipient, entry.amount, entry.id, 0)]
    return []


def spent_outpoints(entry: Entry) -> tuple[OutPoint, ...]:
    return entry.inputs if isinstance(entry, Transaction) else ()


def tree_updates(entries: Iterable[Entry]) -> dict[bytes, bytes | None]:
    """The block's net change to the state tree: key -> value hash, or None to delete.

    An output created and spent within the block nets to a delete of a key
    the tree never held, which the tree treats as a no-op. A withdrawal burn
    also inserts its withdrawal leaf, which is never removed: the block's root,
    and every later one, proves it to the vault.
    """
    updates: dict[bytes, bytes | None] = {}
    for entry in entries:
        for outpoint in spent_outpoints(entry):
            updates[utxo_key(outpoint)] = None
        for utxo in created_utxos(entry):
            updates[utxo_key(utxo.outpoint)] = utxo.leaf_value_hash()
        if isinstance(entry, Transaction):
            leaf = WithdrawalLeaf.of(entry)
            if leaf is not None:
                updates[leaf.key] = leaf.leaf_value_hash()
    return updates
