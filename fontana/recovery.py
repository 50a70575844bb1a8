"""Rebuilding a ledger from the genesis file and the DA layer alone.

Every block found on DA is checked (height sequence, previous-hash chain,
the sequencer's signature, the transaction root) and replayed with the same
validation the live ledger uses; the state root after each block must equal
the header's. The first mismatch stops the run with the height and what
differed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

from fontana.da.blob import blob_chain_id, decode_blob
from fontana.errors import EncodingError, RecoveryError
from fontana.genesis import initialize
from fontana.interfaces import DALayer, ProofProvider
from fontana.ledger import Ledger
from fontana.models import Genesis
from fontana.storage.base import Storage


@attrs.frozen
class RecoveryProgress:
    da_height: int
    da_head: int
    blocks: int
    entries: int
    seconds: float


@attrs.frozen
class RecoveryReport:
    blocks: int
    entries: int
    last_height: int
    state_root: bytes
    seconds: float

    @property
    def blocks_per_s(self) -> float:
        return self.blocks / self.seconds if self.seconds else 0.0

    @property
    def entries_per_s(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


def recover(
    genesis: Genesis,
    da: DALayer,
    storage: Storage,
    proofs: ProofProvider,
    *,
    from_da_height: int = 1,
    progress: Callable[[RecoveryProgress], None] | None = None,
) -> RecoveryReport:
    """Build ``storage`` (empty) from ``genesis`` and every block of the chain on ``da``.

    The report's rates count the replay of blocks only, not building block 0.
    """
    genesis_block = initialize(storage, proofs, genesis)
    started = time.perf_counter()
    ledger = Ledger(storage, proofs, genesis)
    hashes = {0: genesis_block.hash}
    blocks = entries = 0
    head = da.head_height()
    for da_height in range(from_da_height, head + 1):
        for ref, data in da.list_at(da_height):
            if blob_chain_id(data) != genesis.chain_id:
                continue  # another chain sharing the namespace
            try:
                block = decode_blob(data, genesis.chain_id)
            except EncodingError as exc:
                raise RecoveryError(
                    f"DA height {da_height}: malformed blob: {exc.message}"
                ) from None
            height = block.header.header.height
            if height in hashes:  # posted twice; harmless only if it is the same block
                if block.header.header.hash != hashes[height]:
                    raise RecoveryError(
                        f"block {height}: DA height {da_height} holds a different block "
                        "at a height already replayed"
                    )
                continue
            ledger.replay_block(block, (ref.height, ref.commitment))
            hashes[height] = block.header.header.hash
            blocks += 1
            entries += len(block.entries)
        if progress is not None:
            progress(
                RecoveryProgress(da_height, head, blocks, entries, time.perf_counter() - started)
            )
    last = ledger.latest_block()
    return RecoveryReport(
        blocks, entries, last.height, last.state_root, time.perf_counter() - started
    )


def compare_ledgers(live: Storage, rebuilt: Storage) -> list[str]:
    """Differences between a live database and one rebuilt from DA, block by block."""
    problems: list[str] = []
    with live.read() as a, rebuilt.read() as b:
        live_top, rebuilt_top = a.latest_block(), b.latest_block()
        if live_top is None or rebuilt_top is None:
            return ["a ledger has no blocks"]
        for height in range(min(live_top.height, rebuilt_top.height) + 1):
            x, y = a.get_block(height), b.get_block(height)
            if x is None or y is None or x.hash != y.hash:
                problems.append(f"block {height}: live and rebuilt blocks differ")
            elif x.state_root != y.state_root:
                problems.append(f"block {height}: state roots differ")
        not_posted = {r.height for r in a.uncommitted_blocks(10**9)}
        for height in range(rebuilt_top.height + 1, live_top.height + 1):
            if height not in not_posted:
                problems.append(f"block {height} is marked posted but was not found on DA")
    return problems
