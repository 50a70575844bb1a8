"""Holds: a paid call's payment reserved before the view runs, then settled or released.

A hold marks each input of a payment as reserved by its txid until a time
(docs/payments.md, section 1.1; docs/ledger.md, *Holds*). While it is live,
every other transaction spending one of those inputs is refused
(``input_held``), on every apply path but replay: holds are local state,
never on DA. The hold lives on the UTXO row itself, so a plain payment reads
it with its inputs and its spend checks it in the same ``UPDATE``: no extra
round trip. Settling applies the payment, stores its receipt and the cached
response in one database transaction; the spend clears the holds.

Holds and releases commit without waiting for stable storage
(``storage.write(durable=False)``); settles wait, like every other write. A
hold promises nothing to anyone outside: a crash of the machine or database
that loses one leaves the inputs free, nothing applied and no answer sent,
as if the call had never come. Every check still runs against every commit,
durable or not, since all sessions see a commit at once.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Literal

import attrs

from fontana.errors import (
    AlreadySettledError,
    DuplicateError,
    EncodingError,
    ExpiredError,
    FontanaError,
    InputHeldError,
    InputSpentError,
    PaymentInFlightError,
    ReceiptMismatchError,
    RejectedError,
)
from fontana.ledger.payments import ApplyResult, Payments, live_hold, repeated
from fontana.models import SignedReceipt, Transaction
from fontana.storage.base import ReceiptRecord, SettlementRecord, StorageSession

#: Characters a cached ``Content-Type`` may hold: printable ASCII (an HTTP header value).
_CONTENT_TYPE_CHARS = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")
_MAX_CONTENT_TYPE = 255


def _status(_: object, __: attrs.Attribute[int], value: int) -> None:
    if type(value) is not int or not 100 <= value <= 599:
        raise EncodingError(f"cached response status {value!r} is not an HTTP status (100..599)")


def _content_type(_: object, __: attrs.Attribute[str], value: str) -> None:
    if (
        not isinstance(value, str)
        or len(value) > _MAX_CONTENT_TYPE
        or not set(value) <= _CONTENT_TYPE_CHARS
    ):
        raise EncodingError(
            f"cached content type {value!r} is not printable ASCII of at most "
            f"{_MAX_CONTENT_TYPE} characters"
        )


def _body(_: object, __: attrs.Attribute[bytes], value: bytes) -> None:
    if not isinstance(value, bytes):
        raise EncodingError("cached response body must be bytes")


@attrs.frozen
class CachedResponse:
    """The response of a settled call, answered again to a retry of the same payment."""

    status: int = attrs.field(validator=_status)
    content_type: str = attrs.field(validator=_content_type)
    body: bytes = attrs.field(validator=_body)


@attrs.frozen
class SettledPayment:
    """A settled paid call: its canonical ``SignedReceipt`` bytes and cached response."""

    txid: bytes
    receipt: bytes
    response: CachedResponse | None


@attrs.frozen
class HoldResult:
    """``held`` until ``until_ms``, or ``settled`` before (``until_ms`` 0, ``settled`` set)."""

    state: Literal["held", "settled"]
    txid: bytes
    until_ms: int
    settled: SettledPayment | None = None


#: One settle of a group commit: the payment, its receipt bytes, the response to cache.
SettleItem = tuple[Transaction, bytes, CachedResponse | None]


def check_txid(txid: bytes) -> None:
    """A txid from outside (node API, CLI) is 32 bytes, or a typed error."""
    if not isinstance(txid, bytes) or len(txid) != 32:
        raise EncodingError("a txid is 32 bytes")


def settled_payment(record: SettlementRecord) -> SettledPayment:
    response = None
    if record.status is not None:
        response = CachedResponse(record.status, record.content_type or "", record.body or b"")
    return SettledPayment(record.txid, record.receipt.body, response)


def settlement_record(
    txid: bytes, receipt: bytes, response: CachedResponse | None
) -> SettlementRecord:
    """The storage record of a settle; ``ReceiptMismatchError`` for a receipt not for ``txid``."""
    if not isinstance(receipt, bytes):
        raise ReceiptMismatchError("the receipt is not bytes")
    try:
        signed = SignedReceipt.from_bytes(receipt)
    except EncodingError as exc:
        raise ReceiptMismatchError(f"the receipt does not decode: {exc.message}") from None
    r = signed.receipt
    if r.txid != txid:
        raise ReceiptMismatchError(f"the receipt is for payment {r.txid.hex()}, not {txid.hex()}")
    record = ReceiptRecord(r.id, txid, r.payer, r.payee, r.amount, receipt, r.issued_at_ms)
    if response is None:
        return SettlementRecord(txid, record)
    return SettlementRecord(txid, record, response.status, response.content_type, response.body)


_RACES = (InputSpentError, InputHeldError, DuplicateError)


class Holds(Payments):
    def hold(self, tx: Transaction, until_ms: int) -> HoldResult:
        """Reserve the payment's inputs for its txid until ``until_ms``, after every check
        ``apply_transaction`` makes; nothing is applied.

        A payment settled before is not held again: its receipt and cached
        response come back (``state="settled"``). Refusals: the apply path's
        codes, ``expired`` also for a hold ending after the payment's expiry
        or before now, ``input_held`` (another payment holds an input),
        ``payment_in_flight`` (this one does), ``already_settled`` (applied
        without a paid call: it buys none).
        """
        if type(until_ms) is not int:
            raise EncodingError(f"a hold's end must be an integer time in ms, not {until_ms!r}")
        txid, _ = self.check_stateless(tx)
        keys = [(i.txid, i.index) for i in tx.inputs]
        with self.storage.write(durable=False) as s:  # see the module's docstring
            block_ts = self._epoch(s, exclusive=False)
            wall = self.clock()
            view = s.get_utxos(keys)
            # Applying a payment spends its inputs: only with one spent or missing can it
            # have been applied, so the usual hold (all unspent) skips reading its entry.
            unspent = len(view) == len(set(keys)) and all(
                r.spent_seq is None for r in view.values()
            )
            if not unspent and s.get_entries([txid]):
                return HoldResult("settled", txid, 0, self._settled_or_refuse(s, txid))
            if any(r.held_by == txid and live_hold(r, wall) for r in view.values()):
                raise PaymentInFlightError(f"payment {txid.hex()} is held already (in flight)")
            deadline = max(block_ts, wall)
            if tx.expiry_ms < deadline:
                raise ExpiredError(f"transaction expired at {tx.expiry_ms} ({deadline})")
            if until_ms > tx.expiry_ms:
                raise ExpiredError(
                    f"a hold until {until_ms} would outlive the payment's expiry {tx.expiry_ms}"
                )
            if until_ms <= wall:
                raise ExpiredError(f"a hold until {until_ms} ends before now ({wall})")
            self._check_inputs(tx, txid, keys, view, set(), wall)
            s.hold_utxos(keys, txid, until_ms, wall)
        return HoldResult("held", txid, until_ms)

    def _settled_or_refuse(self, s: StorageSession, txid: bytes) -> SettledPayment:
        record = s.get_settlements([txid]).get(txid)
        if record is None:
            raise AlreadySettledError(
                f"payment {txid.hex()} was applied without a paid call (submitted directly): "
                "it has no receipt and pays for no call; make a new payment"
            )
        return settled_payment(record)

    def release(self, txid: bytes) -> bool:
        """Drop the payment's holds (its call failed); ``False`` if it held nothing live."""
        check_txid(txid)
        with self.storage.write(durable=False) as s:
            return s.release_holds(txid, self.clock())

    def settled(self, txid: bytes) -> SettledPayment | None:
        """The receipt and cached response of a settled payment."""
        check_txid(txid)
        with self.storage.read() as s:
            record = s.get_settlements([txid]).get(txid)
        return None if record is None else settled_payment(record)

    def settle(
        self, tx: Transaction, receipt: bytes, response: CachedResponse | None
    ) -> ApplyResult:
        """Apply the payment, store its receipt and response, drop its holds: all or nothing.

        Inputs held by this payment are spendable by it; held by another,
        ``input_held``. Settling a settled payment changes nothing and returns
        its result (``already_applied``); its first receipt stays.
        """
        result = self.settle_many([(tx, receipt, response)])[0]
        if isinstance(result, RejectedError):
            raise result
        return result

    def settle_many(self, items: Sequence[SettleItem]) -> list[ApplyResult | RejectedError]:
        """Settle many payments in one database transaction (group commit), each on its own.

        Per item, its result or its typed rejection, as ``apply_transactions``
        gives them; a rejected settle changes nothing. A second copy of a
        payment in the batch is ``duplicate_in_batch``.
        """
        results: list[ApplyResult | RejectedError | None] = [None] * len(items)
        batch: list[tuple[tuple[Transaction, tuple[bytes, bytes]], SettlementRecord]] = []
        where: list[int] = []
        seen: dict[bytes, int] = {}
        for n, (tx, receipt, response) in enumerate(items):
            try:
                ids = self.check_stateless(tx)
                record = settlement_record(ids[0], receipt, response)
            except RejectedError as exc:
                results[n] = exc
                continue
            first = seen.setdefault(ids[0], n)
            if first != n:
                results[n] = repeated(ids[0], first)
                continue
            batch.append(((tx, ids), record))
            where.append(n)
        if batch:
            try:
                settled = self._settle_batch(batch)
            except _RACES:
                # Another process won a race after our read; settle each payment alone.
                settled = [self._settle_alone(item) for item in batch]
            for n, result in zip(where, settled, strict=True):
                results[n] = result
        return results  # type: ignore[return-value]  # every None was filled in

    def _settle_batch(
        self, batch: Sequence[tuple[tuple[Transaction, tuple[bytes, bytes]], SettlementRecord]]
    ) -> list[ApplyResult | RejectedError]:
        with self.storage.write() as s:
            block_ts = self._epoch(s, exclusive=False)
            wall = self.clock()
            applied = self._apply_many(s, [item for item, _ in batch], max(block_ts, wall), wall)
            again = [r.txid for r in applied if isinstance(r, ApplyResult) and r.already_applied]
            settled_before = s.get_settlements(again) if again else {}
            s.insert_settlements(
                [
                    record
                    for (_, record), result in zip(batch, applied, strict=True)
                    if isinstance(result, ApplyResult) and result.txid not in settled_before
                ]
            )
        return applied

    def _settle_alone(
        self, item: tuple[tuple[Transaction, tuple[bytes, bytes]], SettlementRecord]
    ) -> ApplyResult | RejectedError:
        """One settle, tried once more if it lost a race: the second try sees the winner."""
        lost: FontanaError | None = None
        for _ in range(2):
            try:
                return self._settle_batch([item])[0]
            except _RACES as exc:
                lost = exc
        (tx, (txid, _)), _record = item
        with self.storage.read() as s:
            record = s.get_entries([txid]).get(txid)
            if record is not None and s.get_settlements([txid]):
                return ApplyResult(txid, record.seq or 0, tx.fee, already_applied=True)
        if isinstance(lost, RejectedError):
            return lost
        raise lost  # type: ignore[misc]  # a storage error twice in a row: not a verdict

    def open_height(self) -> int:
        """The height of the block being collected: the one a payment applied now expects."""
        return self.latest_block().height + 1
