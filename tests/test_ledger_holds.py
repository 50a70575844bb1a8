"""Holds: a paid call's payment held, then settled or released, on SQLite and PostgreSQL.

Every refusal is checked to change nothing at all (every row of every table),
a release to leave the database exactly as before the hold, and a settle to
apply the payment once, whatever is retried.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from holds_helpers import HOLD_MS, PRICE, holds, payment, receipt_for, tables
from ledger_helpers import (
    ALICE,
    ALLOCATION,
    BOB,
    CAROL,
    EXPIRY_MS,
    MALLORY,
    SEQUENCER,
    Clock,
    create_ledger,
    full_rebuild_root,
    genesis_outpoint,
    make_transfer,
    pub,
    unspent,
)

from fontana.clock import now_ms
from fontana.da.local import LocalDA
from fontana.errors import (
    AlreadySettledError,
    BadSignatureError,
    EncodingError,
    ExpiredError,
    FeeTooLowError,
    InputHeldError,
    InputSpentError,
    InsufficientFundsError,
    OutOfRangeError,
    PaymentInFlightError,
    ReceiptMismatchError,
    RejectedError,
    UnknownInputError,
    WrongChainError,
)
from fontana.ledger import ApplyResult, CachedResponse, HoldResult, Ledger, SettledPayment
from fontana.models import OutPoint, SignedHeader, SignedReceipt, WithdrawalRequest
from fontana.poster import Poster
from fontana.storage.sql import SQLSession

RESPONSE = CachedResponse(200, "application/json", b'{"temperature": 21}')


def until(clock: Clock) -> int:
    return clock.now_ms + HOLD_MS


# -- hold, then settle or release ----------------------------------------------------


def test_hold_then_settle_applies_the_payment_once_with_its_receipt(
    ledger: Ledger, clock: Clock
) -> None:
    tx = payment(ledger)
    before = tables(ledger)
    assert ledger.hold(tx, until(clock)) == HoldResult("held", tx.txid, until(clock))
    assert ledger.balance(pub(ALICE)) == ALLOCATION, "a hold moves no money"
    assert ledger.transaction_status(tx.txid).state == "unknown"
    assert ledger.settled(tx.txid) is None
    changed = {name for name, rows in tables(ledger).items() if rows != before[name]}
    assert changed == {"utxos"}, "a hold is the held UTXO row alone"

    receipt = receipt_for(ledger, tx)
    result = ledger.settle(tx, receipt, RESPONSE)
    assert result.txid == tx.txid and not result.already_applied
    assert ledger.transaction_status(tx.txid).state == "pending"
    assert ledger.balance(pub(ALICE)) == ALLOCATION - PRICE - 1
    assert ledger.balance(pub(BOB)) == ALLOCATION + PRICE
    assert ledger.settled(tx.txid) == SettledPayment(tx.txid, receipt, RESPONSE)
    assert holds(ledger) == {}, "settling spends the inputs and drops their holds"
    with ledger.storage.read() as s:
        assert [r.body for r in s.receipts_for(tx.txid)] == [receipt]
    again = ledger.hold(tx, until(clock))
    assert again == HoldResult("settled", tx.txid, 0, SettledPayment(tx.txid, receipt, RESPONSE)), (
        "a retry of a settled payment gets its receipt and response, and is not held"
    )


def test_a_hold_of_unspent_inputs_does_not_look_for_the_payment(
    ledger: Ledger, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every paid call holds: a payment whose inputs are all unspent was never applied, so
    its hold reads no entry (one query fewer); one with an input spent still finds it."""
    looked_up: list[list[bytes]] = []
    get_entries = SQLSession.get_entries

    def spy(self: SQLSession, entry_ids: Sequence[bytes]) -> dict[bytes, Any]:
        looked_up.append(list(entry_ids))
        return get_entries(self, entry_ids)

    monkeypatch.setattr(SQLSession, "get_entries", spy)
    tx = payment(ledger)
    assert ledger.hold(tx, until(clock)).state == "held"
    assert looked_up == []
    ledger.settle(tx, receipt_for(ledger, tx), RESPONSE)
    looked_up.clear()
    assert ledger.hold(tx, until(clock)).state == "settled"
    assert looked_up == [[tx.txid]]


def test_a_settled_call_without_cached_response(ledger: Ledger, clock: Clock) -> None:
    tx = payment(ledger)
    ledger.hold(tx, until(clock))
    ledger.settle(tx, receipt_for(ledger, tx), None)
    settled = ledger.hold(tx, until(clock)).settled
    assert settled is not None and settled.response is None


