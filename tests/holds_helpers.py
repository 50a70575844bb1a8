"""Builders shared by the hold tests: payments, their receipts, whole-database snapshots."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from ledger_helpers import ALICE, ALLOCATION, BOB, EXPIRY_MS, genesis_outpoint, make_transfer, pub
from nacl.signing import SigningKey

from fontana.ledger import Ledger
from fontana.models import Receipt, SignedReceipt, Transaction
from fontana.models.payment import request_hash
from fontana.storage import schema as t

#: What the test payments pay the provider (BOB).
PRICE = 1_500
#: How long the tests hold a payment, from the clock's time.
HOLD_MS = 60_000


def payment(
    ledger: Ledger,
    *,
    sender: SigningKey = ALICE,
    index: int = 0,
    memo: bytes = b"",
    expiry_ms: int = EXPIRY_MS,
    signer: SigningKey | None = None,
) -> Transaction:
    """``sender``'s genesis allocation ``index`` pays PRICE to BOB, change back; another
    ``memo`` gives another payment of the same input."""
    outputs = [(pub(BOB), PRICE), (pub(sender), ALLOCATION - PRICE - 1)]
    return make_transfer(
        [genesis_outpoint(index, ledger.genesis)],
        outputs,
        [signer or sender],
        expiry_ms=expiry_ms,
        memo=memo,
        genesis_hash=ledger.genesis_hash,
    )


def receipt_for(ledger: Ledger, tx: Transaction, issued_at_ms: int = 7) -> bytes:
    """The provider's (BOB's) canonical signed receipt for ``tx``."""
    receipt = Receipt(
        chain_id=ledger.chain_id,
        txid=tx.txid,
        payer=tx.witnesses[0].pubkey,
        payee=pub(BOB),
        amount=PRICE,
        method="GET",
        resource="/paid",
        request_hash=request_hash("GET", "/paid", b""),
        issued_at_ms=issued_at_ms,
        expected_height=ledger.open_height(),
    )
    return SignedReceipt.sign(receipt, BOB, ledger.genesis_hash).to_bytes()


def tables(ledger: Ledger) -> dict[str, frozenset[tuple[Any, ...]]]:
    """Every row of every table of the schema: proof that something changed nothing."""
    engine: sa.Engine = ledger.storage.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return {
            table.name: frozenset(tuple(row) for row in conn.execute(sa.select(table)))
            for table in t.metadata.sorted_tables
        }


def holds(ledger: Ledger) -> dict[tuple[bytes, int], tuple[bytes, int]]:
    """Every hold in the database, expired or not: outpoint -> (holder, until)."""
    engine: sa.Engine = ledger.storage.engine  # type: ignore[attr-defined]
    u = t.utxos
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(u.c.txid, u.c.output_index, u.c.held_by, u.c.held_until_ms).where(
                u.c.held_by.is_not(None)
            )
        ).all()
    return {(bytes(r[0]), r[1]): (bytes(r[2]), r[3]) for r in rows}
