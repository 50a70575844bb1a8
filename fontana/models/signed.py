"""Signed values: an inner value plus an ed25519 signature by one of its fields over its id."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from nacl.signing import SigningKey

from fontana.errors import EncodingError
from fontana.models._base import verify_signature
from fontana.models.codec import Canonical


class Signed(Canonical):
    """Base of SignedHeader and SignedReceipt.

    Subclasses declare two fields, the inner value then ``signature``, and name
    the inner attribute that holds the signer's key (``SIGNER``) and the one
    that is the signed 32-byte id (``MESSAGE``).
    """

    __slots__ = ()
    SIGNER: ClassVar[str]
    MESSAGE: ClassVar[str]
    signature: bytes

    @property
    def _inner(self) -> Any:
        return getattr(self, self._codec.names[0])

    @classmethod
    def sign(cls, inner: Any, signing_key: SigningKey) -> Self:
        if bytes(signing_key.verify_key) != getattr(inner, cls.SIGNER):
            raise EncodingError(
                f"{cls.__name__}: the signing key is not the {cls._codec.names[0]}'s {cls.SIGNER}"
            )
        return cls(inner, signing_key.sign(getattr(inner, cls.MESSAGE)).signature)  # type: ignore[call-arg]

    def verify(self) -> bool:
        inner = self._inner
        return verify_signature(
            getattr(inner, self.SIGNER), getattr(inner, self.MESSAGE), self.signature
        )
