"""Shared set-up for the ledger and chain benchmarks: a funded chain on a real database."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nacl.signing import SigningKey

from fontana.config import load_settings
from fontana.genesis import initialize
from fontana.ledger import Ledger
from fontana.models import Allocation, Genesis, OutPoint, Transaction, TxKind, TxOutput
from fontana.state import PythonSMTProvider
from fontana.storage import open_storage

CHAIN = "fontana-bench"
SEQUENCER = SigningKey(b"\xee" * 32)
OWNERS = [SigningKey(bytes([i + 1]) * 32) for i in range(64)]


def genesis(count: int) -> Genesis:
    """``count`` UTXOs of 1 TIA, round-robin over 64 owners."""
    return Genesis(
        chain_id=CHAIN,
        genesis_time_ms=time.time_ns() // 1_000_000,
        sequencer=bytes(SEQUENCER.verify_key),
        da_namespace=b"fontanabch",
        block_time_ms=6_000,
        min_fee=1,
        l1_confirmations=1,
        allocations=tuple(
            Allocation(bytes(OWNERS[i % len(OWNERS)].verify_key), 1_000_000) for i in range(count)
        ),
    )


def transfers(g: Genesis, count: int) -> list[Transaction]:
    """One signed payment per genesis UTXO: 999,000 to the next owner, 999 change, fee 1."""
    gid = g.hash
    expiry = time.time_ns() // 1_000_000 + 3_600_000
    txs = []
    for i in range(count):
        owner = OWNERS[i % len(OWNERS)]
        payee = bytes(OWNERS[(i + 1) % len(OWNERS)].verify_key)
        tx = Transaction(
            kind=TxKind.TRANSFER,
            chain_id=CHAIN,
            inputs=(OutPoint(gid, i),),
            outputs=(TxOutput(payee, 999_000), TxOutput(bytes(owner.verify_key), 999)),
            fee=1,
            expiry_ms=expiry,
        )
        txs.append(tx.sign(owner, gid))
    return txs


@contextmanager
def bench_ledger(
    allocations: int, url: str | None = None, synchronous: str = "full"
) -> Iterator[tuple[Ledger, Genesis, Path]]:
    with tempfile.TemporaryDirectory(prefix="fontana-bench-") as tmp:
        home = Path(tmp)
        settings = load_settings(
            environ={"FONTANA_HOME": tmp, "FONTANA_STORAGE_SQLITE_SYNCHRONOUS": synchronous},
            cwd=home,
            plugin_sections={},
        )
        storage = open_storage(settings, url)
        g = genesis(allocations)
        initialize(storage, PythonSMTProvider(), g)
        ledger = Ledger.load(storage, PythonSMTProvider())
        try:
            yield ledger, g, home
        finally:
            storage.close()
