"""Domain-separated SHA-256, the signing message and the transaction Merkle root.

Every hash carries a tag so that bytes hashed for one purpose can never be
replayed as another (a transaction id can never equal a header hash). The
tag is ASCII and never contains NUL, so ``tag || 0x00`` is an unambiguous prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from fontana.errors import EncodingError

TAG_TX: Final = "fontana/tx"
TAG_DEPOSIT: Final = "fontana/deposit"
TAG_WITHDRAWAL: Final = "fontana/withdrawal"
TAG_FEE: Final = "fontana/fee"
TAG_UTXO: Final = "fontana/utxo"
TAG_UTXO_KEY: Final = "fontana/utxo/key"
TAG_HEADER: Final = "fontana/header"
TAG_ENTRIES: Final = "fontana/entries"
TAG_RECEIPT: Final = "fontana/receipt"
TAG_GENESIS: Final = "fontana/genesis"
TAG_SIGN: Final = "fontana/sign"
TAG_TXROOT_LEAF: Final = "fontana/txroot/leaf"
TAG_TXROOT_NODE: Final = "fontana/txroot/node"
TAG_TXROOT_EMPTY: Final = "fontana/txroot/empty"
TAG_SMT_LEAF: Final = "fontana/smt/leaf"
TAG_SMT_NODE: Final = "fontana/smt/node"
#: The built-in local DA layer's blob commitment (not part of consensus).
TAG_DA_LOCAL: Final = "fontana/da/local"

ALL_TAGS: Final = (
    TAG_TX,
    TAG_DEPOSIT,
    TAG_WITHDRAWAL,
    TAG_FEE,
    TAG_UTXO,
    TAG_UTXO_KEY,
    TAG_HEADER,
    TAG_ENTRIES,
    TAG_RECEIPT,
    TAG_GENESIS,
    TAG_SIGN,
    TAG_TXROOT_LEAF,
    TAG_TXROOT_NODE,
    TAG_TXROOT_EMPTY,
    TAG_SMT_LEAF,
    TAG_SMT_NODE,
    TAG_DA_LOCAL,
)

HASH_LEN: Final = 32


def tagged_hash(tag: str, data: bytes) -> bytes:
    """sha256(tag || 0x00 || data)."""
    return hashlib.sha256(tag.encode("ascii") + b"\x00" + data).digest()


def signing_message(genesis_hash: bytes, ident: bytes) -> bytes:
    """What every ed25519 signature signs: ``ident`` bound to one deployment.

    ``ident`` is a txid, header hash or receipt id (each already tagged by its
    kind), ``genesis_hash`` the deployment's; a signature made for one genesis
    is worthless on every other, even one that reuses the chain id.
    """
    if not isinstance(genesis_hash, bytes) or len(genesis_hash) != HASH_LEN:
        raise EncodingError(f"signing_message: the genesis hash is not {HASH_LEN} bytes")
    if not isinstance(ident, bytes) or len(ident) != HASH_LEN:
        raise EncodingError(f"signing_message: the signed id is not {HASH_LEN} bytes")
    return tagged_hash(TAG_SIGN, genesis_hash + ident)


def merkle_root(ids: Sequence[bytes]) -> bytes:
    """RFC 6962 shaped root over 32-byte ids, with tagged leaf, node and empty hashes.

    The left subtree always holds the largest power of two below ``n`` leaves,
    so appending ids never reshapes the existing part of the tree.
    """
    for i, item in enumerate(ids):
        if not isinstance(item, bytes) or len(item) != HASH_LEN:
            raise EncodingError(f"merkle_root: id {i} is not {HASH_LEN} bytes")
    if not ids:
        return tagged_hash(TAG_TXROOT_EMPTY, b"")
    return _subtree(ids)


def _subtree(ids: Sequence[bytes]) -> bytes:
    n = len(ids)
    if n == 1:
        return tagged_hash(TAG_TXROOT_LEAF, ids[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return tagged_hash(TAG_TXROOT_NODE, _subtree(ids[:k]) + _subtree(ids[k:]))
