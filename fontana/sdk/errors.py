"""What can go wrong on the paying side of a call, as typed errors with stable codes.

Every one of them leaves the wallet as it was: no payment was sent, or the
provider said nothing was charged (and the inputs are usable again), or the
outcome is unknown and the inputs are set aside until the payment expires.
"""

from __future__ import annotations

from fontana.errors import FontanaError


class BudgetExceededError(FontanaError):
    """Paying would pass a limit of the budget (per call, per session or per day)."""

    code = "budget_exceeded"


class BudgetStateError(FontanaError):
    """The per-day spend file cannot be read or written; nothing is paid until it can."""

    code = "budget_state"


class ChallengeError(FontanaError):
    """A 402 answer that offers no payment this wallet can make (scheme, network, binding)."""

    code = "bad_challenge"
    exit_code = 65


class PaymentRejectedError(FontanaError):
    """The provider refused the payment; ``code`` is the provider's (``input_spent``, ...)."""

    code = "payment_rejected"


class SettlementError(FontanaError):
    """The provider's answer to a payment does not prove it: bad receipt or settle response."""

    code = "bad_settlement"


class WalletBusyError(FontanaError):
    """Every UTXO stayed in use by other calls for longer than the pool waits."""

    code = "wallet_busy"
