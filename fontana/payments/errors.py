"""Why a provider refuses a payment before the ledger sees it (codes of docs/payments.md 1.4).

The ledger's own rejections (``fontana.errors``) pass through unchanged; these
are the checks only the provider can make: does the payment fit this call.
"""

from __future__ import annotations

from fontana.errors import RejectedError


class PaymentRejectedError(RejectedError):
    """A payment that does not fit the call it came with; nothing was held or applied."""

    code = "payment_rejected"


class WrongSchemeError(PaymentRejectedError):
    """The payment is for another x402 scheme than ``fontana``."""

    code = "wrong_scheme"


class WrongNetworkError(PaymentRejectedError):
    """The payment names another chain or deployment (genesis hash)."""

    code = "wrong_network"


class WrongAmountError(PaymentRejectedError):
    """The payment does not pay exactly this call's price in utia to the provider."""

    code = "wrong_amount"


class BindingMismatchError(PaymentRejectedError):
    """The payment is bound to another provider, method or resource."""

    code = "binding_mismatch"


class NotAPaymentError(PaymentRejectedError):
    """The transaction's kind is not ``payment``."""

    code = "not_a_payment"


class ExpiryTooSoonError(PaymentRejectedError):
    """The payment expires before the provider's minimum window for running the view."""

    code = "expiry_too_soon"


class ExpiryTooFarError(PaymentRejectedError):
    """The payment's expiry lies beyond ``maxTimeoutSeconds``: its inputs would be held too long."""

    code = "expiry_too_far"
