"""The watcher's rounds on both backends: every final event handled once, in order, always.

The L1 is the built-in local stand-in (a real durable log); the EVM watcher's
tests on a real node are in plugins/fontana-evm.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa
from ledger_helpers import (
    ALICE,
    ALLOCATION,
    BOB,
    CAROL,
    create_ledger,
    genesis_outpoint,
    make_deposit,
    make_transfer,
    pub,
    settings_for,
    snapshot,
)

from fontana import watcher as watcher_module
from fontana.bridge import handle_deposit_received, handle_withdrawal_confirmed
from fontana.bridge.local_l1 import LocalL1
from fontana.errors import (
    DepositConflictError,
    L1Error,
    L1MismatchError,
    L1UnavailableError,
    UnknownWithdrawalError,
)
from fontana.hookspecs import hookimpl
from fontana.interfaces import L1Events
from fontana.ledger import Ledger
from fontana.models import WithdrawalRequest
from fontana.storage import schema as t
from fontana.watcher import (
    CURSOR_KEY,
    Cursor,
    Round,
    Watcher,
    load_cursor,
    open_l1_watcher,
    save_cursor,
)


@pytest.fixture
def l1(tmp_path: Path) -> LocalL1:
    return LocalL1(tmp_path / "l1")


def balance(ledger: Ledger, who: Any) -> int:
    return ledger.balance(pub(who))


def test_each_final_deposit_is_credited_once_and_the_cursor_moves(
    ledger: Ledger, l1: LocalL1
) -> None:
    logged = [l1.append_deposit(pub(BOB), 10 + i) for i in range(3)]
    handled: list[Any] = []
    watcher = Watcher(ledger, l1, on_event=handled.append)
    assert watcher.cursor() == -1
    done = watcher.step()
    assert done is not None and (done.from_block, done.to_block) == (0, 3)
    assert [h.deposit for h in done.deposits] == logged and all(h.credited for h in done.deposits)
    assert handled == list(done.deposits)
    assert balance(ledger, BOB) == ALLOCATION + 10 + 11 + 12
    assert load_cursor(ledger.storage) == Cursor(l1.source, 3)
    assert watcher.step() is None  # nothing new is final
    again = Watcher(ledger, l1)  # a restart resumes after the cursor
    later = l1.append_deposit(pub(BOB), 20)
    resumed = again.step()
    assert resumed is not None and (resumed.from_block, resumed.to_block) == (4, 4)
    assert [h.deposit for h in resumed.deposits] == [later]
    assert balance(ledger, BOB) == ALLOCATION + 53


def test_start_block_and_max_range_bound_each_round(ledger: Ledger, l1: LocalL1) -> None:
    for i in range(7):
        l1.append_deposit(pub(BOB), 1 + i)
    rounds: list[Round] = []
    watcher = Watcher(ledger, l1, start_block=3, max_range=2, on_round=rounds.append)
    assert watcher.catch_up(threading.Event()) == 3
    assert [(r.from_block, r.to_block) for r in rounds] == [(3, 4), (5, 6), (7, 7)]
    assert balance(ledger, BOB) == ALLOCATION + sum(range(3, 8))  # blocks 1 and 2 are skipped


def test_a_crash_before_the_cursor_is_stored_repeats_the_round_and_credits_nothing_twice(
    ledger: Ledger, l1: LocalL1, monkeypatch: pytest.MonkeyPatch
) -> None:
    for amount in (5, 6):
        l1.append_deposit(pub(CAROL), amount)

    def crash(*_: Any) -> None:
        raise KeyboardInterrupt("killed between the handlers and the cursor")

    monkeypatch.setattr(watcher_module, "save_cursor", crash)
    with pytest.raises(KeyboardInterrupt):
        Watcher(ledger, l1).step()
    assert balance(ledger, CAROL) == ALLOCATION + 11
    assert load_cursor(ledger.storage) is None
    monkeypatch.undo()
    repeated = Watcher(ledger, l1).step()
    assert repeated is not None and [h.credited for h in repeated.deposits] == [False, False]
    assert balance(ledger, CAROL) == ALLOCATION + 11
    assert load_cursor(ledger.storage) == Cursor(l1.source, 2)


def test_a_deposit_the_ledger_refuses_stops_the_watcher_before_it(
    ledger: Ledger, l1: LocalL1
) -> None:
    first = l1.append_deposit(pub(BOB), 5)
    Watcher(ledger, l1).step()
    # The same L1 log, credited earlier with other contents (a reorg deeper than the
    # confirmations, or another watcher's mistake).
    clash = l1.append_deposit(pub(BOB), 9, l1_tx_hash=b"\x42" * 32)
    handle_deposit_received(ledger, attrs.evolve(clash, l1_block=99))
    after = l1.append_deposit(pub(BOB), 3)
    before = snapshot(ledger)
    with pytest.raises(DepositConflictError) as caught:
        Watcher(ledger, l1).step()
    assert caught.value.code == "deposit_conflict"
    assert f"{'42' * 32}:0 in L1 block {clash.l1_block}" in caught.value.message
    assert f"its cursor stays at L1 block {first.l1_block}" in caught.value.message
    assert snapshot(ledger) == before  # neither the clash nor the deposit after it
    assert load_cursor(ledger.storage) == Cursor(l1.source, first.l1_block)
    assert after.l1_block > clash.l1_block


def test_releases_confirm_their_burns_in_log_order_with_deposits(
    ledger: Ledger, l1: LocalL1
) -> None:
    burn = make_transfer(
        [genesis_outpoint(0)],
        [(pub(ALICE), ALLOCATION - 302)],
        [ALICE],
        fee=2,
        burn=WithdrawalRequest(l1_recipient=b"\x99" * 20, amount=300),
        genesis_hash=ledger.genesis_hash,
    )
    ledger.apply_transaction(burn)
    l1.append_deposit(pub(BOB), 5)
    l1.append_release(burn.txid)
    done = Watcher(ledger, l1).step()
    assert done is not None
    assert [h.confirmed for h in done.withdrawals] == [True]
    with ledger.storage.read() as s:
        row = s.get_withdrawal(burn.txid)
    assert row is not None and row.status == "confirmed"
    # The withdrawal processor confirming the same release later changes nothing.
    assert not handle_withdrawal_confirmed(ledger, done.withdrawals[0].confirmation).confirmed
    l1.append_release(b"\x77" * 32)
    with pytest.raises(UnknownWithdrawalError, match="watcher stopped at the release"):
        Watcher(ledger, l1).step()


def test_a_ledger_never_follows_a_second_l1(ledger: Ledger, l1: LocalL1, tmp_path: Path) -> None:
    l1.append_deposit(pub(BOB), 5)
    Watcher(ledger, l1).step()
    other = LocalL1(tmp_path / "other")
    other.append_deposit(pub(BOB), 50)
    before = snapshot(ledger)
    with pytest.raises(L1MismatchError, match=f"follows {l1.source}"):
        Watcher(ledger, other).step()
    with pytest.raises(L1MismatchError):
        save_cursor(ledger.storage, Cursor(other.source, 9))
    assert snapshot(ledger) == before


def test_the_stored_cursor_never_goes_back(ledger: Ledger) -> None:
    save_cursor(ledger.storage, Cursor("local:x", 7))
    save_cursor(ledger.storage, Cursor("local:x", 3))
    assert load_cursor(ledger.storage) == Cursor("local:x", 7)
    save_cursor(ledger.storage, Cursor("local:x", 8))
    assert load_cursor(ledger.storage) == Cursor("local:x", 8)


@attrs.define
class Faulty:
    """A watcher plugin with one fault at a time: what the watcher must not trust."""

    events: L1Events
    source: str = "faulty:1"
    failures: int = 0
    calls: int = 0

    def finalized_height(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise L1UnavailableError(f"node down ({self.calls})")
        return 10

    def scan(self, from_block: int, to_block: int) -> L1Events:
        return self.events

    def close(self) -> None:
        pass


def deposits_at(*blocks: int) -> Sequence[Any]:
    return [attrs.evolve(make_deposit(pub(BOB), 1, l1_tx=b), l1_block=b) for b in blocks]


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (L1Events(deposits_at(3), [], 9), "scanned to block 9, asked for 10"),
        (L1Events(deposits_at(11), [], 10), "an event of block 11 for blocks 0..10"),
        (L1Events(["not an event"], [], 10), "reported str"),
        (L1Events(deposits_at(4, 4), [], 10), "two events at one"),
    ],
)
def test_a_watcher_plugin_that_reports_nonsense_stops_the_watcher_before_any_handling(
    ledger: Ledger, events: L1Events, message: str
) -> None:
    before = snapshot(ledger)
    with pytest.raises(L1Error, match=message):
        Watcher(ledger, Faulty(events)).step()
    assert snapshot(ledger) == before


def test_run_retries_an_unreachable_l1_and_goes_on(ledger: Ledger) -> None:
    stop = threading.Event()
    faulty = Faulty(L1Events(deposits_at(2), [], 10), failures=3)
    watcher = Watcher(ledger, faulty, poll_ms=1, on_round=lambda _: stop.set())
    watcher.run(stop)
    assert faulty.calls == 4 and watcher.failures == 0
    assert balance(ledger, BOB) == ALLOCATION + 1


@attrs.define
class LateNode(Faulty):
    """A node that is down when the watcher starts: even its chain id is out of reach."""

    def __getattribute__(self, name: str) -> Any:
        if name == "source":
            self.calls += 1
            if self.calls <= self.failures:
                raise L1UnavailableError("node down")
        return super().__getattribute__(name)


def test_a_node_down_at_start_is_retried_and_the_start_reported_once(ledger: Ledger) -> None:
    stop = threading.Event()
    started: list[tuple[str, int]] = []
    late = LateNode(L1Events(deposits_at(2), [], 10), failures=2)
    watcher = Watcher(
        ledger,
        late,
        poll_ms=1,
        on_round=lambda _: stop.set(),
        on_start=lambda *args: started.append(args),
    )
    watcher.run(stop)
    assert started == [("faulty:1", -1)]
    assert balance(ledger, BOB) == ALLOCATION + 1


def test_run_stops_on_an_error_that_retrying_cannot_fix(ledger: Ledger, l1: LocalL1) -> None:
    l1.append_deposit(pub(BOB), 5)
    save_cursor(ledger.storage, Cursor("local:another", -1))
    with pytest.raises(L1MismatchError):
        Watcher(ledger, l1, poll_ms=1).run(threading.Event())


def test_open_l1_watcher_hands_the_plugin_resolved_confirmations(
    register_plugin: Any, tmp_path: Path
) -> None:
    seen: list[int | None] = []

    def probe(url: str, settings: Any) -> LocalL1:
        seen.append(settings.l1.confirmations)
        return LocalL1(tmp_path / "probe")

    class Plugin:
        @staticmethod
        @hookimpl
        def fontana_register_l1_watchers(register: Any) -> None:
            register("probe", probe, schemes=("probe",))

    register_plugin(Plugin(), "test-probe")
    settings = settings_for(tmp_path / "home")
    settings = attrs.evolve(settings, l1=attrs.evolve(settings.l1, url="probe://x"))
    assert isinstance(open_l1_watcher(settings, 7), LocalL1)
    explicit = attrs.evolve(settings, l1=attrs.evolve(settings.l1, confirmations=0))
    open_l1_watcher(explicit, 7)
    assert seen == [7, 0]  # unset: the genesis l1_confirmations; set: the setting, even below


def test_a_first_cursor_that_loses_the_insert_race_is_checked_against_the_winner(
    pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL: another first cursor, inserted but not committed, while this one is saved."""
    ledger = create_ledger(pg_url, tmp_path / "home")
    engine: sa.Engine = ledger.storage.engine  # type: ignore[attr-defined]
    winner = json.dumps({"scanned_to": 9, "source": "local:a"}, sort_keys=True)
    outcome: list[BaseException | None] = []

    def save() -> None:
        try:
            save_cursor(ledger.storage, Cursor("local:b", 3))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    with engine.connect() as other, engine.connect() as observer:
        pending = other.begin()
        other.execute(sa.insert(t.meta).values(key=CURSOR_KEY, value=winner))
        thread = threading.Thread(target=save)
        thread.start()
        waiting = sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")
        while thread.is_alive() and not observer.execute(waiting).scalar():
            time.sleep(0.01)  # until the save waits on the uncommitted row's key
        pending.commit()
        thread.join()
    assert isinstance(outcome[0], L1MismatchError)  # not a bare duplicate-key failure
    assert load_cursor(ledger.storage) == Cursor("local:a", 9)
    ledger.storage.close()
