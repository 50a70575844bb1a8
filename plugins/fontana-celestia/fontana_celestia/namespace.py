"""Celestia namespaces: 1 version byte and a 28-byte id (version 0: 18 zero bytes first)."""

from __future__ import annotations

from fontana.errors import DAFatalError

NAMESPACE_SIZE = 29
#: The bytes of a version-0 id an application chooses (the chain's ``da_namespace``).
USER_BYTES = 10
_V0_PREFIX = bytes(NAMESPACE_SIZE - USER_BYTES)
#: Version-0 ids whose first 9 user bytes are zero are reserved for the protocol.
_RESERVED_USER_PREFIX = bytes(USER_BYTES - 1)


def v0_namespace(user: bytes) -> bytes:
    """The full 29-byte namespace for a chain's 10 namespace bytes."""
    if len(user) != USER_BYTES:
        raise DAFatalError(f"bad namespace: expected {USER_BYTES} bytes, got {len(user)}")
    if user.startswith(_RESERVED_USER_PREFIX):
        raise DAFatalError(f"bad namespace: {user.hex()} is reserved by Celestia")
    return _V0_PREFIX + user


def full_namespace(namespace: bytes) -> bytes:
    """Accept either the 10 user bytes or a full version-0 namespace; return the full one."""
    if len(namespace) == NAMESPACE_SIZE and namespace.startswith(_V0_PREFIX):
        return v0_namespace(namespace[-USER_BYTES:])
    return v0_namespace(namespace)
