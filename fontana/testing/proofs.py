"""The proof-provider conformance suite: a state tree must be the reference tree, byte for byte.

A :class:`~fontana.interfaces.ProofProvider` (the built-in ``python-smt``, a native
tree, ...) is run beside the reference Python tree (:mod:`fontana.smt` on a
``MemoryNodeStore``) and must give identical roots and identical proof bytes:
over the published vectors (``tests/vectors/smt.json``, built by
:func:`fontana.smt.vectors.build_vectors`), over seeded random workloads (inserts,
updates, deletes, no-op deletes and sets, empty and large batches), at past
versions, after pruning, and after a restart on the same storage. ``verify``
must agree with the reference verifier on honest and tampered proofs alike.

Subclass :class:`ProofProviderConformance` and provide ``provider_factory``, a
callable returning a *new* provider instance each time::

    from fontana.testing.proofs import ProofProviderConformance

    class TestMyTree(ProofProviderConformance):
        @pytest.fixture
        def provider_factory(self):
            return lambda: MyTree()

The nodes live in a fresh SQLite ledger database per test; override
``storage_url`` (e.g. with the ``pg_url`` fixture) to run on another storage.
:class:`ConfiguredProofProviderConformance` opens the provider the way the
ledger does, from the ``proofs.provider`` setting: provide ``proof_provider``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from fontana.config import Settings, load_settings
from fontana.errors import EncodingError
from fontana.interfaces import ProofProvider
from fontana.smt import MemoryNodeStore, Proof, SparseMerkleTree, VersionError, verify_proof
from fontana.smt import prune as reference_prune
from fontana.smt.vectors import build_vectors
from fontana.storage import open_storage
from fontana.storage.base import Storage

__all__ = [
    "ConfiguredProofProviderConformance",
    "ProofProviderConformance",
    "ProviderFactory",
    "reference_verify",
]

#: A new provider instance per call.
ProviderFactory = Callable[[], ProofProvider]
Updates = dict[bytes, bytes | None]


def reference_verify(root: bytes, key: bytes, value_hash: bytes | None, proof: bytes) -> bool:
    """The reference verifier on proof bytes: malformed bytes are simply not valid."""
    try:
        return verify_proof(root, key, value_hash, Proof.from_bytes(proof))
    except EncodingError:
        return False


def _unhex(text: str | None) -> bytes | None:
    """A vector's hex value; null stands for a deletion or an absent key."""
    return None if text is None else bytes.fromhex(text)


