"""The L1 watcher daemon: final vault events into the ledger, each exactly once.

Each round (docs/bridge.md, section 3) reads the L1's finalized height, scans
at most ``l1.max_range`` final blocks after the cursor, hands every event to
:mod:`fontana.bridge` in log order, then stores the cursor in the ledger's
database. A crash between the handlers and the cursor repeats the round, which
the idempotent handlers make harmless. The cursor is bound to the watcher's
``source`` (the L1 and vault it reads): a ledger never follows another L1.

An event the ledger refuses (``deposit_conflict`` above all) stops the watcher
with that error, the cursor left before it: the L1 and the ledger disagree,
and an operator decides. A node that cannot be reached is retried with backoff.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from fontana.bridge import (
    DepositHandled,
    WithdrawalHandled,
    handle_deposit_received,
    handle_withdrawal_confirmed,
)
from fontana.errors import DuplicateError, L1Error, L1MismatchError, RejectedError
from fontana.interfaces import L1Events, L1Watcher, SkippedLog
from fontana.models import Deposit, WithdrawalConfirmation

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.ledger import Ledger
    from fontana.storage.base import Storage

log = logging.getLogger(__name__)

#: The meta row holding the cursor: ``{"source": ..., "scanned_to": N}``.
CURSOR_KEY = "l1_watcher"
#: Consecutive failures to reach the L1 before a critical alert.
ALERT_AFTER = 5
#: The longest wait between retries of an unreachable L1.
MAX_BACKOFF_MS = 30_000

Event = DepositHandled | WithdrawalHandled | SkippedLog


def open_l1_watcher(settings: Settings, genesis_confirmations: int) -> L1Watcher:
    """The watcher plugin ``l1.url`` names, handed ``l1.confirmations`` resolved.

    An unset ``l1.confirmations`` takes the genesis ``l1_confirmations``.
    """
    from fontana.plugins import get_host

    confirmations = settings.l1.confirmations
    if confirmations is None:
        confirmations = genesis_confirmations
    elif confirmations < genesis_confirmations:
        log.warning(
            "l1.confirmations = %d is below the genesis l1_confirmations (%d)",
            confirmations,
            genesis_confirmations,
        )
    resolved = attrs.evolve(settings, l1=attrs.evolve(settings.l1, confirmations=confirmations))
    spec = get_host().backends("l1").resolve(settings.l1.url)
    return spec.factory(settings.l1.url, resolved)  # type: ignore[no-any-return]


@attrs.frozen
class Cursor:
    """The last L1 block whose events are all handled, and the L1 it belongs to."""

    source: str
    scanned_to: int


def load_cursor(storage: Storage) -> Cursor | None:
    """The stored cursor, or ``None`` before the first round."""
    with storage.read() as s:
        raw = s.get_meta(CURSOR_KEY)
    return None if raw is None else _parse_cursor(raw)


def _parse_cursor(raw: str) -> Cursor:
    data = json.loads(raw)
    return Cursor(str(data["source"]), int(data["scanned_to"]))


def save_cursor(storage: Storage, cursor: Cursor) -> None:
    """Move the stored cursor forward to ``cursor``; it never goes back.

    Read and written under the row's lock, so two watchers on one database
    (a mistake, but not a harmful one) cannot move it back. Of two first
    cursors written at once, the second is checked against the first.
    """
    value = json.dumps(attrs.asdict(cursor), sort_keys=True)
    for attempt in range(2):
        try:
            with storage.write() as s:
                raw = s.lock_meta(CURSOR_KEY, exclusive=True)
                if raw is None:
                    s.insert_meta(CURSOR_KEY, value)
                    return
                stored = _parse_cursor(raw)
                _same_source(stored.source, cursor.source)
                if stored.scanned_to < cursor.scanned_to:
                    s.set_meta(CURSOR_KEY, value)
                return
        except DuplicateError:
            if attempt:
                raise


def _same_source(stored: str, configured: str) -> None:
    if stored != configured:
        raise L1MismatchError(
            f"this ledger's watcher follows {stored}, but l1.url and l1.vault name "
            f"{configured}; a chain has one vault on one L1, so nothing was read. "
            "Point l1.url and l1.vault back at it, or start a new chain for the other vault"
        )


@attrs.frozen
class Round:
    """One scanned range and what its events did."""

    from_block: int
    to_block: int
    deposits: tuple[DepositHandled, ...]
    withdrawals: tuple[WithdrawalHandled, ...]
    skipped: tuple[SkippedLog, ...]


class Watcher:
    """Runs rounds over one ledger and one L1 watcher plugin."""

    def __init__(
        self,
        ledger: Ledger,
        l1: L1Watcher,
        *,
        start_block: int = 0,
        max_range: int = 1_000,
        poll_ms: int = 1_000,
        on_event: Callable[[Event], None] | None = None,
        on_round: Callable[[Round], None] | None = None,
        on_start: Callable[[str, int], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.l1 = l1
        self.start_block = start_block
        self.max_range = max_range
        self.poll_ms = poll_ms
        self.on_event = on_event or (lambda _: None)
        self.on_round = on_round or (lambda _: None)
        #: Called once, with the source and the cursor, when the L1 first answers.
        self.on_start = on_start
        self.failures = 0

    def cursor(self) -> int:
        """The last handled L1 block: the stored cursor, else ``start_block - 1``."""
        stored = load_cursor(self.ledger.storage)
        if stored is None:
            return self.start_block - 1
        _same_source(stored.source, self.l1.source)
        return stored.scanned_to

    def step(self) -> Round | None:
        """One round; ``None`` when no final block is left to scan."""
        cursor = self.cursor()
        if self.on_start is not None:
            self.on_start(self.l1.source, cursor)
            self.on_start = None  # only once it is told: a node down now is retried
        finalized = self.l1.finalized_height()
        if finalized <= cursor:
            return None
        first, last = cursor + 1, min(finalized, cursor + self.max_range)
        events = self.l1.scan(first, last)
        ordered = _in_log_order(events, first, last)
        deposits: list[DepositHandled] = []
        withdrawals: list[WithdrawalHandled] = []
        for skipped in events.skipped:
            log.warning(
                "skipped vault log %s:%d in L1 block %d: %s",
                skipped.l1_tx_hash.hex(),
                skipped.log_index,
                skipped.l1_block,
                skipped.reason,
            )
            self.on_event(skipped)
        for event in ordered:
            handled = self._handle(event, cursor)
            if isinstance(handled, DepositHandled):
                deposits.append(handled)
            else:
                withdrawals.append(handled)
            self.on_event(handled)
        save_cursor(self.ledger.storage, Cursor(self.l1.source, last))
        done = Round(first, last, tuple(deposits), tuple(withdrawals), tuple(events.skipped))
        self.on_round(done)
        return done

    def _handle(
        self, event: Deposit | WithdrawalConfirmation, cursor: int
    ) -> DepositHandled | WithdrawalHandled:
        try:
            if isinstance(event, Deposit):
                return handle_deposit_received(self.ledger, event)
            return handle_withdrawal_confirmed(self.ledger, event)
        except RejectedError as exc:
            what = "deposit" if isinstance(event, Deposit) else "release"
            log.critical("ALERT: the ledger refused an L1 %s: %s", what, exc.message)
            raise type(exc)(
                f"{exc.message}. The watcher stopped at the {what} "
                f"{event.l1_tx_hash.hex()}:{event.log_index} in L1 block {event.l1_block}; "
                f"its cursor stays at L1 block {cursor}",
                code=exc.code,
            ) from None

    def catch_up(self, stop: threading.Event) -> int:
        """Rounds until every final block is handled (or ``stop``); how many ran."""
        rounds = 0
        while not stop.is_set() and self.step() is not None:
            rounds += 1
        return rounds

    def run(self, stop: threading.Event) -> None:
        """Catch up, then poll every ``poll_ms``, retrying an unreachable L1 with backoff."""
        while not stop.is_set():
            try:
                self.catch_up(stop)
            except L1Error as exc:
                if not exc.retryable:
                    raise
                stop.wait(self._failed(exc) / 1000)
                continue
            if self.failures:
                log.warning("the L1 answers again after %d failures", self.failures)
                self.failures = 0
            stop.wait(self.poll_ms / 1000)

    def _failed(self, exc: L1Error) -> int:
        """Count a failure, alert when there are many; the wait before the next try, in ms."""
        self.failures += 1
        if self.failures >= ALERT_AFTER:
            log.critical(
                "ALERT: the L1 failed %d times in a row (%s); still retrying",
                self.failures,
                exc.message,
            )
        else:
            log.warning("the L1 failed (%s); retrying", exc.message)
        return min(self.poll_ms * 2 ** min(self.failures, 16), max(MAX_BACKOFF_MS, self.poll_ms))


def _in_log_order(
    events: L1Events, first: int, last: int
) -> list[Deposit | WithdrawalConfirmation]:
    """Deposits and releases merged by (block, log index), each checked to be in range."""
    if events.scanned_to != last:
        raise L1Error(f"the L1 watcher scanned to block {events.scanned_to}, asked for {last}")
    merged: list[Any] = [*events.deposits, *events.withdrawals]
    for event in merged:
        if not isinstance(event, Deposit | WithdrawalConfirmation):
            raise L1Error(f"the L1 watcher reported {type(event).__name__}, not an event")
        if not first <= event.l1_block <= last:
            raise L1Error(
                f"the L1 watcher reported an event of block {event.l1_block} "
                f"for blocks {first}..{last}"
            )
    keys = [(e.l1_block, e.log_index) for e in merged]
    if len(set(keys)) != len(keys):
        raise L1Error("the L1 watcher reported two events at one (block, log index)")
    return sorted(merged, key=lambda e: (e.l1_block, e.log_index))
