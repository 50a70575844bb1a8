"""Blobs a stranger, or a misbehaving sequencer, can post to a chain's DA namespace.

Anyone can post to a namespace, so recovery must pass over each of these,
say why, and still rebuild every real block. The builders work on any DA
backend (they only make bytes), so a DA plugin's own tests can run the same
attacks against recovery over that plugin.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

import attrs
from nacl.signing import SigningKey

from fontana.da.blob import BLOB_VERSION, MAGIC, encode_blob
from fontana.interfaces import DALayer
from fontana.models import Block, BlockHeader, Genesis, SignedHeader, Transaction, Witness
from fontana.poster import Poster, load_block
from fontana.storage.base import Storage


@attrs.frozen
class HostileBlob:
    """One hostile blob and the skip reason recovery must report for it."""

    name: str
    blob: bytes
    reason: str


class Forger:
    """Makes hostile blobs for one chain.

    ``sequencer`` is the genesis sequencer's key: with it the forger can also
    play a misbehaving sequencer (blocks at heights already taken, blocks
    from the future). Without it, it is any stranger.
    """

    def __init__(
        self, genesis: Genesis, seed: int = 0, sequencer: SigningKey | None = None
    ) -> None:
        self.genesis = genesis
        self.rng = random.Random(seed)
        self.sequencer = sequencer
        self.stranger = SigningKey(self.rng.randbytes(32))

    def _prefix(self, chain_id: str | None = None) -> bytes:
        chain = (chain_id or self.genesis.chain_id).encode()
        return MAGIC + bytes([BLOB_VERSION, len(chain)]) + chain

    def _sign(self, header: BlockHeader, key: SigningKey) -> SignedHeader:
        return SignedHeader.sign(header, key, self.genesis.hash)

    def _evolve(self, block: Block, key: SigningKey, **changes: object) -> Block:
        return Block(self._sign(attrs.evolve(block.header.header, **changes), key), block.entries)

    def _own_key(self) -> SigningKey:
        if self.sequencer is None:
            raise ValueError("this blob needs the sequencer's key")
        return self.sequencer

    # -- what any stranger can post -------------------------------------------------

    def garbage(self, size: int = 200) -> HostileBlob:
        """This chain's blob prefix, then random bytes."""
        return HostileBlob("garbage", self._prefix() + self.rng.randbytes(size), "malformed")

    def huge_lengths(self) -> HostileBlob:
        """A header whose chain id is this chain's, then a body claiming 2^32-1 entries."""
        return HostileBlob(
            "huge declared lengths", self._prefix() + b"\x01" + b"\xff" * 64, "malformed"
        )

    def other_chain(self) -> HostileBlob:
        """A blob of another chain sharing the namespace: passed over quietly."""
        return HostileBlob(
            "other chain", self._prefix("someone-else") + self.rng.randbytes(64), "other_chain"
        )

    def truncated(self, block: Block, keep: float = 0.5) -> HostileBlob:
        """The first part of the real blob: a cut header, or the header over cut entries."""
        blob = encode_blob(block)
        cut = max(1, int(len(blob) * keep))
        header_end = len(self._prefix()) + len(block.header.to_bytes())
        reason = "body_mismatch" if cut > header_end else "malformed"
        return HostileBlob("truncated copy", blob[:cut], reason)

    def wrong_signer(self, block: Block) -> HostileBlob:
        """The block re-signed by a stranger who names itself the proposer."""
        header = attrs.evolve(block.header.header, proposer=bytes(self.stranger.verify_key))
        forged = Block(self._sign(header, self.stranger), block.entries)
        return HostileBlob("signed by a stranger", encode_blob(forged), "wrong_signer")

    def bad_signature(self, block: Block) -> HostileBlob:
        """The real header, a random signature."""
        forged = Block(SignedHeader(block.header.header, self.rng.randbytes(64)), block.entries)
        return HostileBlob("random signature", encode_blob(forged), "bad_signature")

    def other_witnesses(self, block: Block) -> HostileBlob | None:
        """The real signed header over the same transactions with other witness bytes.

        The txids, so the tx root, are unchanged; only the header's commitment
        to the entry bytes tells this blob from the real one. ``None`` if the
        block holds no signed transaction.
        """
        entries = list(block.entries)
        for i, entry in enumerate(entries):
            if isinstance(entry, Transaction) and entry.witnesses:
                first = entry.witnesses[0]
                witnesses = (Witness(first.pubkey, self.rng.randbytes(64)), *entry.witnesses[1:])
                entries[i] = attrs.evolve(entry, witnesses=witnesses)
                forged = Block(block.header, tuple(entries))
                return HostileBlob(
                    "copied header, other witnesses", encode_blob(forged), ("body_mismatch")
                )
        return None

    def copy(self, block: Block) -> HostileBlob:
        """The real blob again (a stranger's repost, or the poster's own retry)."""
        return HostileBlob("exact copy", encode_blob(block), "duplicate")

    # -- what only the sequencer's key can sign -------------------------------------

    def other_deployment(self, block: Block, other: Genesis) -> HostileBlob:
        """The block as signed for ``other``, a deployment with this chain id and key."""
        forged = Block(
            SignedHeader.sign(block.header.header, self._own_key(), other.hash), (block.entries)
        )
        return HostileBlob("signed for another deployment", encode_blob(forged), "bad_signature")

    def conflicting(self, block: Block) -> HostileBlob:
        """Another block at the same height (the sequencer equivocating)."""
        later = block.header.header.timestamp_ms + 1
        forged = self._evolve(block, self._own_key(), timestamp_ms=later)
        return HostileBlob("conflicting block", encode_blob(forged), "conflicting")

    def future(self, block: Block, ahead: int = 5) -> HostileBlob:
        """A signed block claiming a height beyond the next one."""
        forged = self._evolve(block, self._own_key(), height=block.header.header.height + ahead)
        return HostileBlob("block from the future", encode_blob(forged), "out_of_order")

    def unchained(self, block: Block) -> HostileBlob:
        """A signed block at the right height whose prev_hash is not the previous block's."""
        forged = self._evolve(block, self._own_key(), prev_hash=self.rng.randbytes(32))
        return HostileBlob("block off the chain", encode_blob(forged), "does_not_chain")


