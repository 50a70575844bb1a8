"""Block headers and blocks.

The header commits to the entries twice: ``tx_root`` is a Merkle root of their
ids (for inclusion proofs) and ``entries_hash`` a hash of their exact bytes,
witnesses included, so one header names exactly one block. It also commits to
the UTXO set after them (``state_root``). The proposer signs the header hash,
so a light client needs only headers and proofs, never the bodies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar, Final, Self

import attrs

from fontana.encoding import Reader
from fontana.errors import EncodingError
from fontana.hashing import TAG_ENTRIES, TAG_HEADER, merkle_root, tagged_hash
from fontana.models.codec import (
    ADDRESS,
    BYTES32,
    BYTES64,
    CHAIN_ID,
    U64,
    Canonical,
    ListOf,
    Nested,
    UInt,
    Version,
    canonical,
    check_rules,
    field,
)
from fontana.models.entry import ENTRY, MAX_ENTRY_BODY, Entry, EntryType, entry_id
from fontana.models.signed import Signed

#: The most entries one block may hold.
MAX_BLOCK_ENTRIES: Final = 65_536

_set: Final = object.__setattr__


@canonical
@attrs.frozen
class BlockHeader(Canonical):
    NAME: ClassVar[str] = "header"
    version: int = field(Version(1))
    chain_id: str = field(CHAIN_ID)
    height: int = field(U64)
    prev_hash: bytes = field(BYTES32)
    timestamp_ms: int = field(U64)
    tx_root: bytes = field(BYTES32)
    entries_hash: bytes = field(BYTES32)
    state_root: bytes = field(BYTES32)
    tx_count: int = field(UInt(32, high=MAX_BLOCK_ENTRIES))
    proposer: bytes = field(ADDRESS)

    @property
    def hash(self) -> bytes:
        return tagged_hash(TAG_HEADER, self.to_bytes())


@canonical
@attrs.frozen
class SignedHeader(Signed):
    """A header plus the proposer's ed25519 signature over its hash."""

    NAME: ClassVar[str] = "signed_header"
    SIGNER: ClassVar[str] = "proposer"
    MESSAGE: ClassVar[str] = "hash"
    header: BlockHeader = field(Nested(BlockHeader))
    signature: bytes = field(BYTES64)


_ENTRIES: Final = ListOf(ENTRY, 0, MAX_BLOCK_ENTRIES, count_size=4)
_ENTRY_TYPES: Final = frozenset(t.value for t in EntryType)


def encode_entries(entries: Sequence[Entry]) -> bytes:
    """A block's body, ``u32 count || entries``: the bytes ``entries_hash`` commits to."""
    out: list[bytes] = []
    _ENTRIES.write(tuple(entries), out)
    return b"".join(out)


def encode_entry_records(records: Sequence[tuple[int, bytes]]) -> bytes:
    """The same body from stored ``(entry type, body)`` pairs, without decoding them."""
    if len(records) > MAX_BLOCK_ENTRIES:
        raise EncodingError(f"block: {len(records)} entries, above {MAX_BLOCK_ENTRIES}")
    out = [len(records).to_bytes(4, "big")]
    for i, (kind, body) in enumerate(records):
        if kind not in _ENTRY_TYPES or len(body) > MAX_ENTRY_BODY:
            raise EncodingError(f"block.entries[{i}]: not a storable entry (type {kind})")
        out.append(bytes([kind]) + len(body).to_bytes(4, "big"))
        out.append(body)
    return b"".join(out)


def entries_hash(body: bytes) -> bytes:
    """``header.entries_hash`` of a block whose body (``u32 count || entries``) is ``body``."""
    return tagged_hash(TAG_ENTRIES, body)


def records_entries_hash(records: Iterable[tuple[int, bytes]]) -> bytes:
    """``entries_hash`` from stored ``(entry type, body)`` pairs (poster, sealing)."""
    return entries_hash(encode_entry_records(list(records)))


@canonical
@attrs.frozen
class Block(Canonical):
    NAME: ClassVar[str] = "block"
    header: SignedHeader = field(Nested(SignedHeader))
    entries: tuple[Entry, ...] = field(_ENTRIES)
    # The body (``u32 count || entries``), kept from decoding or encoded once.
    _body: bytes | None = attrs.field(default=None, init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        check_rules(self)

    def broken_rule(self) -> tuple[str, str] | None:
        count = self.header.header.tx_count
        if count != len(self.entries):
            return "entries", f"{len(self.entries)} entries but header.tx_count is {count}"
        return None

    def compute_tx_root(self) -> bytes:
        """What ``header.tx_root`` must equal; checking it is the verifier's job."""
        return merkle_root([entry_id(e) for e in self.entries])

    def compute_entries_hash(self) -> bytes:
        """What ``header.entries_hash`` must equal; checking it is the verifier's job."""
        return entries_hash(self.body_bytes())

    def body_bytes(self) -> bytes:
        """The bytes after the signed header (``u32 count || entries``), as decoded or encoded."""
        if self._body is None:
            _set(self, "_body", encode_entries(self.entries))
        return self._body  # type: ignore[return-value]

    def to_bytes(self) -> bytes:
        return self.header.to_bytes() + self.body_bytes()

    def write(self, out: list[bytes]) -> None:
        out.append(self.to_bytes())

    @classmethod
    def read(cls, r: Reader) -> Self:
        """The entry count is checked against the header before any entry is read."""
        header: SignedHeader = _HEADER.read(r, "header")
        start = r.pos
        count = _ENTRIES.read_count(r, "entries")
        if count != header.header.tx_count:
            raise r.error(
                "entries", f"{count} entries but header.tx_count is {header.header.tx_count}"
            )
        block = cls._codec.new(header, _ENTRIES.read_items(r, "entries", count))
        _set(block, "_body", r.data[start : r.pos])
        return block  # type: ignore[no-any-return]


_HEADER: Final = Block._codec.wires[0]
