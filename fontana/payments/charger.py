"""The framework-neutral flow of a paid call (docs/payments.md section 1).

An adapter hands :meth:`Charger.charge` the request, its price, a function
that runs the view and one that describes the view's result. The charger
checks that the payment fits this call, holds its inputs, runs the view, then
settles the payment with a signed receipt (status below 400) or releases it
(the view raised or answered 400 or more), and tells the adapter what to send.
Every refusal is a JSON reply with a stable code and changes nothing.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from http import HTTPStatus
from typing import TYPE_CHECKING, Final, Generic, TypeVar

import attrs

from fontana.address import encode_address
from fontana.clock import now_ms
from fontana.errors import (
    ConfigError,
    EncodingError,
    ExpiredError,
    FontanaError,
    RejectedError,
    StorageError,
)
from fontana.ledger.meta import MAX_LEDGER_AMOUNT
from fontana.models import Receipt, SignedReceipt, Transaction, TxKind
from fontana.models.payment import PaymentBinding, request_hash
from fontana.payments.backends import CachedResponse, PaymentBackend, SettledPayment
from fontana.payments.errors import (
    BindingMismatchError,
    ExpiryTooFarError,
    ExpiryTooSoonError,
    NotAPaymentError,
    WrongAmountError,
    WrongNetworkError,
)
from fontana.payments.x402 import (
    ASSET,
    PAYMENT_REQUIRED,
    PAYMENT_RESPONSE,
    PAYMENT_SIGNATURE,
    PaymentRequired,
    PaymentRequirement,
    ResourceInfo,
    decode_payment_payload,
    dumps,
    encode_header,
    network_for,
    settle_response,
)

if TYPE_CHECKING:
    from nacl.signing import SigningKey

    from fontana.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How far a client's clock may run ahead of the provider's: a payment may
#: expire up to ``maxTimeoutSeconds`` plus this much after it arrives.
CLOCK_SKEW_MS: Final = 2_000
#: How long a read of the open block height serves receipts' ``expected_height``;
#: any earlier read is still a lower bound of the block a payment lands in.
HEIGHT_TTL_MS: Final = 1_000
#: ``Retry-After`` of a ``payment_in_flight`` answer, in seconds.
RETRY_AFTER_S: Final = 1
#: HTTP status of each code that is not a 402 (docs/payments.md 1.4).
STATUS_OF: Final = {
    "malformed": 400,
    "payment_in_flight": 409,
    "already_settled": 409,
    "body_too_large": 413,
}


#: Refusals a payment gets when it was settled already: look for its settle record.
_MAYBE_SETTLED: Final = frozenset({"expired", "expiry_too_soon", "expiry_too_far", "input_spent"})


@attrs.frozen
class PaidRequest:
    """What the charger needs of an HTTP request, whatever the framework.

    ``target`` is the request target (path and query) the binding names, in
    the adapter's one normal form; ``url`` the absolute URL shown in
    challenges. ``body`` is the bytes or a function reading them (called only
    for a payment that was held, right before the view runs), for the
    receipt's ``request_hash``. ``header(name)`` is a request header or ``None``.
    """

    method: str
    target: str
    url: str
    body: bytes | Callable[[], bytes]
    header: Callable[[str], str | None]

    def read_body(self) -> bytes:
        return self.body() if callable(self.body) else self.body


Price = int | Callable[[PaidRequest], int]


@attrs.frozen
class ViewResponse:
    """What the charger needs of a view's result: ``body`` ``None`` when it is not kept."""

    status: int
    content_type: str
    body: bytes | None


@attrs.frozen
class PaymentReply:
    """A response the adapter sends instead of running the view (or as a replay of it)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def status_line(self) -> str:
        """``"402 Payment Required"``, as WSGI's ``start_response`` takes it."""
        return f"{self.status} {HTTPStatus(self.status).phrase}"


@attrs.frozen
class Charged(Generic[T]):
    """The outcome of :meth:`Charger.charge`.

    ``reply`` set: send it, the view did not run. Otherwise ``result`` is what
    the view returned; send it with ``headers`` added (``PAYMENT-RESPONSE``).
    """

    result: T | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    reply: PaymentReply | None = None


