"""Benchmark of the sparse Merkle tree (run by hand: ``python bench/bench_smt.py [--quick]``).

Absolute figures depend on the machine, so each one is also given against raw SHA-256
calls per second measured in the same run: a block's cost in "hash equivalents" moves
far less between machines than its cost in seconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from hashlib import sha256

from fontana.smt import MemoryNodeStore, SparseMerkleTree, prune

BUILD_BATCH = 50_000


def sha256_per_second(n: int = 1_000_000) -> float:
    """Baseline: one-shot SHA-256 of 64-byte inputs, the size of a node hash's payload."""
    data = [bytes([i & 255]) * 64 for i in range(1024)]
    start = time.perf_counter()
    for i in range(n):
        sha256(data[i & 1023]).digest()
    return n / (time.perf_counter() - start)


def build(size: int, rng: random.Random) -> tuple[SparseMerkleTree, MemoryNodeStore, list[bytes]]:
    """A tree of ``size`` leaves, old versions pruned so memory holds one version."""
    store = MemoryNodeStore()
    tree = SparseMerkleTree(store)
    keys = [rng.randbytes(32) for _ in range(size)]
    for version, start in enumerate(range(0, size, BUILD_BATCH), start=1):
        tree.apply_batch(
            version, {k: sha256(k).digest() for k in keys[start : start + BUILD_BATCH]}
        )
        prune(store, version)
    return tree, store, keys


def blocks(
    tree: SparseMerkleTree,
    store: MemoryNodeStore,
    keys: list[bytes],
    rng: random.Random,
    count: int,
    size: int,
) -> tuple[float, float, float]:
    """UTXO-like blocks: half spends of live keys, half new keys.

    Returns (updates/s over all blocks, median of per-block updates/s, hashes/update).
    Each block is pruned right after its timed commit, as a node keeping one version
    would, so the store stays at steady-state size.
    """
    version = tree.latest_version or 0
    hashes = 0
    times = []
    for _ in range(count):
        updates: dict[bytes, bytes | None] = {}
        while len(updates) < size // 2:
            i = rng.randrange(len(keys))
            keys[i], keys[-1] = keys[-1], keys[i]
            updates[keys.pop()] = None
        for _ in range(size - size // 2):
            key = rng.randbytes(32)
            keys.append(key)
            updates[key] = sha256(key).digest()
        version += 1
        start = time.perf_counter()
        batch = tree.compute_batch(version, updates)
        store.write_batch(batch)
        times.append(time.perf_counter() - start)
        hashes += len(batch.new_nodes)  # one hash per new node, leaf or internal
        prune(store, version)
    return count * size / sum(times), size / statistics.median(times), hashes / (count * size)


def proofs(
    tree: SparseMerkleTree, keys: list[bytes], rng: random.Random, rounds: int = 20
) -> tuple[float, int]:
    """(median over rounds of 500 proofs/s for present keys, median encoded size in bytes).

    The median of short rounds keeps one stall of the machine from setting the figure.
    """
    rates = []
    sizes = []
    for _ in range(rounds):
        sample = rng.sample(keys, 500)
        start = time.perf_counter()
        made = [tree.prove(k) for k in sample]
        rates.append(len(sample) / (time.perf_counter() - start))
        sizes.extend(len(p.to_bytes()) for p in made)
    return statistics.median(rates), int(statistics.median(sizes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10k and 100k leaves only")
    parser.add_argument("--block", type=int, default=2000, help="updates per block")
    parser.add_argument("--blocks", type=int, default=30, help="blocks per size")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    rng = random.Random(2026)
    base = sha256_per_second()
    print(f"baseline: {base:,.0f} sha256(64 B)/s\n")
    print(
        f"{'leaves':>9} {'updates/s':>10} {'median':>8} {'hash/upd':>8} {'of floor':>8} "
        f"{'upd cost':>8} "
        f"{'proofs/s':>9} {'proof cost':>10} {'median proof':>12}"
    )
    for size in sizes:
        tree, store, keys = build(size, rng)
        rate, median_rate, per_update = blocks(tree, store, keys, rng, args.blocks, args.block)
        prate, median = proofs(tree, keys, rng)
        # Costs in hash equivalents: how many raw SHA-256 calls fit in the time of one.
        print(
            f"{size:>9,} {rate:>10,.0f} {median_rate:>8,.0f} {per_update:>8.1f} "
            f"{rate * per_update / base:>8.1%} "
            f"{base / rate:>7.1f}h {prate:>9,.0f} {base / prate:>9.1f}h {median:>10} B"
        )
    print(
        "\nmedian: per-block updates/s; of floor: share of the rate if only the hashes"
        "\ncost time; cost columns: time of one update / one proof in raw SHA-256 calls"
    )


if __name__ == "__main__":
    main()
