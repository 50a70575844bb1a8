"""Payment backends that break one rule of :class:`~fontana.payments.backends.PaymentBackend`.

Every class is ``LedgerBackend`` with one method changed, constructed on a
ledger. :data:`BROKEN_BACKENDS` lists them.
"""

from __future__ import annotations

from fontana.errors import (
    FontanaError,
    InputHeldError,
    InputSpentError,
    PaymentInFlightError,
    StorageError,
)
from fontana.ledger import CachedResponse, HoldResult, Ledger, SettledPayment
from fontana.models import Transaction
from fontana.payments.backends import LedgerBackend

__all__ = ["BROKEN_BACKENDS"]


class HoldIgnoresHeldInputs(LedgerBackend):
    """A hold that finds an input held by another payment says ``held`` anyway: two
    payments of one input both run their views."""

    def hold(self, tx: Transaction, until_ms: int) -> HoldResult:
        try:
            return super().hold(tx, until_ms)
        except InputHeldError:
            return HoldResult("held", tx.txid, until_ms)


class HoldIgnoresInFlight(LedgerBackend):
    """A second hold of a payment in flight says ``held`` again: copies of one payment all
    run the view."""

    def hold(self, tx: Transaction, until_ms: int) -> HoldResult:
        try:
            return super().hold(tx, until_ms)
        except PaymentInFlightError:
            return HoldResult("held", tx.txid, until_ms)


class SettleIsNotIdempotent(LedgerBackend):
    """Settling a settled payment applies it again, which the ledger refuses: a retried
    settle fails instead of changing nothing."""

    def settle(self, tx: Transaction, receipt: bytes, response: CachedResponse | None) -> None:
        if self.settled(tx.txid) is not None:
            raise InputSpentError(f"the inputs of {tx.txid.hex()} are spent")
        super().settle(tx, receipt, response)


class ReleasesEveryHold(LedgerBackend):
    """Releasing one payment releases every payment this backend holds: the inputs of calls
    still running are free to spend again."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self._held: set[bytes] = set()

    def hold(self, tx: Transaction, until_ms: int) -> HoldResult:
        held = super().hold(tx, until_ms)
        self._held.add(tx.txid)
        return held

    def release(self, txid: bytes) -> None:
        for held in [txid, *self._held]:
            super().release(held)
        self._held.clear()


class SettledForgetsTheResponse(LedgerBackend):
    """``settled`` returns the receipt but not the response: a retry after the payment's
    window cannot be answered as the first call was."""

    def settled(self, txid: bytes) -> SettledPayment | None:
        found = super().settled(txid)
        return None if found is None else SettledPayment(found.txid, found.receipt, None)


class OpenHeightOfTheLastBlock(LedgerBackend):
    """``open_height`` is the last sealed block's, one too low: receipts promise a block
    that is already sealed."""

    def open_height(self) -> int:
        return super().open_height() - 1


class RejectionsLoseTheirCode(LedgerBackend):
    """Every refusal of a hold comes back as one storage error: the charger cannot tell a
    spent input from a broken database, and answers 503 to a double spend."""

    def hold(self, tx: Transaction, until_ms: int) -> HoldResult:
        try:
            return super().hold(tx, until_ms)
        except FontanaError as exc:
            raise StorageError(f"the hold failed: {exc.message}") from exc


class CloseTwiceFails(LedgerBackend):
    """A second ``close`` raises: a provider shutting down twice (a signal during its
    ``atexit``) ends with a traceback."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self._was_closed = False

    def close(self) -> None:
        if self._was_closed:
            raise RuntimeError("the payment backend is closed already")
        self._was_closed = True
        super().close()


BROKEN_BACKENDS: dict[str, type[LedgerBackend]] = {
    cls.__name__: cls
    for cls in (
        HoldIgnoresHeldInputs,
        HoldIgnoresInFlight,
        SettleIsNotIdempotent,
        ReleasesEveryHold,
        SettledForgetsTheResponse,
        OpenHeightOfTheLastBlock,
        RejectionsLoseTheirCode,
        CloseTwiceFails,
    )
}
