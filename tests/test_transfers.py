"""Coin selection for transfers built from a wallet's UTXOs."""

from __future__ import annotations

import pytest

from fontana.errors import InsufficientFundsError
from fontana.ledger.transfers import select_utxos
from fontana.models import MAX_INPUTS, UTXO

OWNER = b"\x01" * 32


def utxos(*amounts: int) -> list[UTXO]:
    return [UTXO(OWNER, a, i.to_bytes(32, "big"), 0) for i, a in enumerate(amounts)]


def test_largest_first_and_no_more_than_needed() -> None:
    chosen = select_utxos(utxos(5, 50, 20, 1), 60)
    assert [u.amount for u in chosen] == [50, 20]


def test_not_enough_money() -> None:
    with pytest.raises(InsufficientFundsError, match="holds 6 utia"):
        select_utxos(utxos(5, 1), 7)


def test_more_inputs_than_a_transaction_holds() -> None:
    with pytest.raises(InsufficientFundsError, match="consolidate"):
        select_utxos(utxos(*[1] * (MAX_INPUTS + 1)), MAX_INPUTS + 1)
