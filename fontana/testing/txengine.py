"""The transaction-engine conformance suite: every verdict, value and error of the reference.

A :class:`~fontana.interfaces.TxEngine` (the built-in ``python-tx``, the native
``native-tx``, ...) is run beside the reference (the models' decoders and PyNaCl) on
the same inputs and must answer identically: decoded objects, txids and encodings of
valid transactions and blocks; the error class and ``code`` of every truncation and
single-byte change of them and of hostile sizes; and the witness verdicts of honest
signatures and of the crafted ones verifiers disagree on (small-order keys and ``R``,
mixed-order points, non-canonical ``S`` and keys: :mod:`fontana.testing.ed25519`), with
the same caches filled. Subclass :class:`TxEngineConformance` and provide ``engine``::

    from fontana.testing.txengine import TxEngineConformance

    class TestMyEngine(TxEngineConformance):
        @pytest.fixture
        def engine(self):
            return MyEngine()
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from nacl.signing import SigningKey

from fontana.errors import EncodingError
from fontana.hashing import signing_message
from fontana.interfaces import TxEngine
from fontana.models import (
    Block,
    BlockHeader,
    Deposit,
    FeeCredit,
    OutPoint,
    SignedHeader,
    Transaction,
    TxKind,
    TxOutput,
    WithdrawalConfirmation,
    Witness,
)
from fontana.models.tx import WithdrawalRequest
from fontana.testing.ed25519 import signature_cases

__all__ = ["TxEngineConformance", "outcome", "sample_blocks", "sample_transactions"]

CHAIN = "conformance"
GENESIS_HASH = hashlib.sha256(b"fontana/testing/txengine").digest()
KEYS = [SigningKey(hashlib.sha256(bytes([i])).digest()) for i in range(4)]


def outcome(decode: Callable[[bytes], Any], data: bytes) -> tuple[Any, ...]:
    """What decoding ``data`` gives, comparable across engines: the value or the error."""
    try:
        value = decode(data)
    except EncodingError as exc:
        return ("error", type(exc).__name__, exc.code)
    if isinstance(value, Block):
        ids = tuple(e.txid for e in value.entries if isinstance(e, Transaction))
        return ("ok", value, value.to_bytes(), ids)
    return ("ok", value, value.txid, value.to_bytes(), value._encoded)


def sample_transactions(seed: int = 0, count: int = 40) -> list[Transaction]:
    """Signed transactions of every kind and shape: lists at 0, 1 and their maximum."""
    rng = random.Random(seed)
    txs = []
    for n in range(count):
        kind = (TxKind.TRANSFER, TxKind.PAYMENT, TxKind.WITHDRAWAL)[n % 3]
        inputs = tuple(
            OutPoint(rng.randbytes(32), rng.randrange(1 << 16))
            for _ in range(64 if n == 5 else rng.randint(1, 3))
        )
        outputs = tuple(
            TxOutput(rng.randbytes(32), rng.randint(1, (1 << 64) - 1))
            for _ in range(64 if n == 5 else rng.randint(0, 3))
        )
        tx = Transaction(
            kind=kind,
            chain_id=rng.choice([CHAIN, "a", "x" * 32, "dev-net-0"]),
            inputs=inputs,
            outputs=outputs,
            fee=rng.randrange(1 << 64),
            expiry_ms=rng.randrange(1 << 64),
            payload_hash=rng.choice([None, rng.randbytes(32)]),
            memo=rng.randbytes(256 if n == 5 else rng.choice([0, 1, 40])),
            withdrawal=(
                WithdrawalRequest(rng.randbytes(20), rng.randint(1, 10**9), rng.randbytes(20))
                if kind == TxKind.WITHDRAWAL
                else None
            ),
        )
        for key in KEYS[: n % 4]:
            tx = tx.sign(key, GENESIS_HASH)
        txs.append(tx)
    return txs


def sample_blocks() -> list[Block]:
    """Blocks with every entry type, in several orders (decoding is structural only)."""
    txs = sample_transactions(1, 6)
    deposit = Deposit(1, b"\x11" * 20, b"\x22" * 32, 3, 9, b"\x33" * 20, b"\x44" * 32, 5)
    confirmation = WithdrawalConfirmation(b"\x55" * 32, b"\x66" * 32, 1, 2)
    fee = FeeCredit(7, b"\x77" * 32, 12)
    layouts: list[tuple[Any, ...]] = [
        (),
        (txs[0],),
        (deposit, *txs[:3], confirmation, fee),
        (*txs, fee),
        (confirmation, deposit, txs[4]),
    ]
    blocks = []
    for height, entries in enumerate(layouts, 1):
        header = BlockHeader(
            version=1,
            chain_id=CHAIN,
            height=height,
            prev_hash=bytes(32),
            timestamp_ms=height,
            tx_root=bytes(32),
            entries_hash=bytes(32),
            state_root=bytes(32),
            tx_count=len(entries),
            proposer=bytes(KEYS[0].verify_key),
        )
        blocks.append(Block(SignedHeader(header, bytes(64)), entries))
    return blocks


def mutations(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """Every truncation of ``data``, then ``count`` random single-byte changes and insertions."""
    for n in range(len(data)):
        yield data[:n]
    yield data + b"\x00"
    for _ in range(count):
        i = rng.randrange(len(data))
        value = rng.choice([0, 1, 0x40, 0xFF, rng.randrange(256)])
        yield data[:i] + bytes([value]) + data[i + 1 :]
        yield data[:i] + bytes([value]) + data[i:]


class _Reference:
    def decode_transaction(self, data: bytes) -> Transaction:
        return Transaction.from_bytes(data)

    def decode_block(self, data: bytes) -> Block:
        return Block.from_bytes(data)


REFERENCE = _Reference()


class TxEngineConformance:
    """Subclass and provide an ``engine`` fixture returning the engine under test."""

    @pytest.fixture
    def engine(self) -> TxEngine:
        raise NotImplementedError("provide an `engine` fixture")

    # --- decoding ---------------------------------------------------------------

    def test_is_a_tx_engine(self, engine: TxEngine) -> None:
        assert isinstance(engine, TxEngine)
        assert isinstance(engine.name, str) and engine.name

    def test_decodes_valid_transactions(self, engine: TxEngine) -> None:
        for tx in sample_transactions():
            data = tx.to_bytes()
            decoded = engine.decode_transaction(data)
            assert outcome(engine.decode_transaction, data) == outcome(
                REFERENCE.decode_transaction, data
            )
            assert decoded == tx and decoded.txid == tx.txid
            assert type(decoded.kind) is TxKind and decoded.to_json() == tx.to_json()

    def test_accepts_what_the_reader_accepts(self, engine: TxEngine) -> None:
        data = sample_transactions()[1].to_bytes()
        for form in (bytearray(data), memoryview(data)):
            assert engine.decode_transaction(form) == Transaction.from_bytes(form)  # type: ignore[arg-type]
        for junk in ("00", None, 5):
            with pytest.raises(EncodingError):
                engine.decode_transaction(junk)  # type: ignore[arg-type]

    def test_transaction_mutations_get_the_reference_verdict(self, engine: TxEngine) -> None:
        rng = random.Random(7)
        for tx in sample_transactions(count=12):
            for data in mutations(tx.to_bytes(), rng, 60):
                want = outcome(REFERENCE.decode_transaction, data)
                assert outcome(engine.decode_transaction, data) == want, data.hex()

    def test_zero_amounts_are_bad_amount(self, engine: TxEngine) -> None:
        marker = 0x0102030405060708
        base = sample_transactions(2, 3)[2]  # a withdrawal
        tx = attrs.evolve(
            base,
            outputs=(TxOutput(bytes(32), 5), TxOutput(bytes(32), marker)),
            withdrawal=WithdrawalRequest(bytes(20), marker, bytes(20)),
        )
        data = tx.to_bytes()
        first = data.index(marker.to_bytes(8, "big"))
        second = data.index(marker.to_bytes(8, "big"), first + 8)
        for at in (first, second):
            zeroed = data[:at] + bytes(8) + data[at + 8 :]
            for cut in (zeroed, zeroed[:-1], zeroed + b"\x00"):
                want = outcome(REFERENCE.decode_transaction, cut)
                assert want[:3] == ("error", "AmountError", "bad_amount")
                assert outcome(engine.decode_transaction, cut) == want

    def test_hostile_sizes(self, engine: TxEngine) -> None:
        head = bytes([1, 1, 4]) + b"abcd"
        cases = [
            b"",
            head + b"\xff\xff",
            head + b"\x00\x40" + bytes(34 * 3),
            head + b"\x00\x01" + bytes(34) + b"\xff\xff",
            head + b"\x00\x01" + bytes(34) + b"\x00\x00" + bytes(16) + b"\x00" + b"\xff" * 4,
            head + b"\x00\x01" + bytes(34) + b"\x00\x00" + bytes(16) + b"\x02",
            head
            + b"\x00\x01"
            + bytes(34)
            + b"\x00\x00"
            + bytes(16)
            + b"\x00"
            + bytes(5)
            + b"\xff\xff",
            bytes([1, 1, 0xFF]) + b"a" * 300,
            bytes(100_000),
        ]
        for data in cases:
            assert outcome(engine.decode_transaction, data) == outcome(
                REFERENCE.decode_transaction, data
            )

    def test_decodes_valid_blocks(self, engine: TxEngine) -> None:
        for block in sample_blocks():
            data = block.to_bytes()
            decoded = engine.decode_block(data)
            assert outcome(engine.decode_block, data) == outcome(REFERENCE.decode_block, data)
            assert decoded.body_bytes() == block.body_bytes()
            assert decoded.compute_tx_root() == block.compute_tx_root()

    def test_block_mutations_get_the_reference_verdict(self, engine: TxEngine) -> None:
        rng = random.Random(11)
        for block in sample_blocks()[1:3]:
            for data in mutations(block.to_bytes(), rng, 150):
                want = outcome(REFERENCE.decode_block, data)
                assert outcome(engine.decode_block, data) == want, data.hex()

    def test_block_hostile_counts(self, engine: TxEngine) -> None:
        block = sample_blocks()[1]
        data = block.to_bytes()
        body = len(block.body_bytes())
        header = data[: len(data) - body]
        for count in (0, 2, 65_536, 65_537, 0xFFFFFFFF):
            for rest in (b"", data[len(data) - body + 4 :], b"\x01\xff\xff\xff\xff"):
                forged = header + count.to_bytes(4, "big") + rest
                assert outcome(engine.decode_block, forged) == outcome(
                    REFERENCE.decode_block, forged
                )

    # --- witnesses ----------------------------------------------------------------

    def test_verifies_honest_witnesses(self, engine: TxEngine) -> None:
        txs = sample_transactions()
        assert engine.verify_witnesses(txs, GENESIS_HASH) == [True] * len(txs)
        for tx in txs:
            assert tx._verified_for == GENESIS_HASH

    def test_refuses_another_deployment(self, engine: TxEngine) -> None:
        txs = [attrs.evolve(tx) for tx in sample_transactions()]
        other = hashlib.sha256(b"other").digest()
        verdicts = engine.verify_witnesses(txs, other)
        assert verdicts == [not tx.witnesses for tx in txs]
        for tx, ok in zip(txs, verdicts, strict=True):
            assert tx._verified_for == (other if ok else None)

    def test_verdicts_equal_libsodium_on_crafted_signatures(self, engine: TxEngine) -> None:
        base = sample_transactions(3, 1)[0]
        base = attrs.evolve(base, witnesses=())
        message = signing_message(GENESIS_HASH, base.txid)
        honest = Witness(bytes(KEYS[0].verify_key), KEYS[0].sign(message).signature)
        txs, want = [], []
        for case in signature_cases(message):
            crafted = Witness(case.pubkey, case.signature)
            for witnesses in ((crafted,), (honest, crafted)):
                if len({w.pubkey for w in witnesses}) < len(witnesses):
                    continue
                txs.append(attrs.evolve(base, witnesses=witnesses))
                want.append(case.valid)
        reference = [tx.verify_witnesses(GENESIS_HASH) for tx in map(attrs.evolve, txs)]
        assert reference == want
        assert engine.verify_witnesses(txs, GENESIS_HASH) == want

    def test_fills_the_caches_as_the_reference_does(self, engine: TxEngine) -> None:
        for tx in sample_transactions(5, 9):
            fresh, ref = attrs.evolve(tx), attrs.evolve(tx)
            assert engine.verify_witnesses([fresh], GENESIS_HASH) == [True]
            assert fresh.txid_and_bytes() == ref.txid_and_bytes()
            decoded = engine.decode_transaction(tx.to_bytes())
            assert (decoded._txid, decoded._encoded) == ref.txid_and_bytes()

    def test_a_remembered_verdict_is_kept(self, engine: TxEngine) -> None:
        tx = sample_transactions(6, 2)[1]
        assert tx.witnesses
        forged = attrs.evolve(tx, witnesses=(Witness(tx.witnesses[0].pubkey, bytes(64)),))
        assert engine.verify_witnesses([forged, forged], GENESIS_HASH) == [False, False]
        assert forged._verified_for is None
        object.__setattr__(forged, "_verified_for", GENESIS_HASH)  # as a hold remembers it
        assert engine.verify_witnesses([forged], GENESIS_HASH) == [True]

    def test_empty_batch_and_bad_genesis_hash(self, engine: TxEngine) -> None:
        assert engine.verify_witnesses([], GENESIS_HASH) == []
        tx = sample_transactions(8, 2)[1]
        for bad in (b"", bytes(31), bytes(33), "00" * 32):
            with pytest.raises(EncodingError):
                engine.verify_witnesses([attrs.evolve(tx)], bad)  # type: ignore[arg-type]
