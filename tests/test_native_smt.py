"""The ``native-smt`` provider: conformance on SQLite and PostgreSQL, selection by config,
switching with ``python-smt`` on the same storage, and its typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fontana.config import Settings, load_settings
from fontana.errors import EncodingError, StorageError
from fontana.ledger import open_proofs
from fontana.plugins import get_host, reset_host
from fontana.smt import MemoryNodeStore, SparseMerkleTree, VersionError, prune
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage
from fontana.storage.base import Storage
from fontana.testing.proofs import (
    ConfiguredProofProviderConformance,
    ProofProviderConformance,
    ProviderFactory,
)
from fontana.testing.requirements import require_external

try:
    from fontana_native.smt import NativeSMTProvider
except ImportError:  # the extension is not built: every test here skips (fails in CI)
    NativeSMTProvider = None  # type: ignore[assignment,misc]

NATIVE = "the fontana-native extension (make .venv/.fontana-native)"


@pytest.fixture(autouse=True)
def _needs_native() -> None:
    if NativeSMTProvider is None:
        require_external(NATIVE)


class TestNativeSMTConformance(ProofProviderConformance):
    @pytest.fixture
    def provider_factory(self) -> ProviderFactory:
        return NativeSMTProvider


class TestNativeSMTOnPostgres(ProofProviderConformance):
    @pytest.fixture
    def storage_url(self, pg_url: str) -> str:
        return pg_url

    @pytest.fixture
    def provider_factory(self) -> ProviderFactory:
        return NativeSMTProvider


def _plugin_loaded() -> bool:
    """Whether the ``native`` plugin registered its provider (not disabled by the env)."""
    return "native-smt" in get_host().backends("proofs").names()


class TestNativeSMTThroughTheConfig(ConfiguredProofProviderConformance):
    @pytest.fixture
    def proof_provider(self) -> str:
        if not _plugin_loaded():
            pytest.skip("the native plugin is disabled (FONTANA_DISABLE_PLUGINS)")
        return "native-smt"


class TestAutoThroughTheConfig(ConfiguredProofProviderConformance):
    @pytest.fixture
    def proof_provider(self) -> str:
        return "auto"


# -- selection --------------------------------------------------------------------


def _settings(home: Path, **env: str) -> Settings:
    return load_settings(environ={"FONTANA_HOME": str(home), **env}, cwd=home)


def test_auto_is_the_default_and_picks_the_native_tree_when_loaded(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.proofs.provider == "auto"
    expected = NativeSMTProvider if _plugin_loaded() else PythonSMTProvider
    assert isinstance(open_proofs(settings), expected)
    python = _settings(tmp_path, FONTANA_PROOFS_PROVIDER="python-smt")
    assert isinstance(open_proofs(python), PythonSMTProvider)


def test_auto_without_the_native_plugin_is_the_python_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FONTANA_DISABLE_PLUGINS", "native")
    reset_host()
    try:
        assert isinstance(open_proofs(_settings(tmp_path)), PythonSMTProvider)
    finally:
        monkeypatch.delenv("FONTANA_DISABLE_PLUGINS")
        reset_host()


# -- one storage, both providers -----------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    settings = _settings(tmp_path)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/ledger.db"
    else:
        url = request.getfixturevalue("pg_url")
    store = open_storage(settings, url)
    store.create_schema()
    yield store
    store.close()


def _batch(version: int, size: int = 40) -> dict[bytes, bytes | None]:
    """Inserts of fresh keys plus the deletion of a few keys from two versions back."""
    updates: dict[bytes, bytes | None] = {
        bytes([version, i]) * 16: bytes([i, version]) * 16 for i in range(size)
    }
    if version > 2:
        for i in range(0, size, 7):
            updates[bytes([version - 2, i]) * 16] = None
    return updates


def _check(
    storage: Storage, providers: list[Any], reference: SparseMerkleTree, last: int, first: int = 1
) -> None:
    """Every provider gives the reference's root and proof bytes at every retained version."""
    probes = [bytes([v, i]) * 16 for v in range(1, last + 2) for i in (0, 1, 7, 39)]
    with storage.read() as s:
        for provider in providers:
            for version in range(first, last + 1):
                assert provider.root(s, version) == reference.get_root(version)
                for key in probes:
                    expected = reference.prove(key, version).to_bytes()
                    assert provider.prove(s, key, version) == expected