def test_hold_then_release_leaves_every_table_as_it_was(ledger: Ledger, clock: Clock) -> None:
    tx = payment(ledger)
    before = tables(ledger)
    ledger.hold(tx, until(clock))
    assert holds(ledger) == {(genesis_outpoint(0).txid, 0): (tx.txid, until(clock))}
    assert ledger.release(tx.txid) is True
    assert tables(ledger) == before
    assert ledger.release(tx.txid) is False, "nothing is held any more"
    assert ledger.release(bytes(32)) is False
    assert ledger.hold(tx, until(clock)).state == "held", "a released payment is new again"


class _NotesDurability:
    """A storage that notes, per write, whether it asked to be durable."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.url = storage.url
        self.durable: list[bool] = []

    def read(self) -> Any:
        return self.storage.read()

    def write(self, *, durable: bool = True) -> Any:
        self.durable.append(durable)
        return self.storage.write(durable=durable)


def test_only_holds_and_releases_may_lose_their_commit(ledger: Ledger, clock: Clock) -> None:
    """A settle is committed durably before the provider answers; a hold or a release, lost
    in a crash, leaves the inputs free and nothing applied, so it need not wait for the disk."""
    notes = _NotesDurability(ledger.storage)
    noted = Ledger(notes, ledger.proofs, ledger.genesis, ledger.clock)  # type: ignore[arg-type]
    settled, released = payment(ledger), payment(ledger, sender=CAROL, index=2)
    for tx in (settled, released):
        noted.hold(tx, until(clock))
    noted.settle(settled, receipt_for(ledger, settled), RESPONSE)
    noted.release(released.txid)
    noted.apply_transaction(payment(ledger, sender=CAROL, index=2, memo=b"after"))
    assert notes.durable == [False, False, True, False, True]
    assert ledger.balance(pub(BOB)) == ALLOCATION + 2 * PRICE


@pytest.mark.parametrize("freed_by", ["release", "expiry"])
def test_a_held_input_is_refused_to_every_other_spend_until_freed(
    ledger: Ledger, clock: Clock, freed_by: str
) -> None:
    held = payment(ledger)
    ledger.hold(held, until(clock))
    other = payment(ledger, memo=b"elsewhere")
    burn = make_transfer(
        [genesis_outpoint(0)],
        [(pub(ALICE), ALLOCATION - 101)],
        [ALICE],
        burn=WithdrawalRequest(b"\x11" * 20, 100),
        genesis_hash=ledger.genesis_hash,
    )
    before = tables(ledger)
    for tx in (other, burn):
        with pytest.raises(InputHeldError, match="held by payment"):
            ledger.apply_transaction(tx)
    unrelated = payment(ledger, sender=CAROL, index=2)
    results = ledger.apply_transactions([other, unrelated])
    assert isinstance(results[0], InputHeldError)
    assert isinstance(results[1], ApplyResult), "a refusal does not affect the others"
    with pytest.raises(InputHeldError):
        ledger.hold(other, until(clock))
    with pytest.raises(InputHeldError):
        ledger.settle(other, receipt_for(ledger, other), None)
    clock.advance(HOLD_MS - 1)  # the last millisecond of the hold
    with pytest.raises(InputHeldError):
        ledger.apply_transaction(other)
    changed = {name for name, rows in tables(ledger).items() if rows != before[name]}
    assert changed == {"entries", "utxos"}
    assert ledger.transaction_status(unrelated.txid).state == "pending"

    if freed_by == "release":
        assert ledger.release(held.txid) is True
    else:
        clock.advance(1)  # a hold is live while until_ms > now
    assert not ledger.apply_transaction(other).already_applied
    with pytest.raises(InputSpentError):
        ledger.settle(held, receipt_for(ledger, held), None)
    assert ledger.settled(held.txid) is None
    assert ledger.release(held.txid) is False, "the spend dropped the hold"


def test_the_same_payment_held_twice_is_in_flight(ledger: Ledger, clock: Clock) -> None:
    tx = payment(ledger)
    ledger.hold(tx, until(clock))
    before = tables(ledger)
    with pytest.raises(PaymentInFlightError):
        ledger.hold(tx, until(clock) + 5)
    assert tables(ledger) == before
    clock.advance(HOLD_MS)  # expired: a retry after a crashed provider holds anew
    assert ledger.hold(tx, until(clock)).until_ms == until(clock)
    with pytest.raises(PaymentInFlightError):
        ledger.hold(tx, until(clock))


def test_the_provider_can_settle_a_payment_the_consumer_applied_meanwhile(
    ledger: Ledger, clock: Clock
) -> None:
    """Held inputs are spendable by the holding payment itself: submitting that very
    payment directly applies it, and the settle then records the call."""
    tx = payment(ledger)
    ledger.hold(tx, until(clock))
    assert not ledger.apply_transaction(tx).already_applied
    assert holds(ledger) == {}
    receipt = receipt_for(ledger, tx)
    assert ledger.settle(tx, receipt, RESPONSE).already_applied
    assert ledger.settled(tx.txid) == SettledPayment(tx.txid, receipt, RESPONSE)
    assert ledger.balance(pub(BOB)) == ALLOCATION + PRICE, "paid once"


def test_a_payment_applied_without_a_call_buys_none(ledger: Ledger, clock: Clock) -> None:
    tx = payment(ledger)
    ledger.apply_transaction(tx)
    before = tables(ledger)
    with pytest.raises(AlreadySettledError, match="submitted directly"):
        ledger.hold(tx, until(clock))
    assert tables(ledger) == before


def test_settle_without_a_hold_applies_and_records(ledger: Ledger) -> None:
    tx = payment(ledger)
    receipt = receipt_for(ledger, tx)
    assert not ledger.settle(tx, receipt, RESPONSE).already_applied
    assert ledger.settled(tx.txid) == SettledPayment(tx.txid, receipt, RESPONSE)


def test_settle_is_idempotent_and_keeps_the_first_receipt(ledger: Ledger, clock: Clock) -> None:
    tx = payment(ledger)
    ledger.hold(tx, until(clock))
    receipt = receipt_for(ledger, tx)
    first = ledger.settle(tx, receipt, RESPONSE)
    before = tables(ledger)
    other_receipt = receipt_for(ledger, tx, issued_at_ms=99)
    for again in (
        ledger.settle(tx, receipt, RESPONSE),
        ledger.settle(tx, other_receipt, None),
        *ledger.settle_many([(tx, receipt, RESPONSE)]),
    ):
        assert again == attrs.evolve(first, already_applied=True)
    clock.now_ms = EXPIRY_MS + 1  # after the payment's expiry: still known
    assert ledger.settle(tx, receipt, RESPONSE).already_applied
    assert tables(ledger) == before
    assert ledger.settled(tx.txid) == SettledPayment(tx.txid, receipt, RESPONSE)


def test_settle_many_judges_each_settle_alone(ledger: Ledger, clock: Clock) -> None:
    good = payment(ledger)
    ledger.hold(good, until(clock))
    unheld = payment(ledger, sender=BOB, index=1)
    earlier = payment(ledger, sender=CAROL, index=2)
    ledger.settle(earlier, receipt_for(ledger, earlier), None)
    conflicting = payment(ledger, memo=b"conflict")  # good's input, held by good
    forged = payment(ledger, sender=BOB, index=1, memo=b"forged", signer=MALLORY)
    expired = payment(ledger, sender=BOB, index=1, memo=b"late", expiry_ms=clock.now_ms - 1)
    before = tables(ledger)
    items = [
        (conflicting, receipt_for(ledger, conflicting), None),  # before good spends it
        (good, receipt_for(ledger, good), RESPONSE),
        (forged, receipt_for(ledger, forged), None),
        (unheld, receipt_for(ledger, good), None),  # another payment's receipt
        (unheld, b"\x01not a receipt", None),
        (unheld, receipt_for(ledger, unheld), None),
        (unheld, receipt_for(ledger, unheld), RESPONSE),  # a copy in the same batch
        (expired, receipt_for(ledger, expired), None),
        (earlier, receipt_for(ledger, earlier), RESPONSE),  # settled before
    ]
    results = ledger.settle_many(items)
    codes = [r.code if isinstance(r, RejectedError) else r.already_applied for r in results]
    assert codes == [
        "input_held",
        False,
        "bad_signature",
        "receipt_mismatch",
        "receipt_mismatch",
        False,
        "duplicate_in_batch",
        "expired",
        True,
    ]
    assert ledger.settled(good.txid) == SettledPayment(good.txid, items[1][1], RESPONSE)
    assert ledger.settled(unheld.txid) == SettledPayment(unheld.txid, items[5][1], None)
    settled_earlier = ledger.settled(earlier.txid)
    assert settled_earlier is not None and settled_earlier.response is None, "first one kept"
    for tx in (forged, conflicting, expired):
        assert ledger.settled(tx.txid) is None
        assert ledger.transaction_status(tx.txid).state == "unknown"
    after = tables(ledger)
    for table in ("entries", "settlements", "receipts"):
        assert len(after[table]) == len(before[table]) + 2, table
    assert ledger.settle_many([]) == []


# -- every check of the apply path, and nothing changes ---------------------------------


def _rejections(ledger: Ledger, clock: Clock) -> list[tuple[object, int, type[RejectedError]]]:
    gid = ledger.genesis_hash
    spent = payment(ledger, sender=BOB, index=1)
    ledger.apply_transaction(spent)
    alice = [genesis_outpoint(0)]
    change = [(pub(BOB), PRICE), (pub(ALICE), ALLOCATION - PRICE - 1)]
    far = until(clock)
    return [
        (
            make_transfer(alice, change, [ALICE], chain_id="other", genesis_hash=gid),
            far,
            WrongChainError,
        ),
        (make_transfer(alice, change, [ALICE], fee=0, genesis_hash=gid), far, FeeTooLowError),
        (make_transfer(alice, change, [ALICE], genesis_hash=bytes(32)), far, BadSignatureError),
        (payment(ledger, signer=MALLORY), far, BadSignatureError),
        (payment(ledger, expiry_ms=clock.now_ms - 1), far, ExpiredError),
        (payment(ledger, expiry_ms=far - 1), far, ExpiredError),  # the hold outlives it
        (payment(ledger), clock.now_ms, ExpiredError),  # a hold over before it starts
        (
            make_transfer([OutPoint(bytes(32), 0)], change, [ALICE], genesis_hash=gid),
            far,
            UnknownInputError,
        ),
        (payment(ledger, sender=BOB, index=1, memo=b"again"), far, InputSpentError),
        (
            make_transfer(alice, [(pub(BOB), ALLOCATION)], [ALICE], genesis_hash=gid),
            far,
            InsufficientFundsError,
        ),
    ]


def test_every_refused_hold_changes_nothing(ledger: Ledger, clock: Clock) -> None:
    cases = _rejections(ledger, clock)
    before = tables(ledger)
    for tx, hold_until, error in cases:
        with pytest.raises(error):
            ledger.hold(tx, hold_until)  # type: ignore[arg-type]
    assert tables(ledger) == before


def test_a_hold_beyond_what_the_ledger_stores_is_refused(ledger: Ledger) -> None:
    far = 2**63
    tx = payment(ledger, expiry_ms=far)
    before = tables(ledger)
    with pytest.raises(OutOfRangeError):
        ledger.hold(tx, far)
    assert tables(ledger) == before


@pytest.mark.parametrize("hold_until", ["123", 1.5e12, True, None])
def test_a_hold_end_that_is_not_an_integer_is_malformed(ledger: Ledger, hold_until: object) -> None:
    before = tables(ledger)
    with pytest.raises(EncodingError):
        ledger.hold(payment(ledger), hold_until)  # type: ignore[arg-type]
    assert tables(ledger) == before


@pytest.mark.parametrize("receipt", ["a receipt", None, b""])
def test_a_receipt_that_is_not_a_receipt_is_refused(ledger: Ledger, receipt: object) -> None:
    tx = payment(ledger)
    before = tables(ledger)
    with pytest.raises(ReceiptMismatchError):
        ledger.settle(tx, receipt, None)  # type: ignore[arg-type]
    assert tables(ledger) == before


@pytest.mark.parametrize(
    "fields",
    [
        (99, "text/plain", b""),
        (600, "text/plain", b""),
        (True, "text/plain", b""),
        (200, "text/plain\r\nSet-Cookie: x", b""),
        (200, "é", b""),
        (200, "x" * 256, b""),
        (200, "text/plain", "not bytes"),
    ],
)
def test_a_cached_response_is_checked(fields: tuple[object, object, object]) -> None:
    with pytest.raises(EncodingError):
        CachedResponse(*fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("txid", [b"", b"x" * 31, "ab" * 32])
def test_txids_from_outside_are_checked(ledger: Ledger, txid: object) -> None:
    for call in (ledger.release, ledger.settled, ledger.final_receipt):
        with pytest.raises(EncodingError):
            call(txid)  # type: ignore[operator]


def test_no_entry_or_utxo_is_ever_duplicated(ledger: Ledger, clock: Clock) -> None:
    tx = payment(ledger)
    receipt = receipt_for(ledger, tx)
    ledger.hold(tx, until(clock))
    assert ledger.settle_many([(tx, receipt, None)] * 2)[1].code == "duplicate_in_batch"  # type: ignore[union-attr]
    ledger.settle(tx, receipt, None)
    assert ledger.apply_transaction(tx).already_applied
    assert ledger.apply_transactions([tx, tx])[0].already_applied  # type: ignore[union-attr]
    assert ledger.hold(tx, until(clock)).state == "settled"
    ledger.seal_block(SEQUENCER)
    assert ledger.settle(tx, receipt, None).already_applied
    rows = tables(ledger)
    assert len([r for r in rows["entries"] if bytes(r[1]) == tx.txid]) == 1
    assert len([r for r in rows["utxos"] if bytes(r[0]) == tx.txid]) == 2
    assert len(rows["settlements"]) == len(rows["receipts"]) == 1
    assert ledger.current_state_root() == full_rebuild_root(ledger)
    assert sum(u.amount for u in unspent(ledger)) == ledger.supply()


def test_replay_ignores_holds(ledger: Ledger, clock: Clock, tmp_path: Path) -> None:
    """Holds are local: a block spending an input held here replays all the same."""
    tx = payment(ledger)
    ledger.apply_transaction(tx)
    block = ledger.seal_block(SEQUENCER)
    follower = create_ledger(f"sqlite:///{tmp_path}/follower.db", tmp_path / "f", clock=clock)
    rival = payment(follower, memo=b"rival")
    follower.hold(rival, until(clock))
    follower.replay_block(block)
    assert follower.current_state_root() == ledger.current_state_root()
    assert holds(follower) == {}
    assert follower.release(rival.txid) is False
    follower.storage.close()


def test_open_height_is_the_block_being_collected(ledger: Ledger) -> None:
    assert ledger.open_height() == 1
    ledger.seal_block(SEQUENCER)
    assert ledger.open_height() == 2


# -- hold expiry on the real wall clock ---------------------------------------------------


def test_a_hold_expires_on_the_wall_clock(live: Ledger) -> None:
    hold_until = now_ms() + 200
    held = payment(live, expiry_ms=hold_until + 60_000)
    other = payment(live, memo=b"other", expiry_ms=hold_until + 60_000)
    live.hold(held, hold_until)
    refused = live.apply_transactions([other])[0]
    # Refused while the hold is live; only a very slow machine reaches its end first.
    assert isinstance(refused, InputHeldError) or now_ms() >= hold_until
    while now_ms() <= hold_until:
        threading.Event().wait(0.01)
    assert not live.apply_transaction(other).already_applied


# -- final receipts -----------------------------------------------------------------------


@attrs.frozen
class _MerkleProof:
    index: int
    count: int
    siblings: tuple[bytes, ...]


@attrs.frozen(kw_only=True)
class _FinalReceipt:
    receipt: SignedReceipt
    header: SignedHeader
    inclusion: _MerkleProof
    da_height: int
    da_commitment: bytes
    da_namespace: bytes


@pytest.fixture
def payment_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Part A's ``fontana.models.payment``, or a stand-in with its names until it is merged."""
    try:
        import fontana.models.payment  # noqa: F401
    except ImportError:
        module = types.ModuleType("fontana.models.payment")
        module.FinalReceipt = _FinalReceipt  # type: ignore[attr-defined]
        module.MerkleProof = _MerkleProof  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "fontana.models.payment", module)


