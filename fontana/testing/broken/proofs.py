"""Proof providers that break one rule of :class:`~fontana.interfaces.ProofProvider` each.

Every class is ``PythonSMTProvider`` with one method changed, constructed with no
arguments. :data:`BROKEN_PROVIDERS` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from hashlib import sha256

from fontana.smt import MemoryNodeStore, Proof, SparseMerkleTree, VersionError
from fontana.state import PythonSMTProvider
from fontana.storage.base import StorageSession

__all__ = ["BROKEN_PROVIDERS"]


class WrongLeafHash(PythonSMTProvider):
    """Leaves commit to a hash of the value hash, not the value hash itself."""

    def apply_batch(
        self, session: StorageSession, version: int, updates: Mapping[bytes, bytes | None]
    ) -> bytes:
        hashed = {k: None if v is None else sha256(v).digest() for k, v in updates.items()}
        return super().apply_batch(session, version, hashed)


class IgnoresDeletes(PythonSMTProvider):
    """Drops the deletions of a batch: spent outputs stay in the state root."""

    def apply_batch(
        self, session: StorageSession, version: int, updates: Mapping[bytes, bytes | None]
    ) -> bytes:
        kept = {k: v for k, v in updates.items() if v is not None}
        return super().apply_batch(session, version, kept)


class DeletingAnAbsentKeyWritesIt(PythonSMTProvider):
    """A deletion of a key that is not there stores a zero value hash instead of nothing."""

    def apply_batch(
        self, session: StorageSession, version: int, updates: Mapping[bytes, bytes | None]
    ) -> bytes:
        tree = self._tree(session)
        fixed = {
            k: bytes(32) if v is None and tree.get(k) is None else v for k, v in updates.items()
        }
        return super().apply_batch(session, version, fixed)


class ProvesTheLatestVersion(PythonSMTProvider):
    """``prove`` ignores the version asked for and proves against the latest root."""

    def prove(self, session: StorageSession, key: bytes, version: int | None = None) -> bytes:
        return super().prove(session, key, None)


class RootOfTheLatestVersion(PythonSMTProvider):
    """``root`` ignores the version asked for."""

    def root(self, session: StorageSession, version: int | None = None) -> bytes:
        return super().root(session, None)


class PrunesTooMuch(PythonSMTProvider):
    """Prunes one version more than asked: the oldest kept version loses nodes."""

    def prune(self, session: StorageSession, keep_from_version: int) -> int:
        return super().prune(session, keep_from_version + 1)


class PrunesNothing(PythonSMTProvider):
    """Reports success but keeps every version."""

    def prune(self, session: StorageSession, keep_from_version: int) -> int:
        return 0


class VerifyAcceptsAnything(PythonSMTProvider):
    """``verify`` says yes to every proof."""

    def verify(self, root: bytes, key: bytes, value_hash: bytes | None, proof: bytes) -> bool:
        return True


class VerifyChecksTheShapeOnly(PythonSMTProvider):
    """``verify`` accepts any proof that decodes, whatever root, key or value."""

    def verify(self, root: bytes, key: bytes, value_hash: bytes | None, proof: bytes) -> bool:
        try:
            Proof.from_bytes(proof)
        except ValueError:
            return False
        return True


class NonCanonicalProofBytes(PythonSMTProvider):
    """Proofs carry a trailing byte: they verify here, but not byte for byte elsewhere."""

    def prove(self, session: StorageSession, key: bytes, version: int | None = None) -> bytes:
        return super().prove(session, key, version) + b"\x00"

    def verify(self, root: bytes, key: bytes, value_hash: bytes | None, proof: bytes) -> bool:
        return super().verify(root, key, value_hash, proof[:-1])


class RewritesOldVersions(PythonSMTProvider):
    """A batch at a version already written is applied again instead of refused."""

    def apply_batch(
        self, session: StorageSession, version: int, updates: Mapping[bytes, bytes | None]
    ) -> bytes:
        try:
            return super().apply_batch(session, version, updates)
        except VersionError:
            return self.root(session)


class KeepsItsTreeInMemory(PythonSMTProvider):
    """Keeps the nodes in the instance, not in the storage: a restart loses the tree."""

    def __init__(self) -> None:
        super().__init__()
        self._memory = SparseMerkleTree(MemoryNodeStore())

    def _tree(self, session: StorageSession) -> SparseMerkleTree:
        return self._memory

    def prune(self, session: StorageSession, keep_from_version: int) -> int:
        from fontana.smt import prune

        return prune(self._memory.store, keep_from_version)


class CachesRootsAcrossRollbacks(PythonSMTProvider):
    """Remembers each batch's root in memory, even when its transaction rolls back."""

    def __init__(self) -> None:
        super().__init__()
        self._roots: dict[int, bytes] = {}

    def apply_batch(
        self, session: StorageSession, version: int, updates: Mapping[bytes, bytes | None]
    ) -> bytes:
        self._roots[version] = super().apply_batch(session, version, updates)
        return self._roots[version]

    def root(self, session: StorageSession, version: int | None = None) -> bytes:
        if version is None:
            version = max(self._roots, default=None)
        if version in self._roots:
            return self._roots[version]
        return super().root(session, version)


#: Every broken provider, by the name its tests are reported under.
BROKEN_PROVIDERS: dict[str, type[PythonSMTProvider]] = {
    cls.__name__: cls
    for cls in (
        WrongLeafHash,
        IgnoresDeletes,
        DeletingAnAbsentKeyWritesIt,
        ProvesTheLatestVersion,
        RootOfTheLatestVersion,
        PrunesTooMuch,
        PrunesNothing,
        VerifyAcceptsAnything,
        VerifyChecksTheShapeOnly,
        NonCanonicalProofBytes,
        RewritesOldVersions,
        KeepsItsTreeInMemory,
        CachesRootsAcrossRollbacks,
    )
}