def _apply(storage: Storage, provider: Any, version: int, updates: dict[bytes, Any]) -> bytes:
    with storage.write() as s:
        return provider.apply_batch(s, version, updates)  # type: ignore[no-any-return]


def _rolled_back(storage: Storage, provider: Any, version: int, updates: dict[bytes, Any]) -> None:
    with pytest.raises(RuntimeError), storage.write() as s:
        provider.apply_batch(s, version, updates)
        raise RuntimeError("the block failed after the tree was updated")


@pytest.mark.parametrize("first", ["python", "native"])
def test_providers_take_turns_on_one_storage_mid_chain(storage: Storage, first: str) -> None:
    """python -> native -> python (or the reverse) every few blocks, with rollbacks between."""
    native, python = NativeSMTProvider(), PythonSMTProvider()
    order = [python, native] if first == "python" else [native, python]
    reference = SparseMerkleTree(MemoryNodeStore())
    version = 0
    for turn in range(4):
        provider, other = order[turn % 2], order[(turn + 1) % 2]
        for _ in range(3):
            version += 1
            if other is native:
                # A native batch of this version fails first: its cached leftovers must not
                # shadow what the other provider commits. (python-smt's own cache keeps such
                # leftovers, so it is not put through this; see docs/native.md.)
                _rolled_back(storage, other, version, _batch(version + 100))
            _rolled_back(storage, provider, version, _batch(version + 50))
            expected = reference.apply_batch(version, _batch(version))
            assert _apply(storage, provider, version, _batch(version)) == expected
    _check(storage, [native, python], reference, version)
    with storage.write() as s:
        assert native.prune(s, 6) == prune(reference.store, 6)  # type: ignore[arg-type]
    for provider in order:
        version += 1
        expected = reference.apply_batch(version, _batch(version))
        assert _apply(storage, provider, version, _batch(version)) == expected
    _check(storage, [native, python], reference, version, first=6)


def test_a_batch_another_instance_committed_after_a_rollback_is_not_shadowed(
    storage: Storage,
) -> None:
    """A rolled-back batch cached by one instance, then a different one committed elsewhere."""
    native, python = NativeSMTProvider(), PythonSMTProvider()
    reference = SparseMerkleTree(MemoryNodeStore())
    for version in (1, 2):
        reference.apply_batch(version, _batch(version))
        _apply(storage, native, version, _batch(version))
    _rolled_back(storage, native, 3, _batch(53))
    reference.apply_batch(3, _batch(3))
    _apply(storage, python, 3, _batch(3))
    expected = reference.apply_batch(4, _batch(4))
    assert _apply(storage, native, 4, _batch(4)) == expected
    _check(storage, [native], reference, 4)


# -- errors -----------------------------------------------------------------------


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Storage]:
    store = open_storage(_settings(tmp_path), f"sqlite:///{tmp_path}/ledger.db")
    store.create_schema()
    yield store
    store.close()


class _Failing:
    """A real session whose ``method`` raises on its ``after``-th call."""

    def __init__(self, session: Any, method: str, after: int) -> None:
        self._session, self._method, self._left = session, method, after

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._session, name)
        if name != self._method:
            return attr

        def call(*args: Any) -> Any:
            self._left -= 1
            if self._left <= 0:
                raise ConnectionError("the database went away")
            return attr(*args)

        return call


