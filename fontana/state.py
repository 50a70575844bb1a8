"""The built-in state commitment: the Python sparse Merkle tree kept in ledger storage.

Nodes are immutable once committed (their key includes the version that wrote
them), so a cache of node bytes saves a database read for every node a batch or
proof walks. The one way a cached node goes wrong is a batch whose transaction
rolls back after it was cached, followed by another writer's batch of the same
version: same node keys, other bytes. So each batch stays *pending* until another
session shows its root committed; a pending version whose stored root is absent
or different is dropped from the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

from fontana.errors import EncodingError
from fontana.smt import Proof, SparseMerkleTree, TreeBatch, verify_proof
from fontana.storage.base import StorageSession

#: Nodes cached per process; about 100 bytes each.
DEFAULT_CACHE_NODES = 1_000_000


class _NodeCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._nodes: OrderedDict[bytes, bytes] = OrderedDict()
        # version -> (root key, root node or None, the session that wrote it); the session
        # itself, not its id, which a later session may reuse
        self._pending: dict[int, tuple[bytes, bytes | None, StorageSession]] = {}
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        node = self._nodes.get(key)
        if node is not None:
            self._nodes.move_to_end(key)
        return node

    def put(self, key: bytes, node: bytes) -> None:
        self._nodes[key] = node
        if len(self._nodes) > self.capacity:
            self._nodes.popitem(last=False)

    def add_pending(self, batch: TreeBatch, session: StorageSession) -> None:
        if batch.new_nodes:
            root_node = batch.new_nodes.get(batch.root_key)
            with self._lock:
                self._pending[batch.version] = (batch.root_key, root_node, session)

    def settle(self, session: StorageSession) -> None:
        """Decide the pending batches another session can judge: committed ones stay
        cached, the others (rolled back, or replaced by another writer's) are dropped."""
        if not self._pending:
            return
        with self._lock:
            for version, (root_key, root_node, owner) in list(self._pending.items()):
                if owner is session:
                    continue  # its own transaction sees its own writes: nothing to learn
                stored = session.get_tree_root(version)
                committed = stored == root_key and (
                    root_node is None or session.get_tree_node(root_key) == root_node
                )
                if not committed:  # rolled back, replaced, or not committed yet: re-read later
                    prefix = version.to_bytes(8, "big")
                    for key in [k for k in self._nodes if k.startswith(prefix)]:
                        del self._nodes[key]
                del self._pending[version]


class SessionNodeStore:
    """The tree's node store on one storage session (one DB transaction).

    Pruning bypasses it: :meth:`StorageSession.prune_tree` does it in one statement.
    """

    def __init__(self, session: StorageSession, cache: _NodeCache) -> None:
        self.session = session
        self.cache = cache

    def get_node(self, node_key: bytes) -> bytes | None:
        node = self.cache.get(node_key)
        if node is None:
            node = self.session.get_tree_node(node_key)
            if node is not None:
                self.cache.put(node_key, node)
        return node

    def get_root_key(self, version: int) -> bytes | None:
        return self.session.get_tree_root(version)

    def latest_version(self) -> int | None:
        return self.session.latest_tree_version()

    def write_batch(self, batch: TreeBatch) -> None:
        self.session.put_tree_nodes(batch.new_nodes)
        self.session.add_stale_tree_nodes(batch.stale)
        self.session.set_tree_root(batch.version, batch.root_key)
        # Cached only after the caller's transaction is asked to write them, and
        # pending until another session sees them committed (_NodeCache.settle).
        self.cache.add_pending(batch, self.session)
        for key, node in batch.new_nodes.items():
            self.cache.put(key, node)


class PythonSMTProvider:
    """:class:`fontana.interfaces.ProofProvider` on :class:`fontana.smt.SparseMerkleTree`."""

    name = "python-smt"

    def __init__(self, cache_nodes: int = DEFAULT_CACHE_NODES) -> None:
        self._cache = _NodeCache(cache_nodes)

    def _tree(self, session: StorageSession) -> SparseMerkleTree:
        self._cache.settle(session)
        return SparseMerkleTree(SessionNodeStore(session, self._cache))

    def apply_batch(
        self, session: StorageSession, version: int, updates: Mapping[bytes, bytes | None]
    ) -> bytes:
        return self._tree(session).apply_batch(version, updates)

    def root(self, session: StorageSession, version: int | None = None) -> bytes:
        return self._tree(session).get_root(version)

    def prove(self, session: StorageSession, key: bytes, version: int | None = None) -> bytes:
        return self._tree(session).prove(key, version).to_bytes()

    def verify(self, root: bytes, key: bytes, value_hash: bytes | None, proof: bytes) -> bool:
        try:
            return verify_proof(root, key, value_hash, Proof.from_bytes(proof))
        except EncodingError:
            return False

    def prune(self, session: StorageSession, keep_from_version: int) -> int:
        return session.prune_tree(keep_from_version)
