"""Block entries: one tagged union over everything that changes the ledger.

The body is length-prefixed so a reader can skip or store an entry without
understanding it, and the type byte picks the strict decoder for the body.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Final

from fontana.encoding import Reader, Writer
from fontana.errors import EncodingError
from fontana.models._base import json_enum, json_fields
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


def entry_type(entry: Entry) -> EntryType:
    try:
        return _TYPES[type(entry)]
    except KeyError:
        raise EncodingError(f"entry: {type(entry).__name__} is not an entry type") from None


def entry_id(entry: Entry) -> bytes:
    """The id the tx root commits to: the txid, or the event's tagged hash."""
    return entry.txid if isinstance(entry, Transaction) else entry.id


def write_entry(w: Writer, entry: Entry) -> None:
    w.u8(entry_type(entry), "type")
    w.varbytes(entry.to_bytes(), MAX_ENTRY_BODY, "body")


def read_entry(r: Reader) -> Entry:
    kind = r.enum(EntryType, "type")
    body = r.varbytes(MAX_ENTRY_BODY, "body")
    cls = _CLASSES[kind]
    inner = Reader(body, r.path(cls.NAME))
    entry = cls.read(inner)
    inner.finish()
    return entry


def encode_entry(entry: Entry) -> bytes:
    w = Writer()
    write_entry(w, entry)
    return w.getvalue()


def decode_entry(data: bytes) -> Entry:
    r = Reader(data, "entry")
    entry = read_entry(r)
    r.finish()
    return entry


def entry_to_json(entry: Entry) -> dict[str, Any]:
    return {"type": entry_type(entry).name.lower(), "body": entry.to_json()}


def entry_from_json(d: Any, what: str = "entry") -> Entry:
    d = json_fields(d, what, ("type", "body"))
    cls = _CLASSES[json_enum(d["type"], EntryType, f"{what}.type")]
    return cls.from_json(d["body"], f"{what}.body")
