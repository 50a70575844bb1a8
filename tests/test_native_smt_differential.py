"""Differential tests (hypothesis): the native tree against the Python reference.

Random workloads of inserts, updates, deletes, no-op changes and empty batches, with
proofs of present and absent keys at every retained version and pruning between, run
through ``native-smt`` on a real SQLite ledger database and through the reference tree;
every batch must write the same node bytes under the same keys and list the same stale
entries. ``verify`` must give the reference verdict on hostile bytes and never raise.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fontana.config import load_settings
from fontana.smt import MemoryNodeStore, SparseMerkleTree, prune
from fontana.storage import open_storage
from fontana.storage.base import Storage
from fontana.testing.proofs import reference_verify
from fontana.testing.requirements import require_external

try:
    from fontana_native._native import verify_proof as native_verify_proof
    from fontana_native.smt import NativeSMTProvider
except ImportError:  # the extension is not built: every test here skips (fails in CI)
    NativeSMTProvider = None  # type: ignore[assignment,misc]

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _needs_native() -> None:
    if NativeSMTProvider is None:
        require_external("the fontana-native extension (make .venv/.fontana-native)")


@pytest.fixture(scope="module")
def storage() -> Iterator[Storage]:
    """One SQLite database for the module; each example starts from an empty schema."""
    with tempfile.TemporaryDirectory(prefix="fontana-native-smt-") as tmp:
        home = Path(tmp)
        store = open_storage(
            load_settings(environ={"FONTANA_HOME": tmp}, cwd=home), f"sqlite:///{tmp}/l.db"
        )
        yield store
        store.close()


def _fresh(storage: Storage) -> None:
    storage.drop_schema()
    storage.create_schema()


# Keys from a small pool so batches update and delete what earlier ones inserted, plus
# twins that share long prefixes (deep splits, leaves pushed down and lifted).
_base_keys = st.binary(min_size=32, max_size=32)
_twin_bits = st.sampled_from([255, 254, 200, 64, 63, 31, 8, 1, 0])


@st.composite
def _pool(draw: st.DrawFn) -> list[bytes]:
    base = draw(st.lists(_base_keys, min_size=1, max_size=12, unique=True))
    twins = []
    for key in base[: draw(st.integers(0, len(base)))]:
        bit = draw(_twin_bits)
        raw = bytearray(key)
        raw[bit // 8] ^= 0x80 >> (bit % 8)
        twins.append(bytes(raw))
    return list(dict.fromkeys(base + twins))


_value = st.one_of(st.none(), st.binary(min_size=32, max_size=32), st.sampled_from([bytes(32)]))


@st.composite
def _workload(draw: st.DrawFn) -> tuple[list[bytes], list[tuple[str, Any]]]:
    pool = draw(_pool())
    steps: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["batch", "batch", "batch", "empty", "prune"]))
        if kind == "batch":
            keys = draw(st.lists(st.sampled_from(pool), max_size=len(pool), unique=True))
            steps.append(("batch", {k: draw(_value) for k in keys}))
        elif kind == "empty":
            steps.append(("batch", {}))
        else:
            steps.append(("prune", draw(st.integers(0, 3))))
    return pool, steps


@FAST
@given(_workload())
def test_random_workloads_write_what_the_reference_writes(
    storage: Storage, work: tuple[list[bytes], list[tuple[str, Any]]]
) -> None:
    pool, steps = work
    _fresh(storage)
    native = NativeSMTProvider()
    reference = SparseMerkleTree(MemoryNodeStore())
    store = reference.store
    assert isinstance(store, MemoryNodeStore)
    version, oldest = 0, 1
    probes = [*pool, bytes(32), b"\xff" * 32]
    for kind, arg in steps:
        if kind == "prune":
            if version == 0:
                continue
            keep = max(oldest, version - arg)
            with storage.write() as s:
                assert native.prune(s, keep) == prune(store, keep)
            oldest = keep
            continue
        version += 1
        expected = reference.compute_batch(version, arg)
        with storage.write() as s:
            got = native.compute_batch(s, version, arg)
            assert got == expected, f"batch {version} differs from the reference's"
            assert native.apply_batch(s, version, arg) == expected.root
        store.write_batch(expected)
        with storage.read() as s:
            for v in range(oldest, version + 1):
                assert native.root(s, v) == reference.get_root(v)
                for key in probes:
                    proof = native.prove(s, key, v)
                    assert proof == reference.prove(key, v).to_bytes()
                    assert native.get(s, key, v) == reference.get(key, v)
                    assert native.verify(reference.get_root(v), key, reference.get(key, v), proof)


def _flip(data: bytes, index: int, bit: int) -> bytes:
    raw = bytearray(data)
    raw[index % len(raw)] ^= 1 << bit
    return bytes(raw)


@st.composite
def _hostile(draw: st.DrawFn) -> tuple[bytes, bytes, bytes | None, bytes]:
    """Tampered honest proofs, forged headers and random bytes, against right and wrong claims."""
    keys = draw(st.lists(_base_keys, min_size=1, max_size=6, unique=True))
    values = {k: draw(_base_keys) for k in keys}
    tree = SparseMerkleTree(MemoryNodeStore())
    root = tree.apply_batch(1, values)
    key = draw(st.one_of(st.sampled_from(keys), _base_keys))
    proof = tree.prove(key).to_bytes()
    choice = draw(st.integers(0, 5))
    if choice == 1:
        proof = _flip(proof, draw(st.integers(0, 10_000)), draw(st.integers(0, 7)))
    elif choice == 2:
        proof = proof[: draw(st.integers(0, len(proof)))] + draw(st.binary(max_size=40))
    elif choice == 3:
        kind = draw(st.integers(0, 3))
        n = draw(st.sampled_from([0, 1, 7, 8, 9, 255, 256, 257, 65535]))
        proof = bytes([kind]) + n.to_bytes(2, "big") + draw(st.binary(max_size=200))
    elif choice == 4:
        proof = draw(st.binary(max_size=300))
    claim = draw(st.sampled_from(["right", "none", "other"]))
    value = values.get(key) if claim == "right" else None if claim == "none" else draw(_base_keys)
    if draw(st.booleans()):
        root = draw(st.sampled_from([root, bytes(32), root[:31], root + b"\x00"]))
    if draw(st.integers(0, 9)) == 0:
        key = key[:31]
    return root, key, value, proof


@settings(max_examples=400, deadline=None)
@given(_hostile())
def test_verify_gives_the_reference_verdict_on_hostile_input(
    case: tuple[bytes, bytes, bytes | None, bytes],
) -> None:
    root, key, value, proof = case
    expected = reference_verify(root, key, value, proof)
    assert NativeSMTProvider().verify(root, key, value, proof) == expected
    assert native_verify_proof(root, key, value, proof) == expected


@pytest.mark.parametrize(
    "args",
    [
        (bytearray(32), bytes(32), None, b"\x01\x00\x00"),
        (memoryview(bytes(32)), bytearray(32), None, bytearray(b"\x01\x00\x00")),
        ("root", bytes(32), None, b"\x01\x00\x00"),
        (bytes(32), None, None, b"\x01\x00\x00"),
        (bytes(32), bytes(32), "value", b"\x00\x00\x00"),
        (bytes(32), bytes(32), None, None),
        (bytes(32), bytes(32), None, 12),
        (None, None, None, None),
    ],
)
def test_verify_never_raises_on_other_types(args: tuple[Any, Any, Any, Any]) -> None:
    """Bytes-like arguments are taken as the reference takes them; anything else is False."""
    try:
        expected = reference_verify(*args)
    except (TypeError, AttributeError):
        expected = False
    assert NativeSMTProvider().verify(*args) is expected
