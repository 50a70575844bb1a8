"""Models: round trips in both forms, every rejection, signatures and ids."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from fontana.address import encode_address
from fontana.errors import AddressError, AmountError, EncodingError
from fontana.hashing import merkle_path, merkle_root, signing_message, tagged_hash
from fontana.models import (
    MAX_BLOCK_ENTRIES,
    UTXO,
    Allocation,
    Block,
    BlockHeader,
    Deposit,
    FeeCredit,
    FinalReceipt,
    Genesis,
    MerkleProof,
    OutPoint,
    PaymentBinding,
    Receipt,
    SignedHeader,
    SignedReceipt,
    Transaction,
    TxKind,
    TxOutput,
    WithdrawalConfirmation,
    WithdrawalRequest,
    decode_entry,
    encode_entries,
    encode_entry,
    encode_entry_records,
    entries_hash,
    entry_from_json,
    entry_id,
    entry_to_json,
    entry_type,
    records_entries_hash,
    utxo_key,
)

U64 = 2**64 - 1
KEY = SigningKey(b"\x01" * 32)
PK = bytes(KEY.verify_key)
OTHER = SigningKey(b"\x02" * 32)
#: Two deployments' genesis hashes: signatures are bound to one of them.
GH = tagged_hash("fontana/genesis", b"one deployment")
OTHER_GH = tagged_hash("fontana/genesis", b"another deployment")

b20 = st.binary(min_size=20, max_size=20)
b32 = st.binary(min_size=32, max_size=32)
b64 = st.binary(min_size=64, max_size=64)
u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, U64)
amount = st.integers(1, U64)
chain_ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=32)

outpoints = st.builds(OutPoint, b32, u16)
outputs = st.builds(TxOutput, b32, amount)
requests = st.builds(WithdrawalRequest, b20, amount)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    kind = draw(st.sampled_from(TxKind))
    return Transaction(
        kind=kind,
        chain_id=draw(chain_ids),
        inputs=tuple(draw(st.lists(outpoints, min_size=1, max_size=5, unique=True))),
        outputs=tuple(draw(st.lists(outputs, max_size=5))),
        fee=draw(u64),
        expiry_ms=draw(u64),
        payload_hash=draw(st.none() | b32),
        memo=draw(st.binary(max_size=256)),
        withdrawal=draw(requests) if kind == TxKind.WITHDRAWAL else None,
    )


utxos = st.builds(UTXO, b32, amount, b32, u16)
deposits = st.builds(Deposit, u64, b20, b32, u32, u64, b20, b32, amount)
confirmations = st.builds(WithdrawalConfirmation, b32, b32, u32, u64)
credits = st.builds(FeeCredit, u64, b32, amount)
entries = transactions() | deposits | confirmations | credits
counts = st.integers(0, MAX_BLOCK_ENTRIES)
headers = st.builds(BlockHeader, st.just(1), chain_ids, u64, b32, u64, b32, b32, b32, counts, b32)
#: HTTP method tokens: RFC 9110 token characters without lower-case letters.
methods = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+.^_`|~-", min_size=1, max_size=16)
#: Request targets: "/" then any characters but ASCII controls (and lone surrogates).
resources = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters=[*map(chr, range(32)), "\x7f"]),
    max_size=200,
).map(lambda t: "/" + t)
receipts = st.builds(Receipt, chain_ids, b32, b32, b32, amount, methods, resources, b32, u64, u64)
bindings = st.builds(PaymentBinding, b32, amount, methods, resources)


@st.composite
def proofs(draw: st.DrawFn) -> MerkleProof:
    count = draw(st.integers(1, MAX_BLOCK_ENTRIES))
    index = draw(st.integers(0, count - 1))
    levels = len(merkle_path(index, count))
    return MerkleProof(index, count, tuple(draw(st.lists(b32, min_size=levels, max_size=levels))))


geneses = st.builds(
    Genesis, chain_ids, u64, b32, st.binary(min_size=10, max_size=10), st.integers(1, 2**32 - 1),
    u64, u32, st.lists(st.builds(Allocation, b32, amount), max_size=4).map(tuple),
)  # fmt: skip


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    items = tuple(draw(st.lists(entries, max_size=4)))
    header = attrs.evolve(draw(headers), tx_count=len(items))
    return Block(SignedHeader(header, draw(b64)), items)


signed_receipts = st.builds(SignedReceipt, receipts, b64)
finals = st.builds(FinalReceipt, signed_receipts, st.builds(SignedHeader, headers, b64), proofs(),
                   u64, st.binary(max_size=64), st.binary(min_size=10, max_size=10))  # fmt: skip
ALL = (outpoints | outputs | requests | transactions() | utxos | deposits | confirmations
       | credits | headers | receipts | geneses | blocks() | signed_receipts | bindings
       | proofs() | finals)  # fmt: skip


@settings(max_examples=300)
@given(ALL)
def test_round_trips(value: Any) -> None:
    cls = type(value)
    raw = value.to_bytes()
    assert cls.from_bytes(raw) == value
    assert cls.from_json(value.to_json()) == value
    with pytest.raises(EncodingError):
        cls.from_bytes(raw + b"\x00")
    with pytest.raises(EncodingError):
        cls.from_bytes(raw[:-1])


@given(entries)
def test_entry_round_trip(entry: Any) -> None:
    raw = encode_entry(entry)
    assert decode_entry(raw) == entry
    assert entry_from_json(entry_to_json(entry)) == entry
    assert raw[5:] == entry.to_bytes()


@given(transactions())
def test_truncation_anywhere_is_rejected(tx: Transaction) -> None:
    raw = tx.to_bytes()
    for cut in range(len(raw)):
        with pytest.raises(EncodingError):
            Transaction.from_bytes(raw[:cut])


def _tx(**changes: Any) -> Transaction:
    base = Transaction(
        kind=TxKind.TRANSFER,
        chain_id="devnet",
        inputs=(OutPoint(b"\xaa" * 32, 0),),
        outputs=(TxOutput(PK, 10),),
        fee=1,
        expiry_ms=1000,
    )
    return attrs.evolve(base, **changes)


def test_signing_and_txid() -> None:
    tx = _tx()
    signed = tx.sign(KEY, GH)
    assert signed.txid == tx.txid == tagged_hash("fontana/tx", tx.unsigned_bytes())
    assert signed.to_bytes().startswith(tx.unsigned_bytes())
    assert signed.verify_witnesses(GH)
    assert signed.witnesses[0].pubkey == PK
    twice = signed.sign(OTHER, GH)
    assert twice.txid == tx.txid and twice.verify_witnesses(GH) and len(twice.witnesses) == 2
    with pytest.raises(EncodingError, match="twice"):
        signed.sign(KEY, GH)


def test_signatures_bind_the_deployment() -> None:
    """A witness signs signing_message(genesis hash, txid): valid on one deployment only."""
    message = signing_message(GH, _tx().txid)
    assert message == tagged_hash("fontana/sign", GH + _tx().txid)
    signed = _tx().sign(KEY, GH)
    assert signed.witnesses[0].signature == KEY.sign(message).signature
    assert signed.witnesses[0].verify(GH, signed.txid)
    assert not signed.witnesses[0].verify(OTHER_GH, signed.txid)
    assert not signed.verify_witnesses(OTHER_GH)
    # A bare txid signature (the old scheme) is no longer accepted.
    bare = attrs.evolve(signed, witnesses=(attrs.evolve(signed.witnesses[0],
                        signature=KEY.sign(signed.txid).signature),))  # fmt: skip
    assert not bare.verify_witnesses(GH)
    for bad in (b"", b"\x00" * 31, "00" * 32):
        with pytest.raises(EncodingError, match="signing_message"):
            signing_message(bad, signed.txid)  # type: ignore[arg-type]
        with pytest.raises(EncodingError, match="signing_message"):
            signing_message(GH, bad)  # type: ignore[arg-type]


def test_tampered_transaction_fails_verification() -> None:
    signed = _tx().sign(KEY, GH)
    for change in ({"fee": 2}, {"memo": b"x"}, {"outputs": (TxOutput(PK, 11),)},
                   {"chain_id": "other"}, {"expiry_ms": 1001}):  # fmt: skip
        assert not attrs.evolve(signed, **change).verify_witnesses(GH)
    witness = signed.witnesses[0]
    flipped = bytes([witness.signature[0] ^ 1]) + witness.signature[1:]
    bad = attrs.evolve(signed, witnesses=(attrs.evolve(witness, signature=flipped),))
    assert not bad.verify_witnesses(GH)
    wrong_key = attrs.evolve(signed, witnesses=(attrs.evolve(witness, pubkey=b"\x00" * 32),))
    assert not wrong_key.verify_witnesses(GH)
    raw = bytearray(signed.to_bytes())
    raw[-70] ^= 1  # inside the signature
    assert not Transaction.from_bytes(bytes(raw)).verify_witnesses(GH)


def test_a_remembered_verification_binds_its_deployment_and_its_bytes() -> None:
    """``verify_witnesses`` remembers a success on the object: only for that genesis hash,
    never a failure, and never for a copy with other fields or witnesses."""
    signed = _tx().sign(KEY, GH)
    assert signed.verify_witnesses(GH) and signed.verify_witnesses(GH)
    assert not signed.verify_witnesses(OTHER_GH) and signed.verify_witnesses(GH)
    witness = signed.witnesses[0]
    flipped = bytes([witness.signature[0] ^ 1]) + witness.signature[1:]
    for copy in (
        attrs.evolve(signed, fee=2),
        attrs.evolve(signed, witnesses=(attrs.evolve(witness, signature=flipped),)),
    ):
        assert not copy.verify_witnesses(GH) and not copy.verify_witnesses(GH)
    other = _tx().sign(KEY, OTHER_GH)
    assert not other.verify_witnesses(GH) and other.verify_witnesses(OTHER_GH)
    assert not other.verify_witnesses(GH)


def test_total_output() -> None:
    assert _tx(outputs=(TxOutput(PK, 3), TxOutput(PK, 4))).total_output() == 7
    assert _tx(outputs=()).total_output() == 0


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"inputs": ()}, EncodingError),
        ({"inputs": tuple(OutPoint(bytes([i]) * 32, 0) for i in range(65))}, EncodingError),
        ({"inputs": (OutPoint(b"\xaa" * 32, 0),) * 2}, EncodingError),
        ({"outputs": (TxOutput(PK, 1),) * 65}, EncodingError),
        ({"chain_id": ""}, EncodingError),
        ({"chain_id": "a" * 33}, EncodingError),
        ({"chain_id": "Devnet"}, EncodingError),
        ({"chain_id": "dev net"}, EncodingError),
        ({"chain_id": "dévnet"}, EncodingError),
        ({"fee": -1}, EncodingError),
        ({"fee": 2**64}, EncodingError),
        ({"fee": True}, EncodingError),
        ({"expiry_ms": 1.0}, EncodingError),
        ({"memo": b"x" * 257}, EncodingError),
        ({"memo": "text"}, EncodingError),
        ({"payload_hash": b"x" * 31}, EncodingError),
        ({"kind": 1}, EncodingError),
        ({"kind": TxKind.WITHDRAWAL}, EncodingError),
        ({"withdrawal": WithdrawalRequest(b"\x01" * 20, 5)}, EncodingError),
        ({"inputs": ("not an outpoint",)}, EncodingError),
    ],
)
def test_transaction_rejections(changes: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        _tx(**changes)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TxOutput(PK, 0),
        lambda: TxOutput(PK, 2**64),
        lambda: TxOutput(PK, -1),
        lambda: WithdrawalRequest(b"\x01" * 20, 0),
        lambda: UTXO(PK, 0, PK, 0),
        lambda: Deposit(1, bytes(20), bytes(32), 0, 0, bytes(20), PK, 0),
        lambda: FeeCredit(1, PK, 0),
        lambda: Receipt("x", PK, PK, PK, 0, "GET", "/", PK, 0, 0),
        lambda: PaymentBinding(PK, 0, "GET", "/"),
        lambda: Genesis("x", 0, PK, bytes(10), 1, 0, 0, ((PK, 0),)),
    ],
)
def test_zero_amounts_are_amount_errors(make: Any) -> None:
    with pytest.raises(AmountError):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: OutPoint(b"x" * 31, 0),
        lambda: OutPoint(b"x" * 32, 65536),
        lambda: OutPoint(bytearray(32), 0),
        lambda: Deposit(1, bytes(21), bytes(32), 0, 0, bytes(20), PK, 1),
        lambda: Deposit(1, bytes(20), bytes(32), 2**32, 0, bytes(20), PK, 1),
        lambda: Genesis("x", 0, PK, bytes(10), 0, 0, 0, ()),
        lambda: Genesis("x", 0, PK, bytes(29), 1, 0, 0, ()),
        lambda: Genesis("x", 0, PK, bytes(10), 1, 0, 0, ((PK,),)),
        lambda: Genesis("x", 0, PK, bytes(10), 1, 0, 0, ((PK, 1),) * 65536),
        lambda: BlockHeader(2, "x", 0, PK, 0, PK, PK, PK, 0, PK),
        lambda: BlockHeader(1, "x", 0, PK, 0, PK, PK, PK, MAX_BLOCK_ENTRIES + 1, PK),
        lambda: BlockHeader(1, "X", 0, PK, 0, PK, PK, PK, 0, PK),
        lambda: Receipt("a" * 33, PK, PK, PK, 1, "GET", "/", PK, 0, 0),
        lambda: Receipt("x", PK, PK, PK, 1, "GET", "/", PK, 0, 0, version=0),
        lambda: Receipt("x", PK, PK, PK, 1, "get", "/", PK, 0, 0),
        lambda: Receipt("x", PK, PK, PK, 1, "GET", "", PK, 0, 0),
        lambda: Receipt("x", PK, PK, PK, 1, "GET", "/", b"short", 0, 0),
        lambda: MerkleProof(0, 0, ()),
        lambda: MerkleProof(1, 1, ()),
        lambda: MerkleProof(0, 2, ()),
        lambda: MerkleProof(0, 2, (b"x" * 31,)),
        lambda: Block(SignedHeader(_header(1), bytes(64)), ()),
        lambda: Block(SignedHeader(_header(1), bytes(64)), (OutPoint(PK, 0),)),
    ],
)
def test_construction_rejections(make: Any) -> None:
    with pytest.raises(EncodingError):
        make()


def test_reader_errors_name_the_field() -> None:
    raw = bytearray(_tx().to_bytes())
    raw[1] = 9
    with pytest.raises(EncodingError, match=r"transaction\.kind: unknown value 9"):
        Transaction.from_bytes(bytes(raw))
    with pytest.raises(EncodingError, match=r"transaction\.inputs\[0\]\.txid: truncated"):
        Transaction.from_bytes(_tx().to_bytes()[:20])
    with pytest.raises(EncodingError, match=r"entry\.transaction.*trailing"):
        tx = _tx().to_bytes() + b"\x00"
        decode_entry(b"\x01" + len(tx).to_bytes(4, "big") + tx)


def test_ids_and_utxos() -> None:
    deposit = Deposit(1, bytes(20), bytes(32), 0, 0, bytes(20), PK, 5)
    assert deposit.id == tagged_hash("fontana/deposit", deposit.to_bytes())
    credit = FeeCredit(3, PK, 7)
    assert credit.id == tagged_hash("fontana/fee", credit.to_bytes())
    conf = WithdrawalConfirmation(PK, PK, 0, 1)
    assert conf.id == tagged_hash("fontana/withdrawal", conf.to_bytes())
    utxo = UTXO(PK, 5, deposit.id, 0)
    assert utxo.outpoint == OutPoint(deposit.id, 0)
    assert utxo_key(utxo.outpoint) == tagged_hash("fontana/utxo/key", deposit.id + b"\x00\x00")
    assert utxo.leaf_value_hash() == tagged_hash("fontana/utxo", utxo.to_bytes())
    assert [entry_id(e) for e in (deposit, credit, conf)] == [deposit.id, credit.id, conf.id]
    assert entry_id(_tx()) == _tx().txid
    assert len({deposit.id, credit.id, conf.id, _tx().txid}) == 4


def _header(count: int = 0, proposer: bytes = PK) -> BlockHeader:
    return BlockHeader(1, "devnet", 5, b"\x01" * 32, 1000, merkle_root([]),
                       entries_hash(b"\x00" * 4), b"\x02" * 32, count, proposer)  # fmt: skip


def test_header_signature() -> None:
    header = _header()
    assert header.hash == tagged_hash("fontana/header", header.to_bytes())
    signed = SignedHeader.sign(header, KEY, GH)
    assert signed.signature == KEY.sign(signing_message(GH, header.hash)).signature
    assert signed.verify(GH)
    assert not signed.verify(OTHER_GH)
    assert not attrs.evolve(signed, header=attrs.evolve(header, height=6)).verify(GH)
    assert not attrs.evolve(signed, signature=bytes(64)).verify(GH)
    with pytest.raises(EncodingError, match="proposer"):
        SignedHeader.sign(header, OTHER, GH)


def _block(entries: tuple[Any, ...]) -> Block:
    body = encode_entries(entries)
    root = merkle_root([entry_id(e) for e in entries])
    header = attrs.evolve(_header(len(entries)), tx_root=root, entries_hash=entries_hash(body))
    return Block(SignedHeader.sign(header, KEY, GH), entries)


def test_block() -> None:
    tx = _tx().sign(KEY, GH)
    credit = FeeCredit(5, PK, 1)
    block = _block((tx, credit))
    header = block.header.header
    assert block.entries == (tx, credit)
    assert block.compute_tx_root() == merkle_root([tx.txid, credit.id]) == header.tx_root
    raw = block.to_bytes()
    body = raw[len(block.header.to_bytes()) :]
    assert body == block.body_bytes() == encode_entries(block.entries)
    assert body == b"\x00\x00\x00\x02" + encode_entry(tx) + encode_entry(credit)
    assert block.compute_entries_hash() == tagged_hash("fontana/entries", body)
    assert block.compute_entries_hash() == header.entries_hash
    decoded = Block.from_bytes(raw)
    assert decoded == block and decoded.compute_entries_hash() == header.entries_hash
    with pytest.raises(EncodingError, match="tx_count"):
        Block(block.header, (tx,))


def test_one_header_names_one_block() -> None:
    """Reordered witnesses keep every txid and the tx root, but not the entries hash."""
    tx = _tx(inputs=(OutPoint(b"\xaa" * 32, 0), OutPoint(b"\xbb" * 32, 0))).sign(KEY, GH)
    tx = tx.sign(OTHER, GH)
    block = _block((tx,))
    swapped = attrs.evolve(tx, witnesses=tx.witnesses[::-1])
    assert swapped.txid == tx.txid and swapped.verify_witnesses(GH)
    other = Block(block.header, (swapped,))
    assert other.compute_tx_root() == block.header.header.tx_root
    assert other.compute_entries_hash() != block.header.header.entries_hash
    assert other.to_bytes() != block.to_bytes()


def test_entries_hash_from_stored_records() -> None:
    entries = (_tx().sign(KEY, GH), Deposit(1, bytes(20), bytes(32), 0, 0, bytes(20), PK, 5),
               WithdrawalConfirmation(PK, PK, 0, 1), FeeCredit(5, PK, 1))  # fmt: skip
    records = [(int(entry_type(e)), e.to_bytes()) for e in entries]
    assert encode_entry_records(records) == encode_entries(entries)
    assert records_entries_hash(records) == entries_hash(encode_entries(entries))
    empty = _block(()).compute_entries_hash()
    assert records_entries_hash([]) == entries_hash(b"\x00" * 4) == empty
    for bad in ([(0, b"")], [(5, b"")], [(1, b"\x00" * (2**20 + 1))]):
        with pytest.raises(EncodingError, match="entries"):
            encode_entry_records(bad)


def test_receipt_signature() -> None:
    receipt = Receipt("devnet", b"\x03" * 32, bytes(OTHER.verify_key), PK, 10, "GET", "/x",
                      bytes(32), 1, 2)  # fmt: skip
    assert receipt.id == tagged_hash("fontana/receipt", receipt.to_bytes())
    signed = SignedReceipt.sign(receipt, KEY, GH)
    assert signed.signature == KEY.sign(signing_message(GH, receipt.id)).signature
    assert signed.verify(GH)
    assert not signed.verify(OTHER_GH)
    assert SignedReceipt.from_bytes(signed.to_bytes()) == signed
    assert not attrs.evolve(signed, receipt=attrs.evolve(receipt, amount=11)).verify(GH)
    with pytest.raises(EncodingError, match="payee"):
        SignedReceipt.sign(receipt, OTHER, GH)


def test_genesis_json_is_the_file_format() -> None:
    genesis = Genesis("devnet", 1_764_000_000_000, PK, b"fontana\x00\x00\x01", 1000, 1000, 12,
                      (Allocation(PK, 10_000_000), (PK, 5)))  # fmt: skip
    data = genesis.to_json()
    assert data["sequencer"] == encode_address(PK)
    assert data["allocations"][0] == {"owner": encode_address(PK), "amount": "10000000"}
    data["genesis_time_ms"] = 1_764_000_000_000
    data["allocations"][1]["amount"] = 5
    assert Genesis.from_json(data) == genesis
    assert genesis.hash == tagged_hash("fontana/genesis", genesis.to_bytes())


def test_json_is_strict() -> None:
    good = _tx().sign(KEY, GH).to_json()
    assert Transaction.from_json(good) == _tx().sign(KEY, GH)
    assert Transaction.from_json(good | {"fee": 1, "expiry_ms": 1000}) == _tx().sign(KEY, GH)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        (good | {"extra": 1}, EncodingError, "unknown keys extra"),
        ({k: v for k, v in good.items() if k != "memo"}, EncodingError, "missing keys memo"),
        (good | {"fee": 1.0}, EncodingError, "transaction.fee"),
        (good | {"fee": "1.0"}, EncodingError, "transaction.fee"),
        (good | {"fee": "-1"}, EncodingError, "transaction.fee"),
        (good | {"fee": "01"}, EncodingError, "transaction.fee"),
        (good | {"fee": True}, EncodingError, "transaction.fee"),
        (good | {"fee": str(2**64)}, EncodingError, "transaction.fee"),
        (good | {"kind": "TRANSFER"}, EncodingError, "transaction.kind"),
        (good | {"kind": 1}, EncodingError, "transaction.kind"),
        (good | {"memo": "0xab"}, EncodingError, "transaction.memo"),
        (good | {"memo": "AB"}, EncodingError, "transaction.memo"),
        (good | {"memo": "abc"}, EncodingError, "transaction.memo"),
        (good | {"payload_hash": "00"}, EncodingError, "transaction.payload_hash"),
        (good | {"inputs": {}}, EncodingError, "transaction.inputs"),
        (good | {"inputs": [{"txid": "aa" * 32, "index": "0"}]}, EncodingError, r"inputs\[0\]"),
        (good | {"outputs": [{"owner": "fnt1xyz", "amount": "1"}]}, AddressError, "owner"),
        (good | {"outputs": [{"owner": encode_address(PK), "amount": "0"}]}, AmountError, "amount"),
        (good | {"outputs": [{"owner": encode_address(PK), "amount": 1.5}]}, AmountError, "amount"),
        (
            good | {"outputs": [{"owner": encode_address(PK), "amount": False}]},
            AmountError,
            "amount",
        ),
        (good | {"chain_id": 5}, EncodingError, "chain_id"),
        (good | {"withdrawal": {"l1_recipient": "00" * 20}}, EncodingError, "missing"),
    ]
    for data, error, match in cases:
        with pytest.raises(error, match=match):
            Transaction.from_json(data)
    with pytest.raises(EncodingError, match="JSON object"):
        Transaction.from_json([])


def test_entry_json_is_strict() -> None:
    credit = FeeCredit(1, PK, 2)
    assert entry_to_json(credit)["type"] == "fee_credit"
    with pytest.raises(EncodingError, match="entry.type"):
        entry_from_json({"type": "coinbase", "body": credit.to_json()})
    with pytest.raises(EncodingError, match="unknown keys amount"):
        entry_from_json({"type": "transaction", "body": credit.to_json()})
