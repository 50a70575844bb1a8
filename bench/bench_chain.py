"""Recovery replay speed and block-interval jitter under load.

Run by hand: ``python bench/bench_chain.py [--txs N] [--blocks N] [--block-ms MS]``.

* Recovery: a chain of N payments in blocks on SQLite and the local DA is
  rebuilt from genesis + DA. Baseline in the same run: signature verification
  alone of the same payments (recovery must verify each one too).
* Jitter: the sequencer seals ``--blocks`` blocks while another process
  applies ``--rate`` payments/s (group commit every 20 ms, as provider workers
  would); the spread of the intervals between seals is compared with an idle
  run measured in the same invocation.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


from bench_ledger import load_engines
from common import SEQUENCER, bench_ledger, transfers

from fontana.da.local import LocalDA
from fontana.ledger import open_proofs
from fontana.poster import Poster
from fontana.recovery import recover
from fontana.sequencer import Sequencer
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage


def bench_recovery(count: int, per_block: int) -> None:
    """Rebuild the same chain once per transaction engine (``python-tx`` is the baseline)."""
    with bench_ledger(count) as (ledger, genesis, home):
        txs = transfers(genesis, count)
        start = time.perf_counter()
        for tx in txs:
            tx.verify_witnesses(ledger.genesis_hash)
        verify = count / (time.perf_counter() - start)
        da = LocalDA(home / "da", genesis.da_namespace, 1_900_000)
        for i in range(0, count, per_block):
            ledger.apply_transactions(txs[i : i + per_block])
            ledger.seal_block(SEQUENCER)
        Poster(ledger.storage, da, block_time_ms=1000).post_pending(threading.Event())
        baseline = 0.0
        for name, engine in load_engines("").items():
            rebuilt = open_storage(_settings(home), f"sqlite:///{home}/rebuilt-{name}.db")
            proofs = open_proofs(_settings(home))  # proofs.provider: the configured tree
            report = recover(genesis, da, rebuilt, proofs, tx_engine=engine)
            assert report.state_root == ledger.current_state_root()
            rate = report.entries / report.seconds
            baseline = baseline or rate
            print(
                f"recovery {name:9} ({type(proofs).__name__}): {report.blocks} blocks, "
                f"{report.entries} entries in "
                f"{report.seconds:.2f}s = {rate:,.0f} entries/s ({report.blocks_per_s:,.1f} "
                f"blocks/s), {rate / baseline:.2f}x python-tx; verify-only baseline "
                f"{verify:,.0f} tx/s; ratio {rate / verify:.1%}",
                flush=True,
            )
            rebuilt.close()
        da.close()


def _settings(home: Path):  # type: ignore[no-untyped-def]
    from fontana.config import load_settings

    return load_settings(environ={"FONTANA_HOME": str(home)}, cwd=home, plugin_sections={})


def _load(url: str, home: str, count: int, rate: int, stop: Any) -> None:
    """Another process applying payments at ``rate``/s, as provider workers would."""
    from fontana.ledger import Ledger

    ledger = Ledger.load(open_storage(_settings(Path(home)), url), PythonSMTProvider())
    txs = transfers(ledger.genesis, count)
    batch = max(rate // 50, 1)
    for i in range(0, count, batch):
        if stop.is_set():
            return
        started = time.monotonic()
        ledger.apply_transactions(txs[i : i + batch])
        time.sleep(max(0.02 - (time.monotonic() - started), 0))


def intervals(blocks: int, block_ms: int, rate: int) -> list[list[float]]:
    """Seconds between block timestamps, and between seal completions, under a load."""
    count = min(max(rate * blocks * block_ms // 1000, 1), 65_535)  # genesis allocation limit
    with bench_ledger(count) as (ledger, _, home):
        seals: list[float] = []
        stamps: list[int] = []

        def sealed(block: Any) -> None:
            seals.append(time.monotonic())
            stamps.append(block.header.header.timestamp_ms)

        sequencer = Sequencer(
            ledger, SEQUENCER, block_time_ms=block_ms, max_blob_size=1_900_000, on_block=sealed
        )
        sequencer.acquire()
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        worker = None
        if rate:
            worker = ctx.Process(
                target=_load, args=(ledger.storage.url, str(home), count, rate, stop)
            )
            worker.start()
            time.sleep(3)  # let it sign its payments before the clock starts
        sequencer.run(threading.Event(), max_blocks=blocks)
        stop.set()
        if worker is not None:
            worker.join()
            with ledger.storage.read() as s:
                top = s.latest_block()
            print(f"  load: {rate} tx/s offered; last block {top.height if top else 0}")
        # Header timestamps are the chain's record of its cadence (block 1's is genesis time).
        return [
            [(b - a) / 1000 for a, b in itertools.pairwise(stamps[1:])],
            [b - a for a, b in itertools.pairwise(seals)],
        ]


def report_jitter(label: str, gaps: list[float], block_ms: int) -> float:
    dev = sorted(abs(g - block_ms / 1000) for g in gaps)
    p99 = dev[min(len(dev) - 1, int(0.99 * len(dev)))]
    print(
        f"{label}: {len(gaps)} intervals, mean {statistics.mean(gaps):.3f}s, "
        f"median |dev| {statistics.median(dev) * 1000:.1f} ms, p99 |dev| {p99 * 1000:.1f} ms"
    )
    return p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--per-block", type=int, default=1_000)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--block-ms", type=int, default=1_000)
    parser.add_argument("--rate", type=int, default=1_000, help="payments/s during the jitter run")
    parser.add_argument(
        "--recovery-only", action="store_true", help="skip the jitter runs (no second process)"
    )
    args = parser.parse_args()
    bench_recovery(args.txs, args.per_block)
    if args.recovery_only:
        return
    idle = intervals(args.blocks, args.block_ms, 0)
    loaded = intervals(args.blocks, args.block_ms, args.rate)
    for what, i in (("header timestamps", 0), ("seal completions", 1)):
        base = report_jitter(f"{what}, idle (baseline)", idle[i], args.block_ms)
        load = report_jitter(f"{what}, {args.rate} tx/s", loaded[i], args.block_ms)
        print(f"  p99 deviation under load {load * 1000:.1f} ms vs idle {base * 1000:.1f} ms")


if __name__ == "__main__":
    main()