class Charger:
    """Takes payment for calls to one provider, through one :class:`PaymentBackend`.

    Safe to share between threads; one per process is the intended use.
    ``key`` is the provider's: its address is ``payTo`` and it signs receipts.
    """

    def __init__(
        self,
        backend: PaymentBackend,
        key: SigningKey,
        *,
        max_timeout_s: int = 60,
        min_window_ms: int = 5_000,
        cache_max_bytes: int = 65_536,
        node_url: str | None = None,
        description: str = "",
        clock: Callable[[], int] = now_ms,
    ) -> None:
        if not 1 <= max_timeout_s <= 86_400:
            raise ConfigError(f"charge.max_timeout_s = {max_timeout_s}: expected 1..86400")
        if not 0 <= min_window_ms < max_timeout_s * 1000:
            raise ConfigError(
                f"charge.min_window_ms = {min_window_ms}: expected 0 up to below "
                f"charge.max_timeout_s ({max_timeout_s} s)"
            )
        if cache_max_bytes < 0:
            raise ConfigError(f"charge.cache_max_bytes = {cache_max_bytes}: expected >= 0")
        self.backend = backend
        self.key = key
        self.max_timeout_s = max_timeout_s
        self.min_window_ms = min_window_ms
        self.cache_max_bytes = cache_max_bytes
        self.node_url = node_url or None
        self.description = description
        self.clock = clock
        genesis = backend.genesis
        self.chain_id = genesis.chain_id
        self.genesis_hash = genesis.hash
        self.min_fee = genesis.min_fee
        self.network = network_for(genesis.chain_id)
        self.payee = bytes(key.verify_key)
        self.pay_to = encode_address(self.payee)
        self._height: tuple[int, int] | None = None  # (open height, when read)
        # Few calls have distinct bindings; hashing one costs as much as the rest of a check.
        self._binding_hash = lru_cache(maxsize=4096)(self._hash_binding)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, backend: PaymentBackend | None = None, description: str = ""
    ) -> Charger:
        """The charger ``[charge]`` describes: its key from the wallet, its backend opened."""
        from fontana.payments.backends import open_backend
        from fontana.wallet import load_key

        charge = settings.charge
        key = load_key(settings.home, charge.key_name, settings.wallet.passphrase).signing_key
        backend = backend if backend is not None else open_backend(settings)
        try:
            return cls(
                backend,
                key,
                max_timeout_s=charge.max_timeout_s,
                min_window_ms=charge.min_window_ms,
                cache_max_bytes=charge.cache_max_bytes,
                node_url=charge.public_node_url or charge.node_url,
                description=description,
            )
        except ConfigError:
            backend.close()
            raise

    def close(self) -> None:
        """Finish pending settles and close the backend."""
        self.backend.close()

    # --- what a call costs ------------------------------------------------------

    def price_of(self, request: PaidRequest, price: Price) -> int:
        """The price in utia; a price that is no positive integer is the provider's bug."""
        amount = price(request) if callable(price) else price
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError(f"a price is an int number of utia, got {type(amount).__name__}")
        if not 1 <= amount <= MAX_LEDGER_AMOUNT:
            raise ValueError(f"a price is 1..{MAX_LEDGER_AMOUNT} utia, got {amount}")
        return amount

    def requirement(self, request: PaidRequest, amount: int) -> PaymentRequirement:
        """The ``accepts`` entry of a call: what its payment must be."""
        return PaymentRequirement(
            network=self.network,
            amount=amount,
            pay_to=self.pay_to,
            max_timeout_s=self.max_timeout_s,
            genesis_hash=self.genesis_hash,
            method=request.method,
            resource=request.target,
            min_fee=self.min_fee,
            node_url=self.node_url,
        )

    def _hash_binding(self, method: str, target: str, amount: int) -> bytes:
        """What a payment for this call must carry as its ``payload_hash``; ``malformed`` for
        a call no payment can name (a method or target the binding's rules refuse)."""
        return PaymentBinding(
            version=1, pay_to=self.payee, amount=amount, method=method, resource=target
        ).payload_hash

    # --- the flow ---------------------------------------------------------------

    def challenge(
        self,
        request: PaidRequest,
        price: Price,
        error: str = "payment_required",
        message: str | None = None,
        *,
        description: str | None = None,
    ) -> PaymentReply:
        """The 402 (or 400/409) answer with the price in x402's envelope."""
        amount = self.price_of(request, price)
        text = message if message is not None else f"this call costs {amount} utia"
        return self._reply(request, amount, error, text, description)

    def charge(
        self,
        request: PaidRequest,
        price: Price,
        run_view: Callable[[], T],
        describe: Callable[[T], ViewResponse],
        *,
        description: str | None = None,
    ) -> Charged[T]:
        """Run the view if and only if the request carries a payment that fits it.

        The payment is held while the view runs, then settled (status below
        400, with a signed receipt) or released (the view raised, which is
        re-raised, or answered 400 or more). A payment settled before gets
        its stored response and the same receipt without running the view.
        """
        amount = self.price_of(request, price)
        text = request.header(PAYMENT_SIGNATURE)
        if text is None:
            message = f"this call costs {amount} utia"
            return Charged(
                reply=self._reply(request, amount, "payment_required", message, description)
            )
        try:
            tx = self._accept(request, amount, text)
            settled = self._hold(tx)
        except FontanaError as exc:
            return Charged(reply=self._refuse(request, amount, exc, description))
        if settled is not None:
            return Charged(reply=self._replay(request, amount, settled, description))
        return self._run(request, amount, tx, run_view, describe, description)

    def _accept(self, request: PaidRequest, amount: int, text: str) -> Transaction:
        """The payment's transaction, if it is a payment for exactly this call."""
        payload = decode_payment_payload(text)
        accepted, tx = payload.accepted, payload.transaction
        if accepted.network != self.network or accepted.genesis_hash != self.genesis_hash:
            raise WrongNetworkError(
                f"the payment is for network {accepted.network!r:.60} with genesis "
                f"{accepted.genesis_hash.hex()[:16]}..., this provider is on {self.network} "
                f"with genesis {self.genesis_hash.hex()[:16]}..."
            )
        if accepted.pay_to != self.pay_to:
            raise BindingMismatchError(
                f"the payment is for provider {accepted.pay_to}, not {self.pay_to}"
            )
        if accepted.asset != ASSET or accepted.amount != amount:
            raise WrongAmountError(
                f"this call costs {amount} {ASSET}; the payment accepted "
                f"{accepted.amount} {accepted.asset!r:.20}"
            )
        if accepted.method != request.method or accepted.resource != request.target:
            raise BindingMismatchError(
                f"the payment is for {accepted.method!r:.20} {accepted.resource!r:.200}, "
                f"not {request.method!r:.20} {request.target!r:.200}"
            )
        if tx.kind != TxKind.PAYMENT:
            raise NotAPaymentError(f"the transaction is a {tx.kind.name.lower()}, not a payment")
        paid = sum(o.amount for o in tx.outputs if o.owner == self.payee)
        if paid != amount:
            raise WrongAmountError(
                f"the transaction pays {paid} utia to {self.pay_to}; this call costs {amount}"
            )
        if tx.payload_hash != self._binding_hash(request.method, request.target, amount):
            raise BindingMismatchError(
                "the transaction's payload hash is not the binding of this call "
                "(provider, price, method and resource)"
            )
        return tx

    def _check_window(self, tx: Transaction) -> None:
        """The payment leaves the view time to run, and holds its inputs not too long."""
        now = self.clock()
        left = tx.expiry_ms - now
        if left < 0:
            raise ExpiredError(f"the payment expired at {tx.expiry_ms} ({now})")
        if left < self.min_window_ms:
            raise ExpiryTooSoonError(
                f"the payment expires in {left} ms; this provider needs at least "
                f"{self.min_window_ms} ms to run the call"
            )
        if left > self.max_timeout_s * 1000 + CLOCK_SKEW_MS:
            raise ExpiryTooFarError(
                f"the payment expires in {left} ms, beyond maxTimeoutSeconds "
                f"({self.max_timeout_s} s)"
            )

    def _hold(self, tx: Transaction) -> SettledPayment | None:
        """Hold ``tx``'s inputs for the view; its settle record if it was settled before."""
        try:
            self._check_window(tx)
            held = self.backend.hold(tx, tx.expiry_ms)
        except RejectedError as exc:
            # A retry after the payment's window still gets its receipt, and so does one
            # whose inputs its own settle spent in another process a moment ago (the hold
            # read them unspent before that commit, and its UPDATE found them spent after).
            if exc.code not in _MAYBE_SETTLED:
                raise
            settled = self.backend.settled(tx.txid)
            if settled is None:
                raise
            return settled
        if held.state != "settled":
            return None
        if held.settled is None:
            raise StorageError(f"payment {tx.txid.hex()} is settled but its record is missing")
        return held.settled

    def _run(
        self,
        request: PaidRequest,
        amount: int,
        tx: Transaction,
        run_view: Callable[[], T],
        describe: Callable[[T], ViewResponse],
        description: str | None,
    ) -> Charged[T]:
        """Run the view under the hold, then settle or release."""
        txid = tx.txid
        payer = encode_address(tx.witnesses[0].pubkey)  # the ledger checked it signs an input
        try:
            try:
                body = request.read_body()
            except FontanaError as exc:
                self._release(txid)
                return Charged(reply=self._refuse(request, amount, exc, description))
            result = run_view()
            view = describe(result)
        except BaseException:
            self._release(txid)
            raise
        if not self._charges(view):
            self._release(txid)
            failed = settle_response(
                txid=txid,
                network=self.network,
                payer=payer,
                amount=amount,
                error_reason="view_failed",
                error_message=f"the call answered {view.status}; nothing was charged",
            )
            return Charged(result=result, headers={PAYMENT_RESPONSE: encode_header(failed)})
        try:
            signed = self._receipt(request, amount, tx, body)
            self.backend.settle(tx, signed.to_bytes(), self._cacheable(view))
        except FontanaError as exc:
            self._release(txid)
            return Charged(reply=self._refuse(request, amount, exc, description))
        except BaseException:
            self._release(txid)
            raise
        paid = settle_response(
            txid=txid, network=self.network, payer=payer, amount=amount, receipt=signed
        )
        return Charged(result=result, headers={PAYMENT_RESPONSE: encode_header(paid)})

    def _charges(self, view: ViewResponse) -> bool:
        """Whether the view's answer is paid for: a status below 400."""
        return view.status < 400

    def _receipt(
        self, request: PaidRequest, amount: int, tx: Transaction, body: bytes
    ) -> SignedReceipt:
        receipt = Receipt(
            version=1,
            chain_id=self.chain_id,
            txid=tx.txid,
            payer=tx.witnesses[0].pubkey,
            payee=self.payee,
            amount=amount,
            method=request.method,
            resource=request.target,
            request_hash=request_hash(request.method, request.target, body),
            issued_at_ms=self.clock(),
            expected_height=self._expected_height(),
        )
        return SignedReceipt.sign(receipt, self.key, self.genesis_hash)

    def _expected_height(self) -> int:
        """The open block's height, read at most every ``HEIGHT_TTL_MS``.

        Heights never go back, so an earlier read is still a lower bound of
        the block the payment lands in, which is what a receipt promises.
        """
        now = self.clock()
        cached = self._height
        if cached is None or not 0 <= now - cached[1] < HEIGHT_TTL_MS:
            cached = (self.backend.open_height(), now)
            self._height = cached
        return cached[0]

    def _cacheable(self, view: ViewResponse) -> CachedResponse | None:
        """What a retry gets back; ``None`` (a retry gets ``already_settled``) if not kept."""
        if view.body is None or len(view.body) > self.cache_max_bytes:
            return None
        try:
            return CachedResponse(view.status, view.content_type, view.body)
        except EncodingError:  # a content type the cache cannot hold; the call still counts
            return None

    def _release(self, txid: bytes) -> None:
        """Release a hold; if that fails the hold still ends at the payment's expiry."""
        try:
            self.backend.release(txid)
        except Exception as exc:
            log.warning("releasing payment %s failed: %s", txid.hex(), exc)

    # --- answers ------------------------------------------------------------------

    def _replay(
        self,
        request: PaidRequest,
        amount: int,
        settled: SettledPayment,
        description: str | None,
    ) -> PaymentReply:
        """A payment settled before: the stored response and the same receipt."""
        signed = SignedReceipt.from_bytes(settled.receipt)
        receipt = signed.receipt
        header = encode_header(
            settle_response(
                txid=receipt.txid,
                network=self.network,
                payer=encode_address(receipt.payer),
                amount=receipt.amount,
                receipt=signed,
            )
        )
        cached = settled.response
        if cached is None:
            message = (
                "this payment was settled before; its response was not kept "
                "(too large or streamed), its receipt is in PAYMENT-RESPONSE"
            )
            return self._reply(
                request, amount, "already_settled", message, description, {PAYMENT_RESPONSE: header}
            )
        headers = {PAYMENT_RESPONSE: header}
        if cached.content_type:
            headers["Content-Type"] = cached.content_type
        return PaymentReply(cached.status, headers, cached.body)

    def _refuse(
        self, request: PaidRequest, amount: int, exc: FontanaError, description: str | None
    ) -> PaymentReply:
        if isinstance(exc, EncodingError):
            return self._reply(request, amount, "malformed", exc.message, description)
        extra = {"Retry-After": str(RETRY_AFTER_S)} if exc.code == "payment_in_flight" else {}
        status = None if isinstance(exc, RejectedError) else 503  # the provider's trouble
        return self._reply(request, amount, exc.code, exc.message, description, extra, status)

    def _reply(
        self,
        request: PaidRequest,
        amount: int,
        code: str,
        message: str,
        description: str | None,
        extra_headers: Mapping[str, str] | None = None,
        status: int | None = None,
    ) -> PaymentReply:
        """The JSON answer of docs/payments.md 1.4, also base64 in ``PAYMENT-REQUIRED``."""
        try:
            self._binding_hash(request.method, request.target, amount)
            accepts: tuple[PaymentRequirement, ...] = (self.requirement(request, amount),)
        except EncodingError as exc:
            code, message, accepts = "malformed", f"this request cannot be paid for: {exc}", ()
        resource = ResourceInfo(
            request.url,
            self.description if description is None else description,
            "application/json",
        )
        body = dumps(PaymentRequired(code, message, resource, accepts).to_json())
        headers = {
            "Content-Type": "application/json",
            PAYMENT_REQUIRED: base64.b64encode(body).decode("ascii"),
            **(extra_headers or {}),
        }
        return PaymentReply(status or STATUS_OF.get(code, 402), headers, body)
