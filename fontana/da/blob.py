"""The DA blob that carries one block: ``"FNTB" | u8 version | string chain_id | block``.

The chain id sits in front of the block so a reader sharing a namespace with
other chains can skip their blobs without parsing them; an empty block is a
header-only blob (its entry count is zero).
"""

from __future__ import annotations

from typing import Final

from fontana.encoding import Reader, Writer
from fontana.errors import EncodingError
from fontana.models import Block
from fontana.models._base import CHAIN_ID_MAX

MAGIC: Final = b"FNTB"
BLOB_VERSION: Final = 1


def encode_blob(block: Block) -> bytes:
    w = Writer()
    w.fixed(MAGIC, 4, "magic")
    w.u8(BLOB_VERSION, "version")
    w.string(block.header.header.chain_id, CHAIN_ID_MAX, "chain_id")
    block.write(w)
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


def decode_blob(data: bytes, chain_id: str) -> Block:
    """The block in ``data``; strict, and refuses blobs of another chain."""
    r = Reader(data, "blob")
    if r.fixed(4, "magic") != MAGIC:
        raise r.error("magic", "not a Fontana blob")
    version = r.u8("version")
    if version != BLOB_VERSION:
        raise r.error("version", f"unsupported blob version {version}")
    blob_chain = r.string(CHAIN_ID_MAX, "chain_id")
    if blob_chain != chain_id:
        raise r.error("chain_id", f"blob of chain {blob_chain!r}, expected {chain_id!r}")
    block = Block.read(r)
    r.finish()
    if block.header.header.chain_id != chain_id:
        raise EncodingError("blob: header chain id differs from the blob's")
    return block