@pytest.mark.usefixtures("payment_models")
def test_a_final_receipt_once_the_block_is_on_da(ledger: Ledger, clock: Clock, da: LocalDA) -> None:
    before = payment(ledger, sender=CAROL, index=2)
    ledger.apply_transaction(before)
    tx = payment(ledger)
    receipt = receipt_for(ledger, tx)
    ledger.hold(tx, until(clock))
    assert ledger.final_receipt(tx.txid) is None
    ledger.settle(tx, receipt, RESPONSE)
    plain = payment(ledger, sender=BOB, index=1)
    ledger.apply_transaction(plain)
    assert ledger.final_receipt(tx.txid) is None, "not in a block yet"
    block = ledger.seal_block(SEQUENCER)
    assert ledger.final_receipt(tx.txid) is None, "the block is not on DA yet"
    Poster(ledger.storage, da, block_time_ms=1_000).post_pending(threading.Event())
    final = ledger.final_receipt(tx.txid)
    assert final is not None
    record = ledger.latest_block()
    assert final.receipt.to_bytes() == receipt
    assert final.header == block.header
    assert (final.da_height, final.da_commitment) == (record.da_height, record.da_commitment)
    assert final.da_namespace == ledger.genesis.da_namespace
    proof = final.inclusion
    assert (proof.index, proof.count) == (1, 4)  # before, tx, plain, the fee credit
    header = block.header.header
    assert proof.verify(header.tx_root, tx.txid)
    assert ledger.final_receipt(plain.txid) is None, "no receipt: not a paid call"
    assert ledger.final_receipt(bytes(32)) is None
