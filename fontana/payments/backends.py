"""Where a provider's payments go: the ledger itself, or a node's HTTP API.

Both implement :class:`PaymentBackend` and behave the same (the shared suite
in ``tests/test_payments_backends.py`` checks it). :class:`LedgerBackend`
reaches the database directly and settles through its own group commit: the
settles that arrive while a commit runs are applied together by the next one
(one ``settle_many``), so many concurrent calls cost about one database
commit, as the ledger's payment path does.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from fontana.clock import now_ms
from fontana.errors import RejectedError
from fontana.ledger.holds import CachedResponse, HoldResult, SettledPayment, SettleItem

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.ledger import Ledger
    from fontana.models import Genesis, Transaction

__all__ = [
    "CachedResponse",
    "HoldResult",
    "LedgerBackend",
    "PaymentBackend",
    "SettledPayment",
    "open_backend",
]

log = logging.getLogger(__name__)

#: Settles committed in one database transaction at most; more wait for the next.
MAX_SETTLE_BATCH: Final = 256


@runtime_checkable
class PaymentBackend(Protocol):
    """The ledger operations a provider needs for the flow of docs/payments.md section 1.

    Every method is safe from many threads; errors are typed
    (``fontana.errors``): rejections change nothing, storage failures are
    ``StorageError``.
    """

    #: The deployment: chain id, genesis hash (what signatures bind), minimum fee.
    genesis: Genesis

    def hold(self, tx: Transaction, until_ms: int) -> HoldResult:
        """Check ``tx`` as the ledger would apply it and hold its inputs until ``until_ms``.

        ``state="settled"`` (with the stored receipt and response) when it was
        settled before; ``payment_in_flight`` when another call holds it.
        """

    def settle(self, tx: Transaction, receipt: bytes, response: CachedResponse | None) -> None:
        """Apply held ``tx`` and store its receipt and response, at once; idempotent."""

    def release(self, txid: bytes) -> None:
        """Drop the holds of ``txid``, if any: its view failed and nothing is paid."""

    def settled(self, txid: bytes) -> SettledPayment | None:
        """The settle record of ``txid``: a retry outside the payment's window still gets it."""

    def open_height(self) -> int:
        """The height of the block being collected: a lower bound for the next payment's."""

    def close(self) -> None:
        """Finish pending settles and release connections; calling it again is harmless."""


class _Pending:
    """One settle waiting for the group commit: its outcome, or its turn to lead."""

    __slots__ = ("done", "error", "item", "wake")

    def __init__(self, item: SettleItem) -> None:
        self.item = item
        self.wake = threading.Event()
        self.done = False
        self.error: BaseException | None = None


class LedgerBackend:
    """:class:`PaymentBackend` on a :class:`~fontana.ledger.Ledger` (SQLite file or PostgreSQL).

    Settles are group-committed, leader and followers: a settle that finds no
    commit running commits at once in its own thread (no hand-off on an idle
    provider); settles arriving meanwhile queue, and when the commit ends the
    first of them commits all that queued (up to ``MAX_SETTLE_BATCH``) with
    one ``settle_many``. ``batch_ms`` > 0 makes each leader wait that long for
    more settles first: fewer commits under load, at the price of latency.
    ``close_ledger`` closes the ledger's storage in :meth:`close` (when the
    backend opened it).
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        batch_ms: int = 0,
        close_ledger: bool = False,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.ledger = ledger
        self.genesis = ledger.genesis
        self.batch_ms = batch_ms
        self._close_ledger = close_ledger
        self._clock = clock
        self._queue: list[_Pending] = []
        self._changed = threading.Condition()
        self._leading = False  # a commit is running or about to
        self._closed = False

    def hold(self, tx: Transaction, until_ms: int) -> HoldResult:
        return self.ledger.hold(tx, until_ms)

    def release(self, txid: bytes) -> None:
        self.ledger.release(txid)

    def settled(self, txid: bytes) -> SettledPayment | None:
        return self.ledger.settled(txid)

    def open_height(self) -> int:
        return self.ledger.open_height()

    def settle(self, tx: Transaction, receipt: bytes, response: CachedResponse | None) -> None:
        pending = _Pending((tx, receipt, response))
        with self._changed:
            if self._closed:
                raise RuntimeError("the payment backend is closed")
            self._queue.append(pending)
            lead = not self._leading
            self._leading = True
            self._changed.notify_all()
        if not lead:
            pending.wake.wait()  # committed by a leader, or made the next leader
        if not pending.done:
            self._commit_batch()
        if pending.error is not None:
            raise pending.error

    def _take_batch(self) -> list[_Pending]:
        """The leader's batch: the queue's head, after the batch window if there is one."""
        with self._changed:
            if self.batch_ms:
                deadline = self._clock() + self.batch_ms
                while len(self._queue) < MAX_SETTLE_BATCH and not self._closed:
                    left = deadline - self._clock()
                    if left <= 0:
                        break
                    self._changed.wait(left / 1000)
            batch = self._queue[:MAX_SETTLE_BATCH]
            del self._queue[:MAX_SETTLE_BATCH]
            return batch

    def _commit_batch(self) -> None:
        """Commit one batch (the leader's own settle is its first), then pass the lead on."""
        batch = self._take_batch()
        try:
            results = self.ledger.settle_many([p.item for p in batch])
            for p, result in zip(batch, results, strict=True):
                if isinstance(result, RejectedError):
                    p.error = result
        except BaseException as exc:  # no settle of the batch is known to be done
            log.warning("settling %d payments failed: %s", len(batch), exc)
            for p in batch:
                p.error = _own_copy(exc)
        finally:
            with self._changed:
                if self._queue:
                    self._queue[0].wake.set()  # not done: it leads the next batch
                else:
                    self._leading = False
                self._changed.notify_all()
            for p in batch:
                p.done = True
                p.wake.set()

    def close(self) -> None:
        """Refuse new settles, wait for the queued ones, then close the storage if ours."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            while self._leading:
                self._changed.wait()
        if self._close_ledger:
            self._close_ledger = False
            self.ledger.storage.close()


def _own_copy(exc: BaseException) -> BaseException:
    """A copy of ``exc`` for each waiting thread to raise: tracebacks are per raise."""
    try:
        return copy.copy(exc)
    except Exception:
        return exc


def open_backend(settings: Settings) -> PaymentBackend:
    """The configured backend: a node's API if ``charge.node_url`` is set, else the ledger."""
    if settings.charge.node_url:
        from fontana.payments.node_backend import NodeBackend

        return NodeBackend(settings.charge.node_url)  # type: ignore[no-any-return]
    from fontana.ledger import open_ledger

    return LedgerBackend(
        open_ledger(settings), batch_ms=settings.charge.batch_ms, close_ledger=True
    )
