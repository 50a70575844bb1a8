"""Block entries: one tagged union over everything that changes the ledger.

The body is length-prefixed so a reader can skip or store an entry without
understanding it, and the type byte picks the strict decoder for the body.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Final

from fontana.encoding import Reader
from fontana.errors import EncodingError
from fontana.models._base import json_fields
from fontana.models.codec import Enum, Item
from fontana.models.records import Deposit, FeeCredit, WithdrawalConfirmation
from fontana.models.tx import Transaction

MAX_ENTRY_BODY: Final = 1 << 20

Entry = Transaction | Deposit | WithdrawalConfirmation | FeeCredit


class EntryType(IntEnum):
    TRANSACTION = 1
    DEPOSIT = 2
    WITHDRAWAL_CONFIRMATION = 3
    FEE_CREDIT = 4


_CLASSES: Final[dict[EntryType, type[Entry]]] = {
    EntryType.TRANSACTION: Transaction,
    EntryType.DEPOSIT: Deposit,
    EntryType.WITHDRAWAL_CONFIRMATION: WithdrawalConfirmation,
    EntryType.FEE_CREDIT: FeeCredit,
}
_TYPES: Final = {cls: t for t, cls in _CLASSES.items()}
_TYPE: Final = Enum(EntryType)


def entry_type(entry: Entry) -> EntryType:
    try:
        return _TYPES[type(entry)]
    except KeyError:
        raise EncodingError(f"entry: {type(entry).__name__} is not an entry type") from None


def entry_id(entry: Entry) -> bytes:
    """The id the tx root commits to: the txid, or the event's tagged hash."""
    return entry.txid if isinstance(entry, Transaction) else entry.id


class EntryWire(Item):
    """``u8 type || varbytes(1 MiB) body``; the body must be exactly one value of the type."""

    types = tuple(_CLASSES.values())

    def read_value(self, r: Reader) -> Entry:
        kind = _TYPE.read(r, "type")
        n = r.uint(4, "body")
        if n > MAX_ENTRY_BODY:
            raise r.error("body", f"length {n} above the maximum {MAX_ENTRY_BODY}")
        if r.remaining < n:
            raise r.error("body", f"truncated, needs {n} bytes, {r.remaining} left")
        # Decode the body in place, as a sub-range it must fill exactly.
        cls = _CLASSES[kind]
        end, r.end = r.end, r.pos + n
        r.push(cls.NAME)
        entry = cls.read(r)
        r.finish()
        r.pop()
        r.end = end
        return entry

    def write(self, value: Entry, out: list[bytes]) -> None:
        # No valid value comes near MAX_ENTRY_BODY (a transaction is at most ~14 kB).
        body = value.to_bytes()
        out.append(bytes([entry_type(value)]) + len(body).to_bytes(4, "big"))
        out.append(body)

    def to_json(self, value: Entry) -> dict[str, Any]:
        return {"type": entry_type(value).name.lower(), "body": value.to_json()}

    def from_json(self, value: Any, field: str) -> Entry:
        value = json_fields(value, field, ("type", "body"))
        cls = _CLASSES[_TYPE.from_json(value["type"], f"{field}.type")]  # type: ignore[index]
        return cls.from_json(value["body"], f"{field}.body")


ENTRY: Final = EntryWire()


def encode_entry(entry: Entry) -> bytes:
    out: list[bytes] = []
    ENTRY.write(entry, out)
    return b"".join(out)


def decode_entry(data: bytes) -> Entry:
    r = Reader(data, "entry")
    entry = ENTRY.read_value(r)
    r.finish()
    return entry


def entry_to_json(entry: Entry) -> dict[str, Any]:
    return ENTRY.to_json(entry)


def entry_from_json(d: Any, what: str = "entry") -> Entry:
    return ENTRY.from_json(d, what)
