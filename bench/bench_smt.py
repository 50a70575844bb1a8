"""Benchmark of the sparse Merkle tree (run by hand: ``python bench/bench_smt.py [--quick]``).

Every tree runs the same workload, from the same seed: a tree of N leaves, then blocks of
UTXO-like updates (half spends of live keys, half new outputs), each committed and then
pruned to one version, as a node keeping one version would; then proofs and verifications
of live keys. The trees:

- ``python``: the reference tree (``fontana.smt``) on ``MemoryNodeStore``;
- ``rust``: the native tree (``fontana_native``) on its own in-memory store;
- ``python+sqlite``/``rust+sqlite``: the ``python-smt``/``native-smt`` providers through
  the real ledger storage path (a SQLite ledger database, one transaction per block);
- ``pokt (go)``: pokt-network/smt v0.14.1 on its in-memory map store (``bench/pokt``,
  needs ``go``; the module comes from the Go module proxy on first use).

Absolute figures depend on the machine and its load, so each rate is also given as a ratio
to the Python tree's in the same run, and the Python tree's cost in raw SHA-256 calls.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from fontana.config import load_settings
from fontana.errors import EncodingError
from fontana.smt import MemoryNodeStore, Proof, SparseMerkleTree, prune, verify_proof
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage

BUILD_BATCH = 50_000
POKT = Path(__file__).parent / "pokt"

Updates = dict[bytes, bytes | None]


def sha256_per_second(n: int = 1_000_000) -> float:
    """Baseline: one-shot SHA-256 of 64-byte inputs, the size of a node hash's payload."""
    data = [bytes([i & 255]) * 64 for i in range(1024)]
    start = time.perf_counter()
    for i in range(n):
        sha256(data[i & 1023]).digest()
    return n / (time.perf_counter() - start)


@dataclass
class Tree:
    """One implementation behind the few calls the bench makes."""

    commit: Callable[[int, Updates], None]  # apply a batch as version v (committed)
    prune: Callable[[int], None]  # keep versions >= v
    prove: Callable[[list[bytes]], list[bytes]]  # proof bytes at the latest version
    root: Callable[[], bytes]
    verify: Callable[[bytes, bytes, bytes | None, bytes], bool] | None


def python_verify(root: bytes, key: bytes, value: bytes | None, proof: bytes) -> bool:
    try:
        return verify_proof(root, key, value, Proof.from_bytes(proof))
    except EncodingError:
        return False


@contextmanager
def python_tree() -> Iterator[Tree]:
    store = MemoryNodeStore()
    tree = SparseMerkleTree(store)

    def commit(version: int, updates: Updates) -> None:
        store.write_batch(tree.compute_batch(version, updates))

    def pruned(version: int) -> None:
        prune(store, version)

    yield Tree(
        commit,
        pruned,
        lambda keys: [tree.prove(k).to_bytes() for k in keys],
        tree.get_root,
        python_verify,
    )


@contextmanager
def rust_tree() -> Iterator[Tree]:
    from fontana_native._native import MemoryTree
    from fontana_native._native import verify_proof as native_verify

    tree = MemoryTree()
    yield Tree(
        tree.apply_batch,
        tree.prune,
        lambda keys: [tree.prove(k) for k in keys],
        tree.root,
        native_verify,
    )


@contextmanager
def storage_tree(provider: Any) -> Iterator[Tree]:
    """A provider through a SQLite ledger database, one write transaction per batch."""
    with tempfile.TemporaryDirectory(prefix="fontana-bench-smt-") as tmp:
        settings = load_settings(environ={"FONTANA_HOME": tmp}, cwd=Path(tmp), plugin_sections={})
        storage = open_storage(settings, f"sqlite:///{tmp}/ledger.db")
        storage.create_schema()

        def commit(version: int, updates: Updates) -> None:
            with storage.write() as s:
                provider.apply_batch(s, version, updates)

        def pruned(version: int) -> None:
            with storage.write() as s:
                provider.prune(s, version)

        def prove(keys: list[bytes]) -> list[bytes]:
            with storage.read() as s:  # one read transaction per round of proofs
                return [provider.prove(s, k) for k in keys]

        def root() -> bytes:
            with storage.read() as s:
                return provider.root(s)  # type: ignore[no-any-return]

        try:
            yield Tree(commit, pruned, prove, root, None)
        finally:
            storage.close()


def native_storage_tree() -> Any:
    from fontana_native.smt import NativeSMTProvider

    return storage_tree(NativeSMTProvider())


@dataclass
class Figures:
    updates: float  # committed updates/s over all blocks
    median: float  # median per-block updates/s
    proofs: float  # proofs/s (median of rounds)
    verifications: float | None
    proof_bytes: int


