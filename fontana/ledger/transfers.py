"""Building signed transfers from a key's UTXOs (CLI, devnet, consumer SDK)."""

from __future__ import annotations

from nacl.signing import SigningKey

from fontana.errors import InsufficientFundsError
from fontana.ledger.ledger import Ledger
from fontana.models import MAX_INPUTS, UTXO, OutPoint, Transaction, TxKind, TxOutput


def select_utxos(utxos: list[UTXO], needed: int) -> list[UTXO]:
    """Largest first: fewest inputs, so fewest signatures and smallest transactions."""
    chosen, total = [], 0
    for utxo in sorted(utxos, key=lambda u: u.amount, reverse=True):
        if total >= needed:
            break
        chosen.append(utxo)
        total += utxo.amount
    if total < needed:
        raise InsufficientFundsError(f"wallet holds {total} utia, the transfer needs {needed}")
    if len(chosen) > MAX_INPUTS:
        raise InsufficientFundsError(
            f"paying {needed} utia needs {len(chosen)} inputs, more than a transaction "
            f"holds ({MAX_INPUTS}); send smaller amounts first to consolidate"
        )
    return chosen


def build_transfer(
    ledger: Ledger,
    signing_key: SigningKey,
    recipient: bytes,
    amount: int,
    fee: int,
    expiry_ms: int,
    memo: bytes = b"",
) -> Transaction:
    """A signed transfer from the key's UTXOs to ``recipient``, change back to the key."""
    owner = bytes(signing_key.verify_key)
    inputs = select_utxos(ledger.utxos(owner), amount + fee)
    change = sum(u.amount for u in inputs) - amount - fee
    outputs = [TxOutput(recipient, amount)] + ([TxOutput(owner, change)] if change else [])
    tx = Transaction(
        kind=TxKind.TRANSFER,
        chain_id=ledger.chain_id,
        inputs=tuple(OutPoint(u.txid, u.index) for u in inputs),
        outputs=tuple(outputs),
        fee=fee,
        expiry_ms=expiry_ms,
        payload_hash=None,
        memo=memo,
        withdrawal=None,
        witnesses=(),
    )
    return tx.sign(signing_key, ledger.genesis_hash)
