"""The DA blob that carries one block: ``"FNTB" | u8 version | string chain_id | block``.

The chain id sits in front of the block so a reader sharing a namespace with
other chains can skip their blobs without parsing them; an empty block is a
header-only blob (its entry count is zero).
"""

from __future__ import annotations

from typing import Final

from fontana.encoding import Reader
from fontana.errors import EncodingError
from fontana.models import Block
from fontana.models.codec import CHAIN_ID

MAGIC: Final = b"FNTB"
BLOB_VERSION: Final = 1


def encode_blob(block: Block) -> bytes:
    out = [MAGIC, bytes([BLOB_VERSION])]
    CHAIN_ID.write(block.header.header.chain_id, out)
    block.write(out)
    return b"".join(out)


def blob_chain_id(data: bytes) -> str | None:
    """The chain a blob belongs to, or ``None`` if it is not a Fontana blob."""
    if not data.startswith(MAGIC) or len(data) < 6 or data[4] != BLOB_VERSION:
        return None
    try:
        return CHAIN_ID.read(Reader(data[5:], "blob"), "chain_id")  # type: ignore[no-any-return]
    except EncodingError:
        return None


def decode_blob(data: bytes, chain_id: str) -> Block:
    """The block in ``data``; strict, and refuses blobs of another chain."""
    r = Reader(data, "blob")
    if r.take(4, "magic") != MAGIC:
        raise r.error("magic", "not a Fontana blob")
    version = r.uint(1, "version")
    if version != BLOB_VERSION:
        raise r.error("version", f"unsupported blob version {version}")
    blob_chain = CHAIN_ID.read(r, "chain_id")
    if blob_chain != chain_id:
        raise r.error("chain_id", f"blob of chain {blob_chain!r}, expected {chain_id!r}")
    r.push("block")
    block = Block.read(r)
    r.pop()
    if block.header.header.chain_id != chain_id:
        raise r.error("block", "header chain id differs from the blob's")
    r.finish()
    return block
