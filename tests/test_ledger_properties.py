"""Random histories of payments, deposits, burns, seals and restarts keep the ledger sound.

After every step the exact balance of each key matches a model kept in plain
integers, value is conserved, no outpoint is ever spent by two entries, and
after every seal the state root equals a full rebuild of the unspent set in a
fresh in-memory tree. SQLite only, to keep the example count affordable.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import (
    ALLOCATION,
    FUNDED,
    SEQUENCER,
    create_ledger,
    full_rebuild_root,
    make_deposit,
    make_transfer,
    pub,
    reopen_ledger,
    unspent,
)
from nacl.signing import SigningKey

from fontana.errors import DepositConflictError, InputSpentError
from fontana.ledger import Ledger
from fontana.ledger.records import decode_entry_record
from fontana.models import Deposit, EntryType, Transaction, WithdrawalRequest

KEYS = (*FUNDED, SEQUENCER)
L1_RECIPIENT = b"\x55" * 20

_key = st.integers(0, len(KEYS) - 1)
_step = st.one_of(
    st.tuples(st.just("pay"), _key, _key, st.integers(1, 100), st.integers(1, 5)),
    st.tuples(st.just("burn"), _key, st.integers(1, 100), st.integers(1, 5)),
    st.tuples(st.just("deposit"), _key, st.integers(1, 10**6), st.integers(0, 3)),
    st.tuples(st.just("replay")),
    st.tuples(st.just("seal")),
    st.tuples(st.just("restart")),
)


class Model:
    """What the ledger must hold, in plain integers."""

    def __init__(self) -> None:
        self.balances = Counter({pub(k): ALLOCATION for k in FUNDED})
        self.pending_fees = 0
        self.minted = len(FUNDED) * ALLOCATION
        self.burned = 0
        self.deposits: dict[int, Deposit] = {}
        self.last_spent: tuple[Transaction, SigningKey] | None = None


def _spend(ledger: Ledger, model: Model, step: tuple[int, ...], burn: bool) -> None:
    """Spend ``percent`` of a key's balance (to a key, or burned), change to itself."""
    if burn:
        sender_i, percent, fee = step
        recipient = None
    else:
        sender_i, recipient_i, percent, fee = step
        recipient = pub(KEYS[recipient_i])
    sender = KEYS[sender_i]
    owner = pub(sender)
    utxos = ledger.utxos(owner)
    total = sum(u.amount for u in utxos)
    amount = total * percent // 100 - fee
    if not utxos or amount <= 0:
        return
    change = total - amount - fee
    change_out = [(owner, change)] if change else []
    if recipient is None:
        request = WithdrawalRequest(L1_RECIPIENT, amount)
        tx = make_transfer(utxos, change_out, [sender], fee=fee, burn=request)
        model.burned += amount
    else:
        tx = make_transfer(utxos, [(recipient, amount), *change_out], [sender], fee=fee)
        model.balances[recipient] += amount
    assert not ledger.apply_transaction(tx).already_applied
    model.balances[owner] -= amount + fee
    model.pending_fees += fee
    model.last_spent = (tx, sender)


def _check(ledger: Ledger, model: Model) -> None:
    for k in KEYS:
        assert ledger.balance(pub(k)) == model.balances[pub(k)]
    held = sum(u.amount for u in unspent(ledger))
    assert held + model.pending_fees == model.minted - model.burned
    with ledger.storage.read() as s:
        entries = s.unsealed_entries(10**6)
        height = ledger.latest_block().height
        for h in range(1, height + 1):
            entries += s.entries_in_block(h)
    spends = Counter(
        i
        for e in entries
        if e.entry_type == EntryType.TRANSACTION
        for i in decode_entry_record(e).inputs  # type: ignore[union-attr]
    )
    assert not spends or max(spends.values()) == 1


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=st.lists(_step, min_size=1, max_size=25))
def test_random_histories_conserve_value_and_match_a_full_rebuild(
    steps: list[tuple[object, ...]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/ledger.db"
        home = Path(tmp) / "home"
        ledger = create_ledger(url, home)
        model = Model()
        try:
            for step in steps:
                op, args = step[0], step[1:]
                if op == "pay":
                    _spend(ledger, model, args, burn=False)  # type: ignore[arg-type]
                elif op == "burn":
                    _spend(ledger, model, args, burn=True)  # type: ignore[arg-type]
                elif op == "deposit":
                    recipient_i, amount, l1_tx = args
                    event = make_deposit(pub(KEYS[recipient_i]), amount, l1_tx=l1_tx)  # type: ignore[arg-type]
                    seen = model.deposits.get(l1_tx)  # type: ignore[call-overload]
                    if seen is not None and seen != event:
                        with pytest.raises(DepositConflictError):  # same L1 event, other contents
                            ledger.process_deposit_event(event)
                        continue
                    assert ledger.process_deposit_event(event).credited == (seen is None)
                    if seen is None:
                        model.deposits[l1_tx] = event  # type: ignore[index]
                        model.balances[event.recipient] += event.amount
                        model.minted += event.amount
                elif op == "replay" and model.last_spent is not None:
                    tx, sender = model.last_spent
                    assert ledger.apply_transaction(tx).already_applied
                    conflict = make_transfer(tx.inputs, [(pub(SEQUENCER), 1)], [sender])
                    with pytest.raises(InputSpentError):
                        ledger.apply_transaction(conflict)
                elif op == "seal":
                    block = ledger.seal_block(SEQUENCER)
                    model.balances[pub(SEQUENCER)] += model.pending_fees
                    model.pending_fees = 0
                    root = block.header.header.state_root
                    assert root == ledger.current_state_root() == full_rebuild_root(ledger)
                    assert block.header.header.tx_root == block.compute_tx_root()
                elif op == "restart":
                    ledger = reopen_ledger(ledger, url, home)
                _check(ledger, model)
            block = ledger.seal_block(SEQUENCER)
            assert block.header.header.state_root == full_rebuild_root(ledger)
        finally:
            ledger.storage.close()
