"""The DA blob that carries one block: ``"FNTB" | u8 version | string chain_id | block``.

The chain id sits in front of the block so a reader sharing a namespace with
other chains can skip their blobs without parsing them; an empty block is a
header-only blob (its entry count is zero). Blobs are strangers' input until
the signed header inside vouches for them, so reading one is split in two:
the header first (cheap to check, and the entry bytes are only hashed), the
entries only once the header is trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from fontana.encoding import Reader
from fontana.errors import EncodingError
from fontana.models import Block, SignedHeader
from fontana.models.chain import encode_entry_records, entries_hash
from fontana.models.codec import CHAIN_ID

MAGIC: Final = b"FNTB"
BLOB_VERSION: Final = 1


def _prefix(chain_id: str) -> list[bytes]:
    out = [MAGIC, bytes([BLOB_VERSION])]
    CHAIN_ID.write(chain_id, out)
    return out


def encode_blob(block: Block) -> bytes:
    out = _prefix(block.header.header.chain_id)
    block.write(out)
    return b"".join(out)


def assemble_blob(
    chain_id: str, signed_header: bytes, entries: Sequence[tuple[int, bytes]]
) -> bytes:
    """The blob of a stored block from its stored bytes: nothing is decoded or re-encoded.

    ``signed_header`` is the canonical signed header, ``entries`` the
    ``(type, body)`` pairs in block order; the result equals ``encode_blob``
    of the decoded block.
    """
    return b"".join([*_prefix(chain_id), signed_header, encode_entry_records(entries)])


def blob_chain_id(data: bytes) -> str | None:
    """The chain a blob belongs to, or ``None`` if it is not a Fontana blob."""
    if not data.startswith(MAGIC) or len(data) < 6 or data[4] != BLOB_VERSION:
        return None
    try:
        return CHAIN_ID.read(Reader(data[5:], "blob"), "chain_id")  # type: ignore[no-any-return]
    except EncodingError:
        return None


@attrs.frozen
class BlobParts:
    """A blob read as far as its signed header; the entries are still bytes."""

    header: SignedHeader
    #: The block's canonical encoding: the signed header, then the body.
    block_bytes: bytes
    #: The bytes after the signed header, ``u32 count ‖ entries``.
    body: bytes

    def body_matches(self) -> bool:
        """Whether the body is exactly the one the header's ``entries_hash`` commits to."""
        return entries_hash(self.body) == self.header.header.entries_hash

    def block(self) -> Block:
        """The whole block, decoded strictly."""
        return Block.from_bytes(self.block_bytes)


def read_blob_header(data: bytes, chain_id: str) -> BlobParts:
    """Check the prefix of a blob of chain ``chain_id`` and read its signed header."""
    r = Reader(data, "blob")
    if r.take(4, "magic") != MAGIC:
        raise r.error("magic", "not a Fontana blob")
    version = r.uint(1, "version")
    if version != BLOB_VERSION:
        raise r.error("version", f"unsupported blob version {version}")
    blob_chain = CHAIN_ID.read(r, "chain_id")
    if blob_chain != chain_id:
        raise r.error("chain_id", f"blob of chain {blob_chain!r}, expected {chain_id!r}")
    start = r.pos
    r.push("block")
    r.push("header")
    header = SignedHeader.read(r)
    r.pop()
    r.pop()
    if header.header.chain_id != chain_id:
        raise r.error("block", "header chain id differs from the blob's")
    return BlobParts(header, data[start:], data[r.pos :])


def decode_blob(data: bytes, chain_id: str) -> Block:
    """The block in ``data``; strict, and refuses blobs of another chain."""
    parts = read_blob_header(data, chain_id)
    try:
        return parts.block()
    except EncodingError as exc:
        raise EncodingError(f"blob.{exc.message}") from None
