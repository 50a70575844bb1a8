"""Domain-separated SHA-256, the signing message, the transaction Merkle root and its proofs.

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
TAG_WITHDRAWAL_KEY: Final = "fontana/withdrawal/key"
TAG_WITHDRAWAL_LEAF: Final = "fontana/withdrawal/leaf"
TAG_FEE: Final = "fontana/fee"
TAG_UTXO: Final = "fontana/utxo"
TAG_UTXO_KEY: Final = "fontana/utxo/key"
TAG_HEADER: Final = "fontana/header"
TAG_ENTRIES: Final = "fontana/entries"
TAG_RECEIPT: Final = "fontana/receipt"
TAG_PAYMENT: Final = "fontana/payment"
TAG_REQUEST: Final = "fontana/request"
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
    TAG_WITHDRAWAL_KEY,
    TAG_WITHDRAWAL_LEAF,
    TAG_FEE,
    TAG_UTXO,
    TAG_UTXO_KEY,
    TAG_HEADER,
    TAG_ENTRIES,
    TAG_RECEIPT,
    TAG_PAYMENT,
    TAG_REQUEST,
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
    _check_ids(ids, "merkle_root")
    if not ids:
        return tagged_hash(TAG_TXROOT_EMPTY, b"")
    return _subtree(ids, 0, len(ids))


def merkle_proof(ids: Sequence[bytes], index: int) -> list[bytes]:
    """The inclusion proof of ``ids[index]`` in ``merkle_root(ids)``: its siblings, leaf first.

    RFC 6962's audit path: for each subtree on the way from the root down to
    the leaf, the root of the other half, listed from the bottom up.
    """
    _check_ids(ids, "merkle_proof")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(ids):
        raise EncodingError(f"merkle_proof: index {index!r:.40} is not below {len(ids)} ids")
    siblings: list[bytes] = []
    lo, hi = 0, len(ids)
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            siblings.append(_subtree(ids, mid, hi))
            hi = mid
        else:
            siblings.append(_subtree(ids, lo, mid))
            lo = mid
    siblings.reverse()
    return siblings


def merkle_path(index: int, count: int) -> list[bool]:
    """For leaf ``index`` of ``count``, from the leaf up: whether the leaf's side is the left.

    Its length is the number of siblings a proof of that leaf holds.
    """
    lefts: list[bool] = []
    lo, n = index, count
    while n > 1:
        k = _split(n)
        lefts.append(lo < k)
        if lo >= k:
            lo, n = lo - k, n - k
        else:
            n = k
    lefts.reverse()
    return lefts


def verify_merkle_proof(
    root: bytes, leaf_id: bytes, index: int, count: int, siblings: Sequence[bytes]
) -> bool:
    """Whether ``siblings`` prove ``leaf_id`` is leaf ``index`` of ``count`` under ``root``.

    Answers False (never raises) for any malformed argument: a proof is a
    stranger's input.
    """
    if not (_is_hash(root) and _is_hash(leaf_id)):
        return False
    for value in (index, count):
        if isinstance(value, bool) or not isinstance(value, int):
            return False
    if not 0 <= index < count < 1 << 32 or not isinstance(siblings, Sequence):
        return False
    lefts = merkle_path(index, count)
    if len(siblings) != len(lefts) or not all(_is_hash(s) for s in siblings):
        return False
    node = tagged_hash(TAG_TXROOT_LEAF, leaf_id)
    for is_left, sibling in zip(lefts, siblings, strict=True):
        pair = node + sibling if is_left else sibling + node
        node = tagged_hash(TAG_TXROOT_NODE, pair)
    return node == root


def _check_ids(ids: Sequence[bytes], what: str) -> None:
    for i, item in enumerate(ids):
        if not _is_hash(item):
            raise EncodingError(f"{what}: id {i} is not {HASH_LEN} bytes")


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_LEN


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``): the left subtree's size."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree(ids: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return tagged_hash(TAG_TXROOT_LEAF, ids[lo])
    mid = lo + _split(hi - lo)
    return tagged_hash(TAG_TXROOT_NODE, _subtree(ids, lo, mid) + _subtree(ids, mid, hi))
