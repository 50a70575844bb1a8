"""Strict decoding of the vault's logs: a log is a stranger's input until every field checks.

Only two events are known (docs/bridge.md)::

    Deposited(uint64 indexed depositId, address indexed sender,
              bytes32 indexed rollupAddress, address token, uint64 amount)
    Released(bytes32 indexed id, address indexed recipient, address token,
             uint64 amount, uint64 height)

A log must come from the vault, carry exactly the event's topics and data
words, and every word must be the type it claims (an address word with a
non-zero high part, a uint64 word beyond 64 bits, are refused, though a
lenient ABI decoder would cut them down). Amounts are 1..2^63 - 1 utia, a
deposit names a non-zero rollup address and a positive deposit id. What
fails is a :class:`~fontana.interfaces.SkippedLog` with the reason: skipped,
never credited, never fatal. The node's own fields (block, transaction,
index) are checked too, and a log the node reports twice counts once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from eth_utils import keccak

from fontana.errors import EncodingError
from fontana.interfaces import L1Events, SkippedLog
from fontana.models import Deposit, WithdrawalConfirmation

DEPOSITED_SIGNATURE: Final = "Deposited(uint64,address,bytes32,address,uint64)"
RELEASED_SIGNATURE: Final = "Released(bytes32,address,address,uint64,uint64)"
DEPOSITED_TOPIC: Final = keccak(text=DEPOSITED_SIGNATURE)
RELEASED_TOPIC: Final = keccak(text=RELEASED_SIGNATURE)
#: The largest amount the ledger stores (a signed 64-bit column).
MAX_AMOUNT: Final = 2**63 - 1
_U32: Final = 2**32 - 1
_U63: Final = 2**63 - 1
#: ASCII hex only: ``int(x, 16)`` and ``bytes.fromhex`` would also take spaces or ``_``.
_HEX_RE: Final = re.compile(r"0[xX][0-9a-fA-F]*", re.ASCII)


class BadLog(Exception):
    """Why one log is not an event of the vault."""


def _hex_or_bytes(value: Any, what: str) -> bytes:
    """``bytes`` (web3's ``HexBytes``) or ``0x`` hex text, as a node may give either."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and _HEX_RE.fullmatch(value) and len(value) % 2 == 0:
        return bytes.fromhex(value[2:])
    raise BadLog(f"{what} is not bytes")


def _quantity(value: Any, what: str, maximum: int) -> int:
    """A node's integer field (an int, or a ``0x`` quantity) within ``0..maximum``."""
    if isinstance(value, str) and _HEX_RE.fullmatch(value) and 2 < len(value) <= 66:
        value = int(value[2:], 16)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum:
        return value
    raise BadLog(f"{what} is not an integer in 0..{maximum}")


def _word(data: bytes, what: str) -> bytes:
    if len(data) != 32:
        raise BadLog(f"{what} is {len(data)} bytes, not a 32-byte word")
    return data


def _uint(word: bytes, bits: int, what: str) -> int:
    if any(word[: 32 - bits // 8]):
        raise BadLog(f"{what} does not fit uint{bits}")
    return int.from_bytes(word, "big")


def _address(word: bytes, what: str) -> bytes:
    if any(word[:12]):
        raise BadLog(f"{what} is not an address: its high 12 bytes are not zero")
    return word[12:]


def _amount(word: bytes) -> int:
    amount = _uint(word, 64, "amount")
    if not 1 <= amount <= MAX_AMOUNT:
        raise BadLog(f"amount {amount} is not in 1..{MAX_AMOUNT} utia")
    return amount


T = TypeVar("T")


class Position:
    """Where the node says a log is: block, transaction and index in the block."""

    def __init__(self, log: Mapping[str, Any]) -> None:
        self.problems: list[str] = []
        self.block = self._field(lambda: _quantity(log.get("blockNumber"), "blockNumber", _U63), -1)
        self.tx_hash = self._field(lambda: self._hash(log.get("transactionHash")), bytes(32))
        self.log_index = self._field(lambda: _quantity(log.get("logIndex"), "logIndex", _U32), -1)

    def _field(self, read: Callable[[], T], fallback: T) -> T:
        try:
            return read()
        except BadLog as exc:
            self.problems.append(str(exc))
            return fallback

    @staticmethod
    def _hash(value: Any) -> bytes:
        tx_hash = _hex_or_bytes(value, "transactionHash")
        if len(tx_hash) != 32:
            raise BadLog("transactionHash is not 32 bytes")
        return tx_hash

    def skipped(self, reason: str) -> SkippedLog:
        return SkippedLog(self.tx_hash, self.log_index, self.block, reason)


def decode_log(
    log: Mapping[str, Any], *, chain_id: int, vault: bytes
) -> Deposit | WithdrawalConfirmation:
    """The event one log of the vault is; :class:`BadLog` says why it is none."""
    where = Position(log)
    if where.problems:
        raise BadLog("; ".join(where.problems))
    if log.get("removed", False) is not False:
        raise BadLog("the node marks it removed (a reorg)")
    if _hex_or_bytes(log.get("address"), "address") != vault:
        raise BadLog("it is not the vault's log")
    raw_topics = log.get("topics")
    if not isinstance(raw_topics, list | tuple):
        raise BadLog("topics is not a list")
    topics = [_word(_hex_or_bytes(t, "a topic"), "a topic") for t in raw_topics]
    data = _hex_or_bytes(log.get("data"), "data")
    if not topics:
        raise BadLog("it has no topics (an anonymous event)")
    try:
        if topics[0] == DEPOSITED_TOPIC:
            return _deposited(where, topics, data, chain_id, vault)
        if topics[0] == RELEASED_TOPIC:
            return _released(where, topics, data)
    except EncodingError as exc:  # the models' own checks, in case one is stricter
        raise BadLog(exc.message) from None
    raise BadLog(f"topic {topics[0].hex()} is neither Deposited nor Released")


def _deposited(
    where: Position, topics: list[bytes], data: bytes, chain_id: int, vault: bytes
) -> Deposit:
    if len(topics) != 4:
        raise BadLog(f"Deposited has 4 topics, this log {len(topics)}")
    if len(data) != 64:
        raise BadLog(f"Deposited has 64 bytes of data, this log {len(data)}")
    deposit_id = _uint(topics[1], 64, "depositId")
    if deposit_id == 0:
        raise BadLog("depositId 0: the vault counts from 1")
    sender = _address(topics[2], "sender")
    recipient = topics[3]
    if not any(recipient):
        raise BadLog("the zero rollup address")
    _address(data[:32], "token")
    amount = _amount(data[32:])
    return Deposit(
        l1_chain_id=chain_id,
        vault=vault,
        l1_tx_hash=where.tx_hash,
        log_index=where.log_index,
        l1_block=where.block,
        depositor=sender,
        recipient=recipient,
        amount=amount,
    )


def _released(where: Position, topics: list[bytes], data: bytes) -> WithdrawalConfirmation:
    if len(topics) != 3:
        raise BadLog(f"Released has 3 topics, this log {len(topics)}")
    if len(data) != 96:
        raise BadLog(f"Released has 96 bytes of data, this log {len(data)}")
    burn_txid = topics[1]
    if not any(burn_txid):
        raise BadLog("the zero withdrawal id")
    _address(topics[2], "recipient")
    _address(data[:32], "token")
    _amount(data[32:64])
    _uint(data[64:], 64, "height")
    return WithdrawalConfirmation(
        burn_txid=burn_txid,
        l1_tx_hash=where.tx_hash,
        log_index=where.log_index,
        l1_block=where.block,
    )


def decode_logs(
    logs: Iterable[Mapping[str, Any]],
    *,
    chain_id: int,
    vault: bytes,
    from_block: int,
    to_block: int,
) -> L1Events:
    """Every log of ``[from_block, to_block]`` decoded or skipped, events in log order."""
    deposits: list[Deposit] = []
    releases: list[WithdrawalConfirmation] = []
    skipped: list[SkippedLog] = []
    seen: set[tuple[int, int]] = set()
    for log in logs:
        where = Position(log) if isinstance(log, Mapping) else None
        try:
            if where is None:
                raise BadLog("the node returned a log that is not an object")
            event = decode_log(log, chain_id=chain_id, vault=vault)
            if not from_block <= event.l1_block <= to_block:
                raise BadLog(f"block {event.l1_block} is outside {from_block}..{to_block}")
            if (event.l1_block, event.log_index) in seen:
                raise BadLog("the node returned this log twice")
        except BadLog as exc:
            position = where.skipped(str(exc)) if where else SkippedLog(bytes(32), -1, -1, str(exc))
            skipped.append(position)
            continue
        seen.add((event.l1_block, event.log_index))
        if isinstance(event, Deposit):
            deposits.append(event)
        else:
            releases.append(event)
    order = lambda e: (e.l1_block, e.log_index)  # noqa: E731
    return L1Events(sorted(deposits, key=order), sorted(releases, key=order), to_block, skipped)
