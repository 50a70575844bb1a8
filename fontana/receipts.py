"""Checking a receipt a consumer holds: offline with the genesis, then against its DA blob.

``fontana receipt verify FILE [--da]`` is built on these. A receipt document
is the JSON of a provisional ``SignedReceipt`` or of a ``FinalReceipt``; both
are strangers' input, so decoding is strict (``malformed``, ``bad_amount``,
``bad_address``) and every failed check is a ``bad_receipt`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fontana.da.blob import read_blob_header
from fontana.errors import EncodingError, ReceiptError
from fontana.models import (
    FinalReceipt,
    Genesis,
    SignedReceipt,
    entry_id,
    verify_final_receipt,
    verify_receipt,
)


def read_receipt(data: Any) -> SignedReceipt | FinalReceipt:
    """A receipt document's JSON: final if it has ``inclusion``, else provisional (signed)."""
    if isinstance(data, Mapping) and "inclusion" in data:
        return FinalReceipt.from_json(data)
    return SignedReceipt.from_json(data)


def verify_provisional(signed: SignedReceipt, genesis: Genesis) -> None:
    """A provisional receipt of this deployment: its chain id, then the payee's signature."""
    chain_id = signed.receipt.chain_id
    if chain_id != genesis.chain_id:
        raise ReceiptError(
            f"signed_receipt.receipt.chain_id: {chain_id!r} is not the genesis chain "
            f"{genesis.chain_id!r}",
            check="receipt_chain",
        )
    verify_receipt(signed, genesis.hash)


def verify_receipt_json(data: Any, genesis: Genesis) -> SignedReceipt | FinalReceipt:
    """Decode a receipt document and make every offline check its kind has; return it."""
    value = read_receipt(data)
    if isinstance(value, FinalReceipt):
        verify_final_receipt(value, genesis)
    else:
        verify_provisional(value, genesis)
    return value


def verify_final_receipt_blob(final: FinalReceipt, blob: bytes, genesis: Genesis) -> None:
    """The ``--da`` check: ``blob``, read at the receipt's DA reference, is its block.

    Its signed header is the receipt's, its entries are the ones that header
    commits to, and the entry at the proof's index is the payment. The
    offline checks (:func:`verify_final_receipt`) are the caller's, first.
    """
    try:
        parts = read_blob_header(blob, genesis.chain_id)
    except EncodingError as exc:
        raise ReceiptError(f"final_receipt: the DA blob is not a block: {exc.message}",
                           check="da_blob") from None  # fmt: skip
    if parts.header != final.header:
        raise ReceiptError(
            "final_receipt.header: the DA blob holds another block header", check="da_header"
        )
    if not parts.body_matches():
        raise ReceiptError(
            "final_receipt: the DA blob's entries are not the ones its header commits to",
            check="da_entries",
        )
    try:
        entries = parts.block().entries
    except EncodingError as exc:
        raise ReceiptError(f"final_receipt: the DA blob's block does not decode: {exc.message}",
                           check="da_blob") from None  # fmt: skip
    index, txid = final.inclusion.index, final.receipt.receipt.txid
    if index >= len(entries) or entry_id(entries[index]) != txid:
        raise ReceiptError(
            f"final_receipt.inclusion.index: entry {index} of the DA block "
            f"is not the payment {txid.hex()}",
            check="da_entry",
        )
