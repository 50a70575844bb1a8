"""Rebuilding a ledger from the genesis file and the DA layer alone.

Anyone can post to a DA namespace, so a blob is only a claim. Each one is
sorted before it can touch the ledger: blobs of other chains are passed
over; blobs that do not decode, are not signed by the genesis sequencer for
this deployment, carry other entries than their header commits to, or do
not extend the chain replayed so far are *skipped*: counted, named in a
warning and in the report, and never allowed to stop the run. A block that
is validly signed, extends the chain and still fails replay (a wrong root,
an invalid entry) is a real fork or a corrupt chain: recovery stops there
with :class:`~fontana.errors.RecoveryError` naming the block.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Final

import attrs

from fontana.da.blob import blob_chain_id, read_blob_header
from fontana.errors import EncodingError
from fontana.genesis import initialize
from fontana.interfaces import DALayer, DAReference, ProofProvider, TxEngine
from fontana.ledger import Ledger
from fontana.models import Block, Genesis
from fontana.storage.base import Storage

log = logging.getLogger(__name__)

#: Why a blob was skipped. ``other_chain`` blobs are expected in a shared
#: namespace and are only counted; every other reason is also warned about.
SKIP_REASONS: Final = {
    "other_chain": "not a block of this chain",
    "malformed": "carries this chain's id but does not decode",
    "wrong_signer": "the header's proposer is not the genesis sequencer",
    "bad_signature": "the header signature does not verify for this deployment",
    "body_mismatch": "the entries are not the ones the header commits to",
    "duplicate": "a copy of a block already replayed",
    "conflicting": "signed by the sequencer, but another block was replayed at this height",
    "does_not_chain": "signed by the sequencer, but its prev_hash is not the previous block's",
    "out_of_order": "signed by the sequencer, but ahead of the next height",
}
#: Reasons that are not worth a warning.
QUIET_REASONS: Final = frozenset({"other_chain", "duplicate"})
#: Skipped blobs listed one by one in the report (all are counted): a stranger
#: can post any number of them, and the report must stay small.
MAX_LISTED: Final = 100


@attrs.frozen
class SkippedBlob:
    """One blob recovery passed over, and why."""

    da_height: int
    commitment: bytes
    reason: str
    detail: str
    block_height: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "da_height": self.da_height,
            "commitment": self.commitment.hex(),
            "reason": self.reason,
            "detail": self.detail,
            "block_height": self.block_height,
        }


@attrs.frozen
class RecoveryProgress:
    da_height: int
    da_head: int
    blocks: int
    entries: int
    skipped: int
    seconds: float


@attrs.frozen
class RecoveryReport:
    blocks: int
    entries: int
    last_height: int
    state_root: bytes
    seconds: float
    #: How many blobs were skipped, by reason.
    skipped_counts: dict[str, int] = attrs.Factory(dict)
    #: The first :data:`MAX_LISTED` skipped blobs other than ``other_chain`` ones.
    skipped: tuple[SkippedBlob, ...] = ()

    @property
    def blocks_per_s(self) -> float:
        return self.blocks / self.seconds if self.seconds else 0.0

    @property
    def entries_per_s(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


class _Skips:
    """Counts every skipped blob; lists (and warns about) the first :data:`MAX_LISTED`."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.listed: list[SkippedBlob] = []

    def add(self, skipped: SkippedBlob) -> None:
        self.counts[skipped.reason] += 1
        if skipped.reason == "other_chain":
            return
        if len(self.listed) == MAX_LISTED:
            self.listed.append(skipped)  # one past the limit: marks that the warning was given
            log.warning("more blobs skipped: counted in the report, no longer named")
        elif len(self.listed) < MAX_LISTED:
            self.listed.append(skipped)
            if skipped.reason not in QUIET_REASONS:
                log.warning(
                    "DA height %d: skipped blob %s (%s): %s",
                    skipped.da_height,
                    skipped.commitment.hex()[:16],
                    skipped.reason,
                    skipped.detail,
                )


def recover(
    genesis: Genesis,
    da: DALayer,
    storage: Storage,
    proofs: ProofProvider,
    *,
    from_da_height: int = 1,
    progress: Callable[[RecoveryProgress], None] | None = None,
    tx_engine: TxEngine | None = None,
) -> RecoveryReport:
    """Build ``storage`` (empty) from ``genesis`` and every block of the chain on ``da``.

    The report's rates count the replay of blocks only, not building block 0.
    ``tx_engine`` decodes the blocks and checks their signatures (default: ``auto``).
    """
    genesis_block = initialize(storage, proofs, genesis)
    started = time.perf_counter()
    ledger = Ledger(storage, proofs, genesis, tx_engine=tx_engine)
    # Hashes of the blocks replayed so far, by height: a height counts only
    # once its block has fully replayed.
    hashes = [genesis_block.hash]
    skips = _Skips()
    blocks = entries = 0
    head = da.head_height()
    for da_height in range(from_da_height, head + 1):
        for ref, data in da.list_at(da_height):
            verdict = sort_blob(genesis, ref, data, hashes, ledger.tx_engine)
            if isinstance(verdict, SkippedBlob):
                skips.add(verdict)
                continue
            ledger.replay_block(verdict, (ref.height, ref.commitment))
            hashes.append(verdict.header.header.hash)
            blocks += 1
            entries += len(verdict.entries)
        if progress is not None:
            elapsed = time.perf_counter() - started
            skipped = sum(skips.counts.values())
            progress(RecoveryProgress(da_height, head, blocks, entries, skipped, elapsed))
    last = ledger.latest_block()
    return RecoveryReport(
        blocks,
        entries,
        last.height,
        last.state_root,
        time.perf_counter() - started,
        dict(skips.counts),
        tuple(skips.listed[:MAX_LISTED]),
    )


def sort_blob(
    genesis: Genesis,
    ref: DAReference,
    data: bytes,
    hashes: list[bytes],
    tx_engine: TxEngine | None = None,
) -> Block | SkippedBlob:
    """The block if ``data`` extends the chain whose block hashes are ``hashes``, else why not.

    Cheapest checks first, and the entries are hashed but not decoded until
    the signed header vouches for them, so junk costs little to refuse.
    """

    def skip(reason: str, detail: str = "", height: int | None = None) -> SkippedBlob:
        where = f"block {height}: " if height is not None else ""
        return SkippedBlob(
            ref.height, ref.commitment, reason, where + (detail or SKIP_REASONS[reason]), height
        )

    if blob_chain_id(data) != genesis.chain_id:
        return skip("other_chain")
    try:
        parsed = read_blob_header(data, genesis.chain_id)
    except EncodingError as exc:
        return skip("malformed", exc.message)
    h = parsed.header.header
    if h.proposer != genesis.sequencer:
        return skip("wrong_signer", height=h.height)
    if not parsed.header.verify(genesis.hash):
        return skip("bad_signature", height=h.height)
    if not parsed.body_matches():
        return skip("body_mismatch", height=h.height)
    next_height = len(hashes)
    if h.height < next_height:
        return skip("duplicate" if hashes[h.height] == h.hash else "conflicting", height=h.height)
    if h.height > next_height:
        return skip("out_of_order", f"expected block {next_height} first", h.height)
    if h.prev_hash != hashes[-1]:
        return skip("does_not_chain", height=h.height)
    try:
        if tx_engine is None:
            return parsed.block()
        return tx_engine.decode_block(parsed.block_bytes)
    except EncodingError as exc:  # a signed header over entries that do not decode
        return skip("malformed", exc.message, h.height)


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
