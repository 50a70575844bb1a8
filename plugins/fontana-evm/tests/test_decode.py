"""The vault log decoder on crafted logs: well-formed ones decode, all others are skipped."""

from __future__ import annotations

from typing import Any

import pytest
from fontana_evm.decode import (
    DEPOSITED_TOPIC,
    RELEASED_TOPIC,
    BadLog,
    decode_log,
    decode_logs,
)
from fontana_evm.testing import deposited, released, word
from hexbytes import HexBytes

from fontana.models import Deposit, WithdrawalConfirmation

VAULT = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
SENDER = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
ROLLUP = bytes(range(1, 33))
TOKEN = bytes.fromhex("e7f1725e7734ce288f8367e1bb143e90bb3f0512")
TX = bytes(range(100, 132))
BURN = bytes(range(50, 82))
CHAIN = 31337


def log_of(
    topics: list[bytes], data: bytes, *, block: int = 7, index: int = 3, **extra: Any
) -> dict[str, Any]:
    """A log as web3 returns it (HexBytes, ints, a checksummed address)."""
    return {
        "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "topics": [HexBytes(t) for t in topics],
        "data": HexBytes(data),
        "blockNumber": block,
        "transactionHash": HexBytes(TX),
        "logIndex": index,
        "removed": False,
        **extra,
    }


def good_deposit(amount: int = 5_000_000, **fields: Any) -> dict[str, Any]:
    return log_of(*deposited(1, SENDER, ROLLUP, bytes(20), amount), **fields)


def good_release() -> dict[str, Any]:
    return log_of(*released(BURN, SENDER, TOKEN, 42, 9))


def decode(log: dict[str, Any]) -> Deposit | WithdrawalConfirmation:
    return decode_log(log, chain_id=CHAIN, vault=VAULT)


def test_a_deposited_log_is_the_deposit_docs_bridge_describes() -> None:
    assert decode(good_deposit()) == Deposit(
        l1_chain_id=CHAIN,
        vault=VAULT,
        l1_tx_hash=TX,
        log_index=3,
        l1_block=7,
        depositor=SENDER,
        recipient=ROLLUP,
        amount=5_000_000,
    )


def test_a_released_log_is_the_confirmation_of_its_burn() -> None:
    assert decode(good_release()) == WithdrawalConfirmation(
        burn_txid=BURN, l1_tx_hash=TX, log_index=3, l1_block=7
    )


def test_the_topics_are_the_keccak_of_the_event_signatures() -> None:
    # Fixed values, so a typo in a signature cannot hide behind the same typo in a test.
    assert DEPOSITED_TOPIC.hex() == (
        "138b65aff6a76b6871cb62e952f475f9d763de02420369c83a08c98696b9403c"
    )
    assert RELEASED_TOPIC.hex() == (
        "4dc2481381196b7795bb95096915f0286a0dca7ff49154dae34c78f0287290ac"
    )


def test_the_node_may_answer_in_hex_text() -> None:
    raw = good_deposit()
    text = {
        **raw,
        "address": "0x" + VAULT.hex(),
        "topics": ["0x" + bytes(t).hex() for t in raw["topics"]],
        "data": "0x" + bytes(raw["data"]).hex(),
        "blockNumber": "0x7",
        "transactionHash": "0x" + TX.hex(),
        "logIndex": "0x3",
    }
    assert decode(text) == decode(raw)


def tampered(log: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**log, **changes}


def topics_of(log: dict[str, Any]) -> list[bytes]:
    return [bytes(t) for t in log["topics"]]


DEP = good_deposit()
REL = good_release()
DEP_TOPICS, DEP_DATA = topics_of(DEP), bytes(DEP["data"])
REL_TOPICS, REL_DATA = topics_of(REL), bytes(REL["data"])

HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "another address": (
        tampered(DEP, address="0x" + "11" * 20),
        "not the vault's log",
    ),
    "removed by a reorg": (tampered(DEP, removed=True), "removed"),
    "no topics": (tampered(DEP, topics=[]), "no topics"),
    "an unknown event": (
        tampered(DEP, topics=[word(1), *DEP_TOPICS[1:]]),
        "neither Deposited nor Released",
    ),
    "deposit: 3 topics": (tampered(DEP, topics=DEP_TOPICS[:3]), "4 topics, this log 3"),
    "deposit: 5 topics": (
        tampered(DEP, topics=[*DEP_TOPICS, word(0)]),
        "4 topics, this log 5",
    ),
    "deposit: short data": (tampered(DEP, data=DEP_DATA[:63]), "64 bytes of data, this log 63"),
    "deposit: long data": (
        tampered(DEP, data=DEP_DATA + bytes(32)),
        "64 bytes of data, this log 96",
    ),
    "deposit: zero amount": (good_deposit(amount=0), "amount 0 is not in"),
    "deposit: amount of 2^63": (good_deposit(amount=2**63), "is not in 1.."),
    "deposit: amount past uint64": (
        tampered(DEP, data=DEP_DATA[:32] + word(2**64 + 5)),
        "amount does not fit uint64",
    ),
    "deposit: zero recipient": (
        tampered(DEP, topics=[*DEP_TOPICS[:3], bytes(32)]),
        "zero rollup address",
    ),
    "deposit: sender with high bytes": (
        tampered(DEP, topics=[*DEP_TOPICS[:2], b"\x01" + DEP_TOPICS[2][1:], DEP_TOPICS[3]]),
        "sender is not an address",
    ),
    "deposit: token with high bytes": (
        tampered(DEP, data=b"\xff" * 12 + DEP_DATA[12:]),
        "token is not an address",
    ),
    "deposit: id past uint64": (
        tampered(DEP, topics=[DEP_TOPICS[0], word(2**64), *DEP_TOPICS[2:]]),
        "depositId does not fit uint64",
    ),
    "deposit: id 0": (
        tampered(DEP, topics=[DEP_TOPICS[0], word(0), *DEP_TOPICS[2:]]),
        "depositId 0",
    ),
    "deposit: a 31-byte topic": (
        tampered(DEP, topics=[*DEP_TOPICS[:3], DEP_TOPICS[3][1:]]),
        "a topic is 31 bytes",
    ),
    "release: 4 topics": (
        tampered(REL, topics=[*REL_TOPICS, word(0)]),
        "3 topics, this log 4",
    ),
    "release: short data": (tampered(REL, data=REL_DATA[:64]), "96 bytes of data, this log 64"),
    "release: zero id": (
        tampered(REL, topics=[REL_TOPICS[0], bytes(32), REL_TOPICS[2]]),
        "zero withdrawal id",
    ),
    "release: zero amount": (
        tampered(REL, data=REL_DATA[:32] + word(0) + REL_DATA[64:]),
        "amount 0",
    ),
    "release: height past uint64": (
        tampered(REL, data=REL_DATA[:64] + word(2**64)),
        "height does not fit uint64",
    ),
    "release: recipient with high bytes": (
        tampered(REL, topics=[*REL_TOPICS[:2], b"\x01" * 32]),
        "recipient is not an address",
    ),
    "data that is not bytes": (tampered(DEP, data=12), "data is not bytes"),
    "data in bad hex": (tampered(DEP, data="0xzz"), "data is not bytes"),
    "topics that are not a list": (tampered(DEP, topics="0x00"), "topics is not a list"),
    "no block number": (tampered(DEP, blockNumber=None), "blockNumber is not an integer"),
    "a negative log index": (tampered(DEP, logIndex=-1), "logIndex is not an integer"),
    "a log index past u32": (tampered(DEP, logIndex=2**32), "logIndex is not an integer"),
    "a boolean block": (tampered(DEP, blockNumber=True), "blockNumber is not an integer"),
    "a short transaction hash": (
        tampered(DEP, transactionHash=HexBytes(TX[:31])),
        "transactionHash is not 32 bytes",
    ),
    "a block past 2^63": (tampered(DEP, blockNumber=2**63), "blockNumber is not an integer"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_log_is_refused_with_its_reason(name: str) -> None:
    log, reason = HOSTILE[name]
    with pytest.raises(BadLog, match=reason):
        decode(log)


def test_decode_logs_skips_what_does_not_decode_and_keeps_log_order() -> None:
    logs = [
        good_deposit(block=9, index=1),
        HOSTILE["deposit: zero amount"][0],
        good_release(),
        good_deposit(block=7, index=0),
        "not a log",
    ]
    events = decode_logs(logs, chain_id=CHAIN, vault=VAULT, from_block=7, to_block=9)  # type: ignore[arg-type]
    assert [(d.l1_block, d.log_index) for d in events.deposits] == [(7, 0), (9, 1)]
    assert [w.burn_txid for w in events.withdrawals] == [BURN]
    assert events.scanned_to == 9
    assert [(s.l1_tx_hash, s.log_index, s.l1_block) for s in events.skipped] == [
        (TX, 3, 7),
        (bytes(32), -1, -1),
    ]
    assert "amount 0" in events.skipped[0].reason
    assert "not an object" in events.skipped[1].reason


def test_a_log_outside_the_range_asked_or_reported_twice_counts_once_or_not_at_all() -> None:
    logs = [good_deposit(block=7), good_deposit(block=7), good_deposit(block=12, index=0)]
    events = decode_logs(logs, chain_id=CHAIN, vault=VAULT, from_block=5, to_block=10)
    assert [(d.l1_block, d.log_index) for d in events.deposits] == [(7, 3)]
    assert [s.reason for s in events.skipped] == [
        "the node returned this log twice",
        "block 12 is outside 5..10",
    ]