def post_among_hostile_blobs(
    storage: Storage, da: DALayer, forger: Forger, other_deployment: Genesis | None = None
) -> Counter[str]:
    """Post every unposted block of ``storage`` with the real poster, hostile blobs around each.

    Hostile blobs go before the first block, before and after each block
    (forgeries of the next block ahead of it, copies and conflicts of the
    last one behind it) and after the last. Returns how many blobs of each
    skip reason were posted: what recovery must report.
    """
    with storage.read() as s:
        records = s.uncommitted_blocks(10**6)
    blocks = [load_block(storage, r.height) for r in records]
    expected: Counter[str] = Counter()

    def post(*hostile: HostileBlob | None) -> None:
        for h in hostile:
            if h is not None:
                da.submit(h.blob)
                expected[h.reason] += 1

    first, last = blocks[0], blocks[-1]
    post(forger.garbage(), forger.huge_lengths(), forger.other_chain())
    if forger.sequencer is not None:
        post(forger.future(first), forger.unchained(first))
        if other_deployment is not None:
            post(forger.other_deployment(first, other_deployment))
    poster = Poster(storage, da, block_time_ms=100)
    for record, block in zip(records, blocks, strict=True):
        post(forger.wrong_signer(block), forger.bad_signature(block), forger.truncated(block))
        post(forger.other_witnesses(block))
        if not poster.post_block(record, threading.Event()):
            raise RuntimeError(f"block {record.height} was not posted")
        post(forger.copy(block))
        if forger.sequencer is not None:
            post(forger.conflicting(block))
    post(forger.garbage(), forger.copy(last))
    if forger.sequencer is not None:
        post(forger.conflicting(last), forger.future(last))
    return expected
