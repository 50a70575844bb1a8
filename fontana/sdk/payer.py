"""Paying for one call, whatever the HTTP library: choose the offer, pay, conclude.

:class:`Payer` is the part of the clients that knows no HTTP library: it
picks the ``accepts`` entry this wallet can pay, counts it against the budget,
leases inputs from the pool, builds the payment bound to the call, and
reads the provider's answer: verified receipt, nothing charged, refusal, or
an outcome it cannot know (docs/sdk.md, "What happens to the money").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Final
from urllib.parse import unquote

import attrs
from nacl.signing import SigningKey

from fontana.address import decode_address, encode_address
from fontana.clock import now_ms
from fontana.errors import EncodingError, ReceiptError
from fontana.models import SignedReceipt, Transaction
from fontana.models.payment import PaymentBinding, request_hash, verify_receipt
from fontana.payments.x402 import (
    ASSET,
    PAYMENT_REQUIRED,
    PAYMENT_RESPONSE,
    PaymentPayload,
    PaymentRequirement,
    PaymentResponse,
    decode_payment_required,
    decode_payment_response,
    encode_header,
    network_for,
)
from fontana.sdk.budget import Budget, Reservation, Spending
from fontana.sdk.errors import (
    BudgetExceededError,
    ChallengeError,
    PaymentRejectedError,
    SettlementError,
)
from fontana.sdk.pool import STALE_CODES, Lease, UtxoPool
from fontana.sdk.sources import WalletSource
from fontana.sdk.transactions import build_payment

#: The longest a payment may stay valid, whatever the provider allows: the
#: provider holds the inputs until the expiry, so a provider that never
#: answers must not lock them for long.
MAX_TIMEOUT_S: Final = 300
#: Statuses of refusals; a 5xx is the provider's trouble, and its outcome is unknown.
REFUSAL_STATUSES: Final = frozenset({400, 402, 409, 413})
#: Refusals of the payment itself, not of its inputs: it is held or settled already.
UNSETTLED_CODES: Final = frozenset({"payment_in_flight", "already_settled"})
#: The longest ``Retry-After`` honoured for a payment in flight.
MAX_IN_FLIGHT_WAIT_S: Final = 5.0
_CODE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
#: ``Retry-After`` in whole seconds (str.isdigit() also takes "²", which float() refuses).
_SECONDS_RE: Final = re.compile(r"[0-9]{1,9}", re.ASCII)

Header = Callable[[str], "str | None"]


@attrs.frozen
class Payment:
    """One payment sent for one call, until its outcome is known."""

    requirement: PaymentRequirement
    tx: Transaction
    lease: Lease
    reservation: Reservation
    #: The ``PAYMENT-SIGNATURE`` header value.
    header: str

    @property
    def cost(self) -> int:
        """What the payment takes from the wallet: the price and the fee."""
        return self.reservation.amount


@attrs.frozen
class Outcome:
    """A concluded payment: the verified receipt if it was charged, or a request to pay again."""

    receipt: SignedReceipt | None
    settlement: PaymentResponse | None = None
    #: The provider found an input spent, unknown or held: the pool is refreshed, pay once more.
    retry: bool = False


class Payer:
    """Pays for calls from one wallet: its budget, its UTXO pool, its deployment."""

    def __init__(
        self,
        signing_key: SigningKey,
        source: WalletSource,
        *,
        budget: Budget | None = None,
        home: Path | None = None,
        clock: Callable[[], int] = now_ms,
        max_timeout_s: int = MAX_TIMEOUT_S,
        pool: UtxoPool | None = None,
        spare: int = 0,
    ) -> None:
        self.signing_key = signing_key
        self.owner = bytes(signing_key.verify_key)
        self.address = encode_address(self.owner)
        self.source = source
        self.clock = clock
        self.max_timeout_s = max_timeout_s
        self.spending = Spending(budget or Budget(), self.owner, home, clock)
        self.pool = pool or UtxoPool(signing_key, source, clock=clock, spare=spare)

    # --- before paying --------------------------------------------------------------

    def challenge(self, header: Header) -> list[PaymentRequirement]:
        """The Fontana ``accepts`` entries of a 402 answer (its ``PAYMENT-REQUIRED`` header)."""
        text = header(PAYMENT_REQUIRED)
        if text is None:
            raise ChallengeError(f"a 402 answer without a {PAYMENT_REQUIRED} header")
        try:
            return list(decode_payment_required(text).accepts)
        except EncodingError as exc:
            raise ChallengeError(exc.message) from None

    def choose(
        self,
        accepts: list[PaymentRequirement],
        method: str,
        resource: str,
        max_price: int | None = None,
    ) -> PaymentRequirement:
        """The entry this wallet pays for the call ``method resource``, or why there is none.

        It must be for this wallet's deployment (network and genesis hash, as
        the wallet's ledger or node knows them) in utia, and name the request
        sent (its target compared after percent-decoding, since servers
        re-encode it in their own normal form): a provider cannot have a
        payment bound to another call.
        """
        network = network_for(self.source.chain_id)
        reasons = []
        for req in accepts:
            if req.network != network:
                reasons.append(f"network {req.network!r} is not this wallet's {network!r}")
            elif req.genesis_hash != self.source.genesis_hash:
                reasons.append(
                    f"genesis {req.genesis_hash.hex()} is not this wallet's deployment "
                    f"{self.source.genesis_hash.hex()}"
                )
            elif req.asset != ASSET:
                reasons.append(f"asset {req.asset!r} is not {ASSET!r}")
            elif req.method != method or unquote(req.resource) != unquote(resource):
                reasons.append(
                    f"it is for {req.method} {req.resource!r:.200}, not {method} {resource!r:.200}"
                )
            else:
                self.binding(req)
                cost = req.amount + self.fee(req)
                if max_price is not None and cost > max_price:
                    raise BudgetExceededError(
                        f"the call costs {req.amount} utia + fee {self.fee(req)}, "
                        f"over the maximum {max_price}"
                    )
                return req
        raise ChallengeError(
            "no payment this wallet can make: " + ("; ".join(reasons) or "no fontana offer")
        )

    @staticmethod
    def binding(req: PaymentRequirement) -> PaymentBinding:
        """What the payment for ``req`` is bound to; ``bad_challenge`` if it cannot be."""
        try:
            return PaymentBinding(decode_address(req.pay_to), req.amount, req.method, req.resource)
        except EncodingError as exc:
            raise ChallengeError(f"the offer cannot be bound: {exc.message}") from None

    def fee(self, req: PaymentRequirement) -> int:
        """The provider's ``minFee``, but never below the chain's (the ledger would refuse it)."""
        return max(req.min_fee, self.source.min_fee)

    # --- paying ---------------------------------------------------------------------

    def pay(self, req: PaymentRequirement, *, wait: bool = True) -> Payment:
        """A signed payment for ``req``, counted against the budget, its inputs leased.

        ``wait``: whether to wait for a UTXO that other calls are using.
        """
        fee = self.fee(req)
        reservation = self.spending.reserve(req.amount + fee)
        try:
            lease = self.pool.acquire(req.amount + fee, wait=wait)
        except BaseException:
            self.spending.refund(reservation)
            raise
        try:
            binding = self.binding(req)
            timeout_ms = 1000 * min(req.max_timeout_s, self.max_timeout_s)
            tx = build_payment(
                binding,
                lease.utxos,
                fee,
                self.clock() + timeout_ms,
                self.source.chain_id,
                self.signing_key,
                self.source.genesis_hash,
            )
        except BaseException:
            lease.release()
            self.spending.refund(reservation)
            raise
        header = encode_header(PaymentPayload(req, tx))
        return Payment(req, tx, lease, reservation, header)

    def unknown(self, payment: Payment) -> None:
        """No answer came: the provider may hold or have settled it; wait for its expiry."""
        payment.lease.set_aside(payment.tx.expiry_ms)

    # --- concluding ------------------------------------------------------------------

    def conclude(
        self, payment: Payment, status: int, header: Header, body: bytes, *, may_retry: bool
    ) -> Outcome:
        """What the provider's answer to ``payment`` means, and the wallet updated to match.

        ``body`` is the request body that was sent (the receipt names its hash).
        """
        text = header(PAYMENT_RESPONSE)
        if text is not None:
            try:
                settlement = decode_payment_response(text)
            except EncodingError as exc:
                self.unknown(payment)
                raise SettlementError(f"the provider's answer does not prove it: {exc}") from None
            return self.settled(payment, settlement, body)
        refusal = self._refusal(status, header)
        if refusal is not None:
            return self.refused(payment, *refusal, may_retry=may_retry)
        return self.unanswered(payment, status)

    def unanswered(self, payment: Payment, status: int) -> Outcome:
        """An answer without ``PAYMENT-RESPONSE`` (a view that raised, a proxy's error page):
        the ledger says whether the payment was applied.

        Not applied: the inputs are free again and the budget gets the payment
        back (if the provider still holds them, the next payment meets
        ``input_held`` and sets them aside). Applied without a receipt:
        ``bad_settlement``, the inputs counted as spent.
        """
        if self.source.applied(payment.tx.txid):
            payment.lease.settle(payment.tx)
            raise SettlementError(
                f"the provider answered {status} without a {PAYMENT_RESPONSE} header, "
                f"but the payment {payment.tx.txid.hex()} was applied: no receipt"
            )
        payment.lease.release()
        self.spending.refund(payment.reservation)
        return Outcome(None)

    def settled(self, payment: Payment, settlement: PaymentResponse, body: bytes | None) -> Outcome:
        """The provider's ``PAYMENT-RESPONSE``: paid with a good receipt, or not charged.

        ``body`` is the request body sent, or ``None`` if the caller cannot know
        it (x402's hooks), when the receipt's request hash goes unchecked.
        """
        try:
            if settlement.txid != payment.tx.txid:
                raise SettlementError(
                    f"{PAYMENT_RESPONSE} names transaction {settlement.txid.hex()}, "
                    f"not the payment {payment.tx.txid.hex()}"
                )
            if settlement.success:
                self.check_receipt(payment, settlement, body)
        except (ReceiptError, SettlementError) as exc:
            self.unknown(payment)
            raise SettlementError(f"the provider's answer does not prove it: {exc}") from None
        if not settlement.success:
            payment.lease.release()
            self.spending.refund(payment.reservation)
            return Outcome(None, settlement)
        payment.lease.settle(payment.tx)
        return Outcome(settlement.receipt, settlement)

    def refused(self, payment: Payment, code: str, message: str, *, may_retry: bool) -> Outcome:
        """The provider refused the payment with ``code``: it charged nothing.

        An input it found spent, unknown or held is dropped from the pool
        (which is refreshed) and, if ``may_retry``, the caller pays once more.
        """
        if not _CODE_RE.fullmatch(code):
            code = "payment_rejected"
        if code in UNSETTLED_CODES:  # this very payment is held or was settled
            self.unknown(payment)
            raise PaymentRejectedError(message, code=code)
        self.spending.refund(payment.reservation)
        if code in STALE_CODES:
            payment.lease.discard()
            self.pool.refresh()
        elif code == "input_held":  # held by a call of another process of this wallet
            payment.lease.set_aside(payment.tx.expiry_ms)
        else:
            payment.lease.release()
        if may_retry and (code in STALE_CODES or code == "input_held"):
            return Outcome(None, retry=True)
        raise PaymentRejectedError(message, code=code)

    def check_receipt(self, payment: Payment, settlement: PaymentResponse, body: bytes) -> None:
        """The receipt is signed by ``payTo`` for this deployment and names this very call."""
        signed = settlement.receipt
        assert signed is not None  # decoding checks a success carries one
        req, r = payment.requirement, signed.receipt
        expected: dict[str, tuple[object, object]] = {
            "network": (settlement.network, req.network),
            "receipt.chain_id": (r.chain_id, self.source.chain_id),
            "receipt.txid": (r.txid, payment.tx.txid),
            "receipt.payer": (r.payer, self.owner),
            "receipt.payee": (r.payee, decode_address(req.pay_to)),
            "receipt.amount": (r.amount, req.amount),
            "receipt.method": (r.method, req.method),
            "receipt.resource": (r.resource, req.resource),
        }
        if settlement.payer is not None:
            expected["payer"] = (settlement.payer, self.address)
        if settlement.amount is not None:
            expected["amount"] = (settlement.amount, req.amount)
        if body is not None:
            expected["receipt.request_hash"] = (
                r.request_hash,
                request_hash(req.method, req.resource, body),
            )
        for name, (got, want) in expected.items():
            if got != want:
                shown = got.hex() if isinstance(got, bytes) else got
                raise SettlementError(f"{name} is {shown!r:.200}, not this call's")
        verify_receipt(signed, self.source.genesis_hash)

    def in_flight(self, status: int, header: Header) -> float | None:
        """Seconds to wait before sending the same payment again, if the provider is running it.

        Only a payment sent twice (after a lost answer) can meet itself in flight.
        """
        refusal = self._refusal(status, header)
        if refusal is None or refusal[0] != "payment_in_flight":
            return None
        wait = header("Retry-After") or ""
        return min(float(wait), MAX_IN_FLIGHT_WAIT_S) if _SECONDS_RE.fullmatch(wait) else 1.0

    @staticmethod
    def _refusal(status: int, header: Header) -> tuple[str, str] | None:
        """``(code, message)`` of a provider's refusal: the x402 envelope on a 400, 402, 409
        or 413, statuses at which a provider has charged nothing."""
        text = header(PAYMENT_REQUIRED)
        if status not in REFUSAL_STATUSES or text is None:
            return None
        try:
            refusal = decode_payment_required(text)
        except EncodingError:
            return None
        return (
            refusal.error,
            refusal.message or f"the provider refused the payment ({refusal.error})",
        )
