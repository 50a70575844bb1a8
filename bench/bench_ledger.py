"""Ledger verify+apply throughput against signature verification alone.

Run by hand: ``python bench/bench_ledger.py [--txs N] [--postgres]``. The
baseline, measured in the same run on the same transactions, is the ed25519
check every payment pays (``Transaction.verify_witnesses(genesis_hash)``).
Figures are given as that ratio, which moves far less between machines than tx/s.

Modes: one payment per database transaction (``apply_transaction``, the
paid-call path) and group commit (``apply_transactions`` in batches).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SEQUENCER, bench_ledger, transfers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--txs", type=int, default=5_000)
    parser.add_argument(
        "--postgres", action="store_true", help="also run on a throwaway local PostgreSQL cluster"
    )
    args = parser.parse_args()
    if args.postgres:
        from fontana.testing.pgcluster import PgCluster

        with PgCluster() as cluster:
            run(args.txs, [cluster.create_database(f"bench{n}") for n in range(3)])
    else:
        run(args.txs, [])


def run(count: int, pg_urls: list[str]) -> None:

    backends = [
        ("sqlite synchronous=full", None, "full"),
        ("sqlite synchronous=normal", None, "normal"),
    ]
    for label, url, sync in backends + [("postgresql", u, "full") for u in pg_urls[:1]]:
        for n, batch in enumerate((1, 100, 1000)):
            if url is not None and url.startswith("postgres"):
                url = pg_urls[n]  # a fresh database per run
            with bench_ledger(count, url, sync) as (ledger, genesis, _):
                txs = transfers(genesis, count)
                start = time.perf_counter()
                for tx in txs:
                    tx.verify_witnesses(ledger.genesis_hash)
                verify = len(txs) / (time.perf_counter() - start)
                start = time.perf_counter()
                if batch == 1:
                    for tx in txs:
                        ledger.apply_transaction(tx)
                else:
                    for i in range(0, len(txs), batch):
                        ledger.apply_transactions(txs[i : i + batch])
                apply = len(txs) / (time.perf_counter() - start)
                start = time.perf_counter()
                block = ledger.seal_block(SEQUENCER)
                seal = time.perf_counter() - start
            print(
                f"{label:26} batch {batch:5}: verify-only {verify:8,.0f} tx/s (baseline), "
                f"verify+apply {apply:8,.0f} tx/s = {apply / verify:6.1%}; "
                f"seal of {block.header.header.tx_count} entries {seal:.2f}s"
            )


if __name__ == "__main__":
    main()
