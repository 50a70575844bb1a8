"""The DA blob that carries one block: ``"FNTB" | u8 version | string chain_id | block``.

The chain id sits in front of the block so a reader sharing a namespace with
other chains can skip their blobs without parsing them; an empty block is a
header-only blob (its entry count is zero). Blobs are strangers' input until
the signed header inside vouches for them, so reading one is split in two:
the header (cheap to check) first, the entries only once it is trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from fontana.encoding import Reader, Writer
from fontana.errors import EncodingError
from fontana.models import Block, SignedHeader
from fontana.models._base import CHAIN_ID_MAX
from fontana.models.entry import MAX_ENTRY_BODY

MAGIC: Final = b"FNTB"
BLOB_VERSION: Final = 1


def _write_prefix(w: Writer, chain_id: str) -> None:
    w.fixed(MAGIC, 4, "magic")
    w.u8(BLOB_VERSION, "version")
    w.string(chain_id, CHAIN_ID_MAX, "chain_id")


def encode_blob(block: Block) -> bytes:
    w = Writer()
    _write_prefix(w, block.header.header.chain_id)
    block.write(w)
    return w.getvalue()


def assemble_blob(
    chain_id: str, signed_header: bytes, entries: Sequence[tuple[int, bytes]]
) -> bytes:
    """The blob of a stored block, from its stored bytes: nothing is decoded or re-encoded.

    ``signed_header`` is the canonical signed header, ``entries`` the
    ``(type, body)`` pairs in block order; the result equals
    ``encode_blob`` of the decoded block.
    """
    w = Writer()
    _write_prefix(w, chain_id)
    w.raw(signed_header)
    w.u32(len(entries), "entries")
    for entry_type, body in entries:
        w.u8(entry_type, "type")
        w.varbytes(body, MAX_ENTRY_BODY, "body")
    return w.getvalue()


def blob_chain_id(data: bytes) -> str | None:
    """The chain a blob belongs to, or ``None`` if it is not a Fontana blob."""
    if not data.startswith(MAGIC) or len(data) < 6 or data[4] != BLOB_VERSION:
        return None
    try:
        r = Reader(data[5:], "blob")
        return r.string(CHAIN_ID_MAX, "chain_id")
    except EncodingError:
        return None


@attrs.frozen
class BlobParts:
    """A blob read as far as its signed header; the entries are still bytes."""

    header: SignedHeader
    #: The block's canonical encoding (signed header, then the body).
    block_bytes: bytes
    #: The bytes after the signed header: ``u32 count ‖ entries``.
    body: bytes

    def body_matches(self) -> bool:
        """Whether the body is the one the header commits to."""
        try:
            block = self.block()
        except EncodingError:
            return False
        return block.compute_tx_root() == self.header.header.tx_root

    def block(self) -> Block:
        """The whole block, decoded strictly."""
        return Block.from_bytes(self.block_bytes)


def read_blob_header(data: bytes, chain_id: str) -> BlobParts:
    """Check the prefix of a blob of chain ``chain_id`` and read its signed header."""
    r = Reader(data, "blob")
    if r.fixed(4, "magic") != MAGIC:
        raise r.error("magic", "not a Fontana blob")
    version = r.u8("version")
    if version != BLOB_VERSION:
        raise r.error("version", f"unsupported blob version {version}")
    blob_chain = r.string(CHAIN_ID_MAX, "chain_id")
    if blob_chain != chain_id:
        raise r.error("chain_id", f"blob of chain {blob_chain!r}, expected {chain_id!r}")
    start = r.position
    with r.scope("block.header"):
        header = SignedHeader.read(r)
    if header.header.chain_id != chain_id:
        raise EncodingError("blob: header chain id differs from the blob's")
    return BlobParts(header, data[start:], data[r.position :])


def decode_blob(data: bytes, chain_id: str) -> Block:
    """The block in ``data``; strict, and refuses blobs of another chain."""
    return read_blob_header(data, chain_id).block()