def _twin(key: bytes, bit: int) -> bytes:
    """``key`` with bit ``bit`` (0 = most significant) flipped: they share ``bit`` bits."""
    raw = bytearray(key)
    raw[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(raw)


class _Workload:
    """Seeded random batches against a model of the map, with awkward keys mixed in."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.state: dict[bytes, bytes] = {}
        self.deleted: set[bytes] = set()

    def _key(self) -> bytes:
        rng = self.rng
        if self.state and rng.random() < 0.3:
            # A key sharing a long prefix with a present one: deep paths, split leaves.
            return _twin(rng.choice(sorted(self.state)), rng.choice([255, 254, 200, 31, 8, 1]))
        return rng.randbytes(32)

    def batch(self, size: int) -> Updates:
        rng = self.rng
        updates: Updates = {}
        present = sorted(self.state)
        for _ in range(size):
            roll = rng.random()
            if present and roll < 0.25:  # update
                updates[rng.choice(present)] = rng.randbytes(32)
            elif present and roll < 0.45:  # delete
                updates[rng.choice(present)] = None
            elif roll < 0.55:  # delete of a key that is not there: changes nothing
                updates[rng.randbytes(32)] = None
            elif present and roll < 0.6:  # set to the value it has: changes nothing
                key = rng.choice(present)
                updates[key] = self.state[key]
            else:  # insert
                updates[self._key()] = rng.randbytes(32)
        for key, value in updates.items():
            if value is None:
                if self.state.pop(key, None) is not None:
                    self.deleted.add(key)
            else:
                self.state[key] = value
        return updates

    def probes(self, count: int) -> list[bytes]:
        """Present, deleted and never-seen keys, and near misses of present ones."""
        rng = self.rng
        present, deleted = sorted(self.state), sorted(self.deleted)
        keys = rng.sample(present, min(count, len(present)))
        keys += rng.sample(deleted, min(count // 2, len(deleted)))
        keys += [rng.randbytes(32) for _ in range(count // 2)]
        keys += [_twin(k, rng.choice([255, 100, 3])) for k in keys[: count // 2]]
        return keys


class ProofProviderConformance:
    """Behaviour every :class:`~fontana.interfaces.ProofProvider` must have."""

    # -- fixtures ---------------------------------------------------------------

    @pytest.fixture
    def provider_factory(self) -> ProviderFactory:
        raise NotImplementedError("provide a provider_factory fixture: () -> ProofProvider")

    @pytest.fixture
    def storage_url(self, tmp_path: Path) -> str:
        """A fresh, empty ledger database per test (SQLite unless overridden)."""
        return f"sqlite:///{tmp_path}/ledger.db"

    @pytest.fixture
    def open_storage_(self, storage_url: str, fontana_settings: Settings) -> Iterator[Any]:
        """Opens a new storage instance on the test's database; all closed after the test."""
        opened: list[Storage] = []

        def open_() -> Storage:
            store = open_storage(fontana_settings, storage_url)
            opened.append(store)
            return store

        yield open_
        for store in opened:
            store.close()

    @pytest.fixture
    def storage(self, open_storage_: Callable[[], Storage]) -> Storage:
        store = open_storage_()
        store.create_schema()
        return store

    @pytest.fixture
    def provider(self, provider_factory: ProviderFactory) -> ProofProvider:
        return provider_factory()

    # -- helpers ----------------------------------------------------------------

    @staticmethod
    def apply(
        storage: Storage, provider: ProofProvider, version: int, updates: Mapping[bytes, Any]
    ) -> bytes:
        with storage.write() as s:
            return provider.apply_batch(s, version, updates)

    @staticmethod
    def check_proofs(
        storage: Storage,
        provider: ProofProvider,
        reference: SparseMerkleTree,
        keys: list[bytes],
        version: int | None = None,
    ) -> None:
        """Proof bytes equal the reference's, and ``verify`` accepts them with the right value."""
        with storage.read() as s:
            root = provider.root(s, version)
            assert root == reference.get_root(version), f"root at version {version} differs"
            for key in keys:
                proof = provider.prove(s, key, version)
                expected = reference.prove(key, version).to_bytes()
                assert proof == expected, f"proof of {key.hex()} at version {version} differs"
                value = reference.get(key, version)
                assert provider.verify(root, key, value, proof), "an honest proof was refused"

    # -- the published vectors ---------------------------------------------------------

    def test_vectors_give_the_same_roots_proofs_and_verdicts(
        self, storage: Storage, provider: ProofProvider
    ) -> None:
        vectors = build_vectors()
        for step in vectors["versions"]:
            version = step["version"]
            updates = {bytes.fromhex(k): _unhex(v) for k, v in step["updates"]}
            root = self.apply(storage, provider, version, updates)
            assert root.hex() == step["root"], f"root of vector version {version}"
            with storage.read() as s:
                assert provider.root(s, version).hex() == step["root"]
                for case in step["proofs"]:
                    key = bytes.fromhex(case["key"])
                    value = _unhex(case["value_hash"])
                    proof = bytes.fromhex(case["proof"])
                    verdict = provider.verify(root, key, value, proof)
                    assert verdict == case["valid"], f"verify of vector case {case['note']!r}"
                    if case["valid"]:
                        assert provider.prove(s, key, version) == proof, case["note"]

    # -- random workloads ----------------------------------------------------------------

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_random_workload_matches_the_reference(
        self, storage: Storage, provider: ProofProvider, seed: int
    ) -> None:
        work = _Workload(seed)
        reference = SparseMerkleTree(MemoryNodeStore())
        sizes = [1, 5, 0, 40, 300, 17, 3, 60, 1, 25, 0, 80]
        for version, size in enumerate(sizes, start=1):
            updates = work.batch(size)
            expected = reference.apply_batch(version, updates)
            assert self.apply(storage, provider, version, updates) == expected, (
                f"root after batch {version} ({size} changes)"
            )
            self.check_proofs(storage, provider, reference, work.probes(12), version)

    def test_order_of_updates_does_not_matter(
        self, open_storage_: Callable[[], Storage], provider_factory: ProviderFactory
    ) -> None:
        work = _Workload(7)
        batches = [work.batch(50) for _ in range(3)]
        roots = []
        for shuffle in (False, True):
            store = open_storage_()
            store.drop_schema()
            store.create_schema()
            provider = provider_factory()
            for version, updates in enumerate(batches, start=1):
                items = list(updates.items())
                if shuffle:
                    random.Random(version).shuffle(items)
                last = self.apply(store, provider, version, dict(items))
            roots.append(last)
        assert roots[0] == roots[1]

    def test_empty_tree_and_empty_batches(self, storage: Storage, provider: ProofProvider) -> None:
        reference = SparseMerkleTree(MemoryNodeStore())
        key = bytes(range(32))
        for version in (0, 1):
            assert self.apply(storage, provider, version, {}) == reference.apply_batch(version, {})
        self.check_proofs(storage, provider, reference, [key], 1)
        self.apply(storage, provider, 2, {key: b"\x01" * 32})
        reference.apply_batch(2, {key: b"\x01" * 32})
        self.apply(storage, provider, 3, {key: None})
        reference.apply_batch(3, {key: None})
        for version in (1, 2, 3):
            self.check_proofs(storage, provider, reference, [key, _twin(key, 255)], version)

    # -- versions -----------------------------------------------------------------

    def test_proofs_and_roots_at_past_versions(
        self, storage: Storage, provider: ProofProvider
    ) -> None:
        work = _Workload(11)
        reference = SparseMerkleTree(MemoryNodeStore())
        probes: list[bytes] = []
        for version in range(1, 7):
            updates = work.batch(30)
            reference.apply_batch(version, updates)
            self.apply(storage, provider, version, updates)
            probes += work.probes(4)
        for version in (None, *range(1, 7)):
            self.check_proofs(storage, provider, reference, probes, version)

    def test_a_version_that_does_not_move_forward_is_refused(
        self, storage: Storage, provider: ProofProvider
    ) -> None:
        key = b"\x07" * 32
        root = self.apply(storage, provider, 5, {key: b"\x01" * 32})
        for version in (5, 4):
            with pytest.raises(VersionError), storage.write() as s:
                provider.apply_batch(s, version, {key: b"\x02" * 32})
        with storage.read() as s:
            assert provider.root(s) == root
            assert provider.root(s, 5) == root

    def test_a_rolled_back_batch_leaves_no_trace(
        self, storage: Storage, provider: ProofProvider
    ) -> None:
        reference = SparseMerkleTree(MemoryNodeStore())
        first = {b"\x01" * 32: b"\x0a" * 32}
        reference.apply_batch(1, first)
        self.apply(storage, provider, 1, first)
        with pytest.raises(RuntimeError), storage.write() as s:
            provider.apply_batch(s, 2, {b"\x02" * 32: b"\x0b" * 32})
            raise RuntimeError("the block failed after the tree was updated")
        with storage.read() as s:
            assert provider.root(s) == reference.get_root(1)
        second = {b"\x03" * 32: b"\x0c" * 32}
        assert self.apply(storage, provider, 2, second) == reference.apply_batch(2, second)
        self.check_proofs(storage, provider, reference, [b"\x02" * 32, b"\x03" * 32], 2)

    def test_another_writers_batch_replaces_a_rolled_back_one(
        self, storage: Storage, provider: ProofProvider, provider_factory: ProviderFactory
    ) -> None:
        """A batch this instance computed and cached, then rolled back, must not shadow
        the batch of the same version another writer commits (same node keys, other bytes)."""
        reference = SparseMerkleTree(MemoryNodeStore())
        first = {b"\x01" * 32: b"\x0a" * 32}
        reference.apply_batch(1, first)
        self.apply(storage, provider, 1, first)
        with pytest.raises(RuntimeError), storage.write() as s:
            provider.apply_batch(s, 2, {b"\x82" * 32: b"\x0b" * 32})
            raise RuntimeError("the block failed after the tree was updated")
        second = {b"\x82" * 32: b"\x0c" * 32, b"\x43" * 32: b"\x0d" * 32}
        other = provider_factory()
        assert self.apply(storage, other, 2, second) == reference.apply_batch(2, second)
        keys = [b"\x01" * 32, b"\x82" * 32, b"\x43" * 32]
        self.check_proofs(storage, provider, reference, keys, 2)
        third = {b"\xc4" * 32: b"\x0e" * 32}
        assert self.apply(storage, provider, 3, third) == reference.apply_batch(3, third)
        self.check_proofs(storage, provider, reference, [*keys, b"\xc4" * 32], 3)

    def test_bad_keys_and_values_are_refused(
        self, storage: Storage, provider: ProofProvider
    ) -> None:
        root = self.apply(storage, provider, 1, {b"\x01" * 32: b"\x0a" * 32})
        for updates in ({b"short": b"\x0a" * 32}, {b"\x02" * 32: b"short"}):
            with pytest.raises(EncodingError), storage.write() as s:
                provider.apply_batch(s, 2, updates)
        with pytest.raises(EncodingError), storage.read() as s:
            provider.prove(s, b"short")
        with storage.read() as s:
            assert provider.root(s) == root

    # -- pruning --------------------------------------------------------------------

    def test_pruning_forgets_old_versions_and_keeps_the_rest(
        self, storage: Storage, provider: ProofProvider
    ) -> None:
        work = _Workload(23)
        reference = SparseMerkleTree(MemoryNodeStore())
        store = reference.store
        for version in range(1, 9):
            updates = work.batch(25)
            reference.apply_batch(version, updates)
            self.apply(storage, provider, version, updates)
        probes = work.probes(10)
        keep = 5
        with storage.write() as s:
            removed = provider.prune(s, keep)
        assert removed == reference_prune(store, keep), "pruned another number of nodes"
        with storage.read() as s:
            for version in range(1, keep):
                with pytest.raises(VersionError):
                    provider.prove(s, probes[0], version)
                with pytest.raises(VersionError):
                    provider.root(s, version)
        for version in (None, *range(keep, 9)):
            self.check_proofs(storage, provider, reference, probes, version)
        updates = work.batch(25)  # the tree goes on after pruning
        assert self.apply(storage, provider, 9, updates) == reference.apply_batch(9, updates)
        self.check_proofs(storage, provider, reference, work.probes(10), 9)

    # -- verify ---------------------------------------------------------------------

    def test_verify_accepts_exactly_the_valid_proofs(
        self, storage: Storage, provider: ProofProvider
    ) -> None:
        work = _Workload(31)
        for version in (1, 2):
            self.apply(storage, provider, version, work.batch(60))
        other_root = b"\x55" * 32
        with storage.read() as s:
            root = provider.root(s)
            for key in work.probes(8):
                value = work.state.get(key)
                proof = provider.prove(s, key)
                wrong = b"\x66" * 32
                candidates: list[tuple[bytes, bytes, bytes | None, bytes]] = [
                    (root, key, value, proof),
                    (root, key, wrong, proof),  # a wrong value
                    (root, key, None if value else wrong, proof),  # presence flipped
                    (other_root, key, value, proof),  # another root
                    (root, _twin(key, 0), value, proof),  # another key
                    (root, key, value, proof[:-1]),  # truncated
                    (root, key, value, proof + b"\x00"),  # extended
                    (root, key, value, b""),
                    (root, key, value, b"\x00\xff\xff"),
                ]
                for i in range(len(proof)):  # every byte tampered with
                    raw = bytearray(proof)
                    raw[i] ^= 1 << (i % 8)
                    candidates.append((root, key, value, bytes(raw)))
                for r, k, v, p in candidates:
                    assert provider.verify(r, k, v, p) == reference_verify(r, k, v, p), (
                        f"verify disagrees with the reference on a proof of {k.hex()}"
                    )
                assert provider.verify(root, key, value, proof), "an honest proof was refused"

    # -- persistence -------------------------------------------------------------------

    def test_a_new_instance_on_the_same_storage_goes_on(
        self,
        storage: Storage,
        provider: ProofProvider,
        provider_factory: ProviderFactory,
        open_storage_: Callable[[], Storage],
    ) -> None:
        work = _Workload(41)
        reference = SparseMerkleTree(MemoryNodeStore())
        for version in range(1, 4):
            updates = work.batch(40)
            reference.apply_batch(version, updates)
            self.apply(storage, provider, version, updates)
        storage.close()
        again, restarted = open_storage_(), provider_factory()
        probes = work.probes(12)
        for version in (None, 1, 2, 3):
            self.check_proofs(again, restarted, reference, probes, version)
        updates = work.batch(40)
        assert self.apply(again, restarted, 4, updates) == reference.apply_batch(4, updates)
        self.check_proofs(again, restarted, reference, work.probes(12), 4)


class ConfiguredProofProviderConformance(ProofProviderConformance):
    """The suite with providers opened from the ``proofs.provider`` setting, as the ledger does."""

    @pytest.fixture
    def proof_provider(self) -> str:
        raise NotImplementedError("provide proof_provider: the name your plugin registers")

    @pytest.fixture
    def provider_factory(self, fontana_home: Path, proof_provider: str) -> ProviderFactory:
        from fontana.ledger import open_proofs

        env = {"FONTANA_HOME": str(fontana_home), "FONTANA_PROOFS_PROVIDER": proof_provider}
        settings = load_settings(environ=env, cwd=fontana_home)
        return lambda: open_proofs(settings)