@pytest.mark.parametrize(
    ("method", "after"),
    [("get_tree_node", 1), ("get_tree_node", 5), ("get_tree_root", 1), ("latest_tree_version", 1)],
)
def test_a_storage_callback_that_raises_reaches_the_caller_and_writes_nothing(
    sqlite: Storage, method: str, after: int
) -> None:
    native = NativeSMTProvider()
    reference = SparseMerkleTree(MemoryNodeStore())
    for version in (1, 2):
        reference.apply_batch(version, _batch(version))
        # A fresh instance each time, so the batch below must read nodes from storage.
        _apply(sqlite, NativeSMTProvider(), version, _batch(version))
    with pytest.raises(ConnectionError, match="went away"), sqlite.write() as s:
        native.apply_batch(_Failing(s, method, after), 3, _batch(3))
    with pytest.raises(ConnectionError), sqlite.read() as s:
        native.prove(_Failing(s, method, after), bytes([1, 0]) * 16)
    with sqlite.read() as s:
        assert s.latest_tree_version() == 2
        assert native.root(s) == reference.get_root(2)
    expected = reference.apply_batch(3, _batch(3))
    assert _apply(sqlite, native, 3, _batch(3)) == expected
    _check(sqlite, [native], reference, 3)


@pytest.mark.parametrize(
    "updates",
    [
        {b"\x01" * 31: b"\x0a" * 32},
        {b"\x01" * 33: b"\x0a" * 32},
        {memoryview(b"\x01" * 32): b"\x0a" * 32},
        {"x" * 32: b"\x0a" * 32},
        {b"\x02" * 32: b"\x0a" * 31},
        {b"\x02" * 32: b""},
        {b"\x02" * 32: bytearray(32)},
        {b"\x02" * 32: 0},
        {b"\x02" * 32: b"\x0a" * 32, b"\x03" * 32: b"\x0a" * 33},
    ],
)
def test_wrong_keys_and_values_are_encoding_errors_and_change_nothing(
    sqlite: Storage, updates: dict[Any, Any]
) -> None:
    native = NativeSMTProvider()
    root = _apply(sqlite, native, 1, {b"\x01" * 32: b"\x0a" * 32})
    with pytest.raises(EncodingError) as info, sqlite.write() as s:
        native.apply_batch(s, 2, updates)
    assert info.value.code == "malformed"
    with pytest.raises(EncodingError), sqlite.write() as s:
        SparseMerkleTree(MemoryNodeStore()).compute_batch(2, updates)
    for key in (b"\x01" * 31, bytearray(32), "x" * 32, None):
        with pytest.raises(EncodingError), sqlite.read() as s:
            native.prove(s, key)
    with sqlite.read() as s:
        assert s.latest_tree_version() == 1
        assert native.root(s) == root


@pytest.mark.parametrize("version", [5, 4, 0, -1, 2**64, 2**70])
def test_versions_that_do_not_move_forward_or_fit_u64_are_version_errors(
    sqlite: Storage, version: int
) -> None:
    native = NativeSMTProvider()
    root = _apply(sqlite, native, 5, {b"\x07" * 32: b"\x01" * 32})
    with pytest.raises(VersionError) as info, sqlite.write() as s:
        native.apply_batch(s, version, {b"\x07" * 32: b"\x02" * 32})
    assert info.value.code == "smt_version"
    with pytest.raises(VersionError), sqlite.read() as s:
        native.prove(s, b"\x07" * 32, 3)
    with sqlite.read() as s:
        assert s.latest_tree_version() == 5
        assert native.root(s) == root


def test_large_versions_are_accepted(sqlite: Storage) -> None:
    """Up to the storage's limit (SQL BIGINT), and to u64's in memory."""
    from fontana_native._native import MemoryTree

    reference = SparseMerkleTree(MemoryNodeStore())
    updates = {b"\x07" * 32: b"\x01" * 32}
    expected = reference.apply_batch(2**63 - 1, updates)
    assert _apply(sqlite, NativeSMTProvider(), 2**63 - 1, updates) == expected
    assert MemoryTree().apply_batch(2**64 - 1, updates) == expected


