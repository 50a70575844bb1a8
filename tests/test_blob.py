"""The DA blob format: round trip, and every malformed blob refused."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from fontana.da.blob import blob_chain_id, decode_blob, encode_blob
from fontana.errors import EncodingError
from fontana.hashing import merkle_root
from fontana.models import (
    Block,
    BlockHeader,
    Deposit,
    SignedHeader,
    encode_entries,
    entries_hash,
    entry_id,
)

KEY = SigningKey(b"\x07" * 32)
GENESIS_HASH = b"\x08" * 32


def block(entries: tuple[Deposit, ...] = (), chain: str = "fontana-test") -> Block:
    header = BlockHeader(
        version=1,
        chain_id=chain,
        height=3,
        prev_hash=b"\x01" * 32,
        timestamp_ms=1_700_000_000_000,
        tx_root=merkle_root([entry_id(e) for e in entries]),
        entries_hash=entries_hash(encode_entries(entries)),
        state_root=b"\x02" * 32,
        tx_count=len(entries),
        proposer=bytes(KEY.verify_key),
    )
    return Block(SignedHeader.sign(header, KEY, GENESIS_HASH), entries)


DEPOSIT = Deposit(
    l1_chain_id=1,
    vault=b"\x03" * 20,
    l1_tx_hash=b"\x04" * 32,
    log_index=0,
    l1_block=9,
    depositor=b"\x05" * 20,
    recipient=b"\x06" * 32,
    amount=5,
)


@pytest.mark.parametrize("entries", [(), (DEPOSIT,)])
def test_round_trip(entries: tuple[Deposit, ...]) -> None:
    blk = block(entries)
    data = encode_blob(blk)
    assert data[:5] == b"FNTB\x01"
    assert blob_chain_id(data) == "fontana-test"
    assert decode_blob(data, "fontana-test") == blk


def test_empty_block_is_header_only() -> None:
    data = encode_blob(block())
    assert len(data) == 5 + 1 + len("fontana-test") + len(block().header.to_bytes()) + 4


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"XXXX" + d[4:], "not a Fontana blob"),
        (lambda d: d[:4] + b"\x02" + d[5:], "unsupported blob version"),
        (lambda d: d + b"\x00", "trailing"),
        (lambda d: d[:-1], None),
        (lambda d: d[:40], None),
    ],
)
def test_malformed_blobs_are_refused(mutate, message: str | None) -> None:  # type: ignore[no-untyped-def]
    data = encode_blob(block((DEPOSIT,)))
    with pytest.raises(EncodingError, match=message):
        decode_blob(mutate(data), "fontana-test")


def test_blob_of_another_chain_is_refused() -> None:
    data = encode_blob(block(chain="other-chain"))
    assert blob_chain_id(data) == "other-chain"
    with pytest.raises(EncodingError, match="other-chain"):
        decode_blob(data, "fontana-test")
    assert blob_chain_id(b"random bytes") is None


@pytest.mark.parametrize("bad", [b"Fontana-test", b"", b"a" * 33, b"fontana_test", b"\xc3\x28"])
def test_the_chain_id_rules_apply_to_the_blob(bad: bytes) -> None:
    data = encode_blob(block())
    forged = data[:5] + bytes([len(bad)]) + bad + data[6 + len("fontana-test") :]
    assert blob_chain_id(forged) is None
    with pytest.raises(EncodingError, match=r"blob\.chain_id"):
        decode_blob(forged, "fontana-test")


def test_the_header_inside_must_be_of_the_blob_chain() -> None:
    inner = block(chain="other-chain")
    data = encode_blob(block())[:5] + b"\x0cfontana-test" + inner.to_bytes()
    with pytest.raises(EncodingError, match=r"blob\.block: header chain id differs"):
        decode_blob(data, "fontana-test")
    with pytest.raises(EncodingError, match=r"blob\.block: header chain id differs"):
        decode_blob(data + b"\x00", "fontana-test")  # the cross-field rule before trailing bytes
