"""Charging adapters that each make one mistake an adapter author could make.

Every one serves :func:`fontana.testing.charging_app.suite_app` through the
built-in ``wsgi`` adapter, with a :class:`~fontana.payments.charger.Charger`
subclass whose one overridden step of the paid-call flow is wrong, or
(``HidesTheBody``) an adapter that gets the request wrong. :data:`BROKEN_ADAPTERS` lists them by
name; gunicorn serves one as ``fontana.testing.broken.charging:app('<name>')``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from fontana.config import Settings, load_settings
from fontana.errors import FontanaError
from fontana.models import SignedReceipt, Transaction
from fontana.payments.backends import CachedResponse, SettledPayment
from fontana.payments.charger import (
    Charged,
    Charger,
    PaidRequest,
    PaymentReply,
    Price,
    ViewResponse,
)
from fontana.payments.wsgi import WSGIAdapter
from fontana.payments.x402 import decode_payment_payload
from fontana.testing.charging_app import ChargeFactory, suite_app

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["BROKEN_ADAPTERS", "app"]

T = TypeVar("T")


class RunsTheViewFirst(Charger):
    """Runs the view, then asks for the payment: a call that pays nothing still runs it."""

    def charge(
        self, request: PaidRequest, price: Price, run_view: Callable[[], T], *rest: Any, **kw: Any
    ) -> Charged[T]:
        result = run_view()
        return super().charge(request, price, lambda: result, *rest, **kw)


class ChargesFailedAnswers(Charger):
    """Takes every answer as a success: a view that answers 500 is charged."""

    def _charges(self, view: ViewResponse) -> bool:
        return True


class KeepsNoAnswers(Charger):
    """Keeps no answer for retries, as if every one streamed: a retry of a paid call gets
    ``already_settled`` instead of the answer it paid for."""

    def _cacheable(self, view: ViewResponse) -> CachedResponse | None:
        return None


class HashesNoBody(Charger):
    """Signs receipts over an empty body: a receipt does not name the request paid for."""

    def _receipt(
        self, request: PaidRequest, amount: int, tx: Transaction, body: bytes
    ) -> SignedReceipt:
        return super()._receipt(request, amount, tx, b"")


class TrustsTheAcceptedEntry(Charger):
    """Checks a payment against the ``accepted`` entry it carries, not against the request it
    came with: a payment for one resource or method pays for any other."""

    def _accept(self, request: PaidRequest, amount: int, text: str) -> Transaction:
        try:
            accepted = decode_payment_payload(text).accepted
            request = attrs.evolve(request, method=accepted.method, target=accepted.resource)
        except FontanaError:
            pass  # the flow refuses it as malformed
        return super()._accept(request, amount, text)


class DropsPaymentResponse(Charger):
    """Sends the view's answer without the charger's headers: the consumer pays and gets no
    ``PAYMENT-RESPONSE``, so no receipt."""

    def charge(self, *args: Any, **kwargs: Any) -> Charged[Any]:
        return attrs.evolve(super().charge(*args, **kwargs), headers={})


class ChecksNoWindow(Charger):
    """Takes a payment whatever its expiry: one about to expire runs a view it cannot pay for
    in time, one far ahead holds the consumer's inputs as long as it says."""

    def _check_window(self, tx: Transaction) -> None:
        return None


class ReleasesNothing(Charger):
    """Never releases a hold: a failed call's payment stays held until it expires, so the
    consumer can neither try again nor spend its inputs."""

    def _release(self, txid: bytes) -> None:
        return None


class HoldsNothing(Charger):
    """Lets the hold go once the payment is checked, leaving the inputs to the settle: while
    a view runs, a copy of its payment or another spend of its inputs runs a view too."""

    def _hold(self, tx: Transaction) -> SettledPayment | None:
        settled = super()._hold(tx)
        if settled is None:
            self.backend.release(tx.txid)
        return settled


class RunsTheViewOnRetry(Charger):
    """Takes a settled payment as paid and runs the view again: a retry gets a new answer,
    the view's work done twice, not the answer that was paid for."""

    def _hold(self, tx: Transaction) -> SettledPayment | None:
        super()._hold(tx)
        return None


class SignsANewReceiptOnRetry(Charger):
    """Answers a retry with a newly signed receipt instead of the stored one: one payment,
    two receipts."""

    def _replay(
        self, request: PaidRequest, amount: int, settled: SettledPayment, description: str | None
    ) -> PaymentReply:
        stored = SignedReceipt.from_bytes(settled.receipt).receipt
        issued = max(self.clock(), stored.issued_at_ms + 1)
        again = SignedReceipt.sign(
            attrs.evolve(stored, issued_at_ms=issued), self.key, self.genesis_hash
        )
        resigned = attrs.evolve(settled, receipt=again.to_bytes())
        return super()._replay(request, amount, resigned, description)


class HidesTheBody(WSGIAdapter):
    """Reads the request body for the receipt and hands the view the drained stream: a view
    that reads the body gets nothing."""

    def charge(
        self,
        utia: int | None = None,
        *,
        price: Callable[[WSGIEnvironment], int] | None = None,
        charger: Charger | None = None,
        **options: Any,
    ) -> Callable[[WSGIApplication], WSGIApplication]:
        decorate = super().charge(utia, price=price, charger=charger, **options)

        def drained(view: WSGIApplication) -> WSGIApplication:
            def read_first(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
                environ["wsgi.input"].read()
                return view(environ, start_response)

            return decorate(read_first)

        return drained


def _on_charger(charger_class: type[Charger]) -> Callable[[Settings], ChargeFactory]:
    def adapter(settings: Settings) -> ChargeFactory:
        return partial(WSGIAdapter(settings).charge, charger=charger_class.from_settings(settings))

    return adapter


_BROKEN_CHARGERS = (
    RunsTheViewFirst,
    ChargesFailedAnswers,
    KeepsNoAnswers,
    HashesNoBody,
    TrustsTheAcceptedEntry,
    DropsPaymentResponse,
    ChecksNoWindow,
    ReleasesNothing,
    HoldsNothing,
    RunsTheViewOnRetry,
    SignsANewReceiptOnRetry,
)

#: Each broken adapter by name: settings -> its ``charge`` decorator factory.
BROKEN_ADAPTERS: dict[str, Callable[[Settings], ChargeFactory]] = {
    **{cls.__name__: _on_charger(cls) for cls in _BROKEN_CHARGERS},
    HidesTheBody.__name__: lambda settings: HidesTheBody(settings).charge,
}


def app(name: str) -> WSGIApplication:
    """gunicorn's ``fontana.testing.broken.charging:app('<name>')``: the suite's endpoints
    behind broken adapter ``name``, configured by the environment's ``FONTANA_*`` settings."""
    return suite_app(BROKEN_ADAPTERS[name](load_settings()))
