"""Fontana's data model: every value that is hashed, signed, stored or sent.

Each model is a frozen attrs class, validated on construction, with one
canonical byte form (``to_bytes``/``from_bytes``, see docs/protocol.md) and
one JSON form (``to_json``/``from_json``), both derived from the fields'
declared wire types (``fontana.models.codec``). Decoding either form is strict.
"""

from fontana.models.chain import (
    MAX_BLOCK_ENTRIES,
    Block,
    BlockHeader,
    SignedHeader,
    encode_entries,
    encode_entry_records,
    entries_hash,
    records_entries_hash,
)
from fontana.models.entry import (
    MAX_ENTRY_BODY,
    Entry,
    EntryType,
    decode_entry,
    encode_entry,
    entry_from_json,
    entry_id,
    entry_to_json,
    entry_type,
)
from fontana.models.genesis import MAX_ALLOCATIONS, Allocation, Genesis
from fontana.models.payment import (
    FinalReceipt,
    MerkleProof,
    PaymentBinding,
    Receipt,
    SignedReceipt,
    request_hash,
    verify_final_receipt,
    verify_receipt,
)
from fontana.models.records import (
    UTXO,
    Deposit,
    FeeCredit,
    WithdrawalConfirmation,
    WithdrawalLeaf,
    utxo_key,
    withdrawal_key,
)
from fontana.models.tx import (
    MAX_INPUTS,
    MAX_MEMO,
    MAX_OUTPUTS,
    MAX_WITNESSES,
    NATIVE_TOKEN,
    OutPoint,
    Transaction,
    TxKind,
    TxOutput,
    WithdrawalRequest,
    Witness,
)

__all__ = [
    "MAX_ALLOCATIONS",
    "MAX_BLOCK_ENTRIES",
    "MAX_ENTRY_BODY",
    "MAX_INPUTS",
    "MAX_MEMO",
    "MAX_OUTPUTS",
    "MAX_WITNESSES",
    "NATIVE_TOKEN",
    "UTXO",
    "Allocation",
    "Block",
    "BlockHeader",
    "Deposit",
    "Entry",
    "EntryType",
    "FeeCredit",
    "FinalReceipt",
    "Genesis",
    "MerkleProof",
    "OutPoint",
    "PaymentBinding",
    "Receipt",
    "SignedHeader",
    "SignedReceipt",
    "Transaction",
    "TxKind",
    "TxOutput",
    "WithdrawalConfirmation",
    "WithdrawalLeaf",
    "WithdrawalRequest",
    "Witness",
    "decode_entry",
    "encode_entries",
    "encode_entry",
    "encode_entry_records",
    "entries_hash",
    "entry_from_json",
    "entry_id",
    "entry_to_json",
    "entry_type",
    "records_entries_hash",
    "request_hash",
    "utxo_key",
    "verify_final_receipt",
    "verify_receipt",
    "withdrawal_key",
]
