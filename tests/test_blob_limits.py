"""Blob sizes: a blob limit too small for the largest valid entry is refused up front, and
no pending entry, whatever its size, can stall the chain.

The minimum is measured on the models (the largest transaction the limits
allow, the fee credit, the blob framing), and a real ledger seals exactly
such a transaction into a blob of exactly that size.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger_helpers import (
    EXPIRY_MS,
    SEQUENCER,
    create_ledger,
    key,
    make_deposit,
    make_genesis,
    pub,
    snapshot,
)

from fontana.config import load_settings
from fontana.da.blob import encode_blob
from fontana.da.limits import (
    blob_overhead,
    fee_credit_size,
    framed_size,
    largest_entry,
    largest_entry_size,
    min_blob_size,
)
from fontana.da.local import LocalDA
from fontana.errors import ConfigError
from fontana.ledger import Ledger
from fontana.models import (
    MAX_INPUTS,
    MAX_MEMO,
    MAX_OUTPUTS,
    Block,
    BlockHeader,
    Deposit,
    FeeCredit,
    OutPoint,
    SignedHeader,
    Transaction,
    TxKind,
    TxOutput,
    WithdrawalConfirmation,
    WithdrawalRequest,
)
from fontana.models._base import CHAIN_ID_MAX
from fontana.sequencer import Sequencer

U64 = 2**64 - 1


def test_the_minimum_is_one_largest_entry_and_a_fee_credit_in_a_blob() -> None:
    header = BlockHeader(
        version=1,
        chain_id="z" * CHAIN_ID_MAX,
        height=U64,
        prev_hash=bytes(32),
        timestamp_ms=U64,
        tx_root=bytes(32),
        entries_hash=bytes(32),
        state_root=bytes(32),
        tx_count=2,
        proposer=bytes(32),
    )
    credit = FeeCredit(U64, bytes(32), U64)
    block = Block(SignedHeader(header, bytes(64)), (largest_entry(), credit))
    assert len(encode_blob(block)) == min_blob_size()
    assert min_blob_size() == blob_overhead() + largest_entry_size() + fee_credit_size()


def test_no_other_entry_is_larger_than_the_largest_transaction() -> None:
    deposit = Deposit(U64, b"\xff" * 20, b"\xff" * 32, 2**32 - 1, U64, b"\xff" * 20, bytes(32), U64)
    confirmation = WithdrawalConfirmation(b"\xff" * 32, b"\xff" * 32, 2**32 - 1, U64)
    for entry in (deposit, confirmation, FeeCredit(U64, bytes(32), U64)):
        assert framed_size(entry) < largest_entry_size()


# -- refused up front -----------------------------------------------------------------------


def test_config_refuses_a_blob_limit_below_the_minimum(tmp_path: Path) -> None:
    minimum = min_blob_size()
    env = {"FONTANA_HOME": str(tmp_path)}
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={**env, "FONTANA_DA_MAX_BLOB_SIZE": str(minimum - 1)}, cwd=tmp_path)
    assert caught.value.message.startswith(f"da.max_blob_size = '{minimum - 1}'")
    assert f"at least {minimum} bytes" in caught.value.message
    (tmp_path / "fontana.toml").write_text("[da]\nmax_blob_size = 1000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"at least {minimum} bytes"):
        load_settings(environ=env, cwd=tmp_path)
    (tmp_path / "fontana.toml").write_text(f"[da]\nmax_blob_size = {minimum}\n", encoding="utf-8")
    assert load_settings(environ=env, cwd=tmp_path).da.max_blob_size == minimum


def test_sequencer_refuses_a_da_layer_whose_own_limit_is_below_the_minimum(
    ledger: Ledger, tmp_path: Path
) -> None:
    minimum = min_blob_size()
    small = LocalDA(tmp_path / "da", b"\x00" * 9 + b"\x01", max_blob_size=minimum - 1)
    with pytest.raises(ConfigError, match=f"needs at least {minimum}"):
        Sequencer(ledger, SEQUENCER, block_time_ms=1_000, max_blob_size=small.max_blob_size)
    Sequencer(ledger, SEQUENCER, block_time_ms=1_000, max_blob_size=minimum)


# -- never a stall --------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, 1, 100])
def test_an_entry_larger_than_the_limit_is_still_sealed(ledger: Ledger, limit: int) -> None:
    """Deposits are not size-checked on entry; the oldest pending entry is always taken."""
    first, second = make_deposit(pub(key(9)), 5, l1_tx=1), make_deposit(pub(key(9)), 6, l1_tx=2)
    ledger.process_deposit_event(first)
    ledger.process_deposit_event(second)
    assert ledger.seal_block(SEQUENCER, max_entry_bytes=limit).entries == (first,)
    assert ledger.seal_block(SEQUENCER, max_entry_bytes=limit).entries == (second,)
    assert ledger.seal_block(SEQUENCER, max_entry_bytes=limit).entries == ()


def test_a_block_takes_at_least_one_entry(ledger: Ledger) -> None:
    before = snapshot(ledger)
    with pytest.raises(ConfigError, match="at least one entry"):
        ledger.seal_block(SEQUENCER, max_entries=0)
    assert snapshot(ledger) == before


OWNERS = [key(100 + i) for i in range(MAX_INPUTS)]
FUNDS = 10_000


def the_largest_payment(ledger: Ledger) -> Transaction:
    """A withdrawal at every limit, spending one genesis output of each of 64 owners."""
    gid = ledger.genesis.hash
    burn = 1_000
    total = FUNDS * MAX_INPUTS - ledger.min_fee - burn
    share = total // MAX_OUTPUTS
    tx = Transaction(
        kind=TxKind.WITHDRAWAL,
        chain_id=ledger.chain_id,
        inputs=tuple(OutPoint(gid, i) for i in range(MAX_INPUTS)),
        outputs=tuple(
            TxOutput(pub(OWNERS[i]), share + (total % MAX_OUTPUTS if i == 0 else 0))
            for i in range(MAX_OUTPUTS)
        ),
        fee=ledger.min_fee,
        expiry_ms=EXPIRY_MS,
        payload_hash=b"\x07" * 32,
        memo=b"m" * MAX_MEMO,
        withdrawal=WithdrawalRequest(b"\x44" * 20, burn),
    )
    for owner in OWNERS:
        tx = tx.sign(owner, gid)
    return tx


def test_the_largest_valid_payment_is_sealed_into_a_blob_of_the_minimum_size(
    ledger_url: str, tmp_path: Path
) -> None:
    genesis = make_genesis([(pub(k), FUNDS) for k in OWNERS], chain_id="c" * CHAIN_ID_MAX)
    ledger = create_ledger(ledger_url, tmp_path / "home", genesis)
    deposit = make_deposit(pub(key(9)), 5)
    ledger.process_deposit_event(deposit)  # pending first, so the payment must wait a block
    payment = the_largest_payment(ledger)
    assert framed_size(payment) == largest_entry_size()
    ledger.apply_transaction(payment)
    sequencer = Sequencer(ledger, SEQUENCER, block_time_ms=1_000, max_blob_size=min_blob_size())
    first, second = sequencer.seal(), sequencer.seal()
    assert first.entries == (deposit,)
    assert second.entries == (payment, FeeCredit(2, pub(SEQUENCER), ledger.min_fee))
    assert len(encode_blob(first)) <= min_blob_size()
    assert len(encode_blob(second)) == min_blob_size()  # exactly: the minimum is tight
    assert sequencer.seal().entries == ()
    ledger.storage.close()