def _key(version: int, depth: int, path: bytes = b"") -> bytes:
    return version.to_bytes(8, "big") + depth.to_bytes(2, "big") + path


_LEAF = b"\x00" + bytes(64)
_CHILD = (1).to_bytes(8, "big") + b"\x11" * 32


@pytest.mark.parametrize(
    "root",
    [
        b"",
        b"\x00" * 64,
        b"\x00" * 66,
        b"\x02" + bytes(64),
        b"\x01",
        b"\x01\x00",
        b"\x01\x33" + _CHILD * 2,
        b"\x01\x12" + _CHILD,
        b"\x01\x12" + _CHILD * 2 + b"\x00",
        b"\x01\x10" + _CHILD * 2,
    ],
)
def test_a_corrupt_node_is_a_storage_error(sqlite: Storage, root: bytes) -> None:
    with sqlite.write() as s:
        s.put_tree_nodes({_key(1, 0): root})
        s.set_tree_root(1, _key(1, 0))
    native = NativeSMTProvider()
    for action in (
        lambda s: native.root(s),
        lambda s: native.prove(s, b"\x01" * 32),
        lambda s: native.apply_batch(s, 2, {b"\x09" * 32: b"\x09" * 32}),
    ):
        with pytest.raises(StorageError, match="corrupt"), sqlite.write() as s:
            action(s)


@pytest.mark.parametrize(
    ("kinds", "left"),
    [(0x21, _LEAF), (0x12, b"\x01\x11" + _CHILD * 2)],
)
def test_a_child_of_another_kind_than_its_parent_says_is_a_storage_error(
    sqlite: Storage, kinds: int, left: bytes
) -> None:
    with sqlite.write() as s:
        s.put_tree_nodes({_key(1, 0): bytes([1, kinds]) + _CHILD * 2, _key(1, 1, b"\x00"): left})
        s.set_tree_root(1, _key(1, 0))
    with pytest.raises(StorageError, match="corrupt"), sqlite.write() as s:
        NativeSMTProvider().apply_batch(s, 2, {b"\x01" * 32: b"\x09" * 32})


def test_a_missing_node_is_a_storage_error(sqlite: Storage) -> None:
    _apply(sqlite, NativeSMTProvider(), 1, {bytes([i]) * 32: bytes([i]) * 32 for i in range(1, 5)})
    _apply(sqlite, NativeSMTProvider(), 2, {b"\x09" * 32: b"\x09" * 32})
    with sqlite.write() as s:
        assert s.prune_tree(2) > 0
    with pytest.raises(VersionError), sqlite.read() as s:
        NativeSMTProvider().root(s, 1)
    with pytest.raises(StorageError, match="missing"), sqlite.write() as s:
        s.set_tree_root(3, (1).to_bytes(8, "big") + b"\x00\x00")
        NativeSMTProvider().root(s, 3)


# -- the in-memory tree of the benches -----------------------------------------------


def test_the_memory_tree_matches_the_reference() -> None:
    from fontana_native._native import MemoryTree

    tree, reference = MemoryTree(), SparseMerkleTree(MemoryNodeStore())
    store = reference.store
    assert isinstance(store, MemoryNodeStore)
    for version in range(1, 8):
        assert tree.apply_batch(version, _batch(version)) == reference.apply_batch(
            version, _batch(version)
        )
    assert tree.prune(4) == prune(store, 4)
    assert len(tree) == len(store.nodes)
    for version in range(4, 8):
        for key in (bytes([v, i]) * 16 for v in range(1, 9) for i in (0, 3, 7)):
            assert tree.prove(key, version) == reference.prove(key, version).to_bytes()
    with pytest.raises(VersionError):
        tree.root(3)
    with pytest.raises(VersionError):
        tree.apply_batch(7, {})
