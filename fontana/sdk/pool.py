"""A paying wallet's UTXOs, shared by concurrent calls without ever spending one twice.

Rules (docs/sdk.md has the reasoning):

* Each UTXO is in exactly one place: free, leased to one call in flight, or
  set aside (the outcome of the call that used it is unknown) until a moment
  after which the ledger is asked again. A call leases its inputs under the
  pool's lock, so two calls never pick the same UTXO.
* Smallest sufficient first: the free UTXO with the smallest amount that
  covers price and fee. If none covers it alone, several are spent together
  (largest first), which also consolidates them into one change output.
* Just-in-time splitting: when more calls wait than free UTXOs fit, a large
  free UTXO is split by one transfer to the wallet itself into as many equal
  outputs as there are waiting calls (at most 64), each large enough for the
  price; the caller takes one, the others go to the waiting calls at once.
* A settled payment's inputs are gone and its change output is free at once;
  a payment the provider refused or did not charge gives its inputs back.
* The cache is refreshed from the source when first used, when the free
  UTXOs cannot pay and no call is in flight, and when the provider says an
  input is spent or unknown. What calls did while a refresh was reading is
  applied on top of what it read, so a refresh never brings back an input
  just spent nor loses a change output just made.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

import attrs
from nacl.signing import SigningKey

from fontana.clock import now_ms
from fontana.errors import InsufficientFundsError, RejectedError
from fontana.models import MAX_INPUTS, MAX_OUTPUTS, UTXO, Transaction
from fontana.sdk.errors import WalletBusyError
from fontana.sdk.sources import WalletSource
from fontana.sdk.transactions import build_split

Key = tuple[bytes, int]

#: How long a split transfer stays valid; it is applied at once or not at all.
SPLIT_EXPIRY_MS: Final = 60_000
#: Rejections that mean the cache is wrong about an input.
STALE_CODES: Final = frozenset({"input_spent", "unknown_input"})


def _key(utxo: UTXO) -> Key:
    return (utxo.txid, utxo.index)


@attrs.define(eq=False)
class Lease:
    """The inputs one call holds; exactly one of settle/release/set_aside/discard ends it."""

    pool: UtxoPool
    utxos: tuple[UTXO, ...]
    done: bool = False

    @property
    def total(self) -> int:
        return sum(u.amount for u in self.utxos)

    def settle(self, tx: Transaction) -> None:
        """``tx`` was applied: its inputs are spent, its outputs to the wallet are free now."""
        self.pool._finish(self, spent_by=tx)

    def release(self) -> None:
        """Nothing was charged: the inputs are free again."""
        self.pool._finish(self)

    def set_aside(self, until_ms: int) -> None:
        """The outcome is unknown: keep the inputs out of use until ``until_ms``, then ask again."""
        self.pool._finish(self, aside_until=until_ms)

    def discard(self) -> None:
        """The ledger says an input is spent or unknown: forget them; a refresh decides."""
        self.pool._finish(self, forget=True)


class UtxoPool:
    """The UTXOs of the wallet of ``signing_key`` on ``source``; safe across threads."""

    def __init__(
        self,
        signing_key: SigningKey,
        source: WalletSource,
        *,
        clock: Callable[[], int] = now_ms,
        wait_s: float = 60.0,
        spare: int = 0,
    ) -> None:
        self.signing_key = signing_key
        self.owner = bytes(signing_key.verify_key)
        self.source = source
        self.clock = clock
        #: How long a call waits for UTXOs held by other calls before ``wallet_busy``.
        self.wait_s = wait_s
        #: Free UTXOs to keep beyond the calls waiting, splitting when there are fewer:
        #: callers that cannot wait (an event loop) need them ready.
        self.spare = spare
        self._cond = threading.Condition()
        self._free: dict[Key, UTXO] = {}
        self._leased: dict[Key, UTXO] = {}
        self._aside: dict[Key, tuple[UTXO, int]] = {}
        self._loaded = False
        self._refreshing = False
        self._waiting = 0
        # What calls did while a refresh was reading (recorded only then).
        self._spent_meanwhile: set[Key] = set()
        self._created_meanwhile: dict[Key, UTXO] = {}

    # --- reading the pool ---------------------------------------------------------

    def free(self) -> list[UTXO]:
        with self._cond:
            return list(self._free.values())

    def counts(self) -> tuple[int, int, int]:
        """``(free, leased, set aside)`` UTXO counts."""
        with self._cond:
            return len(self._free), len(self._leased), len(self._aside)

    # --- leasing ------------------------------------------------------------------

    def acquire(self, needed: int, *, wait: bool = True) -> Lease:
        """Inputs covering ``needed`` utia (price plus fee), leased to the caller alone.

        Without ``wait``, a call that finds every UTXO in use by other calls
        fails at once (``wallet_busy``) instead of waiting for one.
        """
        deadline = time.monotonic() + (self.wait_s if wait else 0.0)
        refreshed = False
        with self._cond:
            if not self._loaded:
                self._refresh_locked()
                refreshed = True
            while True:
                lease = self._take(needed)
                if lease is not None:
                    return lease
                free = sum(u.amount for u in self._free.values())
                in_flight = sum(u.amount for u in self._leased.values())
                can_wait = bool(self._leased) or self._refreshing
                if not can_wait or free + in_flight < needed:
                    if refreshed:
                        raise self._insufficient(needed)
                    self._refresh_locked()
                    refreshed = True
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WalletBusyError(
                        f"no UTXO came free within {self.wait_s if wait else 0:g} s "
                        f"({len(self._leased)} in use by other calls)"
                    )
                self._waiting += 1
                try:
                    self._cond.wait(left)
                finally:
                    self._waiting -= 1

    def _insufficient(self, needed: int) -> InsufficientFundsError:
        free = sum(u.amount for u in self._free.values())
        aside = sum(u.amount for u, _ in self._aside.values())
        note = f", {aside} more set aside after calls of unknown outcome" if aside else ""
        return InsufficientFundsError(
            f"the wallet holds {free} utia free{note}; the call needs {needed}"
        )

    def _lease(self, utxos: list[UTXO]) -> Lease:
        for u in utxos:
            del self._free[_key(u)]
            self._leased[_key(u)] = u
        return Lease(self, tuple(utxos))

    def _take(self, needed: int) -> Lease | None:
        """A lease for ``needed`` from the free UTXOs, splitting one if calls are waiting."""
        fitting = sorted((u for u in self._free.values() if u.amount >= needed), key=_amount)
        demand = 1 + self._waiting + self.spare
        if len(fitting) < demand:
            fee = self.source.min_fee
            largest = max(self._free.values(), key=_amount, default=None)
            if largest is not None:
                pieces = min(
                    MAX_OUTPUTS, demand - len(fitting) + 1, (largest.amount - fee) // needed
                )
                if pieces >= 2:
                    return self._split(largest, pieces)
        if fitting:
            return self._lease([fitting[0]])
        chosen, total = [], 0
        for u in sorted(self._free.values(), key=_amount, reverse=True)[:MAX_INPUTS]:
            chosen.append(u)
            total += u.amount
            if total >= needed:
                return self._lease(chosen)
        return None

    def _split(self, utxo: UTXO, pieces: int) -> Lease | None:
        """Split ``utxo`` into ``pieces`` outputs; lease the first, free the others.

        The lock is released while the transfer is submitted; ``None`` when the
        ledger refused it because the cache was wrong (the caller looks again).
        """
        lease = self._lease([utxo])
        tx = build_split(
            utxo,
            pieces,
            self.source.min_fee,
            self.clock() + SPLIT_EXPIRY_MS,
            self.source.chain_id,
            self.signing_key,
            self.source.genesis_hash,
        )
        self._cond.release()
        try:
            self.source.submit(tx)
        except RejectedError as exc:
            self._cond.acquire()
            if exc.code in STALE_CODES:
                self._finish_locked(lease, forget=True)
                return None
            if exc.code == "input_held":  # another process of this wallet is paying with it
                self._finish_locked(lease, aside_until=self.clock() + SPLIT_EXPIRY_MS)
                return None
            self._finish_locked(lease)
            raise
        except BaseException:
            self._cond.acquire()
            self._finish_locked(lease, aside_until=self.clock() + SPLIT_EXPIRY_MS)
            raise
        self._cond.acquire()
        self._finish_locked(lease, spent_by=tx)
        first = (tx.txid, 0)
        return self._lease([self._free[first]])

    # --- ending a lease -------------------------------------------------------------

    def _finish(
        self,
        lease: Lease,
        *,
        spent_by: Transaction | None = None,
        aside_until: int | None = None,
        forget: bool = False,
    ) -> None:
        with self._cond:
            self._finish_locked(lease, spent_by=spent_by, aside_until=aside_until, forget=forget)

    def _finish_locked(
        self,
        lease: Lease,
        *,
        spent_by: Transaction | None = None,
        aside_until: int | None = None,
        forget: bool = False,
    ) -> None:
        if lease.done:
            return
        lease.done = True
        for u in lease.utxos:
            key = _key(u)
            self._leased.pop(key, None)
            if spent_by is not None:
                if self._refreshing:
                    self._spent_meanwhile.add(key)
            elif aside_until is not None:
                self._aside[key] = (u, aside_until)
            elif not forget:
                self._free[key] = u
        if spent_by is not None:
            txid = spent_by.txid
            for index, out in enumerate(spent_by.outputs):
                if out.owner == self.owner:
                    utxo = UTXO(self.owner, out.amount, txid, index)
                    self._free[(txid, index)] = utxo
                    if self._refreshing:
                        self._created_meanwhile[(txid, index)] = utxo
        self._cond.notify_all()

    # --- refreshing -------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the wallet's UTXOs from the source again (calls in flight keep theirs)."""
        with self._cond:
            self._refresh_locked()

    def _refresh_locked(self) -> None:
        if self._refreshing:  # another call is reading: its result serves this one too
            while self._refreshing:
                self._cond.wait()
            return
        self._refreshing = True
        self._spent_meanwhile.clear()
        self._created_meanwhile.clear()
        self._cond.release()
        try:
            utxos = self.source.utxos(self.owner)
        finally:
            self._cond.acquire()
            self._refreshing = False
            self._cond.notify_all()
        now = self.clock()
        snapshot = {_key(u): u for u in utxos if u.owner == self.owner}
        for key in self._spent_meanwhile:
            snapshot.pop(key, None)
        snapshot.update(self._created_meanwhile)
        self._aside = {k: v for k, v in self._aside.items() if v[1] > now}
        self._free = {
            k: u for k, u in snapshot.items() if k not in self._leased and k not in self._aside
        }
        self._loaded = True


def _amount(utxo: UTXO) -> int:
    return utxo.amount
