"""The native transaction engine (``native-tx``): decoding, txids and ed25519 checks in Rust.

Rust decodes and verifies; it builds the same model objects as the Python decoder, through
the models' own unchecked constructors, with their cached txid and encoding filled in, so
the ledger keeps working on :class:`~fontana.models.Transaction` objects and never encodes
or hashes a decoded one again. Entries that are not transactions (deposits, withdrawal
confirmations, fee credits: rare and fixed-size) are decoded by the Python models, in
order, so every error is the one the Python decoder raises (docs/native.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from fontana.hookspecs import hookimpl

if TYPE_CHECKING:
    from fontana.config import Settings
    from fontana.interfaces import RegisterBackend, TxEngineFactory
    from fontana.models import Block, Entry, Transaction

NAME: Final = "native-tx"
#: The fields Rust fills, in order, per model: a model that changes must change Rust too.
_FIELDS: Final = {
    "Transaction": (
        "version",
        "kind",
        "chain_id",
        "inputs",
        "outputs",
        "fee",
        "expiry_ms",
        "payload_hash",
        "memo",
        "withdrawal",
        "witnesses",
    ),
    "OutPoint": ("txid", "index"),
    "TxOutput": ("owner", "amount"),
    "WithdrawalRequest": ("l1_recipient", "amount", "token"),
    "Witness": ("pubkey", "signature"),
}


class NativeTxEngine:
    """:class:`fontana.interfaces.TxEngine` on the Rust codec."""

    name = NAME

    def __init__(self) -> None:
        from fontana.models import OutPoint, Transaction, TxKind, TxOutput, Witness
        from fontana.models.tx import WithdrawalRequest
        from fontana_native._native import TxCodec

        models = (Transaction, OutPoint, TxOutput, WithdrawalRequest, Witness)
        self._codec = TxCodec([_layout(m) for m in models], [TxKind(k) for k in (1, 2, 3)])

    def decode_transaction(self, data: bytes) -> Transaction:
        return self._codec.decode(_as_bytes(data, "transaction"))  # type: ignore[no-any-return]

    def decode_block(self, data: bytes) -> Block:
        from fontana.encoding import Reader
        from fontana.models import Block
        from fontana.models.chain import _HEADER

        data = _as_bytes(data, "block")
        r = Reader(data, "block")
        header = _HEADER.read(r, "header")
        start = r.pos
        entries, end = self._codec.decode_entries(data, start, header.header.tx_count, _other_entry)
        if end != len(data):
            from fontana.errors import EncodingError

            raise EncodingError(f"block: {len(data) - end} trailing bytes")
        block = Block._codec.new(header, tuple(entries))
        object.__setattr__(block, "_body", data[start:end])
        return block  # type: ignore[no-any-return]

    def verify_witnesses(self, txs: Sequence[Transaction], genesis_hash: bytes) -> list[bool]:
        return self._codec.verify(list(txs), genesis_hash)  # type: ignore[no-any-return]


def _layout(model: type) -> tuple[type, list[str], list[tuple[str, Any]]]:
    """``(class, fields, [(cached attribute, default)])``: what ``Model._codec.new`` sets."""
    import attrs

    names = model._codec.names  # type: ignore[attr-defined]
    if names != _FIELDS[model.__name__]:
        raise RuntimeError(f"native-tx: {model.__name__} has fields {names}")
    rest = [(a.name, a.default) for a in attrs.fields(model) if a.name not in names]
    return model, list(names), rest


def _as_bytes(data: Any, what: str) -> bytes:
    """What ``fontana.encoding.Reader`` accepts, as bytes; its error for anything else."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    from fontana.errors import EncodingError

    raise EncodingError(f"{what}: expected bytes, got {type(data).__name__}")


def _other_entry(index: int, kind: int, body: bytes) -> Entry:
    """A block's entry that is not a transaction, by the Python model, named as in a block."""
    from fontana.encoding import Reader
    from fontana.models.entry import _CLASSES, EntryType

    cls = _CLASSES[EntryType(kind)]
    r = Reader(body, "block")
    r.push("entries")
    r.push(index)
    r.push(cls.NAME)
    entry = cls.read(r)
    r.finish()
    return entry


def open_native_tx(settings: Settings | None) -> NativeTxEngine:
    return NativeTxEngine()


@hookimpl
def fontana_register_tx_engines(register: RegisterBackend[TxEngineFactory]) -> None:
    register(
        NAME,
        open_native_tx,
        description="transaction decoding and ed25519 checks in Rust (libsodium's verdicts)",
    )
