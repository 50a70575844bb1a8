"""Signed values: an inner value plus an ed25519 signature by one of its fields over its id.

The signature is over ``signing_message(genesis_hash, id)``, so it binds the
value to one deployment as well as to its bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from nacl.signing import SigningKey

from fontana.errors import EncodingError
from fontana.hashing import signing_message
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
    def sign(cls, inner: Any, signing_key: SigningKey, genesis_hash: bytes) -> Self:
        """``inner`` signed by its signer for the deployment ``genesis_hash``."""
        if bytes(signing_key.verify_key) != getattr(inner, cls.SIGNER):
            raise EncodingError(
                f"{cls.__name__}: the signing key is not the {cls._codec.names[0]}'s {cls.SIGNER}"
            )
        message = signing_message(genesis_hash, getattr(inner, cls.MESSAGE))
        return cls(inner, signing_key.sign(message).signature)  # type: ignore[call-arg]

    def verify(self, genesis_hash: bytes) -> bool:
        """Whether the signer signed this value for the deployment ``genesis_hash``."""
        inner = self._inner
        message = signing_message(genesis_hash, getattr(inner, self.MESSAGE))
        return verify_signature(getattr(inner, self.SIGNER), message, self.signature)
