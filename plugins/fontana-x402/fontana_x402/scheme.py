"""The ``fontana`` scheme client for x402's SDK (``x402Client`` and ``x402ClientSync``).

::

    from x402 import x402ClientSync
    from x402.http.clients import x402_requests
    from fontana_x402 import FontanaScheme

    scheme = FontanaScheme(wallet, "http://127.0.0.1:26657", budget=Budget(per_call=5_000))
    client = x402ClientSync().register("fontana:*", scheme)
    client.set_spend_controls({"allowed_assets": [scheme.allowed_asset()]})
    session = x402_requests(client)
    session.get("http://api.example/weather?city=lisbon")

The SDK hands the scheme one ``accepts`` entry and wraps the returned
``{"transaction": hex}`` into the ``PAYMENT-SIGNATURE`` payload. The payment
is made by :class:`fontana.sdk.payer.Payer` exactly as Fontana's own clients
make it (budget, UTXO pool, binding, receipt checks); the SDK's payment
response hook tells the scheme what became of it. What the SDK does not show
a scheme is the request, so the receipt's request hash (of the body) is not
checked here and the binding's method and resource are taken from the offer.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey
from x402.schemas import PaymentRequirements, RecoveredResponseResult
from x402.schemas.hooks import PaymentResponseContext

from fontana.errors import EncodingError
from fontana.models import SignedReceipt
from fontana.payments.x402 import ASSET, NETWORK_PREFIX, PaymentRequirement, PaymentResponse
from fontana.sdk.budget import Budget
from fontana.sdk.errors import PaymentRejectedError, SettlementError
from fontana.sdk.payer import Payer, Payment
from fontana.sdk.response import signing_key_and_home
from fontana.sdk.sources import SourceLike, as_source
from fontana.wallet import Wallet

#: How long a payment stays valid: the provider holds its inputs until then.
MAX_TIMEOUT_S = 60
#: Receipts kept for the caller to pick up, newest last; older ones are dropped.
MAX_RECEIPTS = 1024


class FontanaScheme:
    """Pays ``fontana`` offers from one wallet; register it for ``"fontana:*"``."""

    scheme = "fontana"

    def __init__(
        self,
        wallet: Wallet | SigningKey,
        source: SourceLike,
        *,
        budget: Budget | None = None,
        home: Path | None = None,
        max_timeout_s: int = MAX_TIMEOUT_S,
        parallel: int = 8,
    ) -> None:
        """``parallel``: calls that may be in flight at once without waiting for a UTXO.

        x402's asyncio client asks for a payment inside the event loop, where
        waiting for another call's UTXO would stall the calls that free one:
        there, a call that finds every UTXO in use fails (``wallet_busy``). So
        the pool keeps ``parallel`` UTXOs ready, splitting one when it has fewer.
        """
        signing_key, home = signing_key_and_home(wallet, home)
        self.budget = budget or Budget()
        self.payer = Payer(
            signing_key,
            as_source(source),
            budget=self.budget,
            home=home,
            max_timeout_s=max_timeout_s,
            spare=max(parallel - 1, 0),
        )
        #: Read by x402's client when the scheme is registered.
        self.scheme_hooks = {"on_payment_response": self.on_payment_response}
        self._pending: dict[str, Payment] = {}
        self._lock = threading.Lock()
        #: The verified receipts of the latest paid calls, by txid (hex).
        self.receipts: OrderedDict[str, SignedReceipt] = OrderedDict()

    def allowed_asset(self) -> dict[str, str]:
        """An x402 ``SpendControls.allowed_assets`` entry for utia on every Fontana network.

        x402 lets only the assets it knows through by default; its USD caps
        mean nothing for utia, so the cap is the budget's per-call limit.
        """
        entry = {"network": f"{NETWORK_PREFIX}*", "asset": ASSET}
        if self.budget.per_call is not None:
            entry["max_amount_per_payment"] = str(self.budget.per_call)
        return entry

    def create_payment_payload(self, requirements: PaymentRequirements) -> dict[str, Any]:
        """The signed payment for one ``accepts`` entry, as the SDK wants it."""
        self._forget_expired()
        req = PaymentRequirement.from_json(requirements.model_dump(by_alias=True), "requirements")
        self.payer.choose([req], req.method, req.resource)  # this wallet's deployment?
        payment = self.payer.pay(req, wait=not _in_event_loop())
        transaction = payment.tx.to_bytes().hex()
        with self._lock:
            self._pending[transaction] = payment
        return {"transaction": transaction}

    def on_payment_response(self, ctx: PaymentResponseContext) -> RecoveredResponseResult | None:
        """What the provider answered: settle, give back, or ask the SDK to pay once more."""
        transaction = (ctx.payment_payload.payload or {}).get("transaction")
        with self._lock:
            payment = self._pending.pop(transaction, None) if isinstance(transaction, str) else None
        if payment is None:
            return None
        if ctx.settle_response is not None:
            try:
                settlement = PaymentResponse.from_json(
                    ctx.settle_response.model_dump(by_alias=True, exclude_none=True)
                )
            except EncodingError as exc:  # the payment may be settled: its inputs wait
                self.payer.unknown(payment)
                raise SettlementError(f"the provider's answer does not prove it: {exc}") from None
            outcome = self.payer.settled(payment, settlement, None)
            if outcome.receipt is not None:
                with self._lock:
                    self.receipts[payment.tx.txid.hex()] = outcome.receipt
                    while len(self.receipts) > MAX_RECEIPTS:
                        self.receipts.popitem(last=False)
            return None
        refusal = ctx.payment_required
        if refusal is None:
            self.payer.unknown(payment)
            return None
        code = refusal.error or "payment_rejected"
        try:
            outcome = self.payer.refused(payment, code, code, may_retry=True)
        except PaymentRejectedError:
            return None  # the caller gets the provider's 402 as it is
        return RecoveredResponseResult() if outcome.retry else None

    def _forget_expired(self) -> None:
        """Payments the SDK never reported on (the connection failed): set aside."""
        now = self.payer.clock()
        with self._lock:
            expired = [k for k, p in self._pending.items() if p.tx.expiry_ms < now]
            payments = [self._pending.pop(k) for k in expired]
        for payment in payments:
            self.payer.unknown(payment)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