def measure(tree: Tree, size: int, seed: int, blocks: int, block: int) -> Figures:
    """Build ``size`` leaves, then time ``blocks`` blocks of ``block`` updates and proofs."""
    rng = random.Random(seed)
    keys = [rng.randbytes(32) for _ in range(size)]
    version = 0
    for start in range(0, size, BUILD_BATCH):
        version += 1
        tree.commit(version, {k: sha256(k).digest() for k in keys[start : start + BUILD_BATCH]})
        tree.prune(version)
    times = []
    for _ in range(blocks):
        updates: Updates = {}
        while len(updates) < block // 2:
            i = rng.randrange(len(keys))
            keys[i], keys[-1] = keys[-1], keys[i]
            updates[keys.pop()] = None
        for _ in range(block - block // 2):
            key = rng.randbytes(32)
            keys.append(key)
            updates[key] = sha256(key).digest()
        version += 1
        start = time.perf_counter()
        tree.commit(version, updates)
        times.append(time.perf_counter() - start)
        tree.prune(version)
    rates, sizes, made = [], [], []
    for _ in range(10):
        sample = rng.sample(keys, 500)
        start = time.perf_counter()
        proofs = tree.prove(sample)
        rates.append(len(sample) / (time.perf_counter() - start))
        sizes.extend(len(p) for p in proofs)
        made.extend(zip(sample, proofs, strict=True))
    verifications = None
    if tree.verify is not None:
        root, verify = tree.root(), tree.verify
        start = time.perf_counter()
        for key, proof in made:
            if not verify(root, key, sha256(key).digest(), proof):
                raise AssertionError("an honest proof did not verify")
        verifications = len(made) / (time.perf_counter() - start)
    return Figures(
        blocks * block / sum(times),
        block / statistics.median(times),
        statistics.median(rates),
        verifications,
        int(statistics.median(sizes)),
    )


def pokt(sizes: list[int], blocks: int, block: int) -> dict[int, Figures]:
    """pokt-network/smt on the same workload (its own seed), or nothing without ``go``."""
    go = shutil.which("go")
    if go is None:
        print("pokt (go): skipped, no go toolchain")
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "pokt"
        subprocess.run([go, "build", "-o", str(binary), "."], cwd=POKT, check=True)
        args = [f"-sizes={','.join(map(str, sizes))}", f"-blocks={blocks}", f"-block={block}"]
        out = subprocess.run([str(binary), *args], check=True, capture_output=True, text=True)
    found = {}
    for line in out.stdout.splitlines():
        r = json.loads(line)
        found[r["leaves"]] = Figures(
            r["updates_per_s"],
            r["updates_per_s"],
            r["proofs_per_s"],
            r["verifications_per_s"],
            r["median_proof_bytes"],
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10k and 100k leaves only")
    parser.add_argument("--sizes", help="leaf counts, comma-separated (overrides --quick)")
    parser.add_argument("--block", type=int, default=2000, help="updates per block")
    parser.add_argument("--blocks", type=int, default=30, help="blocks per size")
    parser.add_argument("--no-storage", action="store_true", help="skip the SQLite path")
    parser.add_argument("--no-pokt", action="store_true", help="skip pokt-network/smt")
    args = parser.parse_args()
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    else:
        sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    trees: list[tuple[str, Callable[[], Any]]] = [("python", python_tree), ("rust", rust_tree)]
    if not args.no_storage:
        trees += [
            ("python+sqlite", lambda: storage_tree(PythonSMTProvider())),
            ("rust+sqlite", native_storage_tree),
        ]
    base = sha256_per_second()
    print(f"baseline: {base:,.0f} sha256(64 B)/s; blocks of {args.block}, {args.blocks} per size\n")
    go = {} if args.no_pokt else pokt(sizes, args.blocks, args.block)
    print(
        f"{'leaves':>9} {'tree':<14} {'updates/s':>10} {'median':>9} {'x python':>8} "
        f"{'proofs/s':>9} {'x python':>8} {'verify/s':>9} {'proof':>6}"
    )
    for size in sizes:
        results: dict[str, Figures] = {}
        for name, make in trees:
            with make() as tree:
                results[name] = measure(tree, size, size, args.blocks, args.block)
        if size in go:
            results["pokt (go)"] = go[size]
        ref = results["python"]
        for name, f in results.items():
            verify = "-" if f.verifications is None else f"{f.verifications:,.0f}"
            print(
                f"{size:>9,} {name:<14} {f.updates:>10,.0f} {f.median:>9,.0f} "
                f"{f.updates / ref.updates:>7.1f}x {f.proofs:>9,.0f} "
                f"{f.proofs / ref.proofs:>7.1f}x {verify:>9} {f.proof_bytes:>5}B"
            )
        print(f"{'':>9} python update cost: {base / ref.updates:.1f} sha256 calls")
    print(
        "\nupdates/s: committed updates over all timed blocks; median: of per-block rates;"
        "\nproof: median encoded size (pokt: its own encoding)"
    )


if __name__ == "__main__":
    main()
