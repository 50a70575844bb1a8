"""What both clients share apart from the payer: the paid answer, request bodies, keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generic, TypeVar

import attrs
from nacl.signing import SigningKey

from fontana.errors import EncodingError
from fontana.models import SignedReceipt, Transaction
from fontana.payments.x402 import PaymentResponse
from fontana.wallet import Wallet

R = TypeVar("R")


@attrs.frozen
class PaidResponse(Generic[R]):
    """An HTTP answer, with the receipt of its payment if the call was paid.

    ``receipt`` is verified: signed by the provider (``payTo``) for this
    deployment, naming this payment, amount, method, resource and body.
    ``payment`` is set whenever a payment was sent; ``receipt`` is ``None``
    when the provider charged nothing (the view failed: ``settlement`` says why).
    """

    response: R
    receipt: SignedReceipt | None = None
    payment: Transaction | None = None
    settlement: PaymentResponse | None = None

    @property
    def paid(self) -> int:
        """The price paid, in utia (0 if nothing was charged)."""
        return 0 if self.receipt is None else self.receipt.receipt.amount


def body_bytes(body: Any) -> bytes:
    """A request body as the bytes sent: the receipt names their hash, so they must be known."""
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    raise EncodingError(
        f"a paid request's body must be bytes or text, not {type(body).__name__}: "
        "its receipt names the hash of the body"
    )


def signing_key_and_home(
    wallet: Wallet | SigningKey, home: Path | None
) -> tuple[SigningKey, Path | None]:
    """The key that pays, and the home that keeps the day's spend (the wallet's by default)."""
    if isinstance(wallet, Wallet):
        return wallet.signing_key, home if home is not None else wallet.path.parent.parent
    if isinstance(wallet, SigningKey):
        return wallet, home
    raise TypeError(
        f"a wallet is a fontana.wallet.Wallet or a SigningKey, not {type(wallet).__name__}"
    )
