"""How large a DA blob must be: derived from the models' limits, never guessed.

A block's blob is the blob framing and signed header (:func:`blob_overhead`),
then its entries, each framed by a type byte and a length
(:func:`framed_size`), the last one possibly the block's fee credit
(:func:`fee_credit_size`). The largest valid entry is a withdrawal with every
list and byte string at its maximum (:func:`largest_entry`), so a blob limit
of :func:`min_blob_size` bytes holds any one entry plus the fee credit, and a
sequencer with that limit can always seal the oldest pending entry.

The sizes are measured by encoding such maximal values, so they follow the
encodings in ``docs/protocol.md`` wherever those change.
"""

from __future__ import annotations

from functools import cache

from fontana.da.blob import encode_blob
from fontana.models import (
    MAX_INPUTS,
    MAX_MEMO,
    MAX_OUTPUTS,
    MAX_WITNESSES,
    Block,
    BlockHeader,
    Entry,
    FeeCredit,
    OutPoint,
    SignedHeader,
    Transaction,
    TxKind,
    TxOutput,
    WithdrawalRequest,
    Witness,
    encode_entry,
)
from fontana.models._base import CHAIN_ID_MAX

_U64_MAX = 2**64 - 1
_LONGEST_CHAIN_ID = "a" * CHAIN_ID_MAX


def _key(n: int) -> bytes:
    """A distinct 32-byte value per integer (keys and hashes of the maximal values)."""
    return n.to_bytes(32, "big")


def framed_size(entry: Entry) -> int:
    """Bytes ``entry`` takes in a block: type, length and body."""
    return len(encode_entry(entry))


@cache
def largest_entry() -> Transaction:
    """A withdrawal with the most inputs, outputs, witnesses, the longest memo and chain id."""
    return Transaction(
        kind=TxKind.WITHDRAWAL,
        chain_id=_LONGEST_CHAIN_ID,
        inputs=tuple(OutPoint(_key(i), i) for i in range(MAX_INPUTS)),
        outputs=tuple(TxOutput(_key(i), _U64_MAX) for i in range(MAX_OUTPUTS)),
        fee=_U64_MAX,
        expiry_ms=_U64_MAX,
        payload_hash=_key(0),
        memo=b"\xff" * MAX_MEMO,
        withdrawal=WithdrawalRequest(b"\xff" * 20, _U64_MAX),
        witnesses=tuple(Witness(_key(i), b"\xff" * 64) for i in range(MAX_WITNESSES)),
    )


@cache
def largest_entry_size() -> int:
    return framed_size(largest_entry())


def _fee_credit() -> FeeCredit:
    return FeeCredit(_U64_MAX, _key(0), _U64_MAX)


@cache
def fee_credit_size() -> int:
    """Bytes a block keeps free for its fee credit (fixed-size fields only)."""
    return framed_size(_fee_credit())


@cache
def entry_frame() -> int:
    """Bytes an entry's type and length add to its body."""
    return fee_credit_size() - len(_fee_credit().to_bytes())


@cache
def blob_overhead() -> int:
    """Bytes of a blob that are not entries: an empty block's blob, longest chain id."""
    header = BlockHeader(
        version=1,
        chain_id=_LONGEST_CHAIN_ID,
        height=_U64_MAX,
        prev_hash=_key(0),
        timestamp_ms=_U64_MAX,
        tx_root=_key(0),
        entries_hash=_key(0),
        state_root=_key(0),
        tx_count=0,
        proposer=_key(0),
    )
    return len(encode_blob(Block(SignedHeader(header, bytes(64)), ())))


@cache
def min_blob_size() -> int:
    """The smallest blob limit that holds any single valid entry plus the fee credit."""
    return blob_overhead() + largest_entry_size() + fee_credit_size()
