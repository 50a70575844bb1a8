"""The ``native-smt`` proof provider: the Rust tree (docs/smt.md) on the ledger's storage.

Rust walks and hashes, keeping decoded nodes in its own cache, and calls back into the
storage session only on cache misses. The batch comes back to Python, which writes it
with the same session calls as ``python-smt`` (``fontana.state.SessionNodeStore``), in the
caller's transaction: both providers read and write the same rows, so a ledger can switch
between them without a rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from fontana.hookspecs import hookimpl
from fontana_native._native import NativeTree, verify_proof

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import ProofProvider, ProofProviderFactory, RegisterBackend
    from fontana.smt import TreeBatch
    from fontana.storage.base import StorageSession

__all__ = ["DEFAULT_CACHE_GENERATION", "NativeSMTProvider", "fontana_register_proof_providers"]

#: Nodes per cache generation; the cache holds up to two generations (about 100 bytes a
#: node), enough for the upper levels of a tree of millions of leaves.
DEFAULT_CACHE_GENERATION = 917_504


def _bytes(data: object) -> bytes | None:
    """``data`` as bytes if it is bytes-like (the reference takes any), else None."""
    if isinstance(data, bytes):
        return data
    try:
        return bytes(memoryview(data))  # type: ignore[arg-type]
    except TypeError:
        return None


class NativeSMTProvider:
    """:class:`fontana.interfaces.ProofProvider` on the Rust tree; one instance per storage."""

    name = "native-smt"

    def __init__(self, cache_generation: int = DEFAULT_CACHE_GENERATION) -> None:
        self._tree = NativeTree(cache_generation)

    def compute_batch(
        self, session: StorageSession, version: int, updates: Mapping[bytes, bytes | None]
    ) -> TreeBatch:
        """The nodes block ``version`` writes and retires; reads the session, never writes."""
        from fontana.smt import TreeBatch  # not at import: commands without a ledger load this

        return TreeBatch(*self._tree.compute_batch(session, version, updates))

    def apply_batch(
        self, session: StorageSession, version: int, updates: Mapping[bytes, bytes | None]
    ) -> bytes:
        batch = self.compute_batch(session, version, updates)
        session.put_tree_nodes(batch.new_nodes)
        session.add_stale_tree_nodes(batch.stale)
        session.set_tree_root(batch.version, batch.root_key)
        return batch.root

    def root(self, session: StorageSession, version: int | None = None) -> bytes:
        return self._tree.root(session, version)  # type: ignore[no-any-return]

    def prove(self, session: StorageSession, key: bytes, version: int | None = None) -> bytes:
        return self._tree.prove(session, key, version)  # type: ignore[no-any-return]

    def get(self, session: StorageSession, key: bytes, version: int | None = None) -> bytes | None:
        """Value hash of ``key`` at ``version`` (default: latest), or None if absent."""
        return self._tree.get(session, key, version)  # type: ignore[no-any-return]

    def verify(self, root: bytes, key: bytes, value_hash: bytes | None, proof: bytes) -> bool:
        args = [_bytes(root), _bytes(key), _bytes(proof)]
        value = None if value_hash is None else _bytes(value_hash)
        if None in args or (value_hash is not None and value is None):
            return False
        return verify_proof(args[0], args[1], value, args[2])  # type: ignore[no-any-return]

    def prune(self, session: StorageSession, keep_from_version: int) -> int:
        return session.prune_tree(keep_from_version)


def open_native_smt(settings: Settings) -> ProofProvider:
    return NativeSMTProvider()


@hookimpl
def fontana_register_proof_providers(register: RegisterBackend[ProofProviderFactory]) -> None:
    register(
        "native-smt",
        open_native_smt,
        description="the sparse Merkle tree of docs/smt.md in Rust (same roots, proofs, storage)",
    )
