"""Node storage for the sparse Merkle tree: the stored byte forms and the backend contract.

The tree never writes by itself. A batch yields a :class:`TreeBatch` (new nodes, nodes
that became stale, the new root) which a backend writes in the same transaction as the
block, so the state commitment and the ledger can never disagree after a crash.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Protocol

from fontana.errors import FontanaError

__all__ = [
    "EMPTY_ROOT_KEY",
    "INTERNAL_TAG",
    "KIND_EMPTY",
    "KIND_INTERNAL",
    "KIND_LEAF",
    "LEAF_TAG",
    "MemoryNodeStore",
    "NodeStore",
    "TreeBatch",
    "VersionError",
    "node_key",
    "prune",
]

#: Root key recorded for a version whose tree is empty.
EMPTY_ROOT_KEY = b""

#: First byte of a stored node.
LEAF_TAG = 0x00
INTERNAL_TAG = 0x01

#: Child kinds inside an internal node's kinds byte.
KIND_EMPTY = 0
KIND_LEAF = 1
KIND_INTERNAL = 2


class VersionError(FontanaError, LookupError):
    """A version that is not retained, or a batch version that does not move forward."""

    code = "smt_version"


def node_key(version: int, depth: int, path: int) -> bytes:
    """Key of the node written at ``version`` at the ``depth``-bit prefix ``path``.

    ``u64 version ‖ u16 depth ‖ path`` left-aligned in ceil(depth/8) bytes, spare low
    bits zero. Version first, so a backend's key order groups a block's nodes together.
    """
    nbytes = (depth + 7) // 8
    return (
        version.to_bytes(8, "big")
        + depth.to_bytes(2, "big")
        + (path << (8 * nbytes - depth)).to_bytes(nbytes, "big")
    )


@dataclass(frozen=True, slots=True)
class TreeBatch:
    """Everything one block changes in the tree; write all of it or none of it."""

    version: int
    #: Root hash after the batch (32 zero bytes for an empty tree).
    root: bytes
    #: Node key of the root node, or ``EMPTY_ROOT_KEY``.
    root_key: bytes
    #: node key -> serialized node, all of them at ``version``.
    new_nodes: dict[bytes, bytes]
    #: (node key, version from which it is no longer reachable) for the pruner.
    stale: list[tuple[bytes, int]]


class NodeStore(Protocol):
    """What the tree needs from a backend (a SQL one maps it to three tables)."""

    def get_node(self, node_key: bytes) -> bytes | None:
        """The serialized node, or None if absent (never written, or pruned)."""

    def get_root_key(self, version: int) -> bytes | None:
        """Root node key of ``version``; ``EMPTY_ROOT_KEY`` if empty, None if not retained."""

    def latest_version(self) -> int | None:
        """Newest version written, or None for a store that has never had a batch."""

    def write_batch(self, batch: TreeBatch) -> None:
        """Store new nodes, stale entries and the root key of ``batch.version``."""

    def stale_nodes(self, up_to_version: int) -> list[tuple[bytes, int]]:
        """Stale entries whose ``stale_since`` is at most ``up_to_version``."""

    def delete_pruned(self, node_keys: Sequence[bytes], keep_from_version: int) -> None:
        """Delete these nodes, stale entries up to ``keep_from_version`` and older roots."""


class MemoryNodeStore:
    """A dict-backed store for tests, benches and tools."""

    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}
        self.roots: dict[int, bytes] = {}
        # Appended batch by batch, so it is sorted by stale_since.
        self.stale: list[tuple[bytes, int]] = []
        self._latest: int | None = None
        # The dict's own lookup, not a wrapper: node reads are the tree's hottest call.
        self.get_node: Callable[[bytes], bytes | None] = self.nodes.get

    def get_root_key(self, version: int) -> bytes | None:
        return self.roots.get(version)

    def latest_version(self) -> int | None:
        return self._latest

    def write_batch(self, batch: TreeBatch) -> None:
        self.nodes.update(batch.new_nodes)
        self.stale.extend(batch.stale)
        self.roots[batch.version] = batch.root_key
        self._latest = batch.version

    def stale_nodes(self, up_to_version: int) -> list[tuple[bytes, int]]:
        return self.stale[: self._stale_end(up_to_version)]

    def delete_pruned(self, node_keys: Sequence[bytes], keep_from_version: int) -> None:
        for key in node_keys:
            self.nodes.pop(key, None)
        del self.stale[: self._stale_end(keep_from_version)]
        for version in [v for v in self.roots if v < keep_from_version]:
            del self.roots[version]

    def _stale_end(self, up_to_version: int) -> int:
        return bisect_right(self.stale, up_to_version, key=itemgetter(1))


def prune(store: NodeStore, keep_from_version: int) -> int:
    """Forget every version before ``keep_from_version``; return how many nodes went.

    A node marked stale at version s is unreachable from s on, so with versions
    ``>= keep_from_version`` kept, exactly the entries with s <= keep_from_version go
    (the Jellyfish rule). Nodes still reachable from kept versions are never stale-listed.
    """
    latest = store.latest_version()
    if latest is None or keep_from_version > latest:
        raise VersionError(f"cannot prune to {keep_from_version}: latest version is {latest}")
    keys = [key for key, _ in store.stale_nodes(keep_from_version)]
    store.delete_pruned(keys, keep_from_version)
    return len(keys)
