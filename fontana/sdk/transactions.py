"""The transactions a paying wallet signs: payments, splits (transfers to itself), withdrawals.

Each spends the UTXOs it is handed, sends the rest back to the wallet as one
change output, and is signed for the deployment's genesis hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nacl.signing import SigningKey

from fontana.errors import InsufficientFundsError
from fontana.models import (
    MAX_OUTPUTS,
    NATIVE_TOKEN,
    UTXO,
    OutPoint,
    Transaction,
    TxKind,
    TxOutput,
    WithdrawalRequest,
)

if TYPE_CHECKING:
    from fontana.models.payment import PaymentBinding


def _sign(
    kind: TxKind,
    chain_id: str,
    inputs: Sequence[UTXO],
    outputs: list[TxOutput],
    fee: int,
    expiry_ms: int,
    signing_key: SigningKey,
    genesis_hash: bytes,
    *,
    payload_hash: bytes | None = None,
    withdrawal: WithdrawalRequest | None = None,
) -> Transaction:
    owner = bytes(signing_key.verify_key)
    spent = sum(o.amount for o in outputs) + fee + (withdrawal.amount if withdrawal else 0)
    change = sum(u.amount for u in inputs) - spent
    if change < 0:
        raise InsufficientFundsError(
            f"the inputs hold {sum(u.amount for u in inputs)} utia, {spent} are needed"
        )
    tx = Transaction(
        kind=kind,
        chain_id=chain_id,
        inputs=tuple(OutPoint(u.txid, u.index) for u in inputs),
        outputs=(*outputs, *([TxOutput(owner, change)] if change else [])),
        fee=fee,
        expiry_ms=expiry_ms,
        payload_hash=payload_hash,
        withdrawal=withdrawal,
    )
    return tx.sign(signing_key, genesis_hash)


def build_payment(
    binding: PaymentBinding,
    inputs: Sequence[UTXO],
    fee: int,
    expiry_ms: int,
    chain_id: str,
    signing_key: SigningKey,
    genesis_hash: bytes,
) -> Transaction:
    """A payment of exactly ``binding.amount`` to ``binding.pay_to``, bound to one call."""
    return _sign(
        TxKind.PAYMENT,
        chain_id,
        inputs,
        [TxOutput(binding.pay_to, binding.amount)],
        fee,
        expiry_ms,
        signing_key,
        genesis_hash,
        payload_hash=binding.payload_hash,
    )


def build_split(
    utxo: UTXO,
    pieces: int,
    fee: int,
    expiry_ms: int,
    chain_id: str,
    signing_key: SigningKey,
    genesis_hash: bytes,
) -> Transaction:
    """``utxo`` sent to its owner as ``pieces`` equal outputs (the first takes the rest)."""
    if not 2 <= pieces <= MAX_OUTPUTS:
        raise ValueError(f"a split makes 2..{MAX_OUTPUTS} outputs, not {pieces}")
    size, rest = divmod(utxo.amount - fee, pieces)
    if size <= 0:
        raise InsufficientFundsError(f"{utxo.amount} utia cannot pay a fee of {fee} in {pieces}")
    outputs = [TxOutput(utxo.owner, size + (rest if n == 0 else 0)) for n in range(pieces)]
    return _sign(
        TxKind.TRANSFER, chain_id, [utxo], outputs, fee, expiry_ms, signing_key, genesis_hash
    )


def build_withdrawal(
    l1_recipient: bytes,
    amount: int,
    inputs: Sequence[UTXO],
    fee: int,
    expiry_ms: int,
    chain_id: str,
    signing_key: SigningKey,
    genesis_hash: bytes,
    token: bytes = NATIVE_TOKEN,
) -> Transaction:
    """A burn of ``amount`` for ``l1_recipient`` on L1 (the bridge releases it there).

    ``token`` is the form the vault pays: the native coin (zero) or its ERC-20.
    """
    return _sign(
        TxKind.WITHDRAWAL,
        chain_id,
        inputs,
        [],
        fee,
        expiry_ms,
        signing_key,
        genesis_hash,
        withdrawal=WithdrawalRequest(l1_recipient, amount, token),
    )
