"""Ledger verify+apply throughput against signature verification alone.

Run by hand: ``python bench/bench_ledger.py [--txs N] [--postgres URL]``. The
baseline, measured in the same run on the same transactions, is
``Transaction.verify_witnesses()`` alone: the ed25519 floor every payment pays.
The ratio (apply rate / verify rate) is what to compare across machines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_ledger, transfers


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--txs", type=int, default=5_000)
    parser.add_argument("--postgres", default=None, help="a postgresql:// URL (empty database)")
    args = parser.parse_args()

    variants = [
        ("sqlite, synchronous=full", None, "full"),
        ("sqlite, synchronous=normal", None, "normal"),
    ]
    if args.postgres:
        variants.append(("postgresql", args.postgres, "full"))
    for label, url, sync in variants:
        with bench_ledger(args.txs, url, sync) as (ledger, genesis, _):
            txs = transfers(genesis, args.txs)
            start = time.perf_counter()
            for tx in txs:
                tx.verify_witnesses()
            verify = rate(len(txs), time.perf_counter() - start)
            start = time.perf_counter()
            for tx in txs:
                ledger.apply_transaction(tx)
            apply = rate(len(txs), time.perf_counter() - start)
            start = time.perf_counter()
            block = ledger.seal_block(__import__("common").SEQUENCER)
            seal = time.perf_counter() - start
        print(
            f"{label}: verify-only {verify:,.0f} tx/s (baseline); verify+apply {apply:,.0f} tx/s "
            f"= {apply / verify:.1%} of baseline; sealing {block.header.header.tx_count} "
            f"entries took {seal:.2f}s ({rate(block.header.header.tx_count, seal):,.0f}/s)"
        )


if __name__ == "__main__":
    main()
