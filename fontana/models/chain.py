"""Block headers and blocks.

The header commits to the entries (``tx_root``) and to the UTXO set after them
(``state_root``); the proposer signs the header hash, so a light client needs
only headers and proofs, never the bodies.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Self

import attrs

from fontana.address import encode_address
from fontana.encoding import Reader, Writer
from fontana.errors import EncodingError
from fontana.hashing import TAG_HEADER, merkle_root, tagged_hash
from fontana.models._base import (
    CHAIN_ID_MAX,
    Canonical,
    Signed,
    chain_id,
    fixed_bytes,
    json_address,
    json_fields,
    json_hex,
    json_int,
    json_list,
    json_str,
    json_u64,
    to_tuple,
    uint,
    version_one,
)
from fontana.models.entry import (
    Entry,
    entry_from_json,
    entry_id,
    entry_to_json,
    read_entry,
    write_entry,
)
from fontana.models.records import Deposit, FeeCredit, WithdrawalConfirmation
from fontana.models.tx import Transaction

_HEADER_KEYS: Final = (
    "version",
    "chain_id",
    "height",
    "prev_hash",
    "timestamp_ms",
    "tx_root",
    "state_root",
    "tx_count",
    "proposer",
)


@attrs.frozen
class BlockHeader(Canonical):
    NAME: ClassVar[str] = "header"
    version: int = attrs.field(validator=version_one)
    chain_id: str = attrs.field(validator=chain_id)
    height: int = attrs.field(validator=uint(64))
    prev_hash: bytes = attrs.field(validator=fixed_bytes(32))
    timestamp_ms: int = attrs.field(validator=uint(64))
    tx_root: bytes = attrs.field(validator=fixed_bytes(32))
    state_root: bytes = attrs.field(validator=fixed_bytes(32))
    tx_count: int = attrs.field(validator=uint(32))
    proposer: bytes = attrs.field(validator=fixed_bytes(32))

    @property
    def hash(self) -> bytes:
        return tagged_hash(TAG_HEADER, self.to_bytes())

    def write(self, w: Writer) -> None:
        w.u8(self.version, "version")
        w.string(self.chain_id, CHAIN_ID_MAX, "chain_id")
        w.u64(self.height, "height")
        w.fixed(self.prev_hash, 32, "prev_hash")
        w.u64(self.timestamp_ms, "timestamp_ms")
        w.fixed(self.tx_root, 32, "tx_root")
        w.fixed(self.state_root, 32, "state_root")
        w.u32(self.tx_count, "tx_count")
        w.fixed(self.proposer, 32, "proposer")

    @classmethod
    def read(cls, r: Reader) -> Self:
        version = r.u8("version")
        if version != 1:
            raise r.error("version", f"unsupported version {version}, expected 1")
        return cls(
            version,
            r.string(CHAIN_ID_MAX, "chain_id"),
            r.u64("height"),
            r.fixed(32, "prev_hash"),
            r.u64("timestamp_ms"),
            r.fixed(32, "tx_root"),
            r.fixed(32, "state_root"),
            r.u32("tx_count"),
            r.fixed(32, "proposer"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "chain_id": self.chain_id,
            "height": str(self.height),
            "prev_hash": self.prev_hash.hex(),
            "timestamp_ms": str(self.timestamp_ms),
            "tx_root": self.tx_root.hex(),
            "state_root": self.state_root.hex(),
            "tx_count": self.tx_count,
            "proposer": encode_address(self.proposer),
        }

    @classmethod
    def from_json(cls, d: Any, what: str = "header") -> Self:
        d = json_fields(d, what, _HEADER_KEYS)
        return cls(
            json_int(d["version"], 8, f"{what}.version"),
            json_str(d["chain_id"], f"{what}.chain_id"),
            json_u64(d["height"], f"{what}.height"),
            json_hex(d["prev_hash"], f"{what}.prev_hash", 32),
            json_u64(d["timestamp_ms"], f"{what}.timestamp_ms"),
            json_hex(d["tx_root"], f"{what}.tx_root", 32),
            json_hex(d["state_root"], f"{what}.state_root", 32),
            json_int(d["tx_count"], 32, f"{what}.tx_count"),
            json_address(d["proposer"], f"{what}.proposer"),
        )


@attrs.frozen
class SignedHeader(Signed):
    """A header plus the proposer's ed25519 signature over its hash."""

    NAME: ClassVar[str] = "signed_header"
    INNER: ClassVar[str] = "header"
    INNER_TYPE: ClassVar[type[Canonical]] = BlockHeader
    SIGNER: ClassVar[str] = "proposer"
    MESSAGE: ClassVar[str] = "hash"
    header: BlockHeader = attrs.field(validator=attrs.validators.instance_of(BlockHeader))
    signature: bytes = attrs.field(validator=fixed_bytes(64))


def _entries(inst: Block, attr: attrs.Attribute[Any], value: Any) -> None:
    kinds = (Transaction, Deposit, WithdrawalConfirmation, FeeCredit)
    if not isinstance(value, tuple) or not all(isinstance(e, kinds) for e in value):
        raise EncodingError("Block.entries: expected a tuple of entries")


@attrs.frozen
class Block(Canonical):
    NAME: ClassVar[str] = "block"
    header: SignedHeader = attrs.field(validator=attrs.validators.instance_of(SignedHeader))
    entries: tuple[Entry, ...] = attrs.field(converter=to_tuple, validator=_entries)

    def __attrs_post_init__(self) -> None:
        if self.header.header.tx_count != len(self.entries):
            raise EncodingError(
                f"Block: header.tx_count is {self.header.header.tx_count} "
                f"but the block holds {len(self.entries)} entries"
            )

    def compute_tx_root(self) -> bytes:
        """What ``header.tx_root`` must equal; checking it is the verifier's job."""
        return merkle_root([entry_id(e) for e in self.entries])

    def write(self, w: Writer) -> None:
        self.header.write(w)
        w.u32(len(self.entries), "entries")
        for entry in self.entries:
            write_entry(w, entry)

    @classmethod
    def read(cls, r: Reader) -> Self:
        with r.scope("header"):
            header = SignedHeader.read(r)
        entries = []
        for i in range(r.u32("entries")):
            with r.scope(f"entries[{i}]"):
                entries.append(read_entry(r))
        return cls(header, tuple(entries))

    def to_json(self) -> dict[str, Any]:
        return {
            "header": self.header.to_json(),
            "entries": [entry_to_json(e) for e in self.entries],
        }

    @classmethod
    def from_json(cls, d: Any, what: str = "block") -> Self:
        d = json_fields(d, what, ("header", "entries"))
        entries = json_list(d["entries"], f"{what}.entries")
        return cls(
            SignedHeader.from_json(d["header"], f"{what}.header"),
            tuple(entry_from_json(e, f"{what}.entries[{i}]") for i, e in enumerate(entries)),
        )
