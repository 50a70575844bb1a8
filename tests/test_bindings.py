"""Protocol bindings in the ledger: a signature is valid on one deployment only, and a
signed header names exactly one block (docs/protocol.md, sections 2.2 and 4)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from ledger_helpers import (
    ALICE,
    ALLOCATION,
    BOB,
    SEQUENCER,
    create_ledger,
    genesis_outpoint,
    make_deposit,
    make_genesis,
    make_transfer,
    pub,
    snapshot,
)

from fontana.errors import BadSignatureError, RecoveryError
from fontana.genesis import genesis_header
from fontana.hashing import merkle_root
from fontana.ledger import Ledger
from fontana.models import Block, SignedHeader, Transaction, entries_hash

TWIN_GENESIS = make_genesis(genesis_time_ms=make_genesis().genesis_time_ms + 1)


def _ledger(tmp_path: Path, name: str, genesis=None) -> Ledger:  # type: ignore[no-untyped-def]
    return create_ledger(f"sqlite:///{tmp_path}/{name}.db", tmp_path / name, genesis)


def test_the_twin_deployment_reuses_the_chain_id() -> None:
    assert TWIN_GENESIS.chain_id == make_genesis().chain_id
    assert TWIN_GENESIS.hash != make_genesis().hash


def test_block_zero_commits_to_an_empty_body_and_is_unsigned(tmp_path: Path) -> None:
    live = _ledger(tmp_path, "live")
    zero = genesis_header(live.genesis, b"\x05" * 32)
    assert zero.header.entries_hash == entries_hash(b"\x00\x00\x00\x00")
    assert zero.header.tx_root == merkle_root([])
    assert zero.signature == bytes(64)
    with live.storage.read() as s:
        stored = SignedHeader.from_bytes(s.get_block(0).header)  # type: ignore[union-attr]
    assert stored.header.entries_hash == zero.header.entries_hash
    empty = live.seal_block(SEQUENCER)
    assert empty.header.header.entries_hash == zero.header.entries_hash


def test_a_block_never_holds_more_than_the_maximum_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sealing leaves room for the fee credit under MAX_BLOCK_ENTRIES, whatever it is asked."""
    monkeypatch.setattr("fontana.ledger.sealing.MAX_BLOCK_ENTRIES", 3)
    live = _ledger(tmp_path, "live")
    for i in range(4):
        live.process_deposit_event(make_deposit(pub(BOB), 10, l1_tx=i + 1))
    for sender in (ALICE, BOB):
        utxos = live.utxos(pub(sender))
        change = sum(u.amount for u in utxos) - 1
        live.apply_transaction(make_transfer(utxos, [(pub(sender), change)], [sender]))
    first = live.seal_block(SEQUENCER, max_entries=1_000)
    assert len(first.entries) == 2  # two deposits; no fees yet
    second = live.seal_block(SEQUENCER, max_entries=1_000)
    assert len(second.entries) == 2
    third = live.seal_block(SEQUENCER, max_entries=1_000)
    assert [type(e).__name__ for e in third.entries] == ["Transaction", "Transaction", "FeeCredit"]


def test_a_payment_signed_for_another_deployment_is_refused(tmp_path: Path) -> None:
    """The same L1 deposit gives both deployments the same outpoint; a spend of it signed
    for one must not be replayable on the other."""
    one, twin = _ledger(tmp_path, "one"), _ledger(tmp_path, "twin", TWIN_GENESIS)
    deposit = make_deposit(pub(ALICE), 5_000)
    for ledger in (one, twin):
        ledger.process_deposit_event(deposit)
    [utxo] = [u for u in one.utxos(pub(ALICE)) if u.txid == deposit.id]
    spend = make_transfer([utxo], [(pub(BOB), 4_999)], [ALICE], genesis_hash=one.genesis_hash)
    before = snapshot(twin)
    with pytest.raises(BadSignatureError, match="does not verify"):
        twin.apply_transaction(spend)
    assert snapshot(twin) == before
    one.apply_transaction(spend)
    assert one.balance(pub(BOB)) == ALLOCATION + 4_999
    twin_spend = make_transfer(
        [utxo], [(pub(BOB), 4_999)], [ALICE], genesis_hash=twin.genesis_hash
    )
    twin.apply_transaction(twin_spend)
    assert twin_spend.txid == spend.txid  # the same payment, signed twice
    assert twin_spend.witnesses != spend.witnesses


def test_replay_refuses_a_header_signed_for_another_deployment(tmp_path: Path) -> None:
    live = _ledger(tmp_path, "live")
    block = live.seal_block(SEQUENCER)
    header = block.header.header
    wrong = SignedHeader.sign(header, SEQUENCER, TWIN_GENESIS.hash)
    assert wrong.verify(TWIN_GENESIS.hash) and not wrong.verify(live.genesis_hash)
    fresh = _ledger(tmp_path, "fresh")
    before = snapshot(fresh)
    with pytest.raises(RecoveryError, match="block 1: the sequencer's signature does not verify"):
        fresh.replay_block(Block(wrong, block.entries))
    assert snapshot(fresh) == before
    fresh.replay_block(block)
    assert fresh.current_state_root() == live.current_state_root()


def test_replay_refuses_entries_that_differ_from_the_signed_header(tmp_path: Path) -> None:
    """A copy of a real header with the witnesses of a payment reordered: every txid and the
    tx root are the same, the bytes are not, and replay must notice."""
    live = _ledger(tmp_path, "live")
    inputs = [genesis_outpoint(0), genesis_outpoint(1)]  # ALICE's and BOB's
    tx = make_transfer(inputs, [(pub(BOB), 2 * ALLOCATION - 1)], [ALICE, BOB])
    live.apply_transaction(tx)
    block = live.seal_block(SEQUENCER)
    assert isinstance(block.entries[0], Transaction)
    swapped = attrs.evolve(tx, witnesses=tx.witnesses[::-1])
    copy = Block(block.header, (swapped, *block.entries[1:]))
    assert copy.compute_tx_root() == block.header.header.tx_root
    assert copy.to_bytes() != block.to_bytes()
    fresh = _ledger(tmp_path, "fresh")
    before = snapshot(fresh)
    with pytest.raises(RecoveryError, match="block 1: entries hash .* does not match"):
        fresh.replay_block(Block.from_bytes(copy.to_bytes()))
    assert snapshot(fresh) == before
    fresh.replay_block(Block.from_bytes(block.to_bytes()))
    assert fresh.current_state_root() == live.current_state_root()
